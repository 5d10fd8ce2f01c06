"""Single-file Stable Diffusion checkpoints (one ``.safetensors``), loaded offline.

A single-file checkpoint holds a whole pipeline's weights in the original (CompVis/LDM) key
layout: ``model.diffusion_model.*`` (UNet), ``first_stage_model.*`` (VAE) and the text encoder(s)
(``cond_stage_model.*`` or ``conditioner.embedders.*``). It carries no configs and no tokenizer,
so diffusers' ``from_single_file`` would fetch those from the Hugging Face hub. Studio ships them
instead: ``resources/diffusers/<config>/`` holds the official diffusers configs of each family it
supports, and ``resources/clip/bpe_simple_vocab_16e6.txt.gz`` is the CLIP BPE vocabulary (MIT),
from which the tokenizer files (``vocab.json``, ``merges.txt``) are built the way OpenAI's CLIP
builds its vocabulary.

- :func:`detect_family` reads only the file's safetensors header (names, shapes and metadata;
  at most one small tensor) and says which family it is, or raises :class:`UnsupportedCheckpoint`
  (a ``ValueError``) naming what it found and what is supported. Pickle checkpoints (``.ckpt``)
  raise :class:`~studio.plugin_api.UnsafeWeights`: Studio asks the user and converts them.
- :func:`write_config_folder` writes the family's config folder (tokenizer files included, the
  UNet's input channels and the scheduler's prediction type adjusted to the checkpoint).
- :func:`load_single_file_pipeline` does both and loads the pipeline with
  ``from_single_file(config=<that folder>, local_files_only=True)``: nothing is downloaded.

Supported: Stable Diffusion 1.x (config ``sd15``), 2.x at 512 px with epsilon prediction
(``sd2``) and at 768 px with v-prediction (``sd2-v``), and SDXL base (``sdxl``); each also as an
inpainting model (a UNet with 9 input channels), and early SD 1.x files whose text encoder keys
lack transformers' ``text_model.`` level (renamed on load, as A1111 does). Not supported: SDXL
refiner, SD 3.x, Flux, Playground v2.5, ControlNet, instruct-pix2pix and upscaler models, LoRA
files and files that hold only a VAE or only a UNet.

Prediction type (``prediction="auto"``), following ComfyUI's rules, first match wins:

1. the file's ``modelspec.prediction_type`` metadata (Stability's model spec) says ``v`` or
   ``epsilon``;
2. a ``v_pred`` key (v-prediction fine-tunes, mostly SDXL) means v-prediction, and a ``ztsnr``
   key beside it zero terminal SNR (``rescale_betas_zero_snr``);
3. SD 2.x (4 input channels): the standard deviation of
   ``output_blocks.11.1.transformer_blocks.0.norm1.bias`` above 0.09 means the 768-v model;
4. SD 2.x: a file name containing ``768`` or ending in ``-v``/``_v`` means the 768-v model;
5. otherwise epsilon. SD 2.x inpainting models are epsilon, as Stability trained them.

``prediction="epsilon"`` or ``"v_prediction"`` overrides the guess (for SD 2.x it also picks the
512 or the 768 config).

Only :mod:`studio.plugin_api` is imported at module level; torch, safetensors, diffusers and
transformers are imported inside the functions.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.plugin_api import UnsafeWeights, shipped_resource
from studio.plugin_api.safe_loading import WeightsFormat, detect_weights_format

CONFIG_NAMES = ("sd15", "sd2", "sd2-v", "sdxl")
"""The config folders shipped in ``resources/diffusers/``."""

PREDICTIONS = ("auto", "epsilon", "v_prediction")
MODES = ("txt2img", "img2img", "inpaint")
_MODE_ALIASES = {"text": "txt2img", "image": "img2img"}

SUPPORTED = (
    "Stable Diffusion 1.x, Stable Diffusion 2.x (512 and 768-v) and SDXL base 1.0 checkpoints, "
    "also as inpainting models, in one .safetensors file"
)
CLIP_BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
CLIP_SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
_CLIP_MERGES = 49152 - 256 - 2  # as in OpenAI's CLIP: lines[1 : 49152 - 256 - 2 + 1]

_UNET = "model.diffusion_model."
_CONV_IN = _UNET + "input_blocks.0.0.weight"
_SD1_CLIP = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
# Some early SD 1.x files keep the text encoder without transformers' ``text_model.`` level.
_SD1_CLIP_PREFIX = "cond_stage_model.transformer."
_SD1_CLIP_LEGACY = _SD1_CLIP_PREFIX + "embeddings.position_embedding.weight"
_SD2_OPEN_CLIP = "cond_stage_model.model.token_embedding.weight"
_XL_CLIP_L = "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight"
_XL_OPEN_CLIP = "conditioner.embedders.1.model.token_embedding.weight"
_XL_REFINER_OPEN_CLIP = "conditioner.embedders.0.model.token_embedding.weight"
_XL_LABEL_EMB = _UNET + "label_emb.0.0.weight"
_SD2_V_PROBE = _UNET + "output_blocks.11.1.transformer_blocks.0.norm1.bias"
_CROSS_ATTENTION_KEY = re.compile(r"^model\.diffusion_model\..*\.attn2\.to_k\.weight$")

_PIPELINES = {
    (False, "txt2img"): "StableDiffusionPipeline",
    (False, "img2img"): "StableDiffusionImg2ImgPipeline",
    (False, "inpaint"): "StableDiffusionInpaintPipeline",
    (True, "txt2img"): "StableDiffusionXLPipeline",
    (True, "img2img"): "StableDiffusionXLImg2ImgPipeline",
    (True, "inpaint"): "StableDiffusionXLInpaintPipeline",
}
_LABELS = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "SDXL"}
_DEFAULT_SIZES = {"sd15": 512, "sd2": 512, "sd2-v": 768, "sdxl": 1024}


class UnsupportedCheckpoint(ValueError):
    """The file is not a single-file checkpoint of a supported family; the message says why."""


@dataclass(frozen=True)
class Family:
    """What :func:`detect_family` found in a checkpoint.

    Attributes:
        name: ``"sd1"``, ``"sd2"`` or ``"sdxl"``.
        config: the shipped config folder it loads with (one of :data:`CONFIG_NAMES`).
        inpainting: the UNet takes 9 input channels (latents, mask, masked-image latents).
        prediction: ``"epsilon"`` or ``"v_prediction"``.
        zero_snr: the scheduler rescales betas to zero terminal SNR (``ztsnr`` checkpoints).
        context_dim: the UNet's cross-attention width read from the weights (768 for SD 1.x,
            1024 for SD 2.x, 2048 for SDXL), or None when no cross-attention weight was found.
        legacy_text_keys: an early SD 1.x file whose text encoder keys lack ``text_model.``
            (A1111 renames them on load; so does :func:`load_single_file_pipeline`).
    """

    name: str
    config: str
    inpainting: bool = False
    prediction: str = "epsilon"
    zero_snr: bool = False
    context_dim: int | None = None
    legacy_text_keys: bool = False

    @property
    def is_xl(self) -> bool:
        return self.name == "sdxl"

    @property
    def in_channels(self) -> int:
        return 9 if self.inpainting else 4

    @property
    def default_size(self) -> int:
        """The model's native image side in pixels (512, 768 or 1024)."""
        return _DEFAULT_SIZES[self.config]

    @property
    def label(self) -> str:
        """How to name it to a person: ``"Stable Diffusion 2.x (768, v-prediction)"``."""
        details = []
        if self.name == "sd2":
            details.append("768" if self.config == "sd2-v" else "512")
        if self.prediction == "v_prediction":
            details.append("v-prediction")
        if self.inpainting:
            details.append("inpainting")
        return _LABELS[self.name] + (f" ({', '.join(details)})" if details else "")

    def pipeline_class(self, mode: str = "txt2img") -> str:
        """The diffusers pipeline class for ``mode``; inpainting models always use the
        inpainting pipeline (their UNet needs the mask inputs in every mode)."""
        mode = _check_mode(mode)
        return _PIPELINES[(self.is_xl, "inpaint" if self.inpainting else mode)]


