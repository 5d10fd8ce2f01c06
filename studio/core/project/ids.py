"""Asset ids: ULIDs (26 characters, Crockford base32), sortable by creation time.

The first 10 characters are the milliseconds since 1970, the last 16 are random. Within one
millisecond the random part counts up, so ids made by one process always sort in the order
they were made.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last = (0, 0)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_asset_id(now_ns: int | None = None) -> str:
    """A new, unique asset id that sorts after every id this process made before."""
    global _last
    millis = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    with _lock:
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, random_part = last_millis, last_random + 1
            if random_part >= 1 << _RANDOM_BITS:  # 2**80 ids in one millisecond: move on
                millis, random_part = millis + 1, secrets.randbits(_RANDOM_BITS - 1)
        else:
            # One bit of headroom keeps the counter from overflowing within a millisecond.
            random_part = secrets.randbits(_RANDOM_BITS - 1)
        _last = (millis, random_part)
    return _encode(millis, 10) + _encode(random_part, 16)


def is_asset_id(text: str) -> bool:
    """Whether ``text`` looks like an asset id (26 Crockford base32 characters)."""
    return len(text) == 26 and all(char in _ALPHABET for char in text)


def asset_id_millis(asset_id: str) -> int:
    """The milliseconds since 1970 at the start of an asset id."""
    value = 0
    for char in asset_id[:10]:
        value = value * 32 + _ALPHABET.index(char)
    return value
