"""Vorbis comments in FLAC and Ogg (Vorbis or Opus) files, read and written losslessly.

The audio is never decoded: FLAC gets a new ``VORBIS_COMMENT`` metadata block; in Ogg the
comment header packet is replaced and the header pages are laid out again (later pages are
renumbered and get new checksums). Existing comments are kept, except the keys being written.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Comments = list[tuple[str, str]]

VENDOR = "Studio"
_FLAC_STREAMINFO, _FLAC_VORBIS_COMMENT = 0, 4
_VORBIS_COMMENT_MAGIC = b"\x03vorbis"
_OPUS_TAGS_MAGIC = b"OpusTags"


class CommentError(ValueError):
    """The file's structure does not allow reading or writing comments."""


def parse_comment_block(body: bytes) -> tuple[str, Comments]:
    """(vendor, [(KEY, value)...]) of a Vorbis comment block (keys upper-cased)."""
    try:
        (vendor_length,) = struct.unpack_from("<I", body, 0)
        vendor = body[4 : 4 + vendor_length].decode("utf-8", errors="replace")
        position = 4 + vendor_length
        (count,) = struct.unpack_from("<I", body, position)
        position += 4
        comments: Comments = []
        for _ in range(count):
            (length,) = struct.unpack_from("<I", body, position)
            entry = body[position + 4 : position + 4 + length]
            if len(entry) != length:
                raise CommentError("a Vorbis comment runs past its block")
            position += 4 + length
            key, sep, value = entry.decode("utf-8", errors="replace").partition("=")
            if sep:
                comments.append((key.upper(), value))
    except struct.error as exc:
        raise CommentError(f"the Vorbis comment block is malformed ({exc})") from exc
    return vendor, comments


def build_comment_block(vendor: str, comments: Iterable[tuple[str, str]]) -> bytes:
    """A Vorbis comment block (without a codec's magic or framing bit)."""
    entries = [f"{key}={value}".encode() for key, value in comments]
    raw_vendor = vendor.encode("utf-8")
    parts = [struct.pack("<I", len(raw_vendor)), raw_vendor, struct.pack("<I", len(entries))]
    for entry in entries:
        parts += [struct.pack("<I", len(entry)), entry]
    return b"".join(parts)


def merge_comments(existing: Comments, new: Mapping[str, str]) -> Comments:
    """The existing comments without the keys of ``new``, then ``new``."""
    replaced = {key.upper() for key in new}
    kept = [(key, value) for key, value in existing if key.upper() not in replaced]
    return kept + [(key.upper(), value) for key, value in new.items()]


# FLAC


