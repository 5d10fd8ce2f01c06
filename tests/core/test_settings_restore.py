"""Restore an image's settings from its PNG: ours, AUTOMATIC1111's and ComfyUI's."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from studio.core.errors import UserError
from studio.core.media import png_text
from studio.core.media.detect import PNG
from studio.core.media.embedded_recipe import embed_recipe
from studio.core.media.settings_restore import (
    SAMPLERS,
    map_a1111_sampler,
    restore_from_png,
)
from studio.core.recipe import Recipe
from studio.plugin_api import Panel


def png(width=64, height=48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_our_own_pngs_restore_everything():
    recipe = Recipe(
        panel=Panel.IMAGE,
        plugin_id="studio.image-diffusers",
        model_id="/models/sd15",
        load_options={"model": "/models/sd15"},
        run_options={"steps": 25, "guidance_scale": 6.5, "scheduler": "DDIM", "width": 64},
        request={"prompt": "a red fox", "negative_prompt": "blurry"},
        seed=1234,
    )
    data = embed_recipe(png(), PNG, recipe, "fox")
    restored = restore_from_png(data)
    assert restored.source == "Studio recipe"
    assert restored.plugin_id == "studio.image-diffusers"
    assert restored.request == {"prompt": "a red fox", "negative_prompt": "blurry"}
    assert restored.run_options == {
        "steps": 25,
        "guidance_scale": 6.5,
        "scheduler": "DDIM",
        "width": 64,
        "seed": 1234,
    }
    assert restored.load_options == {"model": "/models/sd15"}
    assert restored.not_understood == []


# Written by hand from A1111's documented format (prompt, "Negative prompt:", settings line).
A1111 = """masterpiece, a lighthouse at dusk, (dramatic lighting:1.2)
far away ships
Negative prompt: lowres, blurry,
bad hands
Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3735928559, \
Size: 768x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.45, \
Clip skip: 2, Hires upscale: 2, Version: v1.9.4"""


def test_a1111_parameters_fill_the_fields_and_say_what_was_not_understood():
    data = png_text.with_texts(png(), {"parameters": A1111})
    restored = restore_from_png(data)
    assert restored.source == "AUTOMATIC1111 parameters"
    assert restored.request == {
        "prompt": "masterpiece, a lighthouse at dusk, (dramatic lighting:1.2)\nfar away ships",
        "negative_prompt": "lowres, blurry,\nbad hands",
    }
    assert restored.run_options == {
        "steps": 28,
        "guidance_scale": 6.5,
        "seed": 3735928559,
        "width": 768,
        "height": 512,
        "strength": 0.45,
        "scheduler": "DPM++ 2M Karras",
    }
    assert restored.not_understood == ["Clip skip 2", "Hires upscale 2"]
    assert any("v1-5-pruned-emaonly (hash 6ce0161689)" in note for note in restored.notes)
    summary = restored.summary()
    assert "AUTOMATIC1111" in summary and "Clip skip 2" in summary


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
    assert ours is None or ours in SAMPLERS


def test_an_unknown_sampler_is_named():
    text = "a cat\nSteps: 20, Sampler: Heun, CFG scale: 7, Seed: 1"
    restored = restore_from_png(png_text.with_texts(png(), {"parameters": text}))
    assert "scheduler" not in restored.run_options
    assert restored.not_understood == ["sampler 'Heun'"]


# The API-format graph ComfyUI stores as "prompt" (its default text-to-image workflow).
COMFY_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8.0,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "denoise": 1.0,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "sd_xl_base.safetensors"},
    },
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 1024, "height": 768, "batch_size": 1},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "a purple galaxy bottle", "clip": ["4", 1]},
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}

# The same graph as the UI-format "workflow" (nodes with widget values, and links).
COMFY_WORKFLOW = {
    "nodes": [
        {
            "id": 3,
            "type": "KSampler",
            "inputs": [
                {"name": "model", "link": 1},
                {"name": "positive", "link": 4},
                {"name": "negative", "link": 6},
                {"name": "latent_image", "link": 2},
            ],
            "widgets_values": [156680208700286, "randomize", 20, 8, "euler_ancestral", "normal", 1],
        },
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["sd_xl_base.safetensors"]},
        {"id": 5, "type": "EmptyLatentImage", "widgets_values": [1024, 768, 1]},
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a purple galaxy bottle"]},
        {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["text, watermark"]},
    ],
    "links": [
        [1, 4, 0, 3, 0, "MODEL"],
        [2, 5, 0, 3, 3, "LATENT"],
        [4, 6, 0, 3, 1, "CONDITIONING"],
        [6, 7, 0, 3, 2, "CONDITIONING"],
    ],
}


def test_comfyui_prompt_graph():
    data = png_text.with_texts(
        png(), {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)}
    )
    restored = restore_from_png(data)
    assert restored.source == "ComfyUI workflow"
    assert restored.request == {
        "prompt": "a purple galaxy bottle",
        "negative_prompt": "text, watermark",
    }
    assert restored.run_options == {
        "seed": 156680208700286,
        "steps": 20,
        "guidance_scale": 8.0,
        "scheduler": "DPM++ 2M Karras",
        "width": 1024,
        "height": 768,
    }
    assert any("sd_xl_base.safetensors" in note for note in restored.notes)


def test_comfyui_workflow_alone():
    restored = restore_from_png(
        png_text.with_texts(png(), {"workflow": json.dumps(COMFY_WORKFLOW)})
    )
    assert restored.request["prompt"] == "a purple galaxy bottle"
    assert restored.request["negative_prompt"] == "text, watermark"
    assert restored.run_options == {
        "seed": 156680208700286,
        "steps": 20,
        "guidance_scale": 8.0,
        "scheduler": "Euler a",
        "width": 1024,
        "height": 768,
    }


def test_a_prompt_built_by_other_nodes_is_reported():
    graph = json.loads(json.dumps(COMFY_PROMPT))
    graph["6"]["inputs"]["text"] = ["10", 0]
    graph["10"] = {"class_type": "SomeCustomPromptNode", "inputs": {"seed": 4}}
    restored = restore_from_png(png_text.with_texts(png(), {"prompt": json.dumps(graph)}))
    assert "prompt" not in restored.request
    assert "the positive prompt (built by other nodes)" in restored.not_understood


def test_plain_pngs_have_no_settings_and_other_files_are_refused():
    assert restore_from_png(png()) is None
    assert restore_from_png(png_text.with_texts(png(), {"prompt": "{not json"})) is None
    with pytest.raises(UserError, match="cannot be read"):
        restore_from_png(b"GIF89a not a png")
