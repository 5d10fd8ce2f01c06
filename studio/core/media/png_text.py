"""PNG text chunks (``tEXt``, ``zTXt``, ``iTXt``), read and written without touching pixels.

Writing splices chunks into the file; the image data is copied byte for byte, never decoded
and encoded again.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
MAX_TEXT_BYTES = 8 << 20  # a compressed chunk may not inflate to more than this


class PngError(ValueError):
    """The bytes are not a well-formed PNG."""


def iter_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(type, body)`` of every chunk, CRCs checked, up to and including ``IEND``."""
    if not data.startswith(PNG_SIGNATURE):
        raise PngError("not a PNG file")
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            raise PngError("a PNG chunk runs past the end of the file")
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + body) != crc:
            raise PngError(f"the PNG chunk {kind!r} is corrupt")
        yield kind, body
        if kind == b"IEND":
            return
        position = end
    raise PngError("the PNG file has no end chunk")


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the ``IHDR`` chunk."""
    for kind, body in iter_chunks(data):
        if kind == b"IHDR":
            return struct.unpack(">II", body[:8])
    raise PngError("the PNG file has no header chunk")


def _inflate(body: bytes) -> bytes:
    inflater = zlib.decompressobj()
    text = inflater.decompress(body, MAX_TEXT_BYTES)
    if inflater.unconsumed_tail:
        raise PngError("a PNG text chunk is too large")
    return text


def decode_text_chunk(kind: bytes, body: bytes) -> tuple[str, str]:
    """(keyword, text) of one text chunk."""
    keyword, _, rest = body.partition(b"\x00")
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return name, rest.decode("latin-1")
    if kind == b"zTXt":
        return name, _inflate(rest[1:]).decode("latin-1")
    compressed, _method = rest[0], rest[1]
    _language, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    return name, (_inflate(text) if compressed else text).decode("utf-8")


def read_texts(data: bytes) -> dict[str, str]:
    """Every text chunk's keyword and text (the first chunk wins when a keyword repeats)."""
    texts: dict[str, str] = {}
    for kind, body in iter_chunks(data):
        if kind in TEXT_CHUNKS:
            try:
                keyword, text = decode_text_chunk(kind, body)
            except (UnicodeDecodeError, IndexError, zlib.error):
                continue  # one unreadable comment does not make the image unreadable
            texts.setdefault(keyword, text)
    return texts


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def text_chunk(keyword: str, text: str) -> bytes:
    """A ``tEXt`` chunk when the text is Latin-1, else an uncompressed UTF-8 ``iTXt`` chunk
    (what Pillow and the A1111 web UI write)."""
    name = keyword.encode("latin-1")
    if not 1 <= len(name) <= 79:
        raise ValueError(f"PNG keyword {keyword!r} must be 1 to 79 characters")
    try:
        return _chunk(b"tEXt", name + b"\x00" + text.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", name + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def with_texts(data: bytes, texts: Mapping[str, str]) -> bytes:
    """The PNG with these text chunks (replacing chunks of the same keywords), placed before
    the image data."""
    replaced = {key.encode("latin-1") for key in texts}
    out = [PNG_SIGNATURE]
    inserted = False
    for kind, body in iter_chunks(data):
        if kind in TEXT_CHUNKS and body.partition(b"\x00")[0] in replaced:
            continue
        if not inserted and kind in (b"IDAT", b"IEND"):
            out.extend(text_chunk(key, value) for key, value in texts.items())
            inserted = True
        out.append(_chunk(kind, body))
    return b"".join(out)
