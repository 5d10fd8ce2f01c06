"""The diffusers plugin's settings hook: AUTOMATIC1111 and ComfyUI settings onto its options
and samplers (no torch needed)."""

from __future__ import annotations

import json

import pytest
from studio_image_diffusers.loading import SCHEDULER_CHOICES
from studio_image_diffusers.plugin import DiffusersImage
from studio_image_diffusers.settings import map_a1111_sampler, map_comfyui_sampler

from studio.core.media import png_text
from studio.core.media.settings_restore import model_note, not_taken, restore_from_png
from studio.plugin_api import GenerationSettings, SettingsDialect
from tests.core.test_settings_restore import A1111, COMFY_PROMPT, COMFY_WORKFLOW, png


def mapped(texts: dict[str, str]):
    settings = restore_from_png(png_text.with_texts(png(), texts)).settings
    mapping = DiffusersImage.options_from_settings(settings)
    return settings, mapping


def test_a1111_settings_fill_the_options():
    settings, mapping = mapped({"parameters": A1111})
    assert mapping.run_options == {
        "steps": 28,
        "guidance_scale": 6.5,
        "seed": 3735928559,
        "strength": 0.45,
        "width": 768,
        "height": 512,
        "scheduler": "DPM++ 2M Karras",
    }
    assert mapping.load_options == {}
    assert not_taken(settings, mapping, reads=lambda name: True) == [
        "Clip skip 2",
        "Hires upscale 2",
    ]
    assert "v1-5-pruned-emaonly (hash 6ce0161689)" in model_note(settings, mapping)
    DiffusersImage.run_options.validate(mapping.run_options)  # names and values it takes


@pytest.mark.parametrize(
    ("a1111", "schedule", "ours", "lost"),
    [
        ("Euler a", "", "Euler a", ""),
        ("DPM++ 2M Karras", "", "DPM++ 2M Karras", ""),
        ("DPM++ 2M", "Karras", "DPM++ 2M Karras", ""),
        ("PLMS", "", "PNDM", ""),
        ("LMS Karras", "", "LMS", "the Karras schedule of 'LMS Karras'"),
        ("Euler", "Exponential", "Euler", "the Exponential schedule"),
        ("Heun", "", None, ""),
    ],
)
def test_a1111_samplers_map_onto_ours(a1111, schedule, ours, lost):
    assert map_a1111_sampler(a1111, schedule) == (ours, lost)
    assert ours is None or ours in SCHEDULER_CHOICES


@pytest.mark.parametrize(
    ("comfy", "schedule", "ours", "lost"),
    [
        ("euler_ancestral", "normal", "Euler a", ""),
        ("dpmpp_2m", "karras", "DPM++ 2M Karras", ""),
        ("euler", "karras", "Euler", "the karras schedule"),
        ("uni_pc", "exponential", "UniPC", "the exponential schedule"),
        ("heunpp2", "normal", None, ""),
    ],
)
def test_comfyui_samplers_map_onto_ours(comfy, schedule, ours, lost):
    assert map_comfyui_sampler(comfy, schedule) == (ours, lost)
    assert ours is None or ours in SCHEDULER_CHOICES


def test_a_lost_schedule_is_a_note():
    settings = GenerationSettings(
        dialect=SettingsDialect.AUTOMATIC1111, sampler="Euler", schedule="Exponential"
    )
    mapping = DiffusersImage.options_from_settings(settings)
    assert mapping.run_options == {"scheduler": "Euler"}
    assert not_taken(settings, mapping, reads=lambda name: True) == ["the Exponential schedule"]


def test_an_unknown_sampler_is_named():
    text = "a cat\nSteps: 20, Sampler: Heun, CFG scale: 7, Seed: 1"
    settings, mapping = mapped({"parameters": text})
    assert "scheduler" not in mapping.run_options
    assert not_taken(settings, mapping, reads=lambda name: True) == ["sampler 'Heun'"]


def test_loras_are_not_taken():
    text = "a cat <lora:ink:0.5>\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1"
    settings, mapping = mapped({"parameters": text})
    assert not_taken(settings, mapping, reads=lambda name: True) == ["LoRA ink (0.5)"]


def test_comfyui_prompt_graph():
    settings, mapping = mapped(
        {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)}
    )
    assert mapping.run_options == {
        "seed": 156680208700286,
        "steps": 20,
        "guidance_scale": 8.0,
        "scheduler": "DPM++ 2M Karras",
        "width": 1024,
        "height": 768,
    }
    assert "sd_xl_base.safetensors" in model_note(settings, mapping)


def test_comfyui_workflow_alone():
    _, mapping = mapped({"workflow": json.dumps(COMFY_WORKFLOW)})
    assert mapping.run_options == {
        "seed": 156680208700286,
        "steps": 20,
        "guidance_scale": 8.0,
        "scheduler": "Euler a",
        "width": 1024,
        "height": 768,
    }


def test_comfyui_denoise_is_the_strength():
    graph = json.loads(json.dumps(COMFY_PROMPT))
    graph["3"]["inputs"]["denoise"] = 0.6
    _, mapping = mapped({"prompt": json.dumps(graph)})
    assert mapping.run_options["strength"] == 0.6
