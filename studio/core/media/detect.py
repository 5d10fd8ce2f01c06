"""Recognising media by content (magic bytes), and the file extensions that go with it.

Studio never trusts a file name: the content says what a file is, and a name whose extension
belongs to another format is a reason to refuse the file (a ``.png`` that holds a JPEG, a
``.wav`` that is not RIFF/WAVE).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.plugin_api.kinds import AssetKind


@dataclass(frozen=True)
class MediaFormat:
    """A format Studio can import and export.

    Attributes:
        name: what people call it, after "a" or "an" ("PNG image", "Ogg file").
        kind: the asset kind its content becomes.
        media_type: its MIME type.
        extensions: file name extensions (lowercase, with the dot); the first is used on export.
    """

    name: str
    kind: AssetKind
    media_type: str
    extensions: tuple[str, ...]

    @property
    def extension(self) -> str:
        return self.extensions[0]


PNG = MediaFormat("PNG image", AssetKind.IMAGE, "image/png", (".png",))
JPEG = MediaFormat("JPEG image", AssetKind.IMAGE, "image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif"))
WEBP = MediaFormat("WebP image", AssetKind.IMAGE, "image/webp", (".webp",))
GIF = MediaFormat("GIF image", AssetKind.IMAGE, "image/gif", (".gif",))
BMP = MediaFormat("BMP image", AssetKind.IMAGE, "image/bmp", (".bmp", ".dib"))
TIFF = MediaFormat("TIFF image", AssetKind.IMAGE, "image/tiff", (".tif", ".tiff"))
WAV = MediaFormat("WAV file", AssetKind.AUDIO, "audio/wav", (".wav", ".wave"))
FLAC = MediaFormat("FLAC file", AssetKind.AUDIO, "audio/flac", (".flac",))
OGG = MediaFormat("Ogg file", AssetKind.AUDIO, "audio/ogg", (".ogg", ".oga", ".opus"))
TEXT = MediaFormat("text file", AssetKind.TEXT, "text/plain", (".txt", ".text"))
MARKDOWN = MediaFormat("Markdown file", AssetKind.TEXT, "text/markdown", (".md", ".markdown"))

FORMATS = (PNG, JPEG, WEBP, GIF, BMP, TIFF, WAV, FLAC, OGG, TEXT, MARKDOWN)
BINARY_FORMATS = (PNG, JPEG, WEBP, GIF, BMP, TIFF, WAV, FLAC, OGG)
TEXT_FORMATS = (TEXT, MARKDOWN)

# Formats people will try that Studio does not import: refused by name, not mistaken for text.
_UNSUPPORTED_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"ID3", 0, "an MP3 file"),
    (b"%PDF-", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"ftyp", 4, "an MP4, QuickTime or HEIF file"),
    (b"\x1a\x45\xdf\xa3", 0, "a Matroska or WebM video"),
    (b"\x7fELF", 0, "a program"),
    (b"SQLite format 3\x00", 0, "an SQLite database"),
    (b"8BPS", 0, "a Photoshop document"),
    (b"\x00\x00\x01\x00", 0, "an ICO icon"),
)
_UNSUPPORTED_EXTENSIONS = {
    ".mp3": "an MP3 file",
    ".m4a": "an MP4 audio file",
    ".aac": "an AAC file",
    ".mp4": "an MP4 video",
    ".mov": "a QuickTime video",
    ".mkv": "a Matroska video",
    ".webm": "a WebM video",
    ".heic": "a HEIF image",
    ".avif": "an AVIF image",
    ".pdf": "a PDF document",
    ".zip": "a ZIP archive",
    ".psd": "a Photoshop document",
    ".ico": "an ICO icon",
    ".studio": "a Studio project",
}
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}


def sniff_format(data: bytes) -> MediaFormat | None:
    """The binary format ``data`` is in, by its magic bytes; None when it has none we know
    (it may still be text)."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAV
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OGG
    # "BM" alone would catch text that starts with those letters; check the header too.
    if (
        head.startswith(b"BM")
        and len(data) >= 18
        and data[6:10] == b"\x00\x00\x00\x00"
        and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES
    ):
        return BMP
    return None


def unsupported_format(data: bytes, path: Path | None = None) -> str | None:
    """A known format Studio does not import ("an MP3 file"), by content or extension."""
    for signature, offset, name in _UNSUPPORTED_SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return name
    if path is not None:
        return _UNSUPPORTED_EXTENSIONS.get(path.suffix.lower())
    return None


def format_for_extension(path: Path) -> MediaFormat | None:
    """The format a file name's extension claims, if it is one Studio knows."""
    suffix = path.suffix.lower()
    return next((f for f in FORMATS if suffix in f.extensions), None)


def format_for_media_type(media_type: str) -> MediaFormat | None:
    """The format of a MIME type (parameters such as ``; charset=utf-8`` are ignored)."""
    base = media_type.split(";", 1)[0].strip().lower()
    return next((f for f in FORMATS if f.media_type == base), None)
