"""Recognising formats by content, not by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.media import detect
from tests.core.fixtures.media_samples import audio_bytes, image_bytes, png_bytes


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png_bytes(), detect.PNG),
        (image_bytes("JPEG"), detect.JPEG),
        (image_bytes("WEBP"), detect.WEBP),
        (image_bytes("GIF"), detect.GIF),
        (image_bytes("BMP"), detect.BMP),
        (image_bytes("TIFF"), detect.TIFF),
        (audio_bytes("WAV"), detect.WAV),
        (audio_bytes("FLAC"), detect.FLAC),
        (audio_bytes("OGG", "VORBIS"), detect.OGG),
        (audio_bytes("OGG", "OPUS"), detect.OGG),
        (b"plain words", None),
        (b"BMW drivers know the way", None),  # starts with BM, is not a bitmap
        (b"", None),
    ],
)
def test_sniff_format(data: bytes, expected: detect.MediaFormat | None) -> None:
    assert detect.sniff_format(data) is expected


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"ID3\x04\x00rest", "a.bin", "an MP3 file"),
        (b"%PDF-1.7", "a.bin", "a PDF document"),
        (b"PK\x03\x04", "a.bin", "a ZIP archive"),
        (b"\x00\x00\x00\x18ftypmp42", "a.bin", "an MP4, QuickTime or HEIF file"),
        (b"just text", "song.mp3", "an MP3 file"),
        (b"\x00\x00\x01\x00\x01\x00\x10\x10", "favicon.bin", "an ICO icon"),
        (b"just text", "favicon.ico", "an ICO icon"),
        (b"just text", "notes.txt", None),
    ],
)
def test_unsupported_formats_are_named(data: bytes, name: str, expected: str | None) -> None:
    assert detect.unsupported_format(data, Path(name)) == expected


def test_extensions_and_media_types() -> None:
    assert detect.format_for_extension(Path("X.JPEG")) is detect.JPEG
    assert detect.format_for_extension(Path("voice.opus")) is detect.OGG
    assert detect.format_for_extension(Path("README")) is None
    assert detect.format_for_media_type("text/plain; charset=utf-8") is detect.TEXT
    assert detect.format_for_media_type("audio/flac") is detect.FLAC
    assert detect.format_for_media_type("video/mp4") is None
    assert all(f.extension == f.extensions[0] for f in detect.FORMATS)
