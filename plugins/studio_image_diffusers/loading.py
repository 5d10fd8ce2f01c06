"""Load a Stable Diffusion family pipeline from a diffusers folder, offline and safely.

A diffusers folder holds ``model_index.json`` (the pipeline class and its components) and one
sub-folder per component (``unet``, ``vae``, ``text_encoder``, ``tokenizer``, ``scheduler``...).
:func:`load_pipeline` reads it with ``local_files_only=True``: safetensors weights first, pickle
weights only through diffusers' and transformers' ``torch.load(weights_only=True)``; a folder
that names code of its own (a custom pipeline or component) is refused.

One set of weights serves every mode: :class:`LoadedPipeline` builds the image-to-image and
inpainting pipelines from the loaded one with ``from_pipe`` (shared components, no extra
memory). A folder with a 9-channel inpainting UNet runs every mode through its inpainting
pipeline (text-to-image as a fully masked grey canvas, image-to-image as a fully masked init
image), the way A1111 does.

Single-file checkpoints (one ``.safetensors``/``.ckpt``) are not read here yet; the message
says to choose a diffusers folder instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODEL_INDEX = "model_index.json"
BF16_AUTOCAST = "bfloat16-autocast"
DTYPE_CHOICES = ("auto", "float32", "float16", "bfloat16", BF16_AUTOCAST)
"""How the pipeline computes. ``auto`` is made concrete before a job runs
(:func:`auto_dtype`): float16 on a GPU; on the CPU ``bfloat16-autocast`` where the CPU does
bfloat16 in hardware, float32 elsewhere. ``bfloat16-autocast`` keeps float32 weights and
latents and runs the pipeline under ``torch.autocast(bfloat16)`` (convolutions, matrix products
and attention in bfloat16; normalisation, softmax and the sampler in float32), with the UNet
and VAE in channels-last memory layout."""

SD_PIPELINES = (
    "StableDiffusionPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionInpaintPipeline",
)
SDXL_PIPELINES = (
    "StableDiffusionXLPipeline",
    "StableDiffusionXLImg2ImgPipeline",
    "StableDiffusionXLInpaintPipeline",
)
_LIBRARIES = {"diffusers", "transformers"}

# Sampler names as A1111 shows them (its "Sampler" setting reads the same), mapped to the
# diffusers scheduler class and its settings. "Model default" keeps the folder's own scheduler.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Euler": ("EulerDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "DDIM": ("DDIMScheduler", {}),
    "PNDM": ("PNDMScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "Model default": ("", {}),
}
SCHEDULER_CHOICES = tuple(SCHEDULERS)
_MODE_CLASSES = {
    "text": ("StableDiffusionPipeline", "StableDiffusionXLPipeline"),
    "image": ("StableDiffusionImg2ImgPipeline", "StableDiffusionXLImg2ImgPipeline"),
    "inpaint": ("StableDiffusionInpaintPipeline", "StableDiffusionXLInpaintPipeline"),
}


class ModelFolderError(ValueError):
    """The chosen model is not a diffusers Stable Diffusion folder; the message says why."""


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_model_index(path: Path | None) -> dict[str, Any]:
    """The folder's ``model_index.json``, checked: a Stable Diffusion or SDXL pipeline whose
    components all come from diffusers or transformers. Raises :class:`ModelFolderError`."""
    if path is None:
        raise ModelFolderError(
            "No model is chosen: import a model folder (Import model…, a Stable Diffusion or "
            "SDXL folder in the diffusers layout with model_index.json). Studio ships no "
            "text-to-image model."
        )
    path = Path(path)
    if not path.is_dir():
        raise ModelFolderError(f"The model folder {path} does not exist.")
    index_path = path / MODEL_INDEX
    if not index_path.is_file():
        raise ModelFolderError(
            f"The folder {path} is not a diffusers pipeline: it has no {MODEL_INDEX}. Choose "
            "a Stable Diffusion or SDXL folder in the diffusers layout."
        )
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFolderError(f"{index_path} cannot be read as JSON ({_one_line(exc)}).") from None
    if not isinstance(index, dict):
        raise ModelFolderError(f"{index_path} is not a diffusers model index.")
    class_name = index.get("_class_name")
    if class_name not in SD_PIPELINES + SDXL_PIPELINES:
        raise ModelFolderError(
            f"The folder {path} holds a {class_name or 'unknown'} pipeline; this plugin runs "
            "Stable Diffusion 1.x/2.x and SDXL pipelines only."
        )
    for name, value in index.items():
        if name.startswith("_") or value is None:
            continue
        if isinstance(value, list) and len(value) == 2:
            library = value[0]
            if library is not None and library not in _LIBRARIES:
                raise ModelFolderError(
                    f"The component '{name}' of {path} needs code from '{library}', which "
                    "Studio does not run; choose a standard diffusers folder."
                )
    for needed in ("unet", "vae", "scheduler"):
        if not isinstance(index.get(needed), list) or not (path / needed).is_dir():
            raise ModelFolderError(f"The model folder {path} has no '{needed}' component.")
    return index


def auto_dtype(device: str) -> str:
    """What ``auto`` means on ``device`` (one of :data:`DTYPE_CHOICES`; no torch needed).

    A GPU: float16. The CPU: ``bfloat16-autocast`` where it has bfloat16 in hardware (AMX or
    AVX-512 BF16: measured on a Xeon with AMX, SD 1.5 at 512 px took 2.25 s a step against
    7.0 s in float32, and the VAE decode about half the time), float32 elsewhere (torch emulates
    bfloat16 there, several times slower than float32).
    """
    from studio.builtin_support.cpu_features import fast_bfloat16_cpu

    if device != "cpu":
        return "float16"
    return BF16_AUTOCAST if fast_bfloat16_cpu() else "float32"


def concrete_dtype(choice: str, device: str) -> str:
    """``choice`` checked, with ``auto`` replaced by what it means on ``device``."""
    if choice not in DTYPE_CHOICES:
        raise ValueError(f"Unknown dtype '{choice}': choose one of {', '.join(DTYPE_CHOICES)}.")
    return auto_dtype(device) if choice == "auto" else choice


def torch_dtype(choice: str, device: str) -> Any:
    """The dtype the weights are loaded in (float32 for ``bfloat16-autocast``)."""
    import torch

    choice = concrete_dtype(choice, device)
    if choice == BF16_AUTOCAST:
        return torch.float32
    return getattr(torch, choice)


@dataclass
class LoadedPipeline:
    """What the plugin's ``load`` returns: the pipeline and facts about it.

    Attributes:
        pipe: the pipeline as loaded (text-to-image, or the folder's inpainting pipeline).
        family: ``"sd"`` (1.x/2.x) or ``"sdxl"``; picks the preview colours.
        inpaint_unet: the UNet takes 9 channels (a dedicated inpainting model).
        device: where the weights are.
        path: the folder.
        scheduler_config: the folder's own scheduler settings, the base of every sampler.
        scheduler_class: the folder's own scheduler class ("Model default").
        default_size: the model's native image size in pixels (512 for SD 1.5, 1024 for SDXL).
        autocast: run the pipeline under bfloat16 autocast (``bfloat16-autocast``).
    """

    pipe: Any
    family: str
    inpaint_unet: bool
    device: str
    path: Path
    scheduler_config: Any
    scheduler_class: str
    default_size: int
    autocast: bool = False
    _modes: dict[str, Any] = field(default_factory=dict)

    @property
    def size_multiple(self) -> int:
        """Image sides must be a multiple of this (the VAE's scale, at least 8)."""
        return max(8, int(getattr(self.pipe, "vae_scale_factor", 8)))

    def pipeline_for(self, mode: str) -> Any:
        """The pipeline for ``"text"``, ``"image"`` or ``"inpaint"``, sharing the weights."""
        if self.pipe is None:
            raise RuntimeError("The model was unloaded.")
        if self.inpaint_unet:
            mode = "inpaint"  # the 9-channel UNet needs mask inputs for every mode
        if mode not in self._modes:
            from diffusers import (
                AutoPipelineForImage2Image,
                AutoPipelineForInpainting,
                AutoPipelineForText2Image,
            )

            auto = {
                "text": AutoPipelineForText2Image,
                "image": AutoPipelineForImage2Image,
                "inpaint": AutoPipelineForInpainting,
            }[mode]
            if type(self.pipe).__name__ in _MODE_CLASSES[mode]:
                self._modes[mode] = self.pipe
            else:
                pipe = auto.from_pipe(self.pipe)
                pipe.set_progress_bar_config(disable=True)
                self._modes[mode] = pipe
        return self._modes[mode]

    def set_scheduler(self, pipe: Any, name: str) -> None:
        """Give ``pipe`` a fresh scheduler of the named kind (from the folder's settings)."""
        import diffusers

        if name not in SCHEDULERS:
            raise ValueError(f"Unknown sampler '{name}': choose one of {', '.join(SCHEDULERS)}.")
        class_name, settings = SCHEDULERS[name]
        if not class_name:
            class_name = self.scheduler_class
        scheduler_class = getattr(diffusers, class_name)
        pipe.scheduler = scheduler_class.from_config(self.scheduler_config, **settings)

    def precision(self) -> contextlib.AbstractContextManager[Any]:
        """Enter around a pipeline call, on the thread that makes it (autocast is per
        thread): bfloat16 autocast for ``bfloat16-autocast``, nothing otherwise."""
        return bfloat16_autocast(self.device) if self.autocast else contextlib.nullcontext()

    def parameter_bytes(self) -> int:
        if self.pipe is None:
            return 0
        total = 0
        for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
            module = getattr(self.pipe, name, None)
            if module is not None:
                total += sum(p.numel() * p.element_size() for p in module.parameters())
        return int(total)

    def release(self) -> None:
        self.pipe = None
        self._modes.clear()


def bfloat16_autocast(device: str) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on ``device``'s kind (``cpu``, ``cuda``, ``mps``)."""
    import torch

    return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)


def use_channels_last(pipe: Any) -> None:
    """Put the UNet and the VAE in channels-last memory layout (the layout oneDNN's bfloat16
    convolutions run fastest on), in place."""
    import torch

    for name in ("unet", "vae"):
        module = getattr(pipe, name, None)
        if module is not None:
            module.to(memory_format=torch.channels_last)


def load_pipeline(path: Path | None, dtype: str = "auto", device: str = "cpu") -> LoadedPipeline:
    """Load the folder's pipeline onto ``device``; clear errors for anything a user can cause.

    Raises:
        ModelFolderError: not a (supported) diffusers folder, a missing component, weights
            that do not load (the message names the folder and the reason).
    """
    dtype = concrete_dtype(dtype, device)
    if path is not None and Path(path).is_file():
        return load_single_file(Path(path), dtype, device)
    index = read_model_index(path)
    assert path is not None
    path = Path(path)
    import diffusers

    class_name = index["_class_name"]
    pipeline_class = getattr(diffusers, class_name)
    try:
        with warnings.catch_warnings():
            # diffusers 0.42 renamed torch_dtype to dtype; older releases know only torch_dtype.
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            pipe = pipeline_class.from_pretrained(
                path, torch_dtype=torch_dtype(dtype, device), local_files_only=True
            )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelFolderError(
            f"The model folder {path} cannot be loaded as a {class_name} ({_one_line(exc)})."
        ) from exc
    pipe.set_progress_bar_config(disable=True)
    try:
        pipe.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise ModelFolderError(
            f"The model cannot be moved to {device} ({_one_line(exc)})."
        ) from exc
    return loaded_from_pipe(pipe, path, device, autocast=dtype == BF16_AUTOCAST)


def load_single_file(path: Path, dtype: str = "auto", device: str = "cpu") -> LoadedPipeline:
    """A single-file SD 1.x/2.x/SDXL ``.safetensors`` checkpoint, offline (see
    :mod:`.single_file`). ``UnsafeWeights`` (a pickle ``.ckpt``) goes on to Studio's consent
    and converter; anything unsupported becomes a :class:`ModelFolderError`."""
    from .single_file import UnsupportedCheckpoint, detect_family, load_single_file_pipeline

    dtype = concrete_dtype(dtype, device)
    try:
        family = detect_family(path)
        pipe = load_single_file_pipeline(
            path, mode="text", dtype=torch_dtype(dtype, device), device=device, family=family
        )
    except UnsupportedCheckpoint as exc:
        raise ModelFolderError(str(exc)) from exc
    except (OSError, KeyError, RuntimeError) as exc:
        raise ModelFolderError(
            f"The checkpoint {path.name} cannot be loaded ({_one_line(exc)})."
        ) from exc
    # The native size comes from the family's UNet config.
    return loaded_from_pipe(pipe, path, device, autocast=dtype == BF16_AUTOCAST)


def loaded_from_pipe(
    pipe: Any, path: Path, device: str, *, autocast: bool = False
) -> LoadedPipeline:
    """Wrap a Stable Diffusion or SDXL pipeline already on ``device`` (from a folder here, or
    from a single-file checkpoint) as the plugin's :class:`LoadedPipeline`. With
    ``autocast``, its UNet and VAE go to channels-last memory layout (what oneDNN's bfloat16
    convolutions run fastest on) and it runs under bfloat16 autocast."""
    class_name = type(pipe).__name__
    if class_name not in SD_PIPELINES + SDXL_PIPELINES:
        raise ModelFolderError(
            f"{path} holds a {class_name}; this plugin runs Stable Diffusion 1.x/2.x and SDXL "
            "pipelines only."
        )
    in_channels = int(pipe.unet.config.in_channels)
    if in_channels not in (4, 9):
        raise ModelFolderError(
            f"The UNet of {path} takes {in_channels} input channels; Stable Diffusion "
            "models take 4 (or 9 for inpainting)."
        )
    family = "sdxl" if class_name in SDXL_PIPELINES else "sd"
    scale = int(getattr(pipe, "vae_scale_factor", 8))
    sample_size = pipe.unet.config.sample_size
    if isinstance(sample_size, list | tuple):
        sample_size = sample_size[0]
    if autocast:
        use_channels_last(pipe)
    return LoadedPipeline(
        pipe=pipe,
        family=family,
        inpaint_unet=in_channels == 9,
        device=device,
        path=Path(path),
        scheduler_config=dict(pipe.scheduler.config),
        scheduler_class=type(pipe.scheduler).__name__,
        default_size=int(sample_size) * scale,
        autocast=autocast,
    )
