"""Every place an image file carries text, read from PNG, JPEG and WebP without trusting it.

- PNG: ``tEXt``, ``zTXt`` and ``iTXt`` chunks anywhere in the file (also after the image data),
  and an ``eXIf`` chunk;
- JPEG: the EXIF block (``APP1``) and ``COM`` comments;
- WebP (still and animated): the ``EXIF`` chunk;
- when none holds settings: AUTOMATIC1111's "stealth" text in the pixels' lowest bits
  (:mod:`.stealth`).

EXIF fields are filed under the keys the readers know: ``UserComment`` under ``parameters``
(AUTOMATIC1111 writes its text there in a JPEG or WebP), ComfyUI's ``workflow:``/``prompt:``
strings under ``workflow`` and ``prompt``. A chunk that declares more bytes than the file has,
a CRC that does not match, a compressed chunk that inflates past 8 MiB: that chunk is left out
and the reading goes on with the rest.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from studio.core.image_settings.exif import read_exif_strings
from studio.core.image_settings.stealth import read_stealth
from studio.core.media import png_text

MAX_CHUNKS = 4096
"""Chunks or segments looked at, at most (a file of millions of empty chunks is cut short)."""
SETTINGS_KEYS = (
    "studio-recipe",
    "parameters",
    "prompt",
    "workflow",
    "Dream",
    "sd-metadata",
    "invokeai_metadata",
    "Comment",
    "sui_image_params",
)


@dataclass
class Carriers:
    """The texts an image carries, by key, and where each was found."""

    format: str
    texts: dict[str, str] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, text: str, where: str) -> None:
        if key not in self.texts and text:
            self.texts[key] = text
            self.where[key] = where

    def add_exif(self, tiff: bytes, where: str) -> None:
        for name, value in read_exif_strings(tiff).items():
            for prefix in ("workflow:", "prompt:"):
                if value.startswith(prefix):
                    self.add(prefix[:-1], value[len(prefix) :], f"{where} {name}")
                    break
            else:
                if name == "UserComment":
                    self.add("parameters", value, f"{where} UserComment")

    @property
    def holds_settings(self) -> bool:
        return any(key in self.texts for key in SETTINGS_KEYS)


def image_format(data: bytes) -> str:
    if data.startswith(png_text.PNG_SIGNATURE):
        return "PNG"
    if data.startswith(b"\xff\xd8"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return ""


def read_carriers(data: bytes) -> Carriers:
    """The texts ``data`` carries (none when it is no PNG, JPEG or WebP)."""
    fmt = image_format(data)
    carriers = Carriers(fmt)
    if fmt == "PNG":
        _png(data, carriers)
    elif fmt == "JPEG":
        _jpeg(data, carriers)
    elif fmt == "WebP":
        _webp(data, carriers)
    if fmt in ("PNG", "WebP") and not carriers.holds_settings:
        hidden = read_stealth(data)
        if hidden:
            carriers.add("parameters", hidden, "the pixels' lowest bits (stealth text)")
    return carriers


def _png(data: bytes, carriers: Carriers) -> None:
    position = len(png_text.PNG_SIGNATURE)
    for _ in range(MAX_CHUNKS):
        if position + 12 > len(data):
            return
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            return  # declares more than the file holds: the rest is not read
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + body) == crc:
            if kind in png_text.TEXT_CHUNKS:
                try:
                    keyword, text = png_text.decode_text_chunk(kind, body)
                except (png_text.PngError, UnicodeDecodeError, IndexError, zlib.error):
                    pass  # one unreadable or oversized comment: the others still count
                else:
                    carriers.add(keyword, text, f"PNG {kind.decode()} '{keyword}'")
            elif kind == b"eXIf":
                carriers.add_exif(body, "PNG EXIF")
        if kind == b"IEND":
            return
        position = end


def _jpeg(data: bytes, carriers: Carriers) -> None:
    position = 2
    for _ in range(MAX_CHUNKS):
        while position < len(data) and data[position] == 0xFF and position + 1 < len(data):
            if data[position + 1] != 0xFF:
                break
            position += 1  # fill bytes
        if position + 4 > len(data) or data[position] != 0xFF:
            return
        marker = data[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        if marker in (0xDA, 0xD9):  # the image data starts (or the file ends)
            return
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        if length < 2 or end > len(data):
            return
        body = data[position + 4 : end]
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            carriers.add_exif(body[6:], "JPEG EXIF")
        elif marker == 0xFE:
            carriers.add("comment", body.decode("utf-8", "replace"), "JPEG comment")
        position = end


def _webp(data: bytes, carriers: Carriers) -> None:
    position = 12
    for _ in range(MAX_CHUNKS):
        if position + 8 > len(data):
            return
        kind = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        end = position + 8 + size
        if end > len(data):
            return
        if kind == b"EXIF":
            carriers.add_exif(data[position + 8 : end], "WebP EXIF")
        position = end + (size & 1)
