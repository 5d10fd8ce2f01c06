"""Settings from any generated image, whatever made it.

:func:`read_image_settings` finds the texts an image carries (:mod:`.carriers`: PNG chunks,
EXIF, stealth pixels) and reads them with one small reader per tool: :mod:`.a1111`,
:mod:`.comfyui`, :mod:`.invokeai`, :mod:`.novelai`, :mod:`.fooocus`, :mod:`.swarmui`. Each
gives plain :class:`~studio.plugin_api.GenerationSettings` in its tool's names; the plugins map
them onto their options, and :mod:`.model_lookup` finds the model in the library by name and
hash.
"""

from studio.core.image_settings.reading import read_image_settings
from studio.core.image_settings.restored import RestoredSettings, SettingsSource, from_recipe

__all__ = ["RestoredSettings", "SettingsSource", "from_recipe", "read_image_settings"]
