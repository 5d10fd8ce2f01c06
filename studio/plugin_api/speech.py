"""Long text to speech, one sentence at a time, for any voice plugin (the built-in hibari and
Coqui plugins use it).

- :func:`prepare_text` checks the text (empty, too long), leaves out what no voice can say
  (emoji, symbols, control characters, and characters the model does not know) with a note,
  and splits it into sentences with pysbd, keeping paragraph breaks.
- :func:`speak_sentences` synthesises the sentences one by one with a ``speak`` callable,
  yielding ``Progress`` ("sentence 7 of 42"), checking cancel between sentences, yielding a
  ``Partial`` preview of the audio so far now and then, and joining the sentences with short
  pauses. A sentence that fails stops the take with a message naming it: nothing is dropped
  silently and nothing half-made is kept.

numpy is imported inside the functions; pysbd too (with a plain splitter when it is missing).
"""

from __future__ import annotations

import io
import re
import time
import unicodedata
import wave
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from studio.plugin_api import Cancelled, Partial, Progress, RunContext
from studio.plugin_api.titles import join_title, one_line, quote

MAX_CHARACTERS = 50_000
"""The longest text one take accepts: about an hour of speech (a 16-bit WAV of ~170 MB)."""
SENTENCE_PAUSE_S = 0.25
PARAGRAPH_PAUSE_S = 0.6
MAX_SENTENCE_CHARACTERS = 400
"""Longer sentences are cut at clause punctuation (or between words): models lose their way
in very long inputs."""
PREVIEW_EVERY_S = 2.0
MAX_PREVIEW_SECONDS = 600.0
"""No previews once the audio is longer than this: each preview carries all the audio so far."""

# Characters no voice says: symbols (emoji, dingbats, arrows), emoji modifiers and joiners,
# private-use, unassigned and control characters (line breaks and tabs are kept).
_UNSPEAKABLE_CATEGORIES = {"So", "Sk", "Cs", "Co", "Cn", "Cf", "Cc"}
_KEEP = {"\n", "\t", " "}
_VARIATION_SELECTORS = {chr(c) for c in range(0xFE00, 0xFE10)} | {"\u20e3"}
_PARAGRAPHS = re.compile(r"\n[ \t]*\n\s*")
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+")
_PLAIN_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)\]]*\s+")


@dataclass(frozen=True)
class Sentence:
    """One piece of text the model says at once; ``paragraph_end``: a longer pause follows."""

    text: str
    paragraph_end: bool = False


@dataclass(frozen=True)
class PreparedText:
    """The sentences of a text, and notes about what was left out."""

    sentences: tuple[Sentence, ...]
    removed: str = ""
    notes: tuple[str, ...] = ()

    @property
    def characters(self) -> int:
        return sum(len(s.text) for s in self.sentences)


class SentenceFailed(ValueError):
    """A sentence could not be spoken; the message names it."""


