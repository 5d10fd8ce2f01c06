"""The plugin class: load a model once, then run requests on it as a stream of events.

A plugin is a :class:`ModelPlugin` subclass named by its manifest's ``entry``. Its module must
import nothing heavy at import time (no torch, no model libraries, never Qt): import those inside
:meth:`ModelPlugin.load` and :meth:`ModelPlugin.run`, so that listing plugins and showing their
options stays instant.

Most plugins subclass the class of their panel instead (:class:`WritingPlugin`,
:class:`ImagePlugin`, :class:`VoicePlugin`, :class:`CaptioningPlugin` in
:mod:`studio.plugin_api.panel_plugins`) and write one method; those are ModelPlugins whose
``run`` makes the events. A minimal plugin that makes its own events::

    from studio.plugin_api import (GeneratedAsset, IntOption, ModelPlugin, OptionSet, Progress,
                                   Result)

    class Shouter(ModelPlugin):
        run_options = OptionSet(
            IntOption(name="repeat", default=1, minimum=1, maximum=9,
                      description="How many times to shout the prompt.")
        )

        def load(self, options, ctx):
            return None                   # nothing to load

        def run(self, loaded, request, options, ctx):
            ctx.cancel.raise_if_cancelled()
            yield Progress(fraction=0.5, message="shouting")
            text = request.prompt.upper() * options["repeat"]
            yield Result(assets=(GeneratedAsset.from_text(text),))

Studio guarantees: ``options`` are complete and validated against the declared option sets;
``load`` and ``run`` are called on a worker thread (never the GUI thread), one run at a time per
loaded model; a loaded model is reused until Studio evicts it (then :meth:`unload`). The plugin
guarantees: it checks ``ctx.cancel`` often and raises :class:`Cancelled`; on success its last
event is a :class:`Result` (a batch may yield one Result per finished item: Studio commits each
as it arrives, so a batch cancelled half-way keeps what was finished); it raises an exception
with a readable message on failure; and it never touches the network unless its manifest says
``needs.network = true``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from studio.plugin_api.context import LoadContext, RunContext
from studio.plugin_api.engine_checks import CheckContext, EngineCheck
from studio.plugin_api.events import Event
from studio.plugin_api.generation_settings import GenerationSettings, SettingsMapping
from studio.plugin_api.kinds import AssetKind, Panel
from studio.plugin_api.manifest import KnownModel, Manifest
from studio.plugin_api.options import OptionSet
from studio.plugin_api.requests import (
    CaptionRequest,
    ImageRequest,
    InputMedia,
    InputSlot,
    Request,
    SpeechRequest,
    TextRequest,
)
from studio.plugin_api.sample_media import write_sample_png


class ModelPlugin(ABC):
    """Base class of every model plugin.

    Class attributes:
        load_options: options that change what is loaded (a new value means a new load).
            Include :class:`studio.plugin_api.ModelOption` if the user can pick a model.
        run_options: options of one run (steps, temperature, seed...).
        inputs: the input files it takes besides the request's text (an init image, a style
            image, a reference clip), so panels show a field for each.
        request_fields: the request's text fields it reads (``("prompt",
            "negative_prompt")``...); None means all of them. A plugin that reads none (an
            upscaler) says ``()``, and the panel hides those fields.
        engine_checks: the native engines it runs, each with a known-answer check
            (:meth:`check_engine`; see :mod:`studio.plugin_api.engine_checks`).

    Optional hooks: :meth:`prepare`, :meth:`resolve_auto_options`, :meth:`known_model_path`,
    :meth:`check_engine`, :meth:`unload`, :meth:`memory_bytes`, :meth:`example_request`, and
    for image plugins :meth:`options_from_settings` (settings read from another tool's image).
    """

    load_options: ClassVar[OptionSet] = OptionSet()
    run_options: ClassVar[OptionSet] = OptionSet()
    inputs: ClassVar[tuple[InputSlot, ...]] = ()
    request_fields: ClassVar[tuple[str, ...] | None] = None
    engine_checks: ClassVar[tuple[EngineCheck, ...]] = ()

    @abstractmethod
    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> Any:
        """Load the model from ``ctx.model`` onto ``ctx.device`` and return it.

        The returned object is opaque to Studio; it is passed back to :meth:`run` and
        :meth:`unload`. Report slow steps with ``ctx.report_progress``. Load weights safely:
        safetensors, GGUF and ONNX freely; pickle files only with
        ``torch.load(..., weights_only=True)``; never ``trust_remote_code`` by yourself.
        """

    @abstractmethod
    def run(
        self, loaded: Any, request: Request, options: Mapping[str, Any], ctx: RunContext
    ) -> Iterator[Event]:
        """Do one job, yielding :class:`Progress`, :class:`Partial` and :class:`Result` events.

        The last event must be a :class:`Result`; a batch may yield one per finished item.

        ``request`` is the request type of the panel the job came from (see
        :data:`studio.plugin_api.REQUEST_TYPE_FOR_PANEL`).
        """

    def prepare(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Import the heavy libraries ahead of a first run (never load a model here).

        Studio calls it in the panel's model process when the plugin is picked, so the first
        Run does not wait for ``import torch``. The window's own process never calls it.
        """

    @classmethod
    def resolve_auto_options(cls, load_options: Mapping[str, Any], device: str) -> dict[str, Any]:
        """The load options with every machine-dependent ``auto`` value made concrete.

        Studio calls it once when it checks a job, with the validated ``load_options`` and the
        concrete device the job runs on (``"cpu"``, ``"cuda:0"``, ``"mps"``), and records what
        it returns in the recipe: a re-run then loads exactly the same way, on any machine.
        Return a new mapping (the values must still be valid choices of
        :attr:`load_options`); e.g. ``{**load_options, "dtype": "float32"}`` where ``auto``
        means float32 on this device.

        A class method called in the window's process for every job: it must be cheap and
        import nothing heavy (no torch). Default: the options unchanged.
        """
        return dict(load_options)

    @classmethod
    def options_from_settings(cls, settings: GenerationSettings) -> SettingsMapping:
        """Map the settings another tool wrote into an image onto this plugin's options.

        When the user drops an AUTOMATIC1111 or ComfyUI image on a panel (or picks "Use These
        Settings" on one), Studio reads its settings into plain ``settings`` (see
        :class:`~studio.plugin_api.GenerationSettings`; names in ``settings.dialect``'s
        vocabulary) and asks the panel's plugin what they mean for it. Return a
        :class:`~studio.plugin_api.SettingsMapping`: ``load_options`` and ``run_options`` by
        your option names, ``used`` naming the settings (from ``settings.given()``) those values
        carry, and ``notes`` for what was taken only in part. Studio fills the forms and the
        request's ``prompt``/``negative_prompt`` (when your plugin reads them), and lists every
        given setting you did not use, so you need not mention what you ignore.

        A class method: Studio calls it in the window's process without loading a model, so
        import nothing heavy here. It must not raise for settings it does not understand:
        leave them out. Default: nothing is taken (Studio says the plugin takes none of them).
        """
        return SettingsMapping()

    def known_model_path(self, model: KnownModel, cache_dir: Path) -> Path:
        """Where the files of a model listed in the manifest's ``[[models]]`` are.

        Called on a worker thread before :meth:`load` when the ``model`` load option is empty
        (the embedded default) or names a known model id. ``cache_dir`` is a folder this plugin
        may use for unpacked or converted copies. Raise ``FileNotFoundError`` with a clear
        message (naming the package or file) when the model is not installed.
        """
        raise FileNotFoundError(f"The plugin does not know where the model '{model.id}' is.")

    def check_engine(self, ctx: CheckContext) -> str:
        """Run the known-answer check ``ctx.check`` the way ``ctx.variant`` says; return one
        line on what was seen ("'Paris' as expected").

        Studio calls it in a process of its own once per machine (the verdict is cached by
        CPU and package versions). Run the engine the way jobs do
        (:func:`~studio.plugin_api.engine_checks.run_plugin`) and compare its output with
        something known: raise :class:`~studio.plugin_api.engine_checks.EngineCheckFailed`
        saying what was expected and what came out when it is wrong. Studio detects a crash
        or a hang by itself.
        """
        raise NotImplementedError(f"{type(self).__name__} declares no check '{ctx.check.id}'")

    def unload(self, loaded: Any) -> None:  # noqa: B027 - optional hook, empty by default
        """Free what :meth:`load` returned (GPU memory, files). Default: nothing to do."""

    def memory_bytes(self, loaded: Any) -> int:
        """How much memory the loaded model holds, for the model cache's budget."""
        return 0

    def example_request(self, panel: Panel, workdir: Path) -> Request:
        """A small request that exercises the plugin, used by the contract test.

        ``workdir`` is an empty temporary folder for sample input files. Override this when
        the plugin needs particular inputs.
        """
        if panel is Panel.WRITING:
            return TextRequest(prompt="Once upon a time")
        if panel is Panel.IMAGE:
            return ImageRequest(prompt="a red apple on a table")
        if panel is Panel.VOICE:
            return SpeechRequest(text="Hello there. This is a test.")
        image = write_sample_png(workdir / "sample.png")
        return CaptionRequest(
            inputs=(
                InputMedia(role="image", path=image, kind=AssetKind.IMAGE, media_type="image/png"),
            )
        )


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything the app shows and checks about a plugin: manifest facts plus typed options."""

    id: str
    name: str
    version: str
    panels: tuple[Panel, ...]
    licence: str
    description: str
    load_options: OptionSet
    run_options: OptionSet
    models: tuple[KnownModel, ...] = ()
    inputs: tuple[InputSlot, ...] = ()
    request_fields: tuple[str, ...] | None = None

    @property
    def needs_user_model(self) -> bool:
        """It takes a ``model`` and ships none: nothing runs until the user brings one."""
        return "model" in self.load_options and not any(m.embedded for m in self.models)

    def reads(self, field_name: str) -> bool:
        """Whether the plugin reads this request field."""
        return self.request_fields is None or field_name in self.request_fields

    def input_slot(self, role: str) -> InputSlot | None:
        return next((slot for slot in self.inputs if slot.role == role), None)

    @property
    def panel(self) -> Panel:
        return self.panels[0]

    @classmethod
    def build(cls, manifest: Manifest, plugin_class: type[ModelPlugin]) -> ModelSpec:
        return cls(
            id=manifest.id,
            name=manifest.name,
            version=manifest.version,
            panels=manifest.panels,
            licence=manifest.licence,
            description=manifest.description,
            load_options=plugin_class.load_options,
            run_options=plugin_class.run_options,
            models=manifest.models,
            inputs=plugin_class.inputs,
            request_fields=plugin_class.request_fields,
        )
