"""Find shared libraries the way the dynamic loader does, without importing what needs them."""

from __future__ import annotations

import ctypes
import functools


@functools.cache
def library_available(soname: str) -> bool:
    """True if the dynamic loader can load ``soname`` (e.g. ``"libomp.so.5"``)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True
