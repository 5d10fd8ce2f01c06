"""One writing request on a loaded model: the prompt, then N streamed variations.

- :func:`build_prompt`: Continue mode tokenizes the text as it is; Instruct mode uses the
  tokenizer's chat template when the model has one, otherwise the preset's plain template.
- :func:`stream_text`: runs ``model.generate`` on a helper thread and yields the text as it
  comes (``TextIteratorStreamer``, batch size 1). A :class:`StopWatch` stopping criterion ends
  generation within one token of a cancel or of a stop string appearing.
- :func:`run_request`: the plugin's ``run()``: variations one after the other (seeds ``seed``,
  ``seed + 1``...), each yielding its own :class:`~studio.plugin_api.Result` as soon as it is
  finished, so a cancel keeps the finished ones.

torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    CancelToken,
    Event,
    GeneratedAsset,
    Partial,
    Progress,
    Result,
    RunContext,
    TextRequest,
)

from .loading import LoadedWriter

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Prompt
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """Token ids to start from, and whether the chat template made them."""

    input_ids: tuple[int, ...]
    used_chat_template: bool


def build_prompt(tokenizer: Any, request: TextRequest) -> Prompt:
    """The prompt tokens for a request; ``ValueError`` with a clear reason when it has none."""
    check_request(request)
    if request.mode == "continue":
        ids = list(tokenizer(request.prompt)["input_ids"])
        if not ids:
            if tokenizer.bos_token_id is None:
                raise ValueError("Type some text first: Continue mode continues it.")
            ids = [tokenizer.bos_token_id]  # an empty page: write from the start of a text
        return Prompt(tuple(ids), used_chat_template=False)

    if getattr(tokenizer, "chat_template", None):
        try:
            rendered = tokenizer.apply_chat_template(
                [{"role": "user", "content": chat_message(request)}],
                add_generation_prompt=True,
                tokenize=False,
            )
        except Exception as exc:  # a Jinja template can fail in any way
            detail = " ".join(str(exc).split())
            raise ValueError(f"The model's chat template failed ({detail}).") from exc
        # The rendered template already holds the special tokens (BOS, turn markers).
        ids = list(tokenizer(rendered, add_special_tokens=False)["input_ids"])
        return Prompt(tuple(ids), used_chat_template=True)

    ids = list(tokenizer(plain_instruct_prompt(request))["input_ids"])
    return Prompt(tuple(ids), used_chat_template=False)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Sampling:
    """The run options that shape generation (see the plugin's ``run_options``)."""

    max_new_tokens: int = 200
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.0
    stop_strings: tuple[str, ...] = ()
    variations: int = 1

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Sampling:
        return cls(
            max_new_tokens=options["max_new_tokens"],
            temperature=options["temperature"],
            top_p=options["top_p"],
            top_k=options["top_k"],
            repetition_penalty=options["repetition_penalty"],
            stop_strings=parse_stop_strings(options["stop_strings"]),
            variations=options["variations"],
        )

    def generation_config(self, base: Any, max_new_tokens: int) -> Any:
        """A copy of the model's own generation config with these settings on top."""
        config = copy.deepcopy(base)
        config.max_new_tokens = max_new_tokens
        config.max_length = None
        # At least one token before the end token may end a text: an empty result helps nobody.
        config.min_new_tokens = 1
        config.num_return_sequences = 1
        config.num_beams = 1
        greedy = self.temperature == 0.0
        config.do_sample = not greedy
        # Unset sampling knobs when greedy: transformers warns about ones it would ignore.
        config.temperature = None if greedy else self.temperature
        config.top_p = None if greedy or self.top_p >= 1.0 else self.top_p
        config.top_k = None if greedy or self.top_k == 0 else self.top_k
        config.repetition_penalty = (
            None if self.repetition_penalty == 1.0 else self.repetition_penalty
        )
        if config.pad_token_id is None:
            eos = config.eos_token_id
            config.pad_token_id = eos[0] if isinstance(eos, list | tuple) and eos else eos
        return config


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------


class StopWatch:
    """A transformers stopping criterion: cancel, an abandoned stream, or a stop string.

    Called by ``generate`` after every new token, so generation ends within one token of any
    of them. It also counts the tokens written so far (``generated``) for progress messages.
    """

    def __init__(
        self,
        *,
        cancel: CancelToken,
        prompt_length: int,
        tokenizer: Any,
        stop_strings: Sequence[str] = (),
    ) -> None:
        self.cancel = cancel
        self.abandoned = threading.Event()
        self.prompt_length = prompt_length
        self.tokenizer = tokenizer
        self.stop_strings = tuple(stop_strings)
        # A stop string of n UTF-8 bytes spans at most n tokens; two more give the decoder
        # context, so a leading space of the string's first token is not lost.
        self.window = max((len(s.encode("utf-8")) for s in self.stop_strings), default=0) + 2
        self.generated = 0
        self.saw_stop_string = False

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        self.generated = input_ids.shape[1] - self.prompt_length
        stop = self.cancel.cancelled or self.abandoned.is_set()
        if not stop and self.stop_strings and self.generated > 0:
            start = max(self.prompt_length, input_ids.shape[1] - self.window)
            tail = self.tokenizer.decode(input_ids[0, start:].tolist(), skip_special_tokens=True)
            if any(s in tail for s in self.stop_strings):
                self.saw_stop_string = stop = True
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def _stopping_criterion(watch: StopWatch) -> Any:
    # transformers checks stopping criteria by type; wrap the plain callable in its base class.
    from transformers import StoppingCriteria

    class _Criterion(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return watch(input_ids, scores, **kwargs)

    return _Criterion()


@dataclass
class StreamOutcome:
    """Filled in by :func:`stream_text` once its generator is exhausted."""

    text: str = ""
    tokens: int = 0
    seconds: float = 0.0
    stop_reason: str = ""
    token_ids: list[int] = field(default_factory=list)


def stream_text(
    model: Any,
    tokenizer: Any,
    prompt: Prompt,
    config: Any,
    *,
    seed: int,
    cancel: CancelToken,
    stop_strings: Sequence[str] = (),
    outcome: StreamOutcome | None = None,
    watch: StopWatch | None = None,
) -> Iterator[str]:
    """Generate on a helper thread and yield the new text piece by piece.

    A piece that might be the start of a stop string is held back until it is clear, and the
    first stop string found ends the text (it is not included), so what is shown is what is
    kept. ``outcome`` receives the text kept (the generated tokens decoded at once and cut at
    the first stop string; the pieces shown match it except, rarely, around a character split
    across tokens), the token count, the time and why generation stopped.

    If ``cancel`` is set, generation stops within one token and :class:`Cancelled` is raised
    once the helper thread has ended. Closing the generator early also stops generation and
    joins the thread.
    """
    import torch
    from transformers import StoppingCriteriaList, TextIteratorStreamer

    outcome = outcome if outcome is not None else StreamOutcome()
    watch = watch or StopWatch(
        cancel=cancel,
        prompt_length=len(prompt.input_ids),
        tokenizer=tokenizer,
        stop_strings=stop_strings,
    )
    device = model.device
    input_ids = torch.tensor([prompt.input_ids], dtype=torch.long, device=device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    result: dict[str, Any] = {}

    def generate() -> None:
        try:
            # Sampling draws from torch's global generator; seed it right before use.
            torch.manual_seed(seed)
            with torch.inference_mode():
                result["ids"] = model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    generation_config=config,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_stopping_criterion(watch)]),
                )
        except BaseException as exc:  # handed to the reading thread, raised there
            result["error"] = exc
            streamer.end()  # wake the reader; generate() only ends the stream on success

    started = time.perf_counter()
    thread = threading.Thread(target=generate, name="studio-writer-generate", daemon=True)
    thread.start()
    cutter = StopStringCutter(stop_strings)
    try:
        for piece in streamer:
            shown_piece = cutter.feed(piece)
            if shown_piece:
                yield shown_piece
            if cutter.stopped:
                watch.abandoned.set()  # usually already stopped by the criterion
                break
    finally:
        watch.abandoned.set()
        thread.join()
    if "error" in result:
        raise result["error"]
    cancel.raise_if_cancelled()
    outcome.seconds = time.perf_counter() - started
    ids = result["ids"][0, len(prompt.input_ids) :].tolist()
    # The text kept is the whole answer decoded at once (the streamer decodes piece by piece,
    # which can differ around characters split across tokens), cut at the first stop string.
    whole = tokenizer.decode(ids, skip_special_tokens=True)
    final = cutter.cut(whole)
    shown = cutter.shown
    if len(final) > shown and final.startswith(cutter.text[:shown]):
        yield final[shown:]  # held back as a possible stop string that did not come
    outcome.text = final
    outcome.tokens = len(ids)
    outcome.token_ids = ids
    if cutter.stopped or final != whole or watch.saw_stop_string:
        outcome.stop_reason = "stop_string"
    elif ids and ids[-1] in _eos_ids(config):
        outcome.stop_reason = "eos"
    else:
        outcome.stop_reason = "length"