def _shown(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def remove_unspeakable(
    text: str, speakable: Callable[[str], bool] | None = None
) -> tuple[str, str]:
    """``text`` without the characters no voice says (and those ``speakable`` refuses).

    Returns the cleaned text and the distinct characters removed, in order of appearance.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    kept: list[str] = []
    removed: dict[str, None] = {}
    for char in text:
        if char in _KEEP or char.isspace():
            kept.append(" " if char not in ("\n",) else "\n")
            continue
        unspeakable = (
            unicodedata.category(char) in _UNSPEAKABLE_CATEGORIES
            or char in _VARIATION_SELECTORS
            or (speakable is not None and not speakable(char))
        )
        if unspeakable:
            removed[char] = None
            # A removed symbol between two words still separates them.
            kept.append(" ")
        else:
            kept.append(char)
    return "".join(kept), "".join(removed)


def _segmenter(language: str) -> Callable[[str], list[str]]:
    try:
        import pysbd
    except ImportError:
        return _plain_split
    code = (language or "en").split("-")[0].split("_")[0].lower()
    if code not in pysbd.languages.LANGUAGE_CODES:
        code = "en"
    segmenter = pysbd.Segmenter(language=code, clean=False)
    return segmenter.segment


def _plain_split(text: str) -> list[str]:
    return _PLAIN_SENTENCE_END.split(text)


def _cut_long(sentence: str) -> list[str]:
    """Pieces of at most MAX_SENTENCE_CHARACTERS, cut after clauses, else between words."""
    if len(sentence) <= MAX_SENTENCE_CHARACTERS:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for part in _CLAUSE_END.split(sentence):
        for word in [part] if len(part) <= MAX_SENTENCE_CHARACTERS else part.split(" "):
            while len(word) > MAX_SENTENCE_CHARACTERS:  # one endless "word": cut it hard
                if current:
                    pieces.append(current)
                    current = ""
                pieces.append(word[:MAX_SENTENCE_CHARACTERS])
                word = word[MAX_SENTENCE_CHARACTERS:]
            if current and len(current) + 1 + len(word) > MAX_SENTENCE_CHARACTERS:
                pieces.append(current)
                current = word
            else:
                current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def _has_words(text: str) -> bool:
    return any(char.isalnum() for char in text)


def prepare_text(
    text: str,
    *,
    language: str = "en",
    speakable: Callable[[str], bool] | None = None,
) -> PreparedText:
    """Check and split ``text`` into sentences; ``ValueError`` with a clear message if it
    cannot be spoken (empty, too long, or nothing a voice can say).

    Args:
        text: what to say; blank lines separate paragraphs, single line breaks sentences.
        language: for the sentence splitter ("en", "de"...).
        speakable: tells whether the model can say a character (its alphabet); None: any
            letter, digit or punctuation mark.
    """
    if not text or not text.strip():
        raise ValueError("There is no text to speak: type some text, or drop a .txt file.")
    if len(text) > MAX_CHARACTERS:
        raise ValueError(
            f"The text has {len(text):,} characters; one take speaks at most {MAX_CHARACTERS:,} "
            "(about an hour of speech). Split it into parts and speak them one after the other."
        )
    cleaned, removed = remove_unspeakable(text, speakable)
    notes: list[str] = []
    if removed:
        shown = " ".join(removed[:12]) + (" …" if len(removed) > 12 else "")
        notes.append(
            f"Left out {len(removed)} kind{'s' if len(removed) != 1 else ''} of character "
            f"the voice cannot say: {shown}"
        )
    split = _segmenter(language)
    sentences: list[Sentence] = []
    skipped = 0
    paragraphs = [p for p in _PARAGRAPHS.split(cleaned.strip()) if p.strip()]
    for paragraph in paragraphs:
        found: list[str] = []
        for line in paragraph.split("\n"):
            line = " ".join(line.split())
            if not line:
                continue
            for piece in split(line):
                piece = " ".join(piece.split())
                if not piece:
                    continue
                if not _has_words(piece):
                    skipped += 1  # punctuation alone ("...", "—"): nothing to say
                    continue
                found.extend(_cut_long(piece))
        for index, sentence in enumerate(found):
            sentences.append(Sentence(sentence, paragraph_end=index == len(found) - 1))
    if skipped:
        notes.append(f"Skipped {skipped} piece{'s' if skipped != 1 else ''} with no words.")
    if not sentences:
        raise ValueError(
            "The text has nothing the voice can say: only emoji, symbols or characters this "
            "voice does not know."
        )
    return PreparedText(sentences=tuple(sentences), removed=removed, notes=tuple(notes))


def encode_wav(samples: Any, sample_rate: int) -> bytes:
    """Mono float samples in [-1, 1] (or int16) as a 16-bit PCM WAV file."""
    import numpy as np

    data = np.asarray(samples)
    if data.dtype != np.int16:
        data = (np.clip(data.astype(np.float32), -1.0, 1.0) * 32767.0).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(data.astype("<i2").tobytes())
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[Any, int]:
    """A PCM WAV file's audio as mono float32 samples in [-1, 1], and its sample rate.

    Takes 8-, 16-, 24- and 32-bit PCM, any number of channels (mixed down), and the header of
    a program that wrote to a pipe (``espeak-ng --stdout``: a length it could not know);
    ``ValueError`` for anything else.
    """
    import numpy as np

    try:
        with wave.open(io.BytesIO(data)) as clip:
            rate, width, channels = clip.getframerate(), clip.getsampwidth(), clip.getnchannels()
            raw = clip.readframes(clip.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"The voice's audio is not a PCM WAV file ({exc}).") from None
    raw = raw[: len(raw) - len(raw) % (width * channels)]
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        joined = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        samples = np.where(joined >= 1 << 23, joined - (1 << 24), joined) / float(1 << 23)
    else:
        samples = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    if rate <= 0:
        raise ValueError("The voice's WAV file has no sample rate.")
    return samples.astype(np.float32).reshape(-1, channels).mean(axis=1), rate


@dataclass
class SpokenText:
    """What :func:`speak_sentences` made: the joined audio (int16) and facts for the recipe.

    ``sample_rate`` is None until the first WAV file a ``speak`` returned sets it.
    """

    sample_rate: int | None
    chunks: list[Any] = field(default_factory=list)
    frames: int = 0
    silent: list[int] = field(default_factory=list)
    sentences: int = 0

    def add(self, samples: Any) -> None:
        """Append float samples at :attr:`sample_rate`, or a WAV file's bytes."""
        import numpy as np

        if isinstance(samples, bytes | bytearray):
            floats, rate = read_wav(bytes(samples))
            # x 32768: a 16-bit WAV's samples come back exactly as they were
            chunk = np.clip(np.round(floats * 32768.0), -32768, 32767).astype(np.int16)
            if self.sample_rate is None:
                self.sample_rate = rate
            elif rate != self.sample_rate:
                raise ValueError(
                    f"The voice returned audio at {rate} Hz after {self.sample_rate} Hz: "
                    "every sentence must have the same sample rate."
                )
        elif self.sample_rate is None:
            raise ValueError("The voice returned samples without a sample rate: return a WAV.")
        else:
            data = np.asarray(samples, dtype=np.float32).reshape(-1)
            chunk = (np.clip(data, -1.0, 1.0) * 32767.0).round().astype(np.int16)
        self.chunks.append(chunk)
        self.frames += len(chunk)

    def pause(self, seconds: float) -> None:
        import numpy as np

        frames = round(seconds * (self.sample_rate or 0))
        self.chunks.append(np.zeros(frames, np.int16))
        self.frames += frames

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    def samples(self) -> Any:
        import numpy as np

        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0] if self.chunks else np.zeros(0, np.int16)

    def wav(self) -> bytes:
        return encode_wav(self.samples(), self.sample_rate or 16_000)