# --------------------------------------------------------------------------------------------
# Family detection (header only)
# --------------------------------------------------------------------------------------------


def _check_mode(mode: str) -> str:
    mode = _MODE_ALIASES.get(mode, mode)
    if mode not in MODES:
        raise ValueError(f"Unknown mode '{mode}': choose one of {', '.join(MODES)}.")
    return mode


def _unsupported(path: Path, what: str) -> UnsupportedCheckpoint:
    return UnsupportedCheckpoint(f"{path.name} is {what}; Studio loads {SUPPORTED}.")


def _read_header(path: Path) -> tuple[dict[str, list[int]], dict[str, str]]:
    """Tensor names with their shapes, and the file's metadata; no tensor is read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {key: list(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118
            metadata = handle.metadata() or {}
    except Exception as exc:  # safetensors raises its own SafetensorError for damaged headers
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise UnsupportedCheckpoint(
            f"{path.name} cannot be read as a safetensors file, so it may be damaged ({detail})."
        ) from exc
    return shapes, metadata


def _classify_other(path: Path, keys: set[str]) -> UnsupportedCheckpoint:
    """The error for a safetensors file that holds no Stable Diffusion UNet we can use."""

    def has(fragment: str) -> bool:
        return any(fragment in key for key in keys)

    if has("lora_") or has(".lora_down.") or has(".lora_A.") or has(".hada_w1"):
        return _unsupported(path, "a LoRA (a small add-on to a model), not a full checkpoint")
    if has("joint_blocks."):
        return _unsupported(path, "a Stable Diffusion 3 checkpoint")
    if has("double_blocks.") or has("single_blocks."):
        return _unsupported(path, "a Flux checkpoint")
    if has("control_model.") or has("controlnet_cond_embedding."):
        return _unsupported(path, "a ControlNet")
    if any(key.startswith(("encoder.", "decoder.", "first_stage_model.")) for key in keys) and not (
        has("input_blocks.") or has("down_blocks.")
    ):
        return _unsupported(path, "a VAE on its own, not a full checkpoint")
    if has("down_blocks.") and has("up_blocks."):
        return _unsupported(
            path, "a diffusers-format component, not an original single-file checkpoint"
        )
    if has("input_blocks.") and not any(key.startswith(_UNET) for key in keys):
        return _unsupported(path, "a UNet on its own, not a full checkpoint")
    return _unsupported(path, "not a Stable Diffusion checkpoint")


def _context_dim(shapes: dict[str, list[int]]) -> int | None:
    for key, shape in shapes.items():
        if _CROSS_ATTENTION_KEY.match(key) and len(shape) == 2:
            return int(shape[1])
    return None


def _sd2_looks_v(path: Path, shapes: dict[str, list[int]]) -> bool:
    """ComfyUI's test for SD 2.x v-prediction, then the file name."""
    if _SD2_V_PROBE in shapes:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            bias = handle.get_tensor(_SD2_V_PROBE).float()
        return float(bias.std(unbiased=False)) > 0.09
    stem = path.stem.lower()
    return "768" in stem or stem.endswith(("-v", "_v"))


