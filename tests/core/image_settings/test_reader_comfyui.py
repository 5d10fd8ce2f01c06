"""ComfyUI graphs: every core sampler node, the sampler chain that made the saved image, the
editor format, and what is listed rather than dropped."""

from __future__ import annotations

import json

from studio.core.image_settings import read_image_settings
from studio.core.image_settings.comfyui import api_graph_from_workflow, from_api_graph, read
from studio.plugin_api import LoraWeight, SettingsDialect
from tests.core.image_settings.builders import png_with, text_chunk

LOADER = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}}
POS = {"class_type": "CLIPTextEncode", "inputs": {"text": "a castle", "clip": ["4", 1]}}
NEG = {"class_type": "CLIPTextEncode", "inputs": {"text": "fog", "clip": ["4", 1]}}
LATENT = {"class_type": "EmptyLatentImage", "inputs": {"width": 640, "height": 448}}


def ksampler(seed=7, latent=("5", 0), denoise=1.0, **extra):
    return {
        "class_type": "KSampler",
        "inputs": {
            "seed": seed,
            "steps": 12,
            "cfg": 6.5,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "denoise": denoise,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": list(latent),
            **extra,
        },
    }


def save(source):
    return {"class_type": "SaveImage", "inputs": {"images": [source, 0]}}


def decode(samples):
    return {"class_type": "VAEDecode", "inputs": {"samples": [samples, 0], "vae": ["4", 2]}}


def base_graph():
    return {"4": LOADER, "5": LATENT, "6": POS, "7": NEG, "3": ksampler(), "8": decode("3"),
            "9": save("8")}  # fmt: skip


def test_a_ksampler_graph():
    settings = from_api_graph(base_graph()).settings
    assert settings.dialect is SettingsDialect.COMFYUI
    assert (settings.prompt, settings.negative_prompt) == ("a castle", "fog")
    assert (settings.seed, settings.steps, settings.guidance) == (7, 12, 6.5)
    assert (settings.sampler, settings.schedule) == ("dpmpp_2m", "karras")
    assert (settings.width, settings.height, settings.model_name) == (640, 448, "sd15.safetensors")


def test_flux_sampler_custom_advanced_with_its_helper_nodes():
    graph = {
        "12": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors"}},
        "30": {"class_type": "ModelSamplingFlux", "inputs": {"model": ["12", 0]}},
        "6": POS,
        "26": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}},
        "22": {"class_type": "BasicGuider",
               "inputs": {"model": ["30", 0], "conditioning": ["26", 0]}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 2**60 + 1}},
        "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "17": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 20,
                                                          "denoise": 1.0, "model": ["30", 0]}},
        "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768}},
        "13": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["25", 0], "guider": ["22", 0], "sampler": ["16", 0], "sigmas": ["17", 0],
            "latent_image": ["27", 0]}},
        "8": decode("13"),
        "9": save("8"),
    }  # fmt: skip
    settings = from_api_graph(graph).settings
    assert settings.seed == 2**60 + 1  # exact
    assert (settings.steps, settings.sampler, settings.schedule) == (20, "euler", "simple")
    assert settings.prompt == "a castle" and settings.guidance is None
    assert ("Flux guidance", "3.5") in settings.other
    assert (settings.model_name, settings.width, settings.height) == ("flux1-dev.safetensors",
                                                                      1024, 768)  # fmt: skip


def test_sampler_custom_with_a_cfg_guider_karras_sigmas_and_a_lora():
    graph = base_graph()
    graph["10"] = {"class_type": "LoraLoader", "inputs": {
        "lora_name": "ink.safetensors", "strength_model": 0.8, "strength_clip": 1.0,
        "model": ["4", 0], "clip": ["4", 1]}}  # fmt: skip
    graph["16"] = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler_ancestral"}}
    graph["17"] = {"class_type": "KarrasScheduler", "inputs": {"steps": 9}}
    graph["3"] = {"class_type": "SamplerCustom", "inputs": {
        "add_noise": True, "noise_seed": 11, "cfg": 4.0, "model": ["10", 0],
        "positive": ["6", 0], "negative": ["7", 0], "sampler": ["16", 0], "sigmas": ["17", 0],
        "latent_image": ["5", 0]}}  # fmt: skip
    settings = from_api_graph(graph).settings
    assert (settings.seed, settings.steps, settings.guidance) == (11, 9, 4.0)
    assert (settings.sampler, settings.schedule) == ("euler_ancestral", "KarrasScheduler")
    assert settings.loras == (
        LoraWeight(name="ink.safetensors", weight=0.8, text_encoder_weight=1.0),
    )


