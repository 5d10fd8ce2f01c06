"""Tiny media written with the standard library only (sample inputs, test plugins)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """A minimal RGB PNG encoder (no Pillow needed)."""
    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def write_sample_png(path: Path, width: int = 32, height: int = 32) -> Path:
    """Write a small red-to-blue gradient PNG and return its path."""
    rows = []
    for y in range(height):
        t = y / max(1, height - 1)
        rows.append(bytes((round(255 * (1 - t)), 64, round(255 * t))) * width)
    path.write_bytes(encode_png(width, height, b"".join(rows)))
    return path
