"""Load a Stable Diffusion family pipeline from a diffusers folder, offline and safely.

A diffusers folder holds ``model_index.json`` (the pipeline class and its components) and one
sub-folder per component (``unet``, ``vae``, ``text_encoder``, ``tokenizer``, ``scheduler``...).
:func:`load_pipeline` reads it with ``local_files_only=True`` and ``use_safetensors=True``; a
component with pickle weights (``diffusion_pytorch_model.bin``, ``pytorch_model.bin``) is read by
Studio's safe loader (weights-only, or the safetensors copy the user allowed Studio to make:
``UnsafeWeights`` asks) and handed to diffusers built. ``model_index.json`` may name only
classes diffusers or transformers export: a folder that names code of its own (a custom
pipeline or component, another module) is refused before anything is imported.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.plugin_api.safe_loading import safe_torch_load

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
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")

LoadWeights = Callable[[Path], Any]

# Sampler names as A1111 shows them (its "Sampler" setting reads the same), mapped to the
# diffusers scheduler class and its settings. "Model default" keeps the folder's own scheduler.
_KARRAS = {"use_karras_sigmas": True}
_SDE = {"algorithm_type": "sde-dpmsolver++"}
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler Karras": ("EulerDiscreteScheduler", _KARRAS),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", _KARRAS),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", _SDE),
    "DPM++ 2M SDE Karras": ("DPMSolverMultistepScheduler", _SDE | _KARRAS),
    "DPM2": ("KDPM2DiscreteScheduler", {}),
    "DPM2 Karras": ("KDPM2DiscreteScheduler", _KARRAS),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {}),
    "DPM2 a Karras": ("KDPM2AncestralDiscreteScheduler", _KARRAS),
    "Heun": ("HeunDiscreteScheduler", {}),
    "Heun Karras": ("HeunDiscreteScheduler", _KARRAS),
    "LMS": ("LMSDiscreteScheduler", {}),
    "LMS Karras": ("LMSDiscreteScheduler", _KARRAS),
    "DDIM": ("DDIMScheduler", {}),
    "DDPM": ("DDPMScheduler", {}),
    "PNDM": ("PNDMScheduler", {}),
    "DEIS": ("DEISMultistepScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "LCM": ("LCMScheduler", {}),
    "TCD": ("TCDScheduler", {}),
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
    for name, (library, component_class) in components(index).items():
        if library is None and component_class is None:
            continue  # a component left out, such as safety_checker: [null, null]
        if library not in _LIBRARIES:
            raise ModelFolderError(
                f"The component '{name}' of {path} needs code from '{library}', which "
                "Studio does not run; choose a standard diffusers folder."
            )
        if not is_library_class(library, component_class):
            raise ModelFolderError(
                f"{index_path} names the component '{name}' as {library} class "
                f"'{component_class}', which is not a class of {library}; Studio does not load it."
            )
    for needed in ("unet", "vae", "scheduler"):
        if not isinstance(index.get(needed), list) or not (path / needed).is_dir():
            raise ModelFolderError(f"The model folder {path} has no '{needed}' component.")
    return index


def components(index: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The entries of a model index that name a component: ``name -> (library, class)``."""
    return {
        name: (value[0], value[1])
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2
    }


def is_library_class(library: str, name: Any) -> bool:
    """Whether ``name`` is a class diffusers or transformers exports (their own lazy imports
    only: a name they do not export imports nothing)."""
    import importlib
    import inspect

    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        return False
    try:
        found = getattr(importlib.import_module(library), name, None)
    except Exception:  # an export whose module does not import here
        return False
    return inspect.isclass(found)


def pickled_weights(folder: Path) -> list[Path]:
    """A component's pickle weights (``.bin``...) when it has no safetensors weights."""
    if not folder.is_dir() or any(folder.glob("*.safetensors")):
        return []
    return sorted(
        file for file in folder.iterdir() if file.suffix in _PICKLE_SUFFIXES and file.is_file()
    )


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
    loras: set[str] = field(default_factory=set)
    """The LoRA adapters loaded into the pipeline (:mod:`.loras`)."""
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
        self.loras.clear()


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


def load_pipeline(
    path: Path | None,
    dtype: str = "auto",
    device: str = "cpu",
    load_weights: LoadWeights = safe_torch_load,
) -> LoadedPipeline:
    """Load the folder's pipeline onto ``device``; clear errors for anything a user can cause.

    diffusers reads safetensors weights only (``use_safetensors=True``); a component with
    pickle weights (``diffusion_pytorch_model.bin``) is built here from its config and the
    tensors ``load_weights`` reads (Studio's safe loader, ``LoadContext.load_weights``).

    Raises:
        ModelFolderError: not a (supported) diffusers folder, a missing component, weights
            that do not load (the message names the folder and the reason).
        UnsafeWeights: a pickle file needs full unpickling (Studio asks the user).
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
        built = {
            name: _pickled_component(
                path / name, library, component_class, files, load_weights, dtype, device
            )
            for name, (library, component_class) in components(index).items()
            if library is not None and (files := pickled_weights(path / name))
        }
        with warnings.catch_warnings():
            # diffusers 0.42 renamed torch_dtype to dtype; older releases know only torch_dtype.
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            pipe = pipeline_class.from_pretrained(
                path,
                **built,
                torch_dtype=torch_dtype(dtype, device),
                local_files_only=True,
                use_safetensors=True,
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


def _pickled_component(
    folder: Path,
    library: str,
    class_name: str,
    files: list[Path],
    load_weights: LoadWeights,
    dtype: str,
    device: str,
) -> Any:
    """A component whose weights are pickle files: its class built from its config, with the
    tensors Studio's safe loader read (never diffusers' or transformers' own unpickling)."""
    import importlib

    model_class = getattr(importlib.import_module(library), class_name)
    state: dict[str, Any] = {}
    for file in files:
        loaded = load_weights(file)
        if not isinstance(loaded, Mapping):
            raise ModelFolderError(f"{file} holds no plain state dict of tensors.")
        state.update(loaded)
    if library == "transformers":
        config = model_class.config_class.from_pretrained(folder, local_files_only=True)
        model, info = model_class.from_pretrained(
            None, config=config, state_dict=state, output_loading_info=True
        )
        missing = list(info.get("missing_keys") or ())
    else:
        model = model_class.from_config(model_class.load_config(folder, local_files_only=True))
        missing = list(model.load_state_dict(state, strict=False).missing_keys)
    if missing:
        raise ModelFolderError(
            f"The weights in {folder} do not match its config: {len(missing)} tensors are "
            f"missing ({', '.join(sorted(missing)[:3])})."
        )
    target = torch_dtype(dtype, device)
    return (model if model.dtype == target else model.to(dtype=target)).eval()


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
