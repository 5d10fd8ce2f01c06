"""Read an image's settings: ours (a recipe), AUTOMATIC1111's and ComfyUI's (plain settings in
the tool's own names); ask plugins what they take of them. The other tools' readers and the
corpus have their own tests (tests/core/image_settings/)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from studio.core.errors import UserError
from studio.core.image_settings import SettingsSource, read_image_settings
from studio.core.image_settings.model_lookup import ModelMatch
from studio.core.media import png_text
from studio.core.media.detect import PNG
from studio.core.media.embedded_recipe import embed_recipe
from studio.core.media.settings_restore import (
    ask_plugin,
    choose_plugin,
    model_note,
    not_taken,
)
from studio.core.recipe import Recipe, thaw_json
from studio.plugin_api import (
    GenerationSettings,
    LoraWeight,
    ModelPlugin,
    Panel,
    SettingsDialect,
    SettingsMapping,
)


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
    restored = read_image_settings(data)
    assert restored.source is SettingsSource.STUDIO and restored.settings is None
    found = restored.recipe
    assert found.plugin_id == "studio.image-diffusers"
    assert thaw_json(found.request) == {"prompt": "a red fox", "negative_prompt": "blurry"}
    assert thaw_json(found.run_options) == {
        "steps": 25,
        "guidance_scale": 6.5,
        "scheduler": "DDIM",
        "width": 64,
    }
    assert found.seed == 1234
    assert thaw_json(found.load_options) == {"model": "/models/sd15"}
    assert restored.not_understood == ()


# Written by hand from A1111's documented format (prompt, "Negative prompt:", settings line).
A1111 = """masterpiece, a lighthouse at dusk, (dramatic lighting:1.2)
far away ships
Negative prompt: lowres, blurry,
bad hands
Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3735928559, \
Size: 768x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.45, \
Clip skip: 2, Hires upscale: 2, Version: v1.9.4"""


def test_a1111_parameters_become_plain_settings_with_nothing_dropped():
    data = png_text.with_texts(png(), {"parameters": A1111})
    restored = read_image_settings(data)
    assert restored.source is SettingsSource.AUTOMATIC1111 and restored.recipe is None
    assert restored.settings == GenerationSettings(
        dialect=SettingsDialect.AUTOMATIC1111,
        prompt="masterpiece, a lighthouse at dusk, (dramatic lighting:1.2)\nfar away ships",
        negative_prompt="lowres, blurry,\nbad hands",
        steps=28,
        sampler="DPM++ 2M",
        schedule="Karras",
        guidance=6.5,
        seed=3735928559,
        width=768,
        height=512,
        model_hash="6ce0161689",
        model_name="v1-5-pruned-emaonly",
        denoise=0.45,
        other=(("Clip skip", "2"), ("Hires upscale", "2")),
    )
    assert restored.not_understood == () and restored.notes == ()


def test_a1111_loras_are_read_from_the_prompt_with_their_hashes():
    text = (
        "a castle <lora:add_detail:0.6> <lora:style:0.8:1.0> <lora:plain>\n"
        'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Lora hashes: "add_detail: '
        '7c6bad76eb54, plain: 0123456789ab, gone: ffff"'
    )
    settings = read_image_settings(png_text.with_texts(png(), {"parameters": text})).settings
    assert settings.prompt.startswith("a castle <lora:add_detail:0.6>")  # as written
    assert settings.loras == (
        LoraWeight(name="add_detail", weight=0.6, hash="7c6bad76eb54"),
        LoraWeight(name="style", weight=1.0, text_encoder_weight=0.8),
        LoraWeight(name="plain", weight=1.0, hash="0123456789ab"),
    )
    assert settings.other == (("Lora hashes", "gone: ffff"),)
    assert settings.describe("loras") == (
        "LoRA add_detail (0.6), LoRA style (1, 0.8), LoRA plain (1)"
    )


def test_unreadable_a1111_values_are_kept_as_written():
    text = "a cat\nSteps: many, Sampler: Heun, CFG scale: 7, Seed: 1, Size: huge"
    settings = read_image_settings(png_text.with_texts(png(), {"parameters": text})).settings
    assert settings.steps is None and settings.width is None
    assert settings.sampler == "Heun"
    assert settings.other == (("Steps", "many"), ("Size", "huge"))


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
    restored = read_image_settings(data)
    assert restored.source is SettingsSource.COMFYUI
    assert restored.settings == GenerationSettings(
        dialect=SettingsDialect.COMFYUI,
        prompt="a purple galaxy bottle",
        negative_prompt="text, watermark",
        seed=156680208700286,
        steps=20,
        guidance=8.0,
        sampler="dpmpp_2m",
        schedule="karras",
        width=1024,
        height=768,
        model_name="sd_xl_base.safetensors",
    )  # denoise 1 is plain text-to-image: no denoising strength


def test_comfyui_workflow_alone():
    restored = read_image_settings(
        png_text.with_texts(png(), {"workflow": json.dumps(COMFY_WORKFLOW)})
    )
    assert restored.settings == GenerationSettings(
        dialect=SettingsDialect.COMFYUI,
        prompt="a purple galaxy bottle",
        negative_prompt="text, watermark",
        seed=156680208700286,
        steps=20,
        guidance=8.0,
        sampler="euler_ancestral",
        schedule="normal",
        width=1024,
        height=768,
        model_name="sd_xl_base.safetensors",
    )


def test_comfyui_loras_and_an_advanced_sampler():
    graph = json.loads(json.dumps(COMFY_PROMPT))
    graph["3"]["class_type"] = "KSamplerAdvanced"
    graph["3"]["inputs"] |= {"noise_seed": 5, "start_at_step": 4, "end_at_step": 10000}
    graph["3"]["inputs"]["model"] = ["10", 0]
    graph["10"] = {
        "class_type": "LoraLoader",
        "inputs": {"lora_name": "ink.safetensors", "strength_model": 0.7, "strength_clip": 1.0},
    }
    graph["11"] = {"class_type": "KSampler", "inputs": {}}
    restored = read_image_settings(png_text.with_texts(png(), {"prompt": json.dumps(graph)}))
    settings = restored.settings
    assert settings.seed == 5
    assert settings.loras == (
        LoraWeight(name="ink.safetensors", weight=0.7, text_encoder_weight=1.0),
    )
    assert settings.other == (("start_at_step", "4"),)
    # the sampler that made the saved image wins; one that fed no saved image is named
    assert restored.notes == ("Samplers that made no saved image: node 11 (KSampler).",)


def test_a_prompt_built_by_other_nodes_is_reported():
    graph = json.loads(json.dumps(COMFY_PROMPT))
    graph["6"]["inputs"]["text"] = ["10", 0]
    graph["10"] = {"class_type": "SomeCustomPromptNode", "inputs": {"seed": 4}}
    restored = read_image_settings(png_text.with_texts(png(), {"prompt": json.dumps(graph)}))
    assert restored.settings.prompt == ""
    assert "the positive prompt (built by other nodes)" in restored.not_understood


def test_plain_pngs_have_no_settings_and_other_files_are_refused():
    assert read_image_settings(png()) is None
    assert read_image_settings(png_text.with_texts(png(), {"prompt": "{not json"})) is None
    with pytest.raises(UserError, match="not a PNG, JPEG or WebP image"):
        read_image_settings(b"GIF89a not a png")


# asking plugins ------------------------------------------------------------------------------

SETTINGS = GenerationSettings(
    dialect=SettingsDialect.AUTOMATIC1111,
    prompt="a fox",
    steps=12,
    sampler="Heun",
    model_name="sd15",
    model_hash="abc",
    other=(("Clip skip", "2"),),
)


class _Quiet(ModelPlugin):
    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        yield from ()


class _Steps(_Quiet):
    @classmethod
    def options_from_settings(cls, settings):
        return SettingsMapping(run_options={"num_steps": settings.steps}, used=frozenset({"steps"}))


class _Broken(_Quiet):
    @classmethod
    def options_from_settings(cls, settings):
        raise KeyError("oops")


class _Wrong(_Quiet):
    @classmethod
    def options_from_settings(cls, settings):
        return {"steps": 1}


def test_a_plugin_takes_nothing_unless_it_says_so():
    assert ask_plugin(_Quiet, SETTINGS) == SettingsMapping()
    assert ask_plugin(_Quiet, SETTINGS).takes_nothing
    assert ask_plugin(_Broken, SETTINGS) == SettingsMapping()  # logged, not raised
    assert ask_plugin(_Wrong, SETTINGS) == SettingsMapping()
    assert ask_plugin(_Steps, SETTINGS).run_options == {"num_steps": 12}


def test_what_a_plugin_did_not_take_is_named():
    steps = ask_plugin(_Steps, SETTINGS)
    assert not_taken(SETTINGS, steps, reads=lambda name: True) == [
        "sampler 'Heun'",
        "Clip skip 2",
    ]
    assert not_taken(SETTINGS, steps, reads=lambda name: False)[0] == "the prompt"
    noted = SettingsMapping(used=frozenset({"steps"}), notes=("half of it",))
    assert not_taken(SETTINGS, noted, reads=lambda name: True)[-1] == "half of it"
    assert model_note(SETTINGS, steps) == (
        "The image was made with the model sd15 (hash abc), which is not in the model library: "
        "put sd15.safetensors in a model folder (AUTOMATIC1111's models/Stable-diffusion, "
        "ComfyUI's models/checkpoints) or add its folder in View > Models, then choose it."
    )
    found = ModelMatch(Path("/models/sd15.safetensors"), "name and hash")
    assert model_note(SETTINGS, steps, found) == (
        "The image's model, sd15.safetensors, was found in the model library (by name and "
        "hash) and chosen."
    )
    assert model_note(SETTINGS, SettingsMapping(used=frozenset({"model_name"}))) == ""


def test_the_current_plugin_keeps_the_settings_when_it_takes_any():
    none, one = SettingsMapping(), SettingsMapping(used=frozenset({"steps"}))
    two = SettingsMapping(used=frozenset({"steps", "seed"}))
    assert choose_plugin({"a": one, "b": two}, current="a") == "a"
    assert choose_plugin({"a": none, "b": one, "c": two}, current="a") == "c"
    assert choose_plugin({"a": none, "b": one, "c": one}, current="a") == "b"
    assert choose_plugin({"a": none, "b": none}, current="a") == "a"
    assert choose_plugin({}, current=None) is None
