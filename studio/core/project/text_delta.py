"""The difference between two versions of a text, small enough to keep one per revision.

A delta is a tuple of :class:`Splice` records: each replaces ``old[start:end]`` by ``text``.
Splices are sorted, do not overlap, and their positions count characters of the *old* text
(Python string indices), so applying them from the last to the first keeps every position
valid. Stored as compact JSON: ``[[start, end, "text"], ...]``.

:func:`diff` finds the common beginning and end first (typing changes one place, so that is
usually all), and only when what lies between is long compares it line by line (and a long
changed paragraph word by word), so that two edits far apart in a long document cost two small
splices instead of everything between them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

WORD_DIFF_THRESHOLD = 512
"""Characters of changed middle (old and new together) above which words are compared."""
MAX_LINES = 50_000
MAX_WORDS = 20_000
"""More lines or words than this in a changed middle are not compared (one splice instead)."""
_TOKEN = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True, slots=True)
class Splice:
    """``old[start:end]`` becomes ``text``."""

    start: int
    end: int
    text: str


Delta = tuple[Splice, ...]


def diff(old: str, new: str) -> Delta:
    """Splices that turn ``old`` into ``new`` (empty when they are equal)."""
    if old == new:
        return ()
    prefix = _common_prefix(old, new)
    limit = min(len(old), len(new)) - prefix
    suffix = _common_suffix(old, new, limit)
    old_middle = old[prefix : len(old) - suffix]
    new_middle = new[prefix : len(new) - suffix]
    if len(old_middle) + len(new_middle) <= WORD_DIFF_THRESHOLD or not (old_middle and new_middle):
        return (Splice(prefix, len(old) - suffix, new_middle),)
    return tuple(_line_then_word_splices(old_middle, new_middle, prefix))


def apply(old: str, delta: Sequence[Splice]) -> str:
    """The text that ``delta`` makes of ``old``; raises ``ValueError`` when it does not fit."""
    pieces: list[str] = []
    position = 0
    for splice in delta:
        if not position <= splice.start <= splice.end <= len(old):
            raise ValueError(
                f"a splice at {splice.start}-{splice.end} does not fit a text of {len(old)} "
                "characters"
            )
        pieces.append(old[position : splice.start])
        pieces.append(splice.text)
        position = splice.end
    pieces.append(old[position:])
    return "".join(pieces)


def encode(delta: Sequence[Splice]) -> str:
    """The delta as compact JSON text."""
    return json.dumps(
        [[s.start, s.end, s.text] for s in delta], ensure_ascii=False, separators=(",", ":")
    )


def decode(text: str) -> Delta:
    """A delta from :func:`encode`'s JSON; raises ``ValueError`` when it is not one."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("a delta is a JSON array")
    delta = []
    for item in data:
        if (
            not isinstance(item, list)
            or len(item) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in item[:2])
            or not isinstance(item[2], str)
        ):
            raise ValueError(f"{item!r} is not a splice [start, end, text]")
        delta.append(Splice(item[0], item[1], item[2]))
    return tuple(delta)


def _common_prefix(a: str, b: str) -> int:
    # Halving on slices compares in C: quick even for megabytes of equal text.
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle : len(a) - low] == b[len(b) - middle : len(b) - low]:
            low = middle
        else:
            high = middle - 1
    return low


def _line_then_word_splices(old: str, new: str, offset: int) -> list[Splice]:
    # Lines first (quick even for long documents); a changed block of lines that is long (one
    # long paragraph) is compared again word by word, with the spaces after each word.
    return _splices(old, new, offset, old.splitlines(keepends=True), new.splitlines(True), True)


def _splices(
    old: str, new: str, offset: int, old_units: list[str], new_units: list[str], lines: bool
) -> list[Splice]:
    if max(len(old_units), len(new_units)) > (MAX_LINES if lines else MAX_WORDS):
        # Comparing this many would take seconds on the writer's thread: one splice is exact
        # too, only larger (a rare save: edits far apart in one very long paragraph).
        return [Splice(offset, offset + len(old), new)]
    old_starts = _starts(old_units)
    new_starts = _starts(new_units)
    # autojunk: units as common as blank lines or "the" do not anchor matches (much faster on
    # long texts; the splices are still exact, only perhaps a little longer).
    matcher = difflib.SequenceMatcher(None, old_units, new_units, autojunk=True)
    splices: list[Splice] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old_part = old[old_starts[i1] : old_starts[i2]]
        new_part = new[new_starts[j1] : new_starts[j2]]
        # Within changed units, keep only the characters that changed.
        head = _common_prefix(old_part, new_part)
        tail = _common_suffix(old_part, new_part, min(len(old_part), len(new_part)) - head)
        old_part = old_part[head : len(old_part) - tail]
        new_part = new_part[head : len(new_part) - tail]
        start = offset + old_starts[i1] + head
        if lines and old_part and new_part and len(old_part) + len(new_part) > WORD_DIFF_THRESHOLD:
            splices += _splices(
                old_part, new_part, start, _TOKEN.findall(old_part), _TOKEN.findall(new_part), False
            )
        else:
            splices.append(Splice(start, start + len(old_part), new_part))
    return splices


def _starts(tokens: list[str]) -> list[int]:
    starts = [0]
    for token in tokens:
        starts.append(starts[-1] + len(token))
    return starts
