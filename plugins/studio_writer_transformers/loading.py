"""Load a causal language model and its tokenizer from local files, offline and safely.

Three kinds of model are read:

- a Hugging Face model folder: ``config.json``, the tokenizer files and safetensors weights
  (``model.safetensors`` or shards with an index). A folder that holds only pickle weights
  (``pytorch_model.bin``) is read through Studio's safe loader (``LoadContext.load_weights``:
  ``torch.load(weights_only=True)``, or Studio's consent-and-convert flow), never by transformers'
  own unpickling;
- a single ``.gguf`` file (transformers dequantises it with the ``gguf`` package);
- the float32 copy of a GGUF file that :func:`ensure_float32_copy` writes once. transformers spends
  a GGUF load converting the tokenizer and dequantising the weights (the embedded Gemma: ~45 s on
  an idle 2-core CPU, over two minutes on a busy one); the copy is an ordinary model folder that
  loads in a few seconds and writes at the same speed.

:func:`load_model_and_tokenizer` is the raw path (also for benchmarks); :func:`load_writer` is what
the plugin does, with the copy for embedded models. Every failure a user can cause (a missing
file, an unknown architecture, a damaged file) is a ``FileNotFoundError`` or ``ValueError`` whose
message names the file or folder. torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.builtin_support.model_folders import (
    CONFIG_FILE,
    find_weights,
    one_line,
    read_config,
)
from studio.builtin_support.packaged_models import file_sha256
from studio.plugin_api import (
    Cancelled,
    CancelToken,
    InputError,
    LoadContext,
    RemoteCodeRequired,
    UnsafeWeights,
)
from studio.plugin_api.safe_loading import WeightsFormat, detect_weights_format, safe_torch_load

log = logging.getLogger(__name__)

DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
"""Values of the ``dtype`` load option: ``auto`` is float32 on the CPU, the checkpoint's own
dtype on a GPU."""

# Any of these means the folder carries its own tokenizer (transformers 5 quietly builds an
# empty one when there is none).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.tiktoken",
)

COPY_MARKER = "studio-float32-copy.json"
"""Written last into a converted copy; a folder without it is not a finished copy."""
_PARTIAL = ".partial-"
# A conversion folder left behind by a process that was killed is removed after this long
# (when its process cannot be checked); a live conversion takes minutes, not hours.
_STALE_PARTIAL_SECONDS = 6 * 3600
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Where a conversion stands after each step, as measured on the embedded Gemma (2 cores):
# the tokenizer takes about a third, dequantising the weights most of the rest, saving little.
_TOKENIZER_SHARE = 0.35
_WEIGHTS_DONE = 0.95

ReportProgress = Callable[[float | None, str], None]
LoadWeights = Callable[[Path], Any]


@dataclass
class LoadedWriter:
    """What :func:`load_writer` returns and the plugin hands back to each run.

    Attributes:
        model: the ``PreTrainedModel`` in eval mode, on ``device``; None once released.
        tokenizer: its tokenizer; None once released.
        device: where the model is.
        source: how it was read: ``"folder"``, ``"pickle folder"``, ``"gguf"`` or
            ``"float32 copy of a gguf"``.
        path: the folder or file the weights were read from.
    """

    model: Any
    tokenizer: Any
    device: str
    source: str
    path: Path

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def parameter_bytes(self) -> int:
        if self.model is None:
            return 0
        return int(sum(p.numel() * p.element_size() for p in self.model.parameters()))

    def release(self) -> None:
        """Drop the model and tokenizer so their memory can be freed."""
        self.model = None
        self.tokenizer = None


# --------------------------------------------------------------------------------------------
# The raw path: a folder or a .gguf file to (model, tokenizer)
# --------------------------------------------------------------------------------------------


def torch_dtype(choice: str, device: str) -> Any:
    """The ``dtype`` argument for ``from_pretrained``: a torch dtype, or ``"auto"``.

    transformers 5 loads a checkpoint in its own dtype by default, often bfloat16 or float16.
    On a CPU float32 is the precise choice that works for every model (float16 overflows in
    some, such as Gemma), so ``auto`` means float32 there and the checkpoint's own dtype on a
    GPU.
    """
    import torch

    if choice not in DTYPE_CHOICES:
        raise InputError(f"Unknown dtype '{choice}': choose one of {', '.join(DTYPE_CHOICES)}.")
    if choice == "auto":
        return torch.float32 if device == "cpu" else "auto"
    return getattr(torch, choice)


def load_model_and_tokenizer(
    path: Path | str,
    dtype: str = "auto",
    device: str = "cpu",
    *,
    allow_remote_code: bool = False,
    load_weights: LoadWeights = safe_torch_load,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer from a model folder or a ``.gguf`` file.

    Args:
        path: a Hugging Face model folder, or a single ``.gguf`` file.
        dtype: one of :data:`DTYPE_CHOICES`.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        allow_remote_code: the user consented to run the code shipped in this folder.
        load_weights: reads a pickle weights file safely (``LoadContext.load_weights``).

    Returns:
        ``(model, tokenizer)``, the model in eval mode on ``device``.

    Raises:
        FileNotFoundError: the path, its ``config.json``, its weights or tokenizer are missing.
        ValueError: an unknown or unsuitable architecture, or a damaged file (message names it).
        RemoteCodeRequired: the folder needs its own code and ``allow_remote_code`` is False.
        UnsafeWeights: a pickle file needs full unpickling (Studio asks the user).
    """
    path = Path(path)
    if path.is_dir():
        return _load_folder(path, dtype, device, allow_remote_code, load_weights)
    if not path.is_file():
        raise FileNotFoundError(f"The model {path} does not exist.")
    weights_format = detect_weights_format(path)
    if weights_format is WeightsFormat.GGUF:
        return _load_gguf(path, dtype, device)
    if weights_format in (WeightsFormat.SAFETENSORS, WeightsFormat.PICKLE):
        raise InputError(
            f"{path.name} is {weights_format.description} without its config.json and tokenizer: "
            f"choose the model folder that holds it ({path.parent}) instead."
        )
    raise InputError(
        f"{path.name} is {weights_format.description}: choose a Hugging Face model folder "
        "(config.json and safetensors weights) or a .gguf file."
    )


