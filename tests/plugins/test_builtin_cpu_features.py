"""studio.builtin_support.cpu_features: the CPU's bfloat16 support, read from /proc/cpuinfo."""

from __future__ import annotations

import subprocess
import sys

from studio.builtin_support import cpu_features
from studio.builtin_support.cpu_features import (
    fast_bfloat16_cpu,
    has_fast_bfloat16,
    parse_cpu_flags,
    read_cpu_flags,
)

SAPPHIRE_RAPIDS = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse2 avx avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu vme sse2 avx avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
"""
ZEN4 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx512f avx512_bf16 avx512_vnni\n"
EPYC_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes sha2 crc32 bf16 i8mm\n"


def test_the_flags_are_those_of_the_first_processor():
    flags = parse_cpu_flags(SAPPHIRE_RAPIDS)
    assert {"amx_bf16", "avx512_bf16", "avx2"} <= flags and "spectre_v1" not in flags
    assert "asimd" in parse_cpu_flags(ARM)
    assert parse_cpu_flags("") == frozenset()
    assert parse_cpu_flags("processor : 0\nmodel name : flags are not here\n") == frozenset()


def test_amx_or_avx512_bf16_is_fast_bfloat16_and_avx2_is_not():
    assert has_fast_bfloat16(parse_cpu_flags(SAPPHIRE_RAPIDS))
    assert has_fast_bfloat16(parse_cpu_flags(ZEN4))
    assert not has_fast_bfloat16(parse_cpu_flags(EPYC_AVX2))
    assert not has_fast_bfloat16(parse_cpu_flags(ARM))  # Arm's bf16 is not used here


def test_a_fake_cpuinfo_file_is_read_and_an_unreadable_one_means_no(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(SAPPHIRE_RAPIDS, encoding="utf-8")
    assert "amx_bf16" in read_cpu_flags(path)
    assert read_cpu_flags(tmp_path / "missing") == frozenset()
    assert read_cpu_flags(tmp_path) == frozenset()  # a folder: not readable as a file


def test_the_machines_answer_is_read_once_and_cached(tmp_path, monkeypatch):
    path = tmp_path / "cpuinfo"
    path.write_text(SAPPHIRE_RAPIDS, encoding="utf-8")
    monkeypatch.setattr(cpu_features, "CPUINFO", path)
    fast_bfloat16_cpu.cache_clear()
    try:
        assert fast_bfloat16_cpu() is True
        path.write_text(EPYC_AVX2, encoding="utf-8")
        assert fast_bfloat16_cpu() is True  # cached: the file is not read again
        fast_bfloat16_cpu.cache_clear()
        assert fast_bfloat16_cpu() is False
        path.unlink()
        fast_bfloat16_cpu.cache_clear()
        assert fast_bfloat16_cpu() is False
    finally:
        fast_bfloat16_cpu.cache_clear()


def test_importing_it_imports_nothing_heavy():
    code = (
        "import sys, studio.builtin_support.cpu_features as c; c.fast_bfloat16_cpu(); "
        "print(sorted(m for m in ('torch', 'numpy', 'PySide6', 'studio.core') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