def detect_family(path: Path | str, prediction: str = "auto") -> Family:
    """Which supported family the single-file checkpoint at ``path`` is (header only).

    Args:
        path: a ``.safetensors`` checkpoint (its content decides, not its name).
        prediction: ``"auto"`` (see the module notes), ``"epsilon"`` or ``"v_prediction"``.

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: ``path`` is a folder.
        UnsafeWeights: a pickle checkpoint (``.ckpt``): Studio asks the user and converts it.
        UnsupportedCheckpoint: anything else that is not a supported checkpoint (a
            ``ValueError``; the message names the file, what it holds and what is supported).
    """
    path = Path(path)
    if prediction not in PREDICTIONS:
        raise ValueError(
            f"Unknown prediction type '{prediction}': choose one of {', '.join(PREDICTIONS)}."
        )
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a single-file checkpoint.")
    if not path.is_file():
        raise FileNotFoundError(f"The checkpoint {path} does not exist.")
    weights_format = detect_weights_format(path)
    if weights_format is WeightsFormat.PICKLE:
        raise UnsafeWeights(path)
    if weights_format is WeightsFormat.UNKNOWN:
        raise _unsupported(path, "not a model file Studio recognises")
    if weights_format is not WeightsFormat.SAFETENSORS:
        raise _unsupported(path, f"{weights_format.description}, not a safetensors checkpoint")

    shapes, metadata = _read_header(path)
    keys = set(shapes)
    if _CONV_IN not in shapes:
        raise _classify_other(path, keys)
    if "edm_mean" in keys or "edm_vpred.sigma_max" in keys:
        raise _unsupported(path, "a Playground v2.5 or EDM checkpoint")
    if any("joint_blocks." in key for key in keys):
        raise _unsupported(path, "a Stable Diffusion 3 checkpoint")
    in_channels = shapes[_CONV_IN][1]
    if in_channels not in (4, 9):
        kind = {8: "an instruct-pix2pix model", 7: "an upscaler model"}.get(in_channels)
        raise _unsupported(
            path, kind or f"a model whose UNet takes {in_channels} input channels (not 4 or 9)"
        )
    inpainting = in_channels == 9

    if _XL_CLIP_L in keys and _XL_OPEN_CLIP in keys and _XL_LABEL_EMB in keys:
        name = "sdxl"
    elif _XL_REFINER_OPEN_CLIP in keys:
        raise _unsupported(path, "an SDXL refiner checkpoint")
    elif _SD2_OPEN_CLIP in keys:
        name = "sd2"
    elif _SD1_CLIP in keys or _SD1_CLIP_LEGACY in keys:
        name = "sd1"
    elif any(key.startswith(("cond_stage_model.", "conditioner.")) for key in keys):
        raise _unsupported(path, "a checkpoint whose text encoder Studio does not recognise")
    else:
        raise _unsupported(path, "a checkpoint without its text encoder")

    zero_snr = False
    if prediction == "auto":
        spec = str(metadata.get("modelspec.prediction_type", "")).lower()
        if spec in ("v", "v_prediction", "v-prediction"):
            prediction = "v_prediction"
        elif spec in ("epsilon", "eps"):
            prediction = "epsilon"
        elif "v_pred" in keys or (name == "sd2" and not inpainting and _sd2_looks_v(path, shapes)):
            prediction = "v_prediction"
        else:
            prediction = "epsilon"
    if prediction == "v_prediction" and "ztsnr" in keys:
        zero_snr = True

    config = {"sd1": "sd15", "sdxl": "sdxl"}.get(name) or (
        "sd2-v" if prediction == "v_prediction" and not inpainting else "sd2"
    )
    return Family(
        name=name,
        config=config,
        inpainting=inpainting,
        prediction=prediction,
        zero_snr=zero_snr,
        context_dim=_context_dim(shapes),
        legacy_text_keys=name == "sd1" and _SD1_CLIP not in keys,
    )