def _placement(device: str) -> dict[str, Any]:
    # On a GPU the weights go straight to it; on the CPU transformers' default is right.
    return {} if device == "cpu" else {"device_map": {"": device}}


def needs_remote_code(folder: Path, config: Mapping[str, Any]) -> bool:
    """Whether the folder's causal LM runs only with its own code (``trust_remote_code``).

    A model type transformers knows as a causal LM loads with transformers' own classes even
    when the folder also ships code. Raises ``ValueError`` for an unknown or unsuitable
    architecture that brings no code of its own.
    """
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = config.get("model_type")
    auto_map = config.get("auto_map")
    ships_code = isinstance(auto_map, dict) and "AutoModelForCausalLM" in auto_map
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return False
    if ships_code:
        return True
    where = folder / CONFIG_FILE
    if not isinstance(model_type, str) or not model_type:
        raise InputError(f"{where} names no model_type, so transformers cannot tell what it is.")
    if model_type not in CONFIG_MAPPING_NAMES:
        raise InputError(
            f"{where} describes an unknown architecture '{model_type}': transformers "
            f"{transformers.__version__} does not know it (a newer transformers may)."
        )
    raise InputError(
        f"{where} describes a '{model_type}' model, which is not a causal language model "
        "(one that continues text); this plugin runs models such as GPT-2, Llama, Gemma or Qwen."
    )


def _load_tokenizer(folder: Path, trust_remote_code: bool, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    # A float32 copy we wrote has a complete tokenizer.json: the generic fast tokenizer reads
    # it as it is (1.8 s for Gemma's 262k tokens), where from_pretrained also parses it again
    # in Python and the model's own class rebuilds it (5-6 s). They encode and decode alike
    # (tests/plugins/test_writer_transformers.py).
    if (folder / COPY_MARKER).is_file() and (folder / "tokenizer.json").is_file() and not kwargs:
        try:
            return _copy_tokenizer(folder, PreTrainedTokenizerFast)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.info("the copy's tokenizer.json did not load directly (%s); loading it fully", exc)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            folder, local_files_only=True, trust_remote_code=trust_remote_code, **kwargs
        )
    except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
        raise InputError(f"The tokenizer in {folder} cannot be loaded ({one_line(exc)}).") from exc
    return tokenizer


