"""Load an image-to-text model and its processor from a local folder, offline and safely.

Read families (transformers' own classes, no remote code):

- BLIP captioning (``BlipForConditionalGeneration``) and BLIP question answering
  (``BlipForQuestionAnswering``), BLIP-2 (``Blip2ForConditionalGeneration``);
- ``VisionEncoderDecoderModel`` such as ViT-GPT2 (an image processor plus a tokenizer);
- anything ``AutoModelForImageTextToText`` knows (Florence-2, SmolVLM, LLaVA-style models and
  more, as far as the installed transformers supports them), prompted through the processor's
  chat template when it has one.

The weights are ``model.safetensors`` (or shards); a folder with only ``pytorch_model.bin`` is
read through Studio's safe loader (``LoadContext.load_weights``: weights-only, or the consented
safetensors copy), never by transformers' own unpickling. A folder that needs its own code raises
``RemoteCodeRequired`` unless the user allowed it. float32 on the CPU unless told otherwise.
Every failure a user can cause is a ``FileNotFoundError`` or ``ValueError`` naming the folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.builtin_support.model_folders import CONFIG_FILE, find_weights, one_line, read_config
from studio.plugin_api import Cancelled, RemoteCodeRequired, UnsafeWeights
from studio.plugin_api.safe_loading import safe_torch_load

DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")

# Classes named in a config's "architectures" that are used as they are (the auto class would
# pick the captioning head for a question-answering BLIP).
KNOWN_ARCHITECTURES = (
    "BlipForConditionalGeneration",
    "BlipForQuestionAnswering",
    "Blip2ForConditionalGeneration",
    "VisionEncoderDecoderModel",
)

LoadWeights = Callable[[Path], Any]


class Family:
    """How a model is prompted (values of :attr:`LoadedCaptioner.family`)."""

    BLIP = "blip"
    BLIP_VQA = "blip-vqa"
    BLIP2 = "blip-2"
    ENCODER_DECODER = "vision-encoder-decoder"
    CHAT = "image-text-to-text"


@dataclass
class LoadedCaptioner:
    """What :func:`load_captioner` returns.

    Attributes:
        model: the model in eval mode on ``device``; None once released.
        processor: a processor with ``image_processor`` and ``tokenizer`` (or an
            :class:`ImageAndTokenizer` pair for encoder-decoder folders without one).
        family: one of :class:`Family`'s values: decides how questions and prefixes are put.
        architecture: the model class name.
        device: where the model is.
        path: the folder.
    """

    model: Any
    processor: Any
    family: str
    architecture: str
    device: str
    path: Path

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", None)

    @property
    def answers_questions(self) -> bool:
        return self.family in (Family.BLIP_VQA, Family.BLIP2, Family.CHAT)

    def parameter_bytes(self) -> int:
        if self.model is None:
            return 0
        return int(sum(p.numel() * p.element_size() for p in self.model.parameters()))

    def release(self) -> None:
        self.model = None
        self.processor = None


@dataclass
class ImageAndTokenizer:
    """A processor for folders that have an image processor and a tokenizer but no processor."""

    image_processor: Any
    tokenizer: Any

    def __call__(self, images: Any = None, text: Any = None, return_tensors: str = "pt") -> Any:
        data: dict[str, Any] = {}
        if images is not None:
            data.update(self.image_processor(images=images, return_tensors=return_tensors))
        if text is not None:
            data.update(self.tokenizer(text, return_tensors=return_tensors))
        return data

    def decode(self, ids: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(ids, **kwargs)


def torch_dtype(choice: str, device: str) -> Any:
    """float32 on the CPU for ``auto`` (transformers 5 would keep the checkpoint's dtype)."""
    import torch

    if choice not in DTYPE_CHOICES:
        raise ValueError(f"Unknown dtype '{choice}': choose one of {', '.join(DTYPE_CHOICES)}.")
    if choice == "auto":
        return torch.float32 if device == "cpu" else "auto"
    return getattr(torch, choice)


def model_class_name(folder: Path, config: Mapping[str, Any]) -> str | None:
    """The class to load, or None when only the folder's own code can load it.

    Raises ``ValueError`` for a model type transformers knows that does not turn images into
    text, or an unknown one that ships no code.
    """
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    architectures = config.get("architectures") or []
    named = next((a for a in architectures if a in KNOWN_ARCHITECTURES), None)
    if named:
        return named
    model_type = config.get("model_type")
    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return "AutoModelForImageTextToText"
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict) and auto_map:
        return None
    where = folder / CONFIG_FILE
    if not isinstance(model_type, str) or not model_type:
        raise ValueError(f"{where} names no model_type, so transformers cannot tell what it is.")
    if model_type not in CONFIG_MAPPING_NAMES:
        raise ValueError(
            f"{where} describes an unknown architecture '{model_type}': transformers "
            f"{transformers.__version__} does not know it (a newer transformers may)."
        )
    raise ValueError(
        f"{where} describes a '{model_type}' model, which does not turn images into text; this "
        "plugin runs captioning models such as BLIP, BLIP-2, ViT-GPT2 or Florence-2."
    )


