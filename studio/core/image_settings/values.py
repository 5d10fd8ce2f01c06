"""Small readers of values as generators write them: numbers as text, JSON objects."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

MAX_JSON = 8 << 20


def as_int(value: Any) -> int | None:
    """An integer from a number or its text ("6952411511246973023" stays exact)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def as_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def json_object(text: str | None) -> dict[str, Any] | None:
    """The JSON object in ``text``, or None (not JSON, not an object, or too large)."""
    if not text or len(text) > MAX_JSON or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def leftovers(data: Mapping[str, Any], taken: Iterable[str]) -> list[tuple[str, str]]:
    """The fields of ``data`` not taken, as ``(name, text)``: nothing is dropped silently."""
    skip = set(taken)
    found = []
    for key, value in data.items():
        if key in skip or value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        found.append((str(key), text[:500]))
    return found


def size_pair(width: Any, height: Any) -> tuple[int | None, int | None]:
    w, h = as_int(width), as_int(height)
    return (w, h) if w and h and w > 0 and h > 0 else (None, None)
