"""How Studio writes a length of time: ``0:42``, ``12:05``, ``1:02:03`` (``0:42.7`` on a clock).

The one formatter for every duration shown to people (a sound's length, the time left of a
job, a player's position), in ``studio.core`` so that the window, its models and the command
line all write time the same way.
"""

from __future__ import annotations

import math


def format_duration(seconds: float, *, tenths: bool = False) -> str:
    """``0:42``, ``12:05`` or ``1:02:03``; with ``tenths``, ``0:42.7`` or ``1:02:03.4``.

    Rounded down, as players show time: a clip of 42.9 s is ``0:42``, and a play head never
    shows a moment it has not reached. Negative values are ``0:00``.
    """
    # Rounding away float noise first keeps 2.3 s from becoming 22.999... tenths.
    units = max(0, math.floor(round(seconds * (10 if tenths else 1), 6)))
    whole, tenth = divmod(units, 10) if tenths else (units, 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{text}.{tenth}" if tenths else text


def format_size(size: int) -> str:
    """A size in bytes for people: "812 bytes", "1.1 KB", "4.2 MB" (powers of 1000, as file
    managers show them)."""
    if size < 1000:
        return f"{size:,} bytes"
    amount = float(size)
    for unit in ("KB", "MB", "GB"):
        amount /= 1000
        if amount < 1000 or unit == "GB":
            break
    return f"{amount:.1f} {unit}"