_TOKENIZER_SETTINGS = frozenset(
    {
        "bos_token",
        "eos_token",
        "unk_token",
        "pad_token",
        "mask_token",
        "sep_token",
        "cls_token",
        "additional_special_tokens",
        "model_max_length",
        "padding_side",
        "truncation_side",
        "clean_up_tokenization_spaces",
        "chat_template",
        "model_input_names",
    }
)


def _copy_tokenizer(folder: Path, fast_class: type) -> Any:
    """The tokenizer of a float32 copy, straight from its tokenizer.json and settings."""
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    settings = {}
    for key, value in config.items():
        if key not in _TOKENIZER_SETTINGS:
            continue
        if isinstance(value, dict) and "content" in value:  # a serialised AddedToken
            value = value["content"]
        settings[key] = value
    template = folder / "chat_template.jinja"
    if "chat_template" not in settings and template.is_file():
        settings["chat_template"] = template.read_text(encoding="utf-8")
    return fast_class(tokenizer_file=str(folder / "tokenizer.json"), **settings)


def _check_loading_info(where: Path, info: Mapping[str, Any]) -> None:
    # transformers initialises missing weights at random and only logs it: that would be a
    # model writing noise with no error, so it is one here.
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise InputError(
            f"The weights in {where} do not match its {CONFIG_FILE}: {len(missing)} tensors are "
            f"missing ({shown})."
        )


