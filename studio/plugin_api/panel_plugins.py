"""One base class per panel: subclass the one for your panel and write one method.

- :class:`WritingPlugin` gets a ``TextRequest``; write ``write(loaded, request, options,
  ctx)``: yield the text piece by piece, or return it whole.
- :class:`ImagePlugin` gets an ``ImageRequest``; write ``draw(loaded, request, options,
  ctx)``: return a picture (a PIL image or PNG bytes).
- :class:`VoicePlugin` gets a ``SpeechRequest``; write ``speak(loaded, sentence, options,
  ctx)``: return a WAV file's bytes (or float samples).
- :class:`CaptioningPlugin` gets a ``CaptionRequest``; write ``describe(loaded, image,
  request, options, ctx)``: return the caption.

Studio hands a panel's plugin only that panel's request type (it checks this before a job
starts), so there is nothing to test with ``isinstance``. The base class's :meth:`run` turns
what the method returns into events: streamed text, progress, the finished asset with a
title, its seed, and the facts for its recipe. A plugin that needs more (a batch, previews
while it draws, several inputs) overrides ``run`` itself, as the built-in plugins do; the
request still arrives typed. ``load`` returns None unless you override it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from studio.plugin_api.context import LoadContext, RunContext
from studio.plugin_api.events import Event, GeneratedAsset, Partial, Progress, Result
from studio.plugin_api.kinds import AssetKind, Panel
from studio.plugin_api.plugin import ModelPlugin
from studio.plugin_api.requests import (
    CaptionRequest,
    ImageRequest,
    InputSlot,
    SpeechRequest,
    TextRequest,
)
from studio.plugin_api.titles import join_title, quote, shorten


class PanelPlugin(ModelPlugin):
    """What the four panel base classes share: the panel, and a ``load`` that loads nothing."""

    panel: ClassVar[Panel]
    """The panel this plugin serves; the manifest's ``panels`` must be exactly this one."""
    simple_method: ClassVar[str] = ""
    """The method a subclass writes (unless it overrides ``run``)."""

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> Any:
        """Nothing to load: override to load a model and return it (``loaded`` in runs)."""
        return None

    @classmethod
    def missing_method(cls) -> str:
        """The method this subclass still has to write, or "" when it has one."""
        if cls.run is not PANEL_RUNS.get(cls.panel):
            return ""  # it runs requests its own way
        base = PANEL_BASES[cls.panel]
        if getattr(cls, cls.simple_method) is getattr(base, cls.simple_method):
            return cls.simple_method
        return ""


class WritingPlugin(PanelPlugin):
    """A Writing panel plugin: write text for a :class:`TextRequest`.

    ``request.mode`` is ``"continue"`` (continue ``request.prompt``) or ``"instruct"`` (do
    ``request.instruction`` about ``request.prompt``). Yield the text as it comes: the panel
    shows each piece at once.
    """

    panel: ClassVar[Panel] = Panel.WRITING
    simple_method: ClassVar[str] = "write"

    def write(
        self, loaded: Any, request: TextRequest, options: Mapping[str, Any], ctx: RunContext
    ) -> Iterable[str] | str:
        """The text: yield it piece by piece (a generator), or return it whole."""
        raise NotImplementedError(f"{type(self).__name__} must define write() or run()")

    def run(
        self, loaded: Any, request: TextRequest, options: Mapping[str, Any], ctx: RunContext
    ) -> Iterator[Event]:
        written = self.write(loaded, request, options, ctx)
        pieces: list[str] = []
        for piece in [written] if isinstance(written, str) else written:
            ctx.cancel.raise_if_cancelled()
            pieces.append(piece)
            yield Partial(text=piece)
        text = "".join(pieces)
        if not text.strip():
            raise ValueError("The plugin wrote nothing for this request.")
        yield Result(
            assets=(GeneratedAsset.from_text(text, title=shorten(text), seed=options.get("seed")),)
        )


class ImagePlugin(PanelPlugin):
    """An Image panel plugin: draw a picture for an :class:`ImageRequest`
    (``request.prompt``, ``request.negative_prompt``, inputs such as ``"init"``)."""

    panel: ClassVar[Panel] = Panel.IMAGE
    simple_method: ClassVar[str] = "draw"

    def draw(
        self, loaded: Any, request: ImageRequest, options: Mapping[str, Any], ctx: RunContext
    ) -> Any:
        """The picture: a PIL image, or the bytes of a PNG file."""
        raise NotImplementedError(f"{type(self).__name__} must define draw() or run()")

    def run(
        self, loaded: Any, request: ImageRequest, options: Mapping[str, Any], ctx: RunContext
    ) -> Iterator[Event]:
        ctx.cancel.raise_if_cancelled()
        picture = self.draw(loaded, request, options, ctx)
        ctx.cancel.raise_if_cancelled()
        data = picture if isinstance(picture, bytes) else png_bytes(picture)
        seed = options.get("seed")
        title = join_title(request.prompt or "Image", f"seed {seed}" if seed is not None else "")
        yield Result(
            assets=(
                GeneratedAsset(
                    kind=AssetKind.IMAGE,
                    data=data,
                    media_type="image/png",
                    title=title,
                    seed=seed,
                    input_roles=tuple(item.role for item in request.inputs),
                ),
            )
        )