def family_of(class_name: str, config: Mapping[str, Any]) -> str:
    if class_name == "BlipForQuestionAnswering":
        return Family.BLIP_VQA
    if class_name == "BlipForConditionalGeneration" or config.get("model_type") == "blip":
        return Family.BLIP
    if class_name == "Blip2ForConditionalGeneration" or config.get("model_type") == "blip-2":
        return Family.BLIP2
    if class_name == "VisionEncoderDecoderModel" or config.get("model_type") == (
        "vision-encoder-decoder"
    ):
        return Family.ENCODER_DECODER
    return Family.CHAT


def _model_class(class_name: str | None, config: Any, remote_code: bool) -> type:
    import torch
    import transformers

    if class_name is not None and class_name != "AutoModelForImageTextToText":
        return getattr(transformers, class_name)
    if not remote_code:
        from transformers import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING

        return MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING[type(config)]
    with torch.device("meta"):  # find the folder's own class without allocating anything
        return type(
            transformers.AutoModelForImageTextToText.from_config(config, trust_remote_code=True)
        )


def _load_processor(folder: Path, family: str, remote_code: bool) -> Any:
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    common = {"local_files_only": True, "trust_remote_code": remote_code}
    try:
        if family == Family.ENCODER_DECODER and not (folder / "processor_config.json").is_file():
            return ImageAndTokenizer(
                image_processor=AutoImageProcessor.from_pretrained(folder, **common),
                tokenizer=AutoTokenizer.from_pretrained(folder, **common),
            )
        processor = AutoProcessor.from_pretrained(folder, **common)
    except (OSError, ValueError, KeyError, TypeError, ImportError, AttributeError) as exc:
        raise ValueError(
            f"The image processor or tokenizer in {folder} cannot be loaded ({one_line(exc)})."
        ) from exc
    if getattr(processor, "image_processor", None) is None:
        raise ValueError(
            f"The model folder {folder} has no image processor (preprocessor_config.json), so "
            "it cannot read images."
        )
    return processor


def load_captioner(
    folder: Path | str,
    dtype: str = "auto",
    device: str = "cpu",
    *,
    allow_remote_code: bool = False,
    load_weights: LoadWeights = safe_torch_load,
) -> LoadedCaptioner:
    """Load an image-to-text model folder (the raw path, also used by tests and benchmarks).

    Raises:
        FileNotFoundError: the folder, its config, weights or processor files are missing.
        ValueError: an unsuitable or unknown architecture, or damaged files.
        RemoteCodeRequired: the folder needs its own code and ``allow_remote_code`` is False.
        UnsafeWeights: a pickle file needs full unpickling (Studio asks the user).
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"The model folder {folder} does not exist.")
    if not folder.is_dir():
        raise ValueError(
            f"{folder.name} is a single file: choose the model folder that holds config.json, "
            "the weights and the processor files."
        )
    config_data = read_config(folder)
    class_name = model_class_name(folder, config_data)
    remote_code = class_name is None
    if remote_code and not allow_remote_code:
        raise RemoteCodeRequired(folder)
    kind, files = find_weights(folder)
    family = family_of(class_name or "", config_data)
    processor = _load_processor(folder, family, remote_code)

    from transformers import AutoConfig, GenerationConfig

    torch_type = torch_dtype(dtype, device)
    try:
        config = AutoConfig.from_pretrained(
            folder, local_files_only=True, trust_remote_code=remote_code
        )
        model_class = _model_class(class_name, config, remote_code)
        if kind == "safetensors":
            # use_safetensors: never let transformers fall back to a pickle file in the folder.
            model, info = model_class.from_pretrained(
                folder,
                dtype=torch_type,
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=remote_code,
                output_loading_info=True,
                **({} if device == "cpu" else {"device_map": {"": device}}),
            )
        else:
            state: dict[str, Any] = {}
            for file in files:
                loaded = load_weights(file)
                if not isinstance(loaded, Mapping):
                    raise ValueError(f"{file} holds no plain state dict of tensors.")
                state.update(loaded)
            model, info = model_class.from_pretrained(
                None,
                config=config,
                state_dict=state,
                dtype=torch_type,
                output_loading_info=True,
            )
            del state
            if (folder / "generation_config.json").is_file():
                model.generation_config = GenerationConfig.from_pretrained(
                    folder, local_files_only=True
                )
            if device != "cpu":
                model = model.to(device)
    except (UnsafeWeights, RemoteCodeRequired, Cancelled, MemoryError):
        raise
    except Exception as exc:
        raise ValueError(f"The model in {folder} cannot be loaded ({one_line(exc)}).") from exc
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        raise ValueError(
            f"The weights in {folder} do not match its {CONFIG_FILE}: {len(missing)} tensors are "
            f"missing ({', '.join(missing[:3])})."
        )
    return LoadedCaptioner(
        model=model.eval(),
        processor=processor,
        family=family,
        architecture=model_class.__name__,
        device=device,
        path=folder,
    )
