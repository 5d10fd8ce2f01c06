"""What the CPU does fast, read cheaply from ``/proc/cpuinfo`` (no torch, no subprocess).

The built-in torch plugins pick their ``auto`` number format from it: bfloat16 maths is fast
only where the CPU has it in hardware (Intel AMX, ``amx_bf16``, or AVX-512 BF16,
``avx512_bf16``: Sapphire Rapids and later Xeons, Zen 4 and later EPYCs and Ryzens). Elsewhere
torch emulates it and it is several times slower than float32. Plugins call this from a
classmethod in the window's process (to record the concrete choice in the recipe), so it reads
one small file once and caches the answer. Not part of the plugin contract (see
:mod:`studio.builtin_support`).

Only Linux exposes the flags this way; where the file cannot be read (macOS, Windows, a
sandbox) the answer is "no fast bfloat16", which keeps float32: slower on such a machine
perhaps, never wrong.
"""

from __future__ import annotations

import functools
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
FAST_BFLOAT16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
"""CPU flags (as Linux names them) that make bfloat16 matrix maths fast."""


def parse_cpu_flags(text: str) -> frozenset[str]:
    """The feature flags of the first processor in a ``/proc/cpuinfo`` text (x86 ``flags``,
    Arm ``Features``); empty when there is no such line."""
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def read_cpu_flags(path: Path | None = None) -> frozenset[str]:
    """The CPU's feature flags from ``path`` (default :data:`CPUINFO`); empty where it cannot
    be read."""
    try:
        with open(path or CPUINFO, encoding="utf-8", errors="replace") as handle:
            return parse_cpu_flags(handle.read())
    except OSError:
        return frozenset()


def has_fast_bfloat16(flags: frozenset[str]) -> bool:
    """Whether these flags include bfloat16 in hardware (AMX or AVX-512 BF16)."""
    return bool(flags & FAST_BFLOAT16_FLAGS)


@functools.cache
def fast_bfloat16_cpu() -> bool:
    """Whether this machine's CPU does bfloat16 maths fast (AMX or AVX-512 BF16); False where
    ``/proc/cpuinfo`` cannot be read. Read once, then cached."""
    return has_fast_bfloat16(read_cpu_flags())
