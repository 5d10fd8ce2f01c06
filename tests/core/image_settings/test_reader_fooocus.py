"""Fooocus: JSON in ``parameters``; seeds past 2^53 stay exact."""

from __future__ import annotations

import json

from studio.core.image_settings import SettingsSource, read_image_settings
from studio.core.image_settings.fooocus import read
from studio.plugin_api import LoraWeight, SettingsDialect
from tests.core.image_settings.builders import png_with, text_chunk

DATA = {
    "prompt": "a smiling goldfish", "negative_prompt": "", "steps": 30, "guidance_scale": 4,
    "seed": "6952411511246973023", "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras",
    "resolution": "(768, 1280)", "base_model": "juggernautXL_v8", "base_model_hash": "aeb7e9e689",
    "loras": [["sd_xl_offset_example-lora_1.0.safetensors", 0.1]], "sharpness": 2,
    "metadata_scheme": "fooocus", "version": "Fooocus v2.4.3",
}  # fmt: skip


def test_fooocus_json_in_parameters():
    restored = read_image_settings(
        png_with(
            text_chunk("parameters", json.dumps(DATA)), text_chunk("fooocus_scheme", "fooocus")
        )
    )
    assert restored.source is SettingsSource.FOOOCUS
    settings = restored.settings
    assert settings.dialect is SettingsDialect.FOOOCUS
    assert settings.seed == 6952411511246973023 and settings.seed > 2**53  # exact
    assert (settings.width, settings.height) == (768, 1280)
    assert (settings.sampler, settings.schedule) == ("dpmpp_2m_sde_gpu", "karras")
    assert (settings.model_name, settings.model_hash) == ("juggernautXL_v8", "aeb7e9e689")
    assert settings.loras == (
        LoraWeight(name="sd_xl_offset_example-lora_1.0.safetensors", weight=0.1),
    )
    assert ("sharpness", "2") in settings.other


def test_other_json_in_parameters_is_not_fooocus():
    assert read({"parameters": json.dumps({"prompt": "x"})}) is None
    assert read({"parameters": json.dumps({"prompt": "x"}), "fooocus_scheme": "fooocus"})