def _flac_blocks(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    if not data.startswith(b"fLaC"):
        raise CommentError("not a FLAC file")
    blocks = []
    position = 4
    while True:
        if position + 4 > len(data):
            raise CommentError("the FLAC metadata runs past the end of the file")
        header = data[position]
        length = int.from_bytes(data[position + 1 : position + 4], "big")
        body = data[position + 4 : position + 4 + length]
        if len(body) != length:
            raise CommentError("a FLAC metadata block runs past the end of the file")
        blocks.append((header & 0x7F, body))
        position += 4 + length
        if header & 0x80:
            return blocks, position


def read_flac_comments(data: bytes) -> Comments:
    """The Vorbis comments of a FLAC file (empty when it has none)."""
    blocks, _ = _flac_blocks(data)
    for kind, body in blocks:
        if kind == _FLAC_VORBIS_COMMENT:
            return parse_comment_block(body)[1]
    return []


def flac_with_comments(data: bytes, new: Mapping[str, str]) -> bytes:
    """The FLAC file with these comments set (others kept); frames copied unchanged."""
    blocks, audio_start = _flac_blocks(data)
    if not blocks or blocks[0][0] != _FLAC_STREAMINFO:
        raise CommentError("the FLAC file does not start with STREAMINFO")
    vendor, existing = VENDOR, []
    for kind, body in blocks:
        if kind == _FLAC_VORBIS_COMMENT:
            vendor, existing = parse_comment_block(body)
    comment = build_comment_block(vendor, merge_comments(existing, new))
    if len(comment) >= 1 << 24:
        raise CommentError("the comments are too large for a FLAC metadata block")
    kept = [(kind, body) for kind, body in blocks if kind != _FLAC_VORBIS_COMMENT]
    ordered = [kept[0], (_FLAC_VORBIS_COMMENT, comment), *kept[1:]]
    out = [b"fLaC"]
    for index, (kind, body) in enumerate(ordered):
        last = 0x80 if index == len(ordered) - 1 else 0
        out.append(bytes([last | kind]) + len(body).to_bytes(3, "big") + body)
    out.append(data[audio_start:])
    return b"".join(out)


# Ogg

_REVERSED_BITS = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(page: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, not reflected, initial 0).

    zlib computes the reflected CRC-32 fast in C; feeding it bit-reversed bytes and
    reversing the result gives the unreflected one. zlib's initial value and final XOR
    cancel out against the CRC of as many zero bytes (CRCs are linear).
    """
    reflected = page.translate(_REVERSED_BITS)
    value = zlib.crc32(reflected) ^ zlib.crc32(bytes(len(page)))
    return int(f"{value:032b}"[::-1], 2)


@dataclass(frozen=True)
class OggPage:
    """One Ogg page; ``to_bytes`` writes it with a fresh checksum."""

    flags: int
    granule: int
    serial: int
    sequence: int
    lacing: bytes
    body: bytes

    def to_bytes(self) -> bytes:
        header = struct.pack(
            "<4sBBqIIIB",
            b"OggS",
            0,
            self.flags,
            self.granule,
            self.serial,
            self.sequence,
            0,
            len(self.lacing),
        )
        page = header + self.lacing + self.body
        return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def parse_ogg_pages(data: bytes) -> list[OggPage]:
    """Every page of an Ogg file, in order."""
    pages = []
    position = 0
    while position < len(data):
        if data[position : position + 4] != b"OggS" or position + 27 > len(data):
            raise CommentError("the Ogg file has a broken page")
        _, version, flags, granule, serial, sequence, _, count = struct.unpack_from(
            "<4sBBqIIIB", data, position
        )
        lacing = data[position + 27 : position + 27 + count]
        size = sum(lacing)
        body = data[position + 27 + count : position + 27 + count + size]
        if version != 0 or len(lacing) != count or len(body) != size:
            raise CommentError("the Ogg file has a truncated page")
        pages.append(OggPage(flags, granule, serial, sequence, lacing, body))
        position += 27 + count + size
    return pages


def _header_packets(pages: list[OggPage], wanted: int) -> tuple[list[bytes], int]:
    """The first ``wanted`` packets and the number of pages they fill (they must end a page)."""
    packets: list[bytes] = []
    current = bytearray()
    for index, page in enumerate(pages):
        offset = 0
        for value in page.lacing:
            current += page.body[offset : offset + value]
            offset += value
            if value < 255:
                packets.append(bytes(current))
                current.clear()
        if len(packets) >= wanted:
            if len(packets) > wanted or current:
                raise CommentError("the Ogg header packets do not end on a page boundary")
            return packets, index + 1
    raise CommentError("the Ogg file ends inside its headers")


def _codec(pages: list[OggPage]) -> tuple[int, bytes]:
    """(number of header packets, comment packet magic) of the stream."""
    first = pages[0].body if pages else b""
    if first.startswith(b"\x01vorbis"):
        return 3, _VORBIS_COMMENT_MAGIC
    if first.startswith(b"OpusHead"):
        return 2, _OPUS_TAGS_MAGIC
    raise CommentError("the Ogg stream is neither Vorbis nor Opus")


def read_ogg_comments(data: bytes) -> Comments:
    """The comments of an Ogg Vorbis or Opus file."""
    pages = parse_ogg_pages(data)
    count, magic = _codec(pages)
    packets, _ = _header_packets(pages, count)
    comment = packets[1]
    if not comment.startswith(magic):
        raise CommentError("the Ogg comment header is missing")
    return parse_comment_block(comment[len(magic) :])[1]


def _paginate(packets: list[bytes], serial: int, first_sequence: int) -> list[OggPage]:
    lacing_values: list[int] = []
    payload = b"".join(packets)
    for packet in packets:
        full, rest = divmod(len(packet), 255)
        lacing_values += [255] * full + [rest]
    pages = []
    segment = offset = 0
    while segment < len(lacing_values):
        chunk = lacing_values[segment : segment + 255]
        size = sum(chunk)
        starts_inside = segment > 0 and lacing_values[segment - 1] == 255
        pages.append(
            OggPage(
                flags=0x01 if starts_inside else 0,
                granule=0,
                serial=serial,
                sequence=first_sequence + len(pages),
                lacing=bytes(chunk),
                body=payload[offset : offset + size],
            )
        )
        segment += len(chunk)
        offset += size
    return pages


def ogg_with_comments(data: bytes, new: Mapping[str, str]) -> bytes:
    """The Ogg Vorbis/Opus file with these comments set (others kept); audio pages copied,
    only renumbered when the header takes a different number of pages."""
    pages = parse_ogg_pages(data)
    if len({page.serial for page in pages}) != 1:
        raise CommentError("the Ogg file has several streams")
    count, magic = _codec(pages)
    packets, header_pages = _header_packets(pages, count)
    if not packets[1].startswith(magic):
        raise CommentError("the Ogg comment header is missing")
    vendor, existing = parse_comment_block(packets[1][len(magic) :])
    comment = magic + build_comment_block(vendor, merge_comments(existing, new))
    if magic == _VORBIS_COMMENT_MAGIC:
        comment += b"\x01"  # the framing bit that ends a Vorbis comment header
    serial = pages[0].serial
    rebuilt = _paginate([comment, *packets[2:]], serial, pages[0].sequence + 1)
    shift = len(rebuilt) - (header_pages - 1)
    out = [page.to_bytes() for page in (pages[0], *rebuilt)]
    for page in pages[header_pages:]:
        moved = OggPage(
            page.flags, page.granule, page.serial, page.sequence + shift, page.lacing, page.body
        )
        out.append(moved.to_bytes())
    return b"".join(out)