def _eos_ids(config: Any) -> set[int]:
    eos = config.eos_token_id
    if eos is None:
        return set()
    return set(eos) if isinstance(eos, list | tuple) else {eos}


# --------------------------------------------------------------------------------------------
# A whole request
# --------------------------------------------------------------------------------------------


def _context_limit(model: Any) -> int | None:
    limit = getattr(model.config, "max_position_embeddings", None)
    return limit if isinstance(limit, int) and limit > 0 else None


def run_request(
    loaded: LoadedWriter, request: TextRequest, options: Mapping[str, Any], ctx: RunContext
) -> Iterator[Event]:
    """Write ``options["variations"]`` texts for ``request``, yielding events as it goes.

    Progress events come with each new piece of text (and only then), so after a variation
    that wrote nothing the last event is still the previous Result.
    """
    import torch

    ctx.cancel.raise_if_cancelled()
    if loaded.model is None:
        raise RuntimeError("The model was unloaded; load it again.")
    check_request(request)
    torch.set_num_threads(max(1, ctx.threads))
    sampling = Sampling.from_options(options)
    prompt = build_prompt(loaded.tokenizer, request)
    max_new_tokens = sampling.max_new_tokens
    limit = _context_limit(loaded.model)
    if limit is not None:
        if len(prompt.input_ids) >= limit:
            raise ValueError(
                f"The text is {len(prompt.input_ids)} tokens long; this model reads at most "
                f"{limit}. Shorten it."
            )
        if len(prompt.input_ids) + max_new_tokens > limit:
            max_new_tokens = limit - len(prompt.input_ids)
            log.info("writing at most %d tokens: the model's context ends there", max_new_tokens)
    config = sampling.generation_config(loaded.model.generation_config, max_new_tokens)
    seed = options["seed"]
    count = sampling.variations
    total = count * max_new_tokens
    kept = 0
    for index in range(count):
        variation_seed = (seed + index) % SEED_RANGE
        watch = StopWatch(
            cancel=ctx.cancel,
            prompt_length=len(prompt.input_ids),
            tokenizer=loaded.tokenizer,
            stop_strings=sampling.stop_strings,
        )
        outcome = StreamOutcome()
        started = time.perf_counter()
        for piece in stream_text(
            loaded.model,
            loaded.tokenizer,
            prompt,
            config,
            seed=variation_seed,
            cancel=ctx.cancel,
            stop_strings=sampling.stop_strings,
            outcome=outcome,
            watch=watch,
        ):
            yield Partial(text=piece)
            tokens = watch.generated
            rate = tokens / max(time.perf_counter() - started, 1e-6)
            prefix = f"variation {index + 1} of {count} · " if count > 1 else ""
            yield Progress(
                fraction=min(1.0, (index * max_new_tokens + tokens) / total),
                message=f"{prefix}{tokens} token{'' if tokens == 1 else 's'} · {rate:.1f} tokens/s",
            )
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
        }
        yield Result(
            assets=(GeneratedAsset.from_text(outcome.text, seed=variation_seed, details=details),)
        )
    if not kept:
        raise ValueError(
            "The model wrote nothing: it ended, or met a stop string, before its first word. "
            "Try another seed or check the stop strings."
        )
