"""What the built-in writing plugins (llama.cpp, transformers) share: the run options people
know from text-generation-webui and LM Studio, and the prompt of a request in Continue or
Instruct mode. Not part of the plugin contract (see :mod:`studio.builtin_support`).

- :data:`WRITER_RUN_OPTIONS`: length, temperature, top p, top k, repetition penalty, seed,
  stop strings and variations, with the same names, ranges and help in both built-in writers,
  so a recipe made with one backend reads the same in the other.
- :func:`check_request`: the mode is known and Instruct mode has an instruction.
- :func:`chat_message` (when the model has a chat template) and :func:`plain_instruct_prompt`
  (otherwise: the preset's plain template) put an Instruct request into words.
- :func:`parse_stop_strings`: one per line, ``\\n`` standing for a line break.
"""

from __future__ import annotations

import re

from studio.plugin_api.options import (
    FloatOption,
    IntOption,
    OptionSet,
    SeedOption,
    TextOption,
)
from studio.plugin_api.requests import TextRequest

MODES = ("continue", "instruct")
DEFAULT_INSTRUCT_TEMPLATE = "{instruction}\n\n{text}\n\n"
"""The plain Instruct prompt when the request brings no template and the model no chat template."""

SEED_RANGE = 2**32
"""Seeds are 32-bit; variations use seed, seed + 1, ... modulo this."""

_PLACEHOLDER = re.compile(r"\{(instruction|text)\}")

WRITER_RUN_OPTIONS = OptionSet(
    IntOption(
        name="max_new_tokens",
        default=200,
        minimum=1,
        maximum=8192,
        label="Length (tokens)",
        description="How many tokens to write at most (a token is about three quarters of a word).",
    ),
    FloatOption(
        name="temperature",
        default=0.8,
        minimum=0.0,
        maximum=5.0,
        description="Higher is more surprising, lower more predictable; 0 always takes the "
        "likeliest next token.",
    ),
    FloatOption(
        name="top_p",
        default=0.95,
        minimum=0.01,
        maximum=1.0,
        step=0.05,
        label="Top p",
        description="Sample only from the likeliest tokens that together make up this "
        "share of the probability; 1 turns it off.",
        advanced=True,
    ),
    IntOption(
        name="top_k",
        default=50,
        minimum=0,
        maximum=1000,
        label="Top k",
        description="Sample only from this many of the likeliest tokens; 0 turns it off.",
        advanced=True,
    ),
    FloatOption(
        name="repetition_penalty",
        default=1.0,
        minimum=1.0,
        maximum=2.0,
        step=0.05,
        description="Above 1, words already written become less likely (1.1 is a mild "
        "push against repeating); 1 turns it off.",
        advanced=True,
    ),
    SeedOption(),
    TextOption(
        name="stop_strings",
        default="",
        multiline=True,
        max_length=2000,
        description="Stop writing when one of these appears, and leave it out: one per "
        "line (\\n stands for a line break).",
    ),
    IntOption(
        name="variations",
        default=1,
        minimum=1,
        maximum=8,
        description="How many texts to write, one after the other, with seeds seed, "
        "seed + 1, ...; each is kept as soon as it is finished.",
    ),
)
"""The run options of the built-in writing plugins."""


def check_request(request: TextRequest) -> TextRequest:
    """``request`` if it is in a known mode (Instruct with an instruction); ``ValueError``
    with a clear reason otherwise."""
    if request.mode not in MODES:
        raise ValueError(f"Unknown writing mode '{request.mode}': use 'continue' or 'instruct'.")
    if request.mode == "instruct" and not request.instruction.strip():
        raise ValueError("Type an instruction first: Instruct mode needs one.")
    return request


def chat_message(request: TextRequest) -> str:
    """The user's turn for a chat template: the instruction, then the text if there is one."""
    instruction, text = request.instruction.strip(), request.prompt
    return f"{instruction}\n\n{text}" if text.strip() else instruction


def fill_template(template: str, instruction: str, text: str) -> str:
    """Put the instruction and text into a plain template (other braces are left alone)."""
    values = {"instruction": instruction, "text": text}
    # One pass, so an instruction that itself contains "{text}" stays as written.
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def plain_instruct_prompt(request: TextRequest) -> str:
    """An Instruct request in its preset's plain template (for models without a chat one)."""
    template = request.template or DEFAULT_INSTRUCT_TEMPLATE
    if "{instruction}" not in template:
        raise ValueError("The prompt template needs an {instruction} placeholder.")
    return fill_template(template, request.instruction.strip(), request.prompt)


def parse_stop_strings(text: str) -> tuple[str, ...]:
    """One stop string per line; empty lines are ignored, other whitespace is kept.

    ``\\n`` written as two characters means a line break, so a stop string can be one.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    return tuple(dict.fromkeys(line.replace("\\n", "\n") for line in lines if line))


class StopStringCutter:
    """Streamed text with stop strings taken out: :meth:`feed` each new piece and show what it
    returns. A piece that may be the start of a stop string is held back until it is clear;
    the first stop string found ends the text (it is not included), so what is shown is what
    is kept. :attr:`stopped` says a stop string came; :meth:`finish` returns what was held
    back when the text ends without one.
    """

    def __init__(self, stop_strings: tuple[str, ...] | list[str] = ()) -> None:
        self.stop_strings = tuple(s for s in stop_strings if s)
        self._longest = max((len(s) for s in self.stop_strings), default=0)
        self.text = ""  # everything fed, up to a stop string
        self.shown = 0  # how much of it was returned
        self.stopped = False

    def feed(self, piece: str) -> str:
        if self.stopped or not piece:
            return ""
        self.text += piece
        cut = self._first_stop(self.text, max(0, self.shown - self._longest))
        if cut is not None:
            self.stopped = True
            self.text = self.text[:cut]
        end = len(self.text) if self.stopped else self._safe_end()
        if end <= self.shown:
            return ""
        out, self.shown = self.text[self.shown : end], end
        return out

    def finish(self) -> str:
        """The held-back tail, once no more text comes."""
        out, self.shown = self.text[self.shown :], len(self.text)
        return out

    def cut(self, text: str) -> str:
        """``text`` up to its first stop string (for text decoded again at the end)."""
        return text[: self._first_stop(text, 0)]

    def _first_stop(self, text: str, start: int) -> int | None:
        found = [i for s in self.stop_strings if (i := text.find(s, start)) >= 0]
        return min(found) if found else None

    def _safe_end(self) -> int:
        """All but a tail that may be the start of a stop string."""
        text, end = self.text, len(self.text)
        for stop in self.stop_strings:
            for size in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:size]):
                    end = min(end, len(text) - size)
                    break
        return end
