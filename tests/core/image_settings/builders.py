"""Images that carry settings the way each tool writes them, built here (no corpus needed)."""

from __future__ import annotations

import gzip
import io
import struct
import zlib

import numpy as np
from PIL import Image

from studio.core.media import png_text


def plain_png(size=(8, 8), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (120, 80, 40, 255)[: len(mode)]).save(buffer, "PNG")
    return buffer.getvalue()


def chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def text_chunk(keyword: str, text: str, kind: str = "tEXt") -> bytes:
    name = keyword.encode("latin-1") + b"\x00"
    if kind == "tEXt":
        return chunk(b"tEXt", name + text.encode("latin-1"))
    if kind == "zTXt":
        return chunk(b"zTXt", name + b"\x00" + zlib.compress(text.encode("latin-1")))
    return chunk(b"iTXt", name + b"\x01\x00" + b"\x00" + b"\x00" + zlib.compress(text.encode()))


def png_with(*chunks: bytes, after_idat: bool = False, base: bytes | None = None) -> bytes:
    """A PNG with ``chunks`` before its image data (or after it, before IEND)."""
    data = base or plain_png()
    parts = list(png_text.iter_chunks(data))
    out = [png_text.PNG_SIGNATURE]
    for kind, body in parts:
        if kind == (b"IEND" if after_idat else b"IDAT"):
            out.extend(chunks)
        out.append(chunk(kind, body))
    return b"".join(out)


def tiff(ifd0: dict[int, tuple[int, bytes]], exif: dict[int, tuple[int, bytes]] | None = None,
         order: str = ">") -> bytes:  # fmt: skip
    """A TIFF block: IFD0 with ``{tag: (type, bytes)}`` (and an EXIF IFD)."""
    head = (b"MM\x00*" if order == ">" else b"II*\x00") + struct.pack(order + "I", 8)
    entries = dict(ifd0)
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 7: 1}

    def ifd(fields: dict[int, tuple[int, bytes]], at: int) -> tuple[bytes, bytes]:
        table = struct.pack(order + "H", len(fields))
        data = b""
        data_at = at + 2 + 12 * len(fields) + 4
        for tag, (kind, raw) in sorted(fields.items()):
            count = len(raw) // sizes[kind]
            if len(raw) <= 4:
                table += struct.pack(order + "HHI", tag, kind, count) + raw.ljust(4, b"\x00")
            else:
                table += struct.pack(order + "HHII", tag, kind, count, data_at + len(data))
                data += raw + (b"\x00" if len(raw) % 2 else b"")
        return table + b"\x00\x00\x00\x00", data

    if exif:
        entries[0x8769] = (4, b"\x00\x00\x00\x00")  # placed below
        first, first_data = ifd(entries, 8)
        exif_at = 8 + len(first) + len(first_data)
        entries[0x8769] = (4, struct.pack(order + "I", exif_at))
        first, first_data = ifd(entries, 8)
        second, second_data = ifd(exif, exif_at)
        return head + first + first_data + second + second_data
    first, first_data = ifd(entries, 8)
    return head + first + first_data


def user_comment(text: str, encoding: str = "utf-16-be") -> bytes:
    return b"UNICODE\x00" + text.encode(encoding)


def jpeg_with_exif(tiff_block: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "JPEG", exif=b"Exif\x00\x00" + tiff_block)
    return buffer.getvalue()


def webp_with_exif(tiff_block: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "WEBP", exif=b"Exif\x00\x00" + tiff_block)
    return buffer.getvalue()


def stealth_png(text: str, compressed: bool = True, size=(64, 64), rgb: bool = False) -> bytes:
    """AUTOMATIC1111's stealth text in the lowest bits, column by column: one bit per pixel in
    the alpha channel, or (``rgb``) three per pixel in red, green and blue of an RGB picture."""
    payload = gzip.compress(text.encode()) if compressed else text.encode()
    mode = "rgb" if rgb else "png"
    signature = f"stealth_{mode}{'comp' if compressed else 'info'}".encode()
    bits = np.unpackbits(
        np.frombuffer(signature + struct.pack(">I", len(payload) * 8) + payload, np.uint8)
    )
    width, height = size
    planes = 3 if rgb else 1
    assert len(bits) <= width * height * planes, "the picture is too small for the text"
    values = np.full(width * height * planes, 200, np.uint8)
    values[: len(bits)] |= bits
    values[len(bits) :] &= 0xFE
    columns = values.reshape(width, height, planes)  # x outer, y inner
    if rgb:
        pixels = columns.transpose(1, 0, 2)
        image = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    else:
        pixels = np.full((height, width, 4), 200, np.uint8)
        pixels[..., 3] = columns[..., 0].T
        image = Image.fromarray(pixels, "RGBA")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