def test_a_hires_pass_the_first_pass_gives_the_settings_and_the_second_is_a_note():
    graph = base_graph()
    graph["20"] = {"class_type": "LatentUpscale", "inputs": {"samples": ["3", 0], "width": 1280,
                                                             "height": 896}}  # fmt: skip
    graph["21"] = ksampler(seed=99, latent=("20", 0), denoise=0.5)
    graph["22"] = decode("21")
    graph["23"] = save("22")  # both passes are saved: the later one is this image
    restored = from_api_graph(graph)
    assert restored.settings.seed == 7 and restored.settings.width == 640
    assert len(restored.notes) == 1 and "2 passes" in restored.notes[0]
    assert "node 21 (KSampler), dpmpp_2m, 12 steps, seed 99, denoise 0.5" in restored.notes[0]


def test_a_sampler_feeding_no_saved_image_is_listed():
    graph = base_graph()
    graph["30"] = ksampler(seed=1234)
    restored = from_api_graph(graph)
    assert restored.settings.seed == 7
    assert restored.notes == ("Samplers that made no saved image: node 30 (KSampler), dpmpp_2m, "
                              "12 steps, seed 1234.",)  # fmt: skip


def test_unknown_inputs_are_listed_and_custom_prompts_named():
    graph = base_graph()
    graph["3"]["inputs"]["Random seed after every gen"] = True
    graph["6"] = {"class_type": "Wildcards", "inputs": {"template": "__animal__"}}
    restored = from_api_graph(graph)
    assert ("Random seed after every gen", "True") in restored.settings.other
    assert "the positive prompt (built by other nodes)" in restored.not_understood


def test_the_editor_format_alone():
    workflow = {
        "nodes": [
            {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["sd15.safetensors"]},
            {"id": 5, "type": "EmptyLatentImage", "widgets_values": [512, 640, 1]},
            {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a castle"]},
            {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["fog"]},
            {"id": 11, "type": "PrimitiveNode", "widgets_values": [321, "fixed"]},
            {"id": 3, "type": "KSamplerAdvanced",
             "widgets_values": ["enable", 5, "fixed", 30, 7.5, "euler", "normal", 0, 10000,
                                "disable"],
             "inputs": [{"name": "model", "link": 1}, {"name": "positive", "link": 2},
                        {"name": "negative", "link": 3}, {"name": "latent_image", "link": 4},
                        {"name": "noise_seed", "link": 5, "widget": {"name": "noise_seed"}}]},
            {"id": 8, "type": "VAEDecode", "inputs": [{"name": "samples", "link": 6}]},
            {"id": 9, "type": "SaveImage", "inputs": [{"name": "images", "link": 7}]},
        ],
        "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 6, 0, 3, 1, "CONDITIONING"],
                  [3, 7, 0, 3, 2, "CONDITIONING"], [4, 5, 0, 3, 3, "LATENT"],
                  [5, 11, 0, 3, 4, "INT"], [6, 3, 0, 8, 0, "LATENT"], [7, 8, 0, 9, 0, "IMAGE"]],
    }  # fmt: skip
    graph, custom = api_graph_from_workflow(workflow)
    assert graph["11"]["inputs"] == {"value": 321} and custom == set()
    restored = read({"workflow": json.dumps(workflow)})
    settings = restored.settings
    assert (settings.seed, settings.steps, settings.guidance) == (321, 30, 7.5)  # the primitive
    assert (settings.prompt, settings.negative_prompt) == ("a castle", "fog")
    assert (settings.width, settings.height, settings.model_name) == (512, 640, "sd15.safetensors")
    assert restored.notes == ()

    # a widget set by a custom node: the value shown is read, and the note says so
    workflow["nodes"][4] = {"id": 11, "type": "SeedGenerator", "widgets_values": [0]}
    restored = read({"workflow": json.dumps(workflow)})
    assert restored.settings.seed == 5
    assert "custom nodes (SeedGenerator)" in restored.notes[-1]


def test_the_api_graph_wins_over_the_workflow_and_broken_json_is_no_settings():
    data = png_with(text_chunk("prompt", json.dumps(base_graph())),
                    text_chunk("workflow", '{"nodes": "not a list"}'))  # fmt: skip
    assert read_image_settings(data).settings.seed == 7
    assert read({"prompt": "{not json", "workflow": "[]"}) is None
    assert read({"prompt": json.dumps({"1": "not a node", "2": {"class_type": 5}})}) is None
