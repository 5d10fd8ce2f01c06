"""Loading a GGUF into llama.cpp and writing with it: the prompt, then N streamed variations.

- :func:`load_llama`: checks the file (a ``.gguf``, not a folder or something else), loads it
  on the CPU with the job's thread budget, and names the cause when llama.cpp cannot.
- :func:`build_prompt`: Continue mode tokenizes the text as it is (with the model's BOS);
  Instruct mode renders the GGUF's chat template when it has one, otherwise the preset's plain
  template.
- :func:`run_request`: the plugin's ``run()``. Tokens come one by one from ``Llama.generate``
  (llama.cpp's own samplers, seeded per variation), are decoded incrementally (a character split
  across tokens waits for its last byte), and stop strings are cut with
  :class:`~studio.builtin_support.writing.StopStringCutter`. A cancel stops within one token (a
  stopping criterion checked after every token); each variation's Result is yielded as soon as
  it is finished, so a cancel keeps the finished ones. Variations reuse the evaluated prompt.

llama_cpp is imported inside the functions.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.builtin_support.writing import (
    SEED_RANGE,
    StopStringCutter,
    chat_message,
    check_request,
    parse_stop_strings,
    plain_instruct_prompt,
)
from studio.plugin_api import (
    Event,
    GeneratedAsset,
    InputError,
    LoadContext,
    Partial,
    Progress,
    Result,
    RunContext,
    TextRequest,
)

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
ENGINE_CHECK_ID = "llama.cpp"
NO_EXTRA_BUFFERS = "no-extra-buffers"
"""The cure for CPUs where ggml's extra CPU buffer types crash: its AMX kernel
(``ggml_backend_amx_mul_mat``) faulted on its first instruction on a Xeon with AMX. Without extra
buffer types, weights stay in plain CPU buffers and the ordinary AVX kernels run them (40.9
tokens/s for the embedded Gemma on such a machine, 2 cores)."""
_PARAMS_LOCK = threading.Lock()
PROGRESS_INTERVAL = 0.2
"""Seconds between progress reports while writing (tens of tokens a second would otherwise mean
tens of progress-bar updates a second, taken from the CPU the model writes with)."""


@dataclass
class LoadedLlama:
    """A GGUF loaded into llama.cpp (``llama`` is None once closed)."""

    llama: Any
    path: Path
    label: str = ""

    @property
    def chat_template(self) -> str:
        if self.llama is None:
            return ""
        return str(self.llama.metadata.get("tokenizer.chat_template") or "")

    def memory_bytes(self) -> int:
        """The weights (mapped from the file) and the context's buffers."""
        if self.llama is None:
            return 0
        from llama_cpp import llama_cpp as lib

        size = int(lib.llama_model_size(self.llama.model))
        return size + int(lib.llama_state_get_size(self.llama.ctx))

    def use_threads(self, threads: int) -> None:
        """Compute with ``threads`` threads from now on: each run gets what the CPU lease
        gives it then, not what the load had."""
        if self.llama is None:
            return
        threads = max(1, threads)
        if (self.llama.n_threads, self.llama.n_threads_batch) == (threads, threads):
            return
        from llama_cpp import llama_cpp as lib

        lib.llama_set_n_threads(self.llama.ctx, threads, threads)
        self.llama.n_threads = self.llama.n_threads_batch = threads

    def close(self) -> None:
        if self.llama is not None:
            self.llama.close()
            self.llama = None


def check_gguf_file(path: Path | None) -> Path:
    """``path`` if it is a readable GGUF file; :class:`InputError` saying what it is otherwise."""
    if path is None:
        raise InputError("Choose a .gguf language model file.")
    if path.is_dir():
        raise InputError(
            f"{path.name} is a folder; the llama.cpp writer reads single .gguf files. Choose a "
            ".gguf file, or use the Transformers writer for a Hugging Face model folder."
        )
    try:
        with open(path, "rb") as file:
            magic = file.read(4)
    except OSError as exc:
        raise InputError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    if magic != GGUF_MAGIC:
        raise InputError(
            f"{path.name} is not a GGUF file (it does not start with 'GGUF'); the llama.cpp "
            "writer reads .gguf language models."
        )
    return path


@contextlib.contextmanager
def _model_params(variant: str) -> Iterator[None]:
    """While ``Llama()`` is built, its model parameters follow ``variant``.

    ``Llama()`` does not expose ``use_extra_bufts``; it takes its parameters from
    ``llama_model_default_params()``, so that function is wrapped for the duration (under a
    lock: two loads at once must not see each other's wrapper).
    """
    if variant != NO_EXTRA_BUFFERS:
        yield
        return
    import llama_cpp.llama as llama_module

    lib = llama_module.llama_cpp
    with _PARAMS_LOCK:
        original = lib.llama_model_default_params

        def without_extra_buffers() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = without_extra_buffers
        try:
            yield
        finally:
            lib.llama_model_default_params = original


