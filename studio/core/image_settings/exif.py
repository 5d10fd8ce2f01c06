"""The text fields of an EXIF block (a TIFF structure), read without trusting its numbers.

Generators write their settings into a few EXIF strings: AUTOMATIC1111 into ``UserComment``
(8 bytes naming the character set, then UTF-16 in either byte order), ComfyUI's WebP into
``Make`` (``workflow:{...}``) and ``Model`` (``prompt:{...}``), others into
``ImageDescription``. Every offset and count is checked against the block; a loop of IFDs, a
count of millions or an offset past the end ends the reading, never the program.
"""

from __future__ import annotations

import struct

TAGS = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x9286: "UserComment",
    0x9C9C: "XPComment",
}
_EXIF_IFD = 0x8769
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 7: 1}
_MAX_ENTRIES = 512
_MAX_IFDS = 4


def read_exif_strings(tiff: bytes) -> dict[str, str]:
    """The known text fields of a TIFF-structured EXIF block (``II*\\0`` or ``MM\\0*``);
    empty when it is not one."""
    if tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    if len(tiff) < 8:
        return {}
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        return {}
    found: dict[str, str] = {}
    seen: set[int] = set()
    pending = [struct.unpack(order + "I", tiff[4:8])[0]]
    while pending and len(seen) < _MAX_IFDS:
        offset = pending.pop(0)
        if offset in seen or offset + 2 > len(tiff):
            continue
        seen.add(offset)
        (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
        for index in range(min(count, _MAX_ENTRIES)):
            at = offset + 2 + 12 * index
            if at + 12 > len(tiff):
                break
            tag, kind, number = struct.unpack(order + "HHI", tiff[at : at + 8])
            if tag == _EXIF_IFD and kind == 4:
                pending.append(struct.unpack(order + "I", tiff[at + 8 : at + 12])[0])
                continue
            if tag not in TAGS or kind not in _TYPE_SIZES:
                continue
            size = number * _TYPE_SIZES[kind]
            if size <= 4:
                raw = tiff[at + 8 : at + 8 + size]
            else:
                (start,) = struct.unpack(order + "I", tiff[at + 8 : at + 12])
                if start + size > len(tiff):
                    continue  # a length past the block: not read
                raw = tiff[start : start + size]
            text = _decode(TAGS[tag], raw, order)
            if text:
                found.setdefault(TAGS[tag], text)
    return found


def _decode(name: str, raw: bytes, order: str) -> str:
    if name == "UserComment":
        return decode_user_comment(raw, order)
    if name == "XPComment":
        return raw.decode("utf-16-le", "replace").rstrip("\x00")
    text = raw.rstrip(b"\x00")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1")


def decode_user_comment(raw: bytes, order: str = ">") -> str:
    """``UserComment``: an 8-byte character set name, then the text. ``UNICODE`` is UTF-16 in
    the byte order of a BOM, else the one whose text reads as text (writers disagree: piexif
    writes big-endian whatever the TIFF's order), else the TIFF's."""
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            return body.decode("utf-16", "replace").rstrip("\x00")
        return _utf16_either(body, order).rstrip("\x00")
    if head.startswith(b"ASCII"):
        return body.decode("latin-1").rstrip("\x00")
    try:
        return body.decode("utf-8").rstrip("\x00")
    except UnicodeDecodeError:
        return ""


def _utf16_either(body: bytes, order: str) -> str:
    body = body[: len(body) // 2 * 2]
    # Latin text in UTF-16 has its zero bytes at even places (big-endian) or odd (little).
    even_zeros = body[0::2].count(0)
    odd_zeros = body[1::2].count(0)
    if even_zeros != odd_zeros:
        encoding = "utf-16-be" if even_zeros > odd_zeros else "utf-16-le"
    else:
        encoding = "utf-16-be" if order == ">" else "utf-16-le"
    return body.decode(encoding, "replace")
