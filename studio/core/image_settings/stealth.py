"""AUTOMATIC1111's "stealth" text: the settings hidden in the pixels' lowest bits.

The stealth-pnginfo extension writes, pixel by pixel down each column then across (x outer, y
inner), one bit per pixel in the alpha channel (``stealth_pnginfo`` plain, ``stealth_pngcomp``
gzip) or three per pixel in red, green and blue (``stealth_rgbinfo``, ``stealth_rgbcomp``): the
signature, the payload's length in bits (32 bits), then the payload. Only images up to
:data:`MAX_PIXELS` are decoded, and the payload may not inflate past 1 MiB.
"""

from __future__ import annotations

import gzip
import io
import zlib

MAX_PIXELS = 40_000_000
MAX_TEXT = 1 << 20
_SIGNATURES = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
_SIGNATURE_BITS = 15 * 8


def read_stealth(data: bytes) -> str | None:
    """The hidden text, or None when there is none (or the image cannot be decoded)."""
    try:
        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                return None
            if image.mode not in ("RGBA", "RGB", "LA", "P"):
                return None
            pixels = np.asarray(image.convert("RGBA"))
    except Exception:  # a hostile image is "no stealth text", never a crash
        return None
    columns = pixels.transpose(1, 0, 2)  # x outer, y inner
    has_alpha = bool((pixels[..., 3] != 255).any())
    for mode in ("alpha", "rgb"):
        if mode == "alpha" and not has_alpha:
            continue
        planes = columns[..., 3:4] if mode == "alpha" else columns[..., :3]
        bits = (planes & 1).reshape(-1)
        text = _payload(bits, mode)
        if text is not None:
            return text
    return None


def _bytes(bits, start: int, count: int) -> bytes | None:
    import numpy as np

    if start + count > len(bits):
        return None
    return np.packbits(bits[start : start + count]).tobytes()


def _payload(bits, mode: str) -> str | None:
    signature = _bytes(bits, 0, _SIGNATURE_BITS)
    if signature not in _SIGNATURES or _SIGNATURES[signature][0] != mode:
        return None
    compressed = _SIGNATURES[signature][1]
    length_bytes = _bytes(bits, _SIGNATURE_BITS, 32)
    if length_bytes is None:
        return None
    length = int.from_bytes(length_bytes, "big")
    if length <= 0 or length % 8 or length > 8 * MAX_TEXT:
        return None
    payload = _bytes(bits, _SIGNATURE_BITS + 32, length)
    if payload is None:
        return None
    if compressed:
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip
            payload = inflater.decompress(payload, MAX_TEXT)
            if inflater.unconsumed_tail:
                return None
        except (zlib.error, gzip.BadGzipFile):
            return None
    return payload.decode("utf-8", "replace")
