"""SwarmUI, from its documented format (docs/Image Metadata Format.md in its repository): the
corpus holds no SwarmUI image, so this file is written here the way SwarmUI writes one."""

from __future__ import annotations

import json

from studio.core.image_settings import SettingsSource, read_image_settings
from studio.plugin_api import LoraWeight, SettingsDialect
from tests.core.image_settings.builders import (
    jpeg_with_exif,
    png_with,
    text_chunk,
    tiff,
    user_comment,
)

PARAMETERS = {
    "sui_image_params": {
        "prompt": "a lighthouse at dusk",
        "negativeprompt": "blurry",
        "model": "OfficialStableDiffusion/sd_xl_base_1.0",
        "seed": 305223794,
        "steps": 25,
        "cfgscale": 7.0,
        "aspectratio": "1:1",
        "width": 1024,
        "height": 1024,
        "sampler": "dpmpp_2m",
        "scheduler": "karras",
        "loras": ["ink", "grain"],
        "loraweights": ["0.7", "0.3"],
        "swarm_version": "0.9.5",
    },
    "sui_extra_data": {"date": "2025-01-02", "prep_time": "1 s"},
    "sui_models": [
        {"name": "sd_xl_base_1.0.safetensors", "param": "model", "hash": "0x" + "ab" * 32}
    ],
}


def test_swarmui_in_a_png_and_in_a_jpeg_user_comment():
    text = json.dumps(PARAMETERS, indent=2)
    images = [
        png_with(text_chunk("parameters", text, "iTXt")),
        jpeg_with_exif(tiff({}, {0x9286: (7, user_comment(text))})),
    ]
    for data in images:
        restored = read_image_settings(data)
        assert restored.source is SettingsSource.SWARMUI
        settings = restored.settings
        assert settings.dialect is SettingsDialect.SWARMUI
        assert (settings.prompt, settings.negative_prompt) == ("a lighthouse at dusk", "blurry")
        assert (settings.seed, settings.steps, settings.guidance) == (305223794, 25, 7.0)
        assert (settings.sampler, settings.schedule) == ("dpmpp_2m", "karras")
        assert settings.model_name == "OfficialStableDiffusion/sd_xl_base_1.0"
        assert settings.model_hash == "ab" * 32
        assert settings.loras == (LoraWeight(name="ink", weight=0.7),
                                  LoraWeight(name="grain", weight=0.3))  # fmt: skip
        assert ("aspectratio", "1:1") in settings.other