def _load_folder(
    folder: Path,
    dtype: str,
    device: str,
    allow_remote_code: bool,
    load_weights: LoadWeights,
) -> tuple[Any, Any]:
    config_data = read_config(folder, instead=", or a .gguf file")
    remote_code = needs_remote_code(folder, config_data)
    if remote_code and not allow_remote_code:
        raise RemoteCodeRequired(folder)
    kind, files = find_weights(folder)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"The model folder {folder} has no tokenizer (none of {', '.join(TOKENIZER_FILES)})."
        )
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    tokenizer = _load_tokenizer(folder, remote_code)
    torch_type = torch_dtype(dtype, device)
    try:
        if kind == "safetensors":
            # use_safetensors: never let transformers fall back to a pickle file in the folder.
            model, info = AutoModelForCausalLM.from_pretrained(
                folder,
                dtype=torch_type,
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=remote_code,
                output_loading_info=True,
                **_placement(device),
            )
        else:
            config = AutoConfig.from_pretrained(
                folder, local_files_only=True, trust_remote_code=remote_code
            )
            state: dict[str, Any] = {}
            for file in files:
                state.update(_tensors_of(file, load_weights(file)))
            model_class = _causal_lm_class(config, remote_code)
            model, info = model_class.from_pretrained(
                None,
                config=config,
                state_dict=state,
                dtype=torch_type,
                trust_remote_code=remote_code,
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
        raise InputError(f"The model in {folder} cannot be loaded ({one_line(exc)}).") from exc
    _check_loading_info(folder, info)
    return model.eval(), tokenizer


def _causal_lm_class(config: Any, remote_code: bool) -> type:
    """The model class for a config (the folder's own class when it ships code)."""
    import torch
    from transformers import MODEL_FOR_CAUSAL_LM_MAPPING, AutoModelForCausalLM

    if not remote_code:
        return MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
    # The auto classes find a folder's own class only while building a model; building it on
    # the meta device allocates nothing.
    with torch.device("meta"):
        return type(AutoModelForCausalLM.from_config(config, trust_remote_code=True))


def _tensors_of(file: Path, loaded: Any) -> dict[str, Any]:
    import torch

    if isinstance(loaded, Mapping) and all(isinstance(v, torch.Tensor) for v in loaded.values()):
        return dict(loaded)
    raise InputError(
        f"{file} holds no plain state dict of tensors (it holds a {type(loaded).__name__}), so "
        "it is not a transformers weights file."
    )


def check_gguf(path: Path) -> str:
    """Read a GGUF file's header; return its architecture or raise a clear ``ValueError``.

    Cheap (the tensors are memory-mapped, not read), so a damaged file is refused before the
    slow part of a load begins.
    """
    import gguf

    try:
        reader = gguf.GGUFReader(path)
        field = reader.fields.get("general.architecture")
        architecture = field.contents() if field is not None else None
    except Exception as exc:  # the reader fails in many ways on a cut or damaged file
        raise InputError(
            f"{path.name} is damaged or not a complete GGUF file ({one_line(exc)})."
        ) from exc
    if not isinstance(architecture, str) or not architecture:
        raise InputError(f"{path.name} does not say which architecture it holds.")
    return architecture


def _load_gguf(
    path: Path,
    dtype: str,
    device: str,
    after_tokenizer: Callable[[], None] = lambda: None,
) -> tuple[Any, Any]:
    import transformers
    from transformers import AutoModelForCausalLM

    architecture = check_gguf(path)
    try:
        tokenizer = _load_tokenizer(path.parent, False, gguf_file=path.name)
        after_tokenizer()
        model = AutoModelForCausalLM.from_pretrained(
            path.parent,
            gguf_file=path.name,
            dtype=torch_dtype(dtype, device),
            local_files_only=True,
            **_placement(device),
        )
    except (Cancelled, MemoryError):
        raise
    except Exception as exc:
        text = one_line(exc)
        if "not supported" in text:
            raise InputError(
                f"{path.name} holds a '{architecture}' model, which transformers "
                f"{transformers.__version__} cannot load from GGUF."
            ) from exc
        raise InputError(f"{path.name} cannot be loaded ({text}).") from exc
    return model.eval(), tokenizer


# --------------------------------------------------------------------------------------------
# The float32 copy of a GGUF, made once
# --------------------------------------------------------------------------------------------


def float32_copy_dir(gguf_path: Path, sha256: str) -> Path:
    """Where the float32 copy of ``gguf_path`` lives: a folder next to it, keyed by content."""
    return gguf_path.parent / f"{gguf_path.stem}.float32-{sha256[:16]}"


def is_finished_copy(folder: Path) -> bool:
    return (folder / COPY_MARKER).is_file() and (folder / CONFIG_FILE).is_file()


def ensure_float32_copy(
    gguf_path: Path,
    *,
    sha256: str | None = None,
    label: str = "",
    report: ReportProgress | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Return the folder of the float32 copy of a GGUF model, converting it first if needed.

    The conversion loads the GGUF once (slow: tokenizer conversion plus dequantisation), then
    saves the model and tokenizer as an ordinary model folder. It is written into a temporary
    folder beside the final one and renamed into place when complete, so a cancelled, failed or
    killed conversion never leaves a half-written copy; leftovers of killed conversions are
    removed by the next one.

    Args:
        gguf_path: the ``.gguf`` file.
        sha256: its content hash, if known (computed otherwise); the copy's folder is keyed by it,
            so a changed file gets a new copy.
        label: the model's name for progress messages (default: the file name).
        report: called with ``(fraction or None, message)`` while converting.
        cancel: checked between the steps; a cancel raises ``Cancelled`` and keeps nothing.
    """
    key = sha256 if sha256 and _SHA256.match(sha256) else file_sha256(gguf_path)
    final = float32_copy_dir(gguf_path, key)
    if is_finished_copy(final):
        return final
    report = report or (lambda fraction, message: None)
    cancel = cancel or CancelToken()
    message = (
        f"Converting {label or gguf_path.name} to a fast-loading copy (once, a minute or two)…"
    )
    _remove_stale_partials(final)
    partial = final.with_name(f".{final.name}{_PARTIAL}{os.getpid()}-{time.time_ns():x}")
    started = time.perf_counter()
    try:
        report(0.0, message)
        architecture = check_gguf(gguf_path)
        cancel.raise_if_cancelled()

        def tokenizer_done() -> None:
            cancel.raise_if_cancelled()
            report(_TOKENIZER_SHARE, message)

        model, tokenizer = _load_gguf(gguf_path, "float32", "cpu", after_tokenizer=tokenizer_done)
        cancel.raise_if_cancelled()
        report(_WEIGHTS_DONE, message)
        # A model loaded from GGUF still carries the GGUF quantizer: save_pretrained refuses to
        # write it ("not serializable"), and the config would claim a quantization that the
        # float32 weights no longer have.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        partial.mkdir(parents=True)
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        del model, tokenizer
        marker = {
            "source": gguf_path.name,
            "sha256": key,
            "architecture": architecture,
            "transformers": _transformers_version(),
            "seconds": round(time.perf_counter() - started, 1),
        }
        (partial / COPY_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        try:
            partial.rename(final)
        except OSError:
            # Another process finished the same copy first; theirs is as good as ours.
            if not is_finished_copy(final):
                raise
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("converted %s to %s in %.1f s", gguf_path, final, time.perf_counter() - started)
    report(1.0, message)
    return final


def _transformers_version() -> str:
    import transformers

    return transformers.__version__


def _remove_stale_partials(final: Path) -> None:
    """Delete conversion folders of ``final`` whose process is gone (killed mid-conversion)."""
    for leftover in final.parent.glob(f".{final.name}{_PARTIAL}*"):
        pid_text = leftover.name.rsplit(_PARTIAL, 1)[1].split("-", 1)[0]
        try:
            age = time.time() - leftover.stat().st_mtime
        except OSError:
            continue
        if _process_alive(pid_text) and age < _STALE_PARTIAL_SECONDS:
            continue
        log.info("removing an unfinished conversion: %s", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def _process_alive(pid_text: str) -> bool:
    if not pid_text.isdigit():
        return False
    if os.name != "posix":
        return True  # no cheap, safe check elsewhere: rely on the age
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


# --------------------------------------------------------------------------------------------
# What the plugin does
# --------------------------------------------------------------------------------------------


def load_writer(ctx: LoadContext, dtype: str, *, label: str = "") -> LoadedWriter:
    """Load ``ctx.model`` for the plugin.

    An embedded model that is a GGUF file is loaded from its float32 copy (made on first use,
    with progress). A GGUF the user picked is loaded directly: a float32 copy of a large model
    would be many gigabytes written beside the user's file. Folders load as they are.
    """
    path = ctx.model.path
    if path is None:
        raise InputError("No model was given: choose a model folder or a .gguf file.")
    path = Path(path)
    if ctx.model.embedded and path.is_file() and path.suffix.lower() == ".gguf":
        if ctx.background and not (
            ctx.model.sha256 and is_finished_copy(float32_copy_dir(path, ctx.model.sha256))
        ):
            # The one-time conversion takes minutes: it runs when the user presses Run, with
            # its progress shown, not in a warm-up nobody is watching.
            raise Cancelled("the float32 copy is not made yet")
        copy = ensure_float32_copy(
            path,
            sha256=ctx.model.sha256,
            label=label,
            report=ctx.report_progress,
            cancel=ctx.cancel,
        )
        ctx.cancel.raise_if_cancelled()
        model, tokenizer = load_model_and_tokenizer(copy, dtype, ctx.device)
        return LoadedWriter(
            model=model,
            tokenizer=tokenizer,
            device=ctx.device,
            source="float32 copy of a gguf",
            path=copy,
        )
    model, tokenizer = load_model_and_tokenizer(
        path,
        dtype,
        ctx.device,
        allow_remote_code=ctx.allow_remote_code,
        load_weights=ctx.load_weights,
    )
    if path.is_file():
        source = "gguf"
    else:
        source = "pickle folder" if find_weights(path)[0] == "pickle" else "folder"
    return LoadedWriter(
        model=model, tokenizer=tokenizer, device=ctx.device, source=source, path=path
    )
