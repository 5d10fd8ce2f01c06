"""The public plugin contract of Studio, version :data:`API_VERSION`.

Everything a plugin author needs is importable from here; nothing here imports Qt or torch.

- :mod:`studio.plugin_api.manifest`: ``studio-plugin.toml``, read without importing the plugin.
- :class:`WritingPlugin`, :class:`ImagePlugin`, :class:`VoicePlugin`,
  :class:`CaptioningPlugin`: one base class per panel, with one method to write
  (:mod:`studio.plugin_api.panel_plugins`).
- :class:`ModelPlugin`: what they all are: ``load()`` a model, ``run()`` a request as a
  generator of events.
- :mod:`studio.plugin_api.options`: typed options (forms, ``--set`` parsing, validation).
- :mod:`studio.plugin_api.requests`: one request type per panel.
- :mod:`studio.plugin_api.events`: :class:`Progress`, :class:`Partial`, :class:`Result`.
- :mod:`studio.plugin_api.context`: cancel token, device, threads, model files, logger.
- :mod:`studio.plugin_api.engine_checks`: known-answer self-checks of native engines.
- :mod:`studio.plugin_api.generation_settings`: :class:`GenerationSettings` read from another
  tool's image (AUTOMATIC1111, ComfyUI), which :meth:`ModelPlugin.options_from_settings` maps
  onto the plugin's options as a :class:`SettingsMapping`.
- :class:`InputError`: what the user gave cannot be used (one sentence, exit code 2).
- :mod:`studio.plugin_api.testing`: a contract test for your plugin, and light test plugins.
- helpers plugins share: :mod:`studio.plugin_api.images` (open any image as 8-bit RGB, or a
  clear error), :mod:`studio.plugin_api.speech` (long text, sentence by sentence),
  :mod:`studio.plugin_api.safe_loading`, :func:`shipped_resource`.

A plugin is found either through the entry point group ``studio.plugins`` (the entry point's
value is the Python package that contains ``studio-plugin.toml``) or as a folder with a
manifest in the user plugin folder. Built-in plugins use the entry point like everyone else.
"""

from studio.plugin_api.context import (
    Cancelled,
    CancelToken,
    CancelWatch,
    LoadContext,
    ResolvedModel,
    RunContext,
)
from studio.plugin_api.engine_checks import EngineCheck, EngineCheckFailed
from studio.plugin_api.errors import InputError
from studio.plugin_api.events import Event, GeneratedAsset, Partial, Progress, Result
from studio.plugin_api.generation_settings import (
    GenerationSettings,
    LoraWeight,
    SettingsDialect,
    SettingsMapping,
)
from studio.plugin_api.kinds import (
    ASSET_KIND_FOR_PANEL,
    PANEL_FOR_GENERATE_KIND,
    AssetKind,
    GenerateKind,
    Panel,
)
from studio.plugin_api.manifest import (
    MANIFEST_NAME,
    KnownModel,
    Manifest,
    ManifestError,
    Needs,
    read_manifest,
)
from studio.plugin_api.options import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    LoraOption,
    LoraUse,
    ModelOption,
    Option,
    OptionError,
    OptionSet,
    SeedOption,
    TextOption,
)
from studio.plugin_api.panel_plugins import (
    CaptioningPlugin,
    ImagePlugin,
    PanelPlugin,
    VoicePlugin,
    WritingPlugin,
)
from studio.plugin_api.plugin import ModelPlugin, ModelSpec
from studio.plugin_api.requests import (
    REQUEST_TYPE_FOR_PANEL,
    CaptionRequest,
    ImageRequest,
    InputMedia,
    InputSlot,
    Request,
    SpeechRequest,
    TextRequest,
)
from studio.plugin_api.resources import shipped_resource
from studio.plugin_api.safe_loading import RemoteCodeRequired, UnsafeWeights

API_VERSION = 1
"""The plugin API version this Studio provides; a manifest's ``api_version`` must not exceed it."""

MIN_API_VERSION = 1
"""The oldest plugin API version this Studio still runs."""

ENTRY_POINT_GROUP = "studio.plugins"

__all__ = [
    "API_VERSION",
    "ASSET_KIND_FOR_PANEL",
    "ENTRY_POINT_GROUP",
    "MANIFEST_NAME",
    "MIN_API_VERSION",
    "PANEL_FOR_GENERATE_KIND",
    "REQUEST_TYPE_FOR_PANEL",
    "AssetKind",
    "BoolOption",
    "CancelToken",
    "CancelWatch",
    "Cancelled",
    "CaptionRequest",
    "CaptioningPlugin",
    "ChoiceOption",
    "EngineCheck",
    "EngineCheckFailed",
    "Event",
    "FloatOption",
    "GenerateKind",
    "GeneratedAsset",
    "GenerationSettings",
    "ImagePlugin",
    "ImageRequest",
    "InputError",
    "InputMedia",
    "InputSlot",
    "IntOption",
    "KnownModel",
    "LoadContext",
    "LoraOption",
    "LoraUse",
    "LoraWeight",
    "Manifest",
    "ManifestError",
    "ModelOption",
    "ModelPlugin",
    "ModelSpec",
    "Needs",
    "Option",
    "OptionError",
    "OptionSet",
    "Panel",
    "PanelPlugin",
    "Partial",
    "Progress",
    "RemoteCodeRequired",
    "Request",
    "ResolvedModel",
    "Result",
    "RunContext",
    "SeedOption",
    "SettingsDialect",
    "SettingsMapping",
    "SpeechRequest",
    "TextOption",
    "TextRequest",
    "UnsafeWeights",
    "VoicePlugin",
    "WritingPlugin",
    "read_manifest",
    "shipped_resource",
]
