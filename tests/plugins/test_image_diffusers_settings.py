"""The diffusers plugin's settings hook: AUTOMATIC1111 and ComfyUI settings onto its options
and samplers (no torch needed)."""

from __future__ import annotations

import json

import pytest
from studio_image_diffusers.loading import SCHEDULER_CHOICES
from studio_image_diffusers.plugin import DiffusersImage
from studio_image_diffusers.settings import map_sampler

from studio.core.image_settings import read_image_settings
from studio.core.media import png_text
from studio.core.media.settings_restore import model_note, not_taken
from studio.plugin_api import GenerationSettings, SettingsDialect
from tests.core.test_settings_restore import A1111, COMFY_PROMPT, COMFY_WORKFLOW, png


def mapped(texts: dict[str, str]):
    settings = read_image_settings(png_text.with_texts(png(), texts)).settings
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
    ("name", "schedule", "ours", "note"),
    [
        # AUTOMATIC1111 (old versions write the schedule into the name)
        ("Euler a", "", "Euler a", ""),
        ("DPM++ 2M Karras", "", "DPM++ 2M Karras", ""),
        ("DPM++ 2M", "Karras", "DPM++ 2M Karras", ""),
        ("PLMS", "", "PNDM", ""),
        ("LMS Karras", "", "LMS Karras", ""),
        ("Euler", "Exponential", "Euler", "the Exponential schedule"),
        ("Heun", "", "Heun", ""),
        ("LCM", "", "LCM", ""),
        ("DPM++ SDE", "Karras", "DPM++ 2M SDE Karras", "closest"),
        # ComfyUI, Fooocus, SwarmUI (KSampler, KSamplerSelect); old graphs' sample_* names
        ("euler_ancestral", "normal", "Euler a", ""),
        ("dpmpp_2m", "karras", "DPM++ 2M Karras", ""),
        ("sample_dpmpp_2m", "normal", "DPM++ 2M", ""),
        ("dpmpp_2m_sde_gpu", "karras", "DPM++ 2M SDE Karras", ""),
        ("uni_pc_bh2", "normal", "UniPC", ""),
        ("uni_pc", "exponential", "UniPC", "the exponential schedule"),
        ("dpmpp_sde", "normal", "DPM++ 2M SDE", "torchsde"),
        ("lcm", "sgm_uniform", "LCM", "the sgm_uniform schedule"),
        ("euler", "KarrasScheduler", "Euler Karras", ""),
        ("heunpp2", "normal", "Heun", "closest"),
        # InvokeAI 3 (_k is Karras) and 2, NovelAI
        ("dpmpp_2m_k", "", "DPM++ 2M Karras", ""),
        ("kdpm_2_a", "", "DPM2 a", ""),
        ("k_lms", "", "LMS", ""),
        ("k_euler_ancestral", "", "Euler a", ""),
        ("k_dpmpp_2s_ancestral", "", "Euler a", "closest"),
        ("ddim_v3", "", "DDIM", "closest"),
        # nothing close: named, nothing chosen
        ("made_up_sampler", "", None, "'made_up_sampler' is not available here"),
    ],
)
def test_every_tools_samplers_map_onto_ours_or_the_closest_is_named(name, schedule, ours, note):
    found, said = map_sampler(name, schedule)
    assert found == ours
    assert ours is None or ours in SCHEDULER_CHOICES
    assert (note in said) if note else said == ""


def test_a_lost_schedule_is_a_note():
    settings = GenerationSettings(
        dialect=SettingsDialect.AUTOMATIC1111, sampler="Euler", schedule="Exponential"
    )
    mapping = DiffusersImage.options_from_settings(settings)
    assert mapping.run_options == {"scheduler": "Euler"}
    assert not_taken(settings, mapping, reads=lambda name: True) == ["the Exponential schedule"]


def test_an_unknown_sampler_is_named():
    text = "a cat\nSteps: 20, Sampler: Warp Drive, CFG scale: 7, Seed: 1"
    settings, mapping = mapped({"parameters": text})
    assert "scheduler" not in mapping.run_options
    assert not_taken(settings, mapping, reads=lambda name: True) == [
        "sampler 'Warp Drive'",
        "the sampler 'Warp Drive' is not available here",
    ]


def test_a_sampler_we_lack_is_replaced_by_the_closest_and_said():
    text = "a cat\nSteps: 20, Sampler: DPM++ SDE, Schedule type: Karras, CFG scale: 7, Seed: 1"
    settings, mapping = mapped({"parameters": text})
    assert mapping.run_options["scheduler"] == "DPM++ 2M SDE Karras"
    assert not_taken(settings, mapping, reads=lambda name: True) == [
        "'DPM++ SDE' is not available here (needs the torchsde package): the closest, "
        "DPM++ 2M SDE, is used"
    ]


def test_a1111_loras_stay_in_the_prompt_and_comfyuis_go_into_the_option():
    text = "a cat <lora:ink:0.5>\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1"
    settings, mapping = mapped({"parameters": text})
    assert settings.prompt == "a cat <lora:ink:0.5>"  # found by name when it runs
    assert "loras" in mapping.used and "loras" not in mapping.run_options
    assert not_taken(settings, mapping, reads=lambda name: True) == []


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
