"""One rule for turning a title into a file name, used wherever Studio suggests or writes one
(project export, the Voice panel's take export, the files it hands a plugin).

The name keeps the title as a person reads it (spaces, accents, "·" and "…" stay) and is safe
on Windows, macOS and Linux alike:

- a separator that no file system allows in a name (``: / \\ |``) becomes a dash: `` - ``
  between words ("Chapter 1: The sea" → "Chapter 1 - The sea"), ``-`` inside one
  ("10:30" → "10-30", "AC/DC" → "AC-DC");
- ``"`` becomes ``'``; ``< > ? *``, control characters and the invisible marks that turn
  text right to left (which can disguise an extension) are dropped;
- no dot, dash or space leads it, no dot or space ends it (Windows drops those);
- Windows' device names (``CON``, ``NUL``, ``COM1``...) get an ``_`` (``CON_``, ``con_.txt``);
- at most 80 characters before the suffix, cut at a word boundary with "…", and never more
  than 255 bytes in all;
- nothing left (an empty title, "???") gives the fallback.
"""

from __future__ import annotations

import re
import unicodedata

from studio.plugin_api.titles import shorten

NAME_LIMIT = 80
"""The most characters of a title kept in a file name (before the suffix)."""
_MAX_BYTES = 255  # one path component on ext4, APFS and NTFS (UTF-16 units there: fewer)

_SEPARATORS = re.compile(r"\s*[:/\\|]+\s*")
_DROPPED = re.compile(r"[<>?*\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)


def _dash(match: re.Match[str]) -> str:
    text = match.group(0)
    spaced = text != text.strip() or match.start() == 0 or match.end() == len(match.string)
    return " - " if spaced else "-"


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _DROPPED.sub("", " ".join(text.split()))
    text = _SEPARATORS.sub(_dash, text).replace('"', "'")
    return " ".join(text.split())


def _trim(stem: str) -> str:
    return stem.lstrip(". -").rstrip(". ")


def file_stem(title: str, limit: int = NAME_LIMIT) -> str:
    """The name part of :func:`file_name_for` (no suffix, no fallback: may be empty)."""
    stem = _trim(shorten(_trim(_clean(title)), limit))
    base, dot, rest = stem.partition(".")
    if base.strip().upper() in _RESERVED:  # "CON.txt" is the device too
        stem = f"{base}_{dot}{rest}"
    return stem


def _suffix(suffix: str) -> str:
    ending = _DROPPED.sub("", re.sub(r'[:/\\|"]', "", suffix)).rstrip(". ")
    return "." + ending if ending[:1].isalnum() else ending


def file_name_for(title: str, suffix: str = "", fallback: str = "untitled") -> str:
    """A file name for something called ``title`` (see the module's rules).

    Args:
        title: the asset's or document's title, as the user sees it.
        suffix: the extension, with or without its dot (``".wav"``, ``"wav"``), or any ending
            kept whole after the title (``" (01j9…).png"`` to make a name unique).
        fallback: the name when nothing of the title is left (``"take"``, ``"image"``).

    >>> file_name_for("Chapter 1: The sea?", ".txt")
    'Chapter 1 - The sea.txt'
    """
    ending = _suffix(suffix)
    room = _MAX_BYTES - len(ending.encode("utf-8"))
    for source in (title, fallback, "untitled"):
        limit = NAME_LIMIT
        stem = file_stem(source, limit)
        while stem and len(stem.encode("utf-8")) > room and limit > 1:
            limit -= 1
            stem = file_stem(source, limit)
        if stem and len(stem.encode("utf-8")) <= room:
            return stem + ending
    raise ValueError(f"the suffix {suffix!r} leaves no room for a file name")
