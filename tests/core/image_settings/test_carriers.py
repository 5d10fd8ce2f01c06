"""Where images carry their settings: PNG chunks anywhere, EXIF in JPEG, WebP and PNG, the
stealth bits; and what a hostile file gets (the rest is still read, nothing crashes)."""

from __future__ import annotations

import struct
import zlib

import pytest

from studio.core.image_settings.carriers import read_carriers
from studio.core.image_settings.exif import decode_user_comment, read_exif_strings
from studio.core.media import png_text
from tests.core.image_settings.builders import (
    chunk,
    jpeg_with_exif,
    plain_png,
    png_with,
    stealth_png,
    text_chunk,
    tiff,
    user_comment,
    webp_with_exif,
)

A1111 = "a cat\nNegative prompt: dogs\nSteps: 5, Sampler: Euler, CFG scale: 7, Seed: 3"


@pytest.mark.parametrize("kind", ["tEXt", "zTXt", "iTXt"])
@pytest.mark.parametrize("after_idat", [False, True])
def test_png_text_chunks_of_every_kind_before_or_after_the_image_data(kind, after_idat):
    data = png_with(text_chunk("parameters", A1111, kind), after_idat=after_idat)
    carriers = read_carriers(data)
    assert carriers.texts["parameters"] == A1111
    assert carriers.where["parameters"] == f"PNG {kind} 'parameters'"


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le"])
@pytest.mark.parametrize("order", [">", "<"])
def test_a_jpeg_user_comment_in_utf16_of_either_byte_order_in_either_tiff(encoding, order):
    block = tiff({}, {0x9286: (7, user_comment(A1111 + " ü", encoding))}, order=order)
    carriers = read_carriers(jpeg_with_exif(block))
    assert carriers.format == "JPEG"
    assert carriers.texts["parameters"] == A1111 + " ü"


def test_a_webp_carries_comfyui_graphs_in_make_and_model():
    block = tiff({0x010F: (2, b'workflow:{"nodes": []}\x00'), 0x0110: (2, b'prompt:{"3": {}}\x00')})
    carriers = read_carriers(webp_with_exif(block))
    assert carriers.texts["workflow"] == '{"nodes": []}'
    assert carriers.texts["prompt"] == '{"3": {}}'
    assert carriers.where["prompt"] == "WebP EXIF Model"


def test_a_png_exif_chunk_is_read_too():
    block = tiff({}, {0x9286: (7, b"ASCII\x00\x00\x00" + A1111.encode())})
    carriers = read_carriers(png_with(chunk(b"eXIf", block)))
    assert carriers.texts["parameters"] == A1111


@pytest.mark.parametrize("compressed", [True, False])
@pytest.mark.parametrize("rgb", [False, True])
def test_stealth_text_in_the_alpha_channel_or_in_red_green_and_blue(compressed, rgb):
    carriers = read_carriers(stealth_png(A1111, compressed=compressed, rgb=rgb))
    assert carriers.texts["parameters"] == A1111


def test_a_picture_without_stealth_text_has_none():
    assert read_carriers(plain_png(mode="RGBA")).texts == {}


def test_a_chunk_declaring_a_gigabyte_ends_the_reading_but_keeps_what_came_before():
    huge = struct.pack(">I", 1 << 30) + b"tEXt" + b"parameters\x00tail"
    data = png_with(text_chunk("parameters", A1111), huge)
    assert read_carriers(data).texts["parameters"] == A1111


def test_a_chunk_with_a_bad_crc_is_skipped_and_the_next_one_read():
    bad = chunk(b"tEXt", b"parameters\x00forged", crc=1)
    data = png_with(bad, text_chunk("parameters", A1111))
    assert read_carriers(data).texts["parameters"] == A1111


def test_a_ztxt_bomb_is_not_inflated():
    bomb = chunk(b"zTXt", b"parameters\x00\x00" + zlib.compress(b"a" * (64 << 20), 9))
    data = png_with(bomb, text_chunk("Comment", "kept"))
    carriers = read_carriers(data)
    assert "parameters" not in carriers.texts and carriers.texts["Comment"] == "kept"
    assert png_text.MAX_TEXT_BYTES < 64 << 20


def test_exif_with_a_loop_a_huge_count_and_offsets_past_the_end_is_read_safely():
    looped = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
    looped += struct.pack(">HHII", 0x8769, 4, 1, 8) + b"\x00" * 4  # its EXIF IFD is itself
    assert read_exif_strings(looped) == {}
    many = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 65535) + b"\x00" * 24
    assert read_exif_strings(many) == {}
    past = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
    past += struct.pack(">HHII", 0x010E, 2, 1 << 30, 40) + b"\x00" * 4
    assert read_exif_strings(past) == {}
    assert read_exif_strings(b"not tiff at all") == {}


def test_user_comment_character_sets():
    assert decode_user_comment(b"UNICODE\x00\xfe\xff\x00h\x00i") == "hi"  # a BOM decides
    assert decode_user_comment(b"ASCII\x00\x00\x00hi") == "hi"
    assert decode_user_comment(b"\x00" * 8 + b"hi") == "hi"


def test_other_files_and_truncated_images_give_no_texts():
    assert read_carriers(b"GIF89a...").format == ""
    data = png_with(text_chunk("parameters", A1111))
    for cut in (8, 20, 40, len(data) // 2, len(data) - 3):
        read_carriers(data[:cut])  # never raises
    assert read_carriers(b"\xff\xd8\xff\xe1\xff\xff").texts == {}
    assert read_carriers(b"RIFF\x00\x00\x00\x00WEBPEXIF\xff\xff\xff\xff").texts == {}