class VoicePlugin(PanelPlugin):
    """A Voice panel plugin: speak a :class:`SpeechRequest`'s text, one sentence at a time.

    The base class checks the text (empty, too long), leaves out what no voice can say (emoji,
    symbols) with a note, splits it into sentences (:attr:`language` for the splitter), calls
    :meth:`speak` for each while it reports progress, checks cancel and sends previews, then
    joins the sentences with short pauses into one WAV take
    (:mod:`studio.plugin_api.speech`).
    """

    panel: ClassVar[Panel] = Panel.VOICE
    simple_method: ClassVar[str] = "speak"
    language: ClassVar[str] = "en"
    """The language of the sentence splitter; a run option named ``language`` overrides it."""
    sample_rate: ClassVar[int | None] = None
    """The rate of the float samples :meth:`speak` returns; None when it returns WAV bytes."""

    def speak(self, loaded: Any, sentence: str, options: Mapping[str, Any], ctx: RunContext) -> Any:
        """One sentence's audio: the bytes of a PCM WAV file, or float samples in [-1, 1] at
        :attr:`sample_rate`."""
        raise NotImplementedError(f"{type(self).__name__} must define speak() or run()")

    def run(
        self, loaded: Any, request: SpeechRequest, options: Mapping[str, Any], ctx: RunContext
    ) -> Iterator[Event]:
        from studio.plugin_api.speech import (
            prepare_text,
            speak_sentences,
            take_details,
            take_title,
        )

        prepared = prepare_text(request.text, language=options.get("language", self.language))
        spoken = yield from speak_sentences(
            prepared,
            lambda sentence: self.speak(loaded, sentence, options, ctx),
            self.sample_rate,
            ctx,
        )
        details = take_details(prepared, spoken)
        yield Result(
            assets=(
                GeneratedAsset(
                    kind=AssetKind.AUDIO,
                    data=spoken.wav(),
                    media_type="audio/wav",
                    title=take_title(request.text),
                    seed=options.get("seed"),
                    details=details,
                ),
            )
        )


class CaptioningPlugin(PanelPlugin):
    """A Captioning panel plugin: describe the image of a :class:`CaptionRequest`, or answer
    its ``question`` about it."""

    panel: ClassVar[Panel] = Panel.CAPTIONING
    simple_method: ClassVar[str] = "describe"
    inputs: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(role="image", label="Image", kind=AssetKind.IMAGE, required=True),
    )

    def describe(
        self,
        loaded: Any,
        image: Path,
        request: CaptionRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> str:
        """The caption of the image file ``image`` (or the answer to ``request.question``);
        open it with :func:`studio.plugin_api.images.open_image`."""
        raise NotImplementedError(f"{type(self).__name__} must define describe() or run()")

    def run(
        self, loaded: Any, request: CaptionRequest, options: Mapping[str, Any], ctx: RunContext
    ) -> Iterator[Event]:
        image = request.input("image")
        if image is None:
            raise ValueError("Give an image to describe.")
        ctx.cancel.raise_if_cancelled()
        caption = self.describe(loaded, image.path, request, options, ctx).strip()
        ctx.cancel.raise_if_cancelled()
        if not caption:
            raise ValueError("The plugin found nothing to say about this image.")
        yield Progress(fraction=1.0, message="described")
        asset = GeneratedAsset.from_text(
            caption, kind=AssetKind.CAPTION, title=quote(caption), input_roles=("image",)
        )
        yield Result(assets=(asset,))


def png_bytes(picture: Any) -> bytes:
    """A PIL image as the bytes of a PNG file."""
    import io

    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


PANEL_BASES: dict[Panel, type[PanelPlugin]] = {
    Panel.WRITING: WritingPlugin,
    Panel.IMAGE: ImagePlugin,
    Panel.VOICE: VoicePlugin,
    Panel.CAPTIONING: CaptioningPlugin,
}
"""The base class for each panel."""

PANEL_RUNS = {panel: base.run for panel, base in PANEL_BASES.items()}


def plugin_panel(plugin_class: type[ModelPlugin]) -> Panel | None:
    """The panel a plugin class is typed for (by its base class), or None for a plain
    :class:`ModelPlugin`."""
    return plugin_class.panel if issubclass(plugin_class, PanelPlugin) else None
