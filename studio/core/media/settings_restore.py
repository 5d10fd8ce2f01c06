"""Settings read from an image (:mod:`studio.core.image_settings`), put to a plugin.

A Studio recipe names its plugin and that plugin's own options, so it is restored as it is.
Another tool's settings are plain :class:`~studio.plugin_api.GenerationSettings` in that
tool's own names; the readers know no plugin's options. Which options they mean is each
plugin's business (:meth:`~studio.plugin_api.ModelPlugin.options_from_settings`):
:func:`ask_plugin` asks one, :func:`choose_plugin` picks the plugin that takes the most and
:func:`not_taken` lists, for the user, what the chosen one did not take.

Nothing found is dropped silently: settings without a field of their own are kept in
``GenerationSettings.other``, and what could not be read at all (a prompt built by custom nodes)
is named in :attr:`~studio.core.image_settings.RestoredSettings.not_understood`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from studio.core.engine_checks import EngineChecks
from studio.core.image_settings.model_lookup import ModelMatch, model_file_stem
from studio.core.panel_defaults import usable_plugins
from studio.core.registry import PluginRegistry, PluginUnavailable
from studio.plugin_api import (
    GenerationSettings,
    ModelPlugin,
    Panel,
    SettingsMapping,
)
from studio.plugin_api.generation_settings import REQUEST_SETTINGS

log = logging.getLogger(__name__)

_MODEL_SETTINGS = ("model_name", "model_hash")


# asking plugins -------------------------------------------------------------------------------


def ask_plugin(plugin_class: type[ModelPlugin], settings: GenerationSettings) -> SettingsMapping:
    """What ``plugin_class`` takes of ``settings`` (its ``options_from_settings`` hook). A hook
    that fails or answers something else counts as taking nothing: a third-party plugin's bug
    must not stop the user from restoring the prompt."""
    try:
        mapping = plugin_class.options_from_settings(settings)
    except Exception:
        log.warning("%s.options_from_settings failed", plugin_class.__name__, exc_info=True)
        return SettingsMapping()
    if not isinstance(mapping, SettingsMapping):
        log.warning(
            "%s.options_from_settings returned %r, not a SettingsMapping",
            plugin_class.__name__,
            type(mapping).__name__,
        )
        return SettingsMapping()
    return mapping


def choose_plugin(mappings: Mapping[str, SettingsMapping], current: str | None) -> str | None:
    """The plugin to restore into: the current one when it takes any of the settings,
    otherwise the one that takes the most (the first in ``mappings``' order on a tie); the
    current one when none takes anything."""
    if current in mappings and not mappings[current].takes_nothing:
        return current
    taking = [plugin_id for plugin_id, mapping in mappings.items() if not mapping.takes_nothing]
    if not taking:
        return current
    return max(taking, key=lambda plugin_id: len(mappings[plugin_id].used))


def plugin_for_settings(
    registry: PluginRegistry,
    checks: EngineChecks,
    panel: Panel,
    settings: GenerationSettings,
    current: str | None,
) -> tuple[str | None, SettingsMapping]:
    """The plugin of ``panel`` to restore ``settings`` into (:func:`choose_plugin` among
    ``current`` and the panel's usable plugins), and what it takes of them."""
    candidates = [current] if current is not None else []
    candidates += [p for p in usable_plugins(registry, checks, panel) if p != current]
    mappings: dict[str, SettingsMapping] = {}
    for plugin_id in candidates:
        try:
            mappings[plugin_id] = ask_plugin(registry.plugin_class(plugin_id), settings)
        except PluginUnavailable:
            continue
    chosen = choose_plugin(mappings, current)
    return chosen, mappings.get(chosen, SettingsMapping()) if chosen else SettingsMapping()


def not_taken(
    settings: GenerationSettings, mapping: SettingsMapping, reads: Callable[[str], bool]
) -> list[str]:
    """Phrases for the given settings the plugin did not take (``reads(field)``: whether it
    reads a request field, which Studio fills itself), then the mapping's notes. The model is
    left out: :func:`model_note` says it."""
    taken = set(mapping.used) | {name for name in REQUEST_SETTINGS if reads(name)}
    left = [
        settings.describe(name)
        for name in settings.given()
        if name not in taken and name not in _MODEL_SETTINGS
    ]
    return left + list(mapping.notes)


def model_note(
    settings: GenerationSettings, mapping: SettingsMapping, match: ModelMatch | None = None
) -> str:
    """What the user should know of the image's model: that it was found in the model library
    and chosen (``match``), or which file to look for; empty when the plugin took the model
    itself or the file names none."""
    if any(name in mapping.used for name in _MODEL_SETTINGS):
        return ""
    if match is not None:
        return (
            f"The image's model, {match.path.name}, was found in the model library (by "
            f"{match.how}) and chosen."
        )
    if not settings.model_name and not settings.model_hash:
        return ""
    file = f"{model_file_stem(settings.model_name)}.safetensors" if settings.model_name else "it"
    hashed = f" (hash {settings.model_hash})" if settings.model_hash else ""
    named = settings.model_name or "a model"
    return (
        f"The image was made with the model {named}{hashed}, which is not in the model library: "
        f"put {file} in a model folder (AUTOMATIC1111's models/Stable-diffusion, ComfyUI's "
        "models/checkpoints) or add its folder in View > Models, then choose it."
    )