# --------------------------------------------------------------------------------------------
# The CLIP tokenizer, built from the BPE vocabulary file
# --------------------------------------------------------------------------------------------


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's (and GPT-2's) table from bytes to printable characters: the BPE base alphabet."""
    byte_values = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    code_points = list(byte_values)
    extra = 0
    for byte in range(256):
        if byte not in byte_values:
            byte_values.append(byte)
            code_points.append(256 + extra)
            extra += 1
    return dict(zip(byte_values, map(chr, code_points), strict=True))


@functools.lru_cache(maxsize=2)
def clip_vocabulary(bpe_file: Path | None = None) -> tuple[dict[str, int], tuple[str, ...]]:
    """CLIP's vocabulary and merges, built from ``bpe_simple_vocab_16e6.txt.gz`` as OpenAI's
    CLIP builds them: the 256 byte characters, the same with ``</w>``, one token per merge (the
    first 48,894 merges), then ``<|startoftext|>`` and ``<|endoftext|>``: 49,408 tokens.

    Returns ``(vocab, merges)`` with merges as ``"left right"`` strings, in rank order.
    """
    bpe_file = bpe_file or shipped_resource("clip", CLIP_BPE_FILE)
    lines = gzip.decompress(Path(bpe_file).read_bytes()).decode("utf-8").split("\n")
    merges = tuple(lines[1 : _CLIP_MERGES + 1])
    alphabet = list(bytes_to_unicode().values())
    tokens = alphabet + [c + "</w>" for c in alphabet]
    tokens += ["".join(merge.split()) for merge in merges]
    tokens += list(CLIP_SPECIAL_TOKENS)
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ValueError(f"{bpe_file} does not hold CLIP's vocabulary (repeated tokens).")
    return vocab, merges


def write_clip_tokenizer_files(folder: Path | str, bpe_file: Path | None = None) -> Path:
    """Write ``vocab.json`` and ``merges.txt`` (transformers' ``CLIPTokenizer`` files) into
    ``folder``, built from the CLIP BPE vocabulary; returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = clip_vocabulary(bpe_file)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_text = "#version: 0.2\n" + "".join(f"{merge}\n" for merge in merges)
    (folder / "merges.txt").write_text(merges_text, encoding="utf-8")
    return folder


# --------------------------------------------------------------------------------------------
# Config folders and loading
# --------------------------------------------------------------------------------------------


def shipped_config(name: str) -> Path:
    """The shipped config folder ``resources/diffusers/<name>`` (one of :data:`CONFIG_NAMES`)."""
    if name not in CONFIG_NAMES:
        raise ValueError(f"Unknown config '{name}': choose one of {', '.join(CONFIG_NAMES)}.")
    return shipped_resource("diffusers", name)


def _update_json(path: Path, changes: dict[str, Any]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_config_folder(
    family: Family | str, dest: Path | str, *, config_dir: Path | str | None = None
) -> Path:
    """Write a complete diffusers config folder for ``family`` into ``dest``; returns ``dest``.

    The folder is the shipped one (``family.config``, or ``config_dir`` when given, e.g. a test's
    tiny configs) with, for a :class:`Family`: the UNet's ``in_channels`` set to the
    checkpoint's (9 for inpainting), and the scheduler's ``prediction_type`` (and zero-SNR
    rescaling) set to the family's. Every ``tokenizer*/`` folder without ``vocab.json`` gets the
    CLIP tokenizer files built from the shipped BPE vocabulary. It holds no weights.
    """
    dest = Path(dest)
    source = Path(config_dir) if config_dir is not None else None
    if isinstance(family, str):
        source = source or shipped_config(family)
        family = None  # type: ignore[assignment]
    else:
        source = source or shipped_config(family.config)
    if not (source / "model_index.json").is_file():
        raise FileNotFoundError(f"The config folder {source} has no model_index.json.")
    shutil.copytree(
        source,
        dest,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "*.ckpt", "*.pt"),
    )
    for tokenizer_dir in sorted(dest.glob("tokenizer*")):
        if tokenizer_dir.is_dir() and not (tokenizer_dir / "vocab.json").exists():
            write_clip_tokenizer_files(tokenizer_dir)
    if isinstance(family, Family):
        _update_json(dest / "unet" / "config.json", {"in_channels": family.in_channels})
        scheduler_changes: dict[str, Any] = {"prediction_type": family.prediction}
        if family.zero_snr:
            scheduler_changes["rescale_betas_zero_snr"] = True
            scheduler_changes["timestep_spacing"] = "trailing"
        _update_json(dest / "scheduler" / "scheduler_config.json", scheduler_changes)
    return dest


def _torch_dtype(dtype: Any, device: str) -> Any:
    import torch

    if dtype is None or dtype == "auto":
        return torch.float32 if str(device).startswith("cpu") else torch.float16
    if isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"Unknown dtype '{dtype}': use float32, float16 or bfloat16.")
    return value


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _legacy_sd1_text_encoder(path: Path, config: Path, torch_dtype: Any) -> Any:
    """The CLIP text encoder of an SD 1.x file whose keys lack ``text_model.``, which diffusers'
    single-file loader does not recognise: read those tensors and load them directly."""
    from safetensors import safe_open
    from transformers import CLIPTextConfig, CLIPTextModel

    text_config = CLIPTextConfig.from_pretrained(config / "text_encoder", local_files_only=True)
    model = CLIPTextModel(text_config)
    wrapped = hasattr(model, "text_model")  # transformers < 5.6 keeps a text_model level
    state = {}
    with safe_open(str(path), framework="pt") as handle:
        for key in handle.keys():  # noqa: SIM118 (safe_open handles are not mappings)
            if not key.startswith(_SD1_CLIP_PREFIX) or key.endswith("position_ids"):
                continue
            name = key[len(_SD1_CLIP_PREFIX) :].removeprefix("text_model.")
            state[("text_model." if wrapped else "") + name] = handle.get_tensor(key)
    model.load_state_dict(state, strict=True)
    return model.to(torch_dtype).eval()


