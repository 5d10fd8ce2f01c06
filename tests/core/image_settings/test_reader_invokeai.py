"""InvokeAI's three formats, the newest one in the file read first."""

from __future__ import annotations

import json

from studio.core.image_settings.invokeai import from_dream, read, split_negative
from studio.plugin_api import LoraWeight, SettingsDialect

DREAM = (
    '"a red fox [blurry, lowres] in snow [text]" '
    "-s 30 -S 12345 -W 640 -H 512 -C 7.5 -A k_euler_a -G 0.8 -U 2 0.5"
)
SD_METADATA = {
    "model_weights": "dreamlike",
    "model_hash": "a" * 64,
    "app_version": "2.3.0",
    "image": {"prompt": [{"prompt": "a red fox [blurry]", "weight": 1.0}], "steps": 25,
              "cfg_scale": 6, "seed": 9, "width": 512, "height": 768, "sampler": "k_lms",
              "type": "img2img", "strength": 0.6, "perlin": 0},
}  # fmt: skip
METADATA = {
    "positive_prompt": "a red fox",
    "negative_prompt": "blurry",
    "width": 1024, "height": 1024, "seed": 3293022630, "cfg_scale": 8.0, "steps": 35,
    "scheduler": "dpmpp_2m_k",
    "model": {"model_name": "juggernautXL", "base_model": "sdxl", "hash": "blake3:ff"},
    "loras": [{"lora": {"model_name": "ink", "base_model": "sdxl"}, "weight": 0.5}],
    "rand_device": "cpu",
}  # fmt: skip


def test_the_dream_command_line():
    settings = from_dream(DREAM).settings
    assert settings.dialect is SettingsDialect.INVOKEAI
    assert settings.prompt == "a red fox in snow"
    assert settings.negative_prompt == "blurry, lowres, text"
    assert (settings.steps, settings.seed, settings.guidance) == (30, 12345, 7.5)
    assert (settings.width, settings.height, settings.sampler) == (640, 512, "k_euler_a")
    assert settings.other == (("-G", "0.8"), ("-U", "2 0.5"))


def test_sd_metadata_and_its_full_hash():
    settings = read({"sd-metadata": json.dumps(SD_METADATA), "Dream": DREAM}).settings
    assert (settings.prompt, settings.negative_prompt) == ("a red fox", "blurry")
    assert (settings.steps, settings.seed, settings.denoise) == (25, 9, 0.6)
    assert (settings.model_name, settings.model_hash) == ("dreamlike", "a" * 64)
    assert ("type", "img2img") in settings.other and ("perlin", "0") in settings.other


def test_invokeai_metadata_with_loras_wins_over_older_formats():
    texts = {"invokeai_metadata": json.dumps(METADATA), "Dream": DREAM}
    settings = read(texts).settings
    assert (settings.prompt, settings.seed, settings.sampler) == ("a red fox", 3293022630,
                                                                  "dpmpp_2m_k")  # fmt: skip
    assert settings.model_name == "juggernautXL" and settings.model_hash == "blake3:ff"
    assert settings.loras == (LoraWeight(name="ink", weight=0.5),)
    assert ("base model", "sdxl") in settings.other and ("rand_device", "cpu") in settings.other


def test_broken_input_reads_as_nothing():
    assert from_dream('"unclosed quote -s 5') is None
    assert from_dream("x" * (70 << 10)) is None
    assert read({"sd-metadata": '{"image": 5}'}) is None
    assert split_negative("a [b] c [d]") == ("a c", "b, d")