def speak_sentences(
    prepared: PreparedText,
    speak: Callable[[str], Any],
    sample_rate: int | None,
    ctx: RunContext,
    *,
    previews: bool = True,
) -> Generator[Progress | Partial, None, SpokenText]:
    """Say each sentence with ``speak(text)``; return a :class:`SpokenText`.

    ``speak`` returns float samples in [-1, 1] at ``sample_rate``, or the bytes of a WAV
    file (a program's output; then ``sample_rate`` may be None: the WAV says it).

    A generator (use ``spoken = yield from speak_sentences(...)``): it yields progress before
    each sentence, weighted by length so the panel's ETA is steady; checks cancel between
    sentences; and yields a WAV preview of the audio so far after the first sentence and then
    every couple of seconds. An exception from ``speak`` becomes :class:`SentenceFailed`
    naming the sentence.
    """
    sentences = prepared.sentences
    total = len(sentences)
    total_chars = max(1, prepared.characters)
    spoken = SpokenText(sample_rate=sample_rate, sentences=total)
    done_chars = 0
    last_preview = None
    for index, sentence in enumerate(sentences):
        ctx.cancel.raise_if_cancelled()
        yield Progress(
            fraction=min(1.0, done_chars / total_chars), message=f"sentence {index + 1} of {total}"
        )
        try:
            samples = speak(sentence.text)
        except (Cancelled, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise SentenceFailed(
                f"Sentence {index + 1} of {total} could not be spoken ({detail[:300]}): "
                f"{_shown(sentence.text)}"
            ) from exc
        ctx.cancel.raise_if_cancelled()
        before = spoken.frames
        spoken.add(samples)
        if spoken.frames == before:
            spoken.silent.append(index + 1)
        elif index < total - 1:
            spoken.pause(PARAGRAPH_PAUSE_S if sentence.paragraph_end else SENTENCE_PAUSE_S)
        done_chars += len(sentence.text)
        now = time.monotonic()
        if (
            previews
            and index < total - 1
            and spoken.seconds <= MAX_PREVIEW_SECONDS
            and (last_preview is None or now - last_preview >= PREVIEW_EVERY_S)
        ):
            last_preview = now
            yield Partial(data=spoken.wav(), media_type="audio/wav")
    if spoken.frames == 0:
        raise ValueError(
            "The voice made no sound for this text: it has nothing the voice can pronounce."
        )
    yield Progress(fraction=1.0, message=f"joined {total} sentence{'s' if total != 1 else ''}")
    return spoken


def take_details(prepared: PreparedText, spoken: SpokenText, **facts: Any) -> dict[str, Any]:
    """JSON-ready facts about a take for its recipe (voice, rate, sentences, notes)."""
    notes = list(prepared.notes)
    if spoken.silent:
        listed = ", ".join(str(n) for n in spoken.silent[:10])
        notes.append(
            f"The voice made no sound for sentence{'s' if len(spoken.silent) != 1 else ''} "
            f"{listed} (nothing it could pronounce)."
        )
    details: dict[str, Any] = {
        **facts,
        "sample_rate": spoken.sample_rate,
        "sentences": spoken.sentences,
        "seconds": round(spoken.seconds, 3),
    }
    if prepared.removed:
        details["removed_characters"] = prepared.removed
    if notes:
        details["notes"] = notes
    return details


def take_title(text: str, *details: str) -> str:
    """A take's title: the start of its text, quoted and cut at a word boundary, then what sets
    it apart (the voice, a speed): “The lighthouse keeper climbed the…” · Hibari heart."""
    return join_title(quote(text) if one_line(text) else "Empty take", *details)