def load_single_file_pipeline(
    path: Path | str,
    *,
    mode: str = "txt2img",
    dtype: Any = None,
    device: str = "cpu",
    prediction: str = "auto",
    family: Family | None = None,
    config_dir: Path | str | None = None,
) -> Any:
    """Load a single-file Stable Diffusion checkpoint as a diffusers pipeline, offline.

    Args:
        path: the ``.safetensors`` checkpoint.
        mode: ``"txt2img"``, ``"img2img"`` or ``"inpaint"`` (``"text"``/``"image"`` also work):
            picks the pipeline class; an inpainting checkpoint always gets the inpainting
            pipeline. Other modes can share the weights through ``AutoPipelineFor*.from_pipe``.
        dtype: a ``torch.dtype``, ``"float32"``/``"float16"``/``"bfloat16"``, or None/``"auto"``
            (float32 on the CPU, float16 elsewhere).
        device: where the weights go (``"cpu"``, ``"cuda"``...).
        prediction: ``"auto"``, ``"epsilon"`` or ``"v_prediction"`` (see :func:`detect_family`).
        family: what :func:`detect_family` returned, to skip reading the header again.
        config_dir: a diffusers config folder to use instead of the shipped one (tests use a
            tiny one); it is copied and adjusted like the shipped one.

    Returns:
        The pipeline (``StableDiffusion[XL][Img2Img|Inpaint]Pipeline``) on ``device``, with its
        progress bar off.

    Raises:
        FileNotFoundError, UnsafeWeights, UnsupportedCheckpoint: as :func:`detect_family`;
        UnsupportedCheckpoint also when the weights do not fit the family's architecture.
    """
    path = Path(path)
    mode = _check_mode(mode)
    family = family or detect_family(path, prediction)
    torch_dtype = _torch_dtype(dtype, device)
    class_name = family.pipeline_class(mode)

    import diffusers

    pipeline_class = getattr(diffusers, class_name)
    with tempfile.TemporaryDirectory(prefix="studio-sd-config-") as tmp:
        config = write_config_folder(family, Path(tmp) / family.config, config_dir=config_dir)
        unet_config = json.loads((config / "unet" / "config.json").read_text(encoding="utf-8"))
        expected = unet_config.get("cross_attention_dim")
        if family.context_dim is not None and expected not in (None, family.context_dim):
            raise _unsupported(
                path,
                f"a {_LABELS[family.name]} checkpoint whose UNet has a cross-attention width of "
                f"{family.context_dim}, where the {family.config} config expects {expected}",
            )
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=FutureWarning)
                components = {}
                if family.legacy_text_keys:
                    components["text_encoder"] = _legacy_sd1_text_encoder(path, config, torch_dtype)
                pipe = pipeline_class.from_single_file(
                    str(path),
                    config=str(config),
                    local_files_only=True,
                    torch_dtype=torch_dtype,
                    **components,
                )
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
            raise UnsupportedCheckpoint(
                f"{path.name} looks like a {family.label} checkpoint but its weights do not "
                f"load with the {family.config} config ({_one_line(exc)})."
            ) from exc
        except Exception as exc:  # diffusers' SingleFileComponentError is a bare Exception
            if type(exc).__name__ != "SingleFileComponentError":
                raise
            raise UnsupportedCheckpoint(
                f"{path.name} lacks part of a {family.label} pipeline ({_one_line(exc)})."
            ) from exc
    pipe.set_progress_bar_config(disable=True)
    pipe.to(device)
    return pipe
