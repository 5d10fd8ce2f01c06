"""AUTOMATIC1111's text, in every carrier, with its newer ``Hashes`` JSON and LoRA hashes."""

from __future__ import annotations

from studio.core.image_settings import SettingsSource, read_image_settings
from studio.core.image_settings.a1111 import from_a1111, read
from studio.plugin_api import LoraWeight
from tests.core.image_settings.builders import (
    jpeg_with_exif,
    png_with,
    stealth_png,
    text_chunk,
    tiff,
    user_comment,
    webp_with_exif,
)

TEXT = (
    "a cat <lora:ink:0.6>\nNegative prompt: dogs\n"
    "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x768, "
    'Model: dreamy, Hashes: {"model": "0123456789", "lora:ink": "abcdef0123", "embed:x": "ff"}, '
    "Clip skip: 2, Version: v1.10"
)


QUOTED = TEXT.replace(
    'Hashes: {"model": "0123456789", "lora:ink": "abcdef0123", "embed:x": "ff"}',
    'Hashes: "{\\"model\\": \\"0123456789\\", \\"lora:ink\\": \\"abcdef0123\\", '
    '\\"embed:x\\": \\"ff\\"}"',
)


def test_the_settings_and_the_hashes_json_quoted_as_a1111_writes_it_or_bare():
    assert QUOTED != TEXT
    assert from_a1111(QUOTED).settings == from_a1111(TEXT).settings
    settings = from_a1111(TEXT).settings
    assert (settings.prompt, settings.negative_prompt) == ("a cat <lora:ink:0.6>", "dogs")
    assert (settings.steps, settings.seed, settings.guidance) == (20, 42, 7.0)
    assert (settings.width, settings.height) == (512, 768)
    assert (settings.sampler, settings.schedule) == ("DPM++ 2M", "Karras")
    assert (settings.model_name, settings.model_hash) == ("dreamy", "0123456789")
    assert settings.loras == (LoraWeight(name="ink", weight=0.6, hash="abcdef0123"),)
    assert dict(settings.other) == {"Clip skip": "2", "Hashes": '{"embed:x": "ff"}'}


def test_json_in_parameters_is_not_a1111():
    assert read({"parameters": '{"prompt": "x"}'}) is None
    assert read({"parameters": "  "}) is None


def test_every_carrier_gives_the_same_settings():
    block = tiff({}, {0x9286: (7, user_comment(TEXT))})
    images = [
        png_with(text_chunk("parameters", TEXT, "iTXt")),
        png_with(text_chunk("parameters", TEXT, "zTXt"), after_idat=True),
        jpeg_with_exif(block),
        webp_with_exif(block),
        stealth_png(TEXT, size=(64, 64)),
    ]
    for data in images:
        restored = read_image_settings(data)
        assert restored.source is SettingsSource.AUTOMATIC1111
        assert restored.settings == from_a1111(TEXT).settings
