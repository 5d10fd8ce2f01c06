"""NovelAI: the prompt in Description, the rest in Comment JSON, the model in Source."""

from __future__ import annotations

import json

from studio.core.image_settings.novelai import read
from studio.plugin_api import SettingsDialect

COMMENT = {"steps": 28, "sampler": "k_euler_ancestral", "seed": 2253955223, "strength": 0.7,
           "noise": 0.2, "scale": 11.0, "uc": "lowres", "width": 832, "height": 1216,
           "sm": False}  # fmt: skip


def test_novelai_text_chunks():
    texts = {
        "Software": "NovelAI",
        "Description": "a cat in space",
        "Source": "Stable Diffusion XL C1E1DE52",
        "Comment": json.dumps(COMMENT),
    }
    settings = read(texts).settings
    assert settings.dialect is SettingsDialect.NOVELAI
    assert (settings.prompt, settings.negative_prompt) == ("a cat in space", "lowres")
    assert (settings.steps, settings.seed, settings.guidance) == (28, 2253955223, 11.0)
    assert (settings.width, settings.height, settings.denoise) == (832, 1216, 0.7)
    assert (settings.model_name, settings.model_hash) == ("Stable Diffusion XL", "C1E1DE52")
    assert dict(settings.other) == {"noise": "0.2", "sm": "false"}


def test_only_novelai_images_are_read_and_a_bad_comment_keeps_the_prompt():
    assert read({"Description": "x", "Comment": "{}"}) is None
    settings = read({"Software": "NovelAI", "Description": "x", "Comment": "{bad"}).settings
    assert settings.prompt == "x" and settings.steps is None