_native_log: Any = None  # the ctypes callback, kept alive as long as llama.cpp may call it


def _route_native_log() -> None:
    """llama.cpp's own messages go to Studio's log file, not to stderr: llama-cpp-python maps
    the native levels of this llama.cpp version wrongly (a warning arrives as an error), so its
    ``verbose=False`` lets notes such as "using full-size SWA cache" through to the terminal."""
    global _native_log
    if _native_log is not None:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def forward(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", errors="replace").strip()
        if message and message != ".":
            log.debug("llama.cpp: %s", message)

    _native_log = forward
    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))


def open_llama(path: Path, variant: str, **settings: Any) -> Any:
    """``llama_cpp.Llama(model_path=path, **settings)``, run the way ``variant`` says."""
    from llama_cpp import Llama

    if not settings.get("verbose", True):
        _route_native_log()
    with _model_params(variant):
        return Llama(model_path=str(path), **settings)


def load_llama(ctx: LoadContext, context_length: int, *, label: str = "") -> LoadedLlama:
    """Load the GGUF of ``ctx.model`` on the CPU with ``ctx.threads`` threads, the way its
    engine check passed on this machine (``ctx.engine_variants``)."""
    path = check_gguf_file(ctx.model.path)
    if ctx.device != "cpu":
        log.info("llama.cpp runs on the CPU here (asked for %s)", ctx.device)
    ctx.cancel.raise_if_cancelled()
    ctx.report_progress(None, f"Loading {label or path.name}…")
    threads = max(1, ctx.threads)
    variant = ctx.engine_variants.get(ENGINE_CHECK_ID, "default")
    if variant != "default":
        log.info("llama.cpp runs as '%s' on this machine (its self-check)", variant)
    try:
        llama = open_llama(
            path,
            variant,
            n_ctx=max(0, context_length),
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=0,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        architecture = _architecture(path)
        raise InputError(
            f"llama.cpp could not load {path.name}"
            + (f" (architecture '{architecture}')" if architecture else "")
            + ": the file may be damaged or cut short, or its model is one this llama.cpp "
            "does not know."
        ) from exc
    return LoadedLlama(llama=llama, path=path, label=label)


def _architecture(path: Path) -> str:
    """The GGUF's ``general.architecture``, or "" when it cannot be read."""
    try:
        from gguf import GGUFReader

        field = GGUFReader(path).fields.get("general.architecture")
        return bytes(field.parts[field.data[0]]).decode("utf-8") if field else ""
    except Exception:
        return ""


# --------------------------------------------------------------------------------------------
# Prompt
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """Token ids to start from, and whether the chat template made them."""

    input_ids: tuple[int, ...]
    used_chat_template: bool


def build_prompt(loaded: LoadedLlama, request: TextRequest) -> Prompt:
    """The prompt tokens for a request; ``ValueError`` with a clear reason when it has none."""
    check_request(request)
    llama = loaded.llama
    add_bos = bool(llama._model.add_bos_token()) and llama.token_bos() >= 0
    if request.mode == "continue":
        ids = llama.tokenize(request.prompt.encode("utf-8"), add_bos=add_bos, special=False)
        if not ids:
            if llama.token_bos() < 0:
                raise ValueError("Type some text first: Continue mode continues it.")
            ids = [llama.token_bos()]  # an empty page: write from the start of a text
        return Prompt(tuple(ids), used_chat_template=False)

    if loaded.chat_template:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def text_of(token: int) -> str:
            return llama._model.token_get_text(token) if token >= 0 else ""

        try:
            formatter = Jinja2ChatFormatter(
                template=loaded.chat_template,
                eos_token=text_of(llama.token_eos()),
                bos_token=text_of(llama.token_bos()),
                add_generation_prompt=True,
            )
            rendered = formatter(messages=[{"role": "user", "content": chat_message(request)}])
        except Exception as exc:  # a Jinja template can fail in any way
            detail = " ".join(str(exc).split())
            raise ValueError(f"The model's chat template failed ({detail}).") from exc
        # The rendered template already holds the special tokens (BOS, turn markers).
        ids = llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=False, special=True)
        return Prompt(tuple(ids), used_chat_template=True)

    ids = llama.tokenize(
        plain_instruct_prompt(request).encode("utf-8"), add_bos=add_bos, special=False
    )
    return Prompt(tuple(ids), used_chat_template=False)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One variation once written."""

    text: str = ""
    tokens: int = 0
    seconds: float = 0.0
    stop_reason: str = "length"


def _stream(
    loaded: LoadedLlama,
    prompt: Prompt,
    options: Mapping[str, Any],
    max_new_tokens: int,
    seed: int,
    ctx: RunContext,
    outcome: Outcome,
) -> Iterator[str]:
    """The new text of one variation, piece by piece (what is shown is what is kept)."""
    from llama_cpp import llama_cpp as lib

    llama = loaded.llama
    vocab = llama._model.vocab
    cutter = StopStringCutter(parse_stop_strings(options["stop_strings"]))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    temperature = float(options["temperature"])
    greedy = temperature == 0.0
    llama.set_seed(seed)
    started = time.perf_counter()
    tokens = 0
    for token in llama.generate(
        list(prompt.input_ids),
        temp=temperature,
        top_k=0 if greedy else int(options["top_k"]),
        top_p=1.0 if greedy else float(options["top_p"]),
        min_p=0.0,
        typical_p=1.0,
        repeat_penalty=float(options["repetition_penalty"]),
        # Checked after every token: a cancel ends the text within one.
        stopping_criteria=lambda ids, logits: ctx.cancel.cancelled,
    ):
        if lib.llama_vocab_is_eog(vocab, token):
            if tokens:  # at least one token before the end token may end a text
                outcome.stop_reason = "eos"
                break
            continue
        tokens += 1
        outcome.tokens = tokens
        shown = cutter.feed(decoder.decode(llama.detokenize([token])))
        if shown:
            yield shown
        if cutter.stopped:
            outcome.stop_reason = "stop_string"
            break
        if tokens >= max_new_tokens:
            break
    ctx.cancel.raise_if_cancelled()
    tail = cutter.feed(decoder.decode(b"", final=True)) + cutter.finish()
    if tail:
        yield tail
    outcome.text = cutter.text
    outcome.seconds = time.perf_counter() - started


def _progress(
    outcome: Outcome, started: float, index: int, count: int, max_new_tokens: int
) -> Progress:
    written = outcome.tokens
    rate = written / max(time.perf_counter() - started, 1e-6)
    prefix = f"variation {index + 1} of {count} · " if count > 1 else ""
    return Progress(
        fraction=min(1.0, (index * max_new_tokens + written) / (count * max_new_tokens)),
        message=f"{prefix}{written} token{'' if written == 1 else 's'} · {rate:.1f} tokens/s",
    )


def run_request(
    loaded: LoadedLlama, request: Any, options: Mapping[str, Any], ctx: RunContext
) -> Iterator[Event]:
    """Write ``options["variations"]`` texts for ``request``, yielding events as it goes."""
    ctx.cancel.raise_if_cancelled()
    if loaded.llama is None:
        raise RuntimeError("The model was unloaded; load it again.")
    request = check_request(request)
    loaded.use_threads(ctx.threads)
    prompt = build_prompt(loaded, request)
    limit = int(loaded.llama.n_ctx())
    if len(prompt.input_ids) >= limit:
        raise ValueError(
            f"The text is {len(prompt.input_ids)} tokens long; the model keeps {limit} in view. "
            "Shorten it, or raise Context (tokens) in the model options."
        )
    max_new_tokens = min(int(options["max_new_tokens"]), limit - len(prompt.input_ids))
    seed = options["seed"]
    count = int(options["variations"])
    kept = 0
    for index in range(count):
        variation_seed = (seed + index) % SEED_RANGE
        outcome = Outcome()
        started = time.perf_counter()
        reported = 0.0
        for piece in _stream(loaded, prompt, options, max_new_tokens, variation_seed, ctx, outcome):
            yield Partial(text=piece)
            if time.perf_counter() - reported >= PROGRESS_INTERVAL:
                # Every piece is shown; the count and rate a few times a second.
                reported = time.perf_counter()
                yield _progress(outcome, started, index, count, max_new_tokens)
        if outcome.tokens:
            yield _progress(outcome, started, index, count, max_new_tokens)  # the final count
        if not outcome.text:
            log.info("variation %d (seed %d) wrote nothing", index + 1, variation_seed)
            continue
        kept += 1
        details = {
            "variation": index + 1,
            "tokens": outcome.tokens,
            "tokens_per_second": round(outcome.tokens / max(outcome.seconds, 1e-6), 2),
            "stop_reason": outcome.stop_reason,
            "used_chat_template": prompt.used_chat_template,
            "backend": "llama.cpp",
        }
        yield Result(
            assets=(GeneratedAsset.from_text(outcome.text, seed=variation_seed, details=details),)
        )
    if not kept:
        raise ValueError(
            "The model wrote nothing: it ended, or met a stop string, before its first word. "
            "Try another seed or check the stop strings."
        )
