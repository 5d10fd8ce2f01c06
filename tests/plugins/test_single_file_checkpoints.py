"""Single-file Stable Diffusion checkpoints, offline: the CLIP tokenizer built from the shipped
BPE vocabulary, the shipped SD 1.x / 2.x / SDXL config sets, family detection from the keys, clear
errors for what is not supported, and a tiny checkpoint in the original (LDM) layout that loads
with no network and draws the same pixels as the diffusers folder it was written from."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from studio_image_diffusers.single_file import (
    CONFIG_NAMES,
    Family,
    UnsupportedCheckpoint,
    clip_vocabulary,
    detect_family,
    load_single_file_pipeline,
    shipped_config,
    write_config_folder,
)

from studio.plugin_api import UnsafeWeights, shipped_resource
from tests.fixtures.single_file import (
    TinySingleFile,
    tiny_single_file,  # noqa: F401 (fixture)
    tiny_single_file_inpaint,  # noqa: F401 (fixture)
    tiny_single_file_sd2,  # noqa: F401 (fixture)
    tiny_single_file_sdxl,  # noqa: F401 (fixture)
    unet_to_ldm,
    vae_to_ldm,
)
from tests.fixtures.tiny_models import network_blocked

FAST = {"num_inference_steps": 1, "height": 32, "width": 32, "output_type": "np"}

# --------------------------------------------------------------------------------------------
# The CLIP tokenizer
# --------------------------------------------------------------------------------------------


def test_clip_bpe_file_ships_with_its_licence():
    folder = shipped_resource("clip")
    assert (folder / "bpe_simple_vocab_16e6.txt.gz").stat().st_size > 1_000_000
    assert "Permission is hereby granted" in (folder / "LICENSE").read_text()


def test_clip_vocabulary_is_built_as_openai_builds_it():
    vocab, merges = clip_vocabulary()
    assert len(vocab) == 49408 and len(merges) == 48894
    assert vocab["!"] == 0 and vocab["a</w>"] == 320
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407
    assert merges[0] == "i n" and vocab["in"] == 512


@pytest.mark.parametrize(
    ("config", "tokenizer", "pad_id"),
    [("sd15", "tokenizer", 49407), ("sd2", "tokenizer", 0), ("sdxl", "tokenizer_2", 0)],
)
def test_tokenizers_give_clip_vit_l_token_ids(tmp_path, config, tokenizer, pad_id):
    from transformers import AutoTokenizer

    folder = write_config_folder(config, tmp_path / config)
    tok = AutoTokenizer.from_pretrained(folder / tokenizer, local_files_only=True)
    # openai/clip-vit-large-patch14's ids for this prompt.
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok.model_max_length == 77
    # SD 1.x pads with <|endoftext|>, SD 2.x and SDXL's second tokenizer with "!".
    padded = tok("a cat", padding="max_length", max_length=6).input_ids
    assert padded == [49406, 320, 2368, 49407, pad_id, pad_id]


# --------------------------------------------------------------------------------------------
# The shipped config sets
# --------------------------------------------------------------------------------------------

# Parameter counts of the official models (UNet, VAE, text encoder(s)).
OFFICIAL_PARAMETERS = {
    "sd15": {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480},
    "sd2": {"unet": 865_910_724, "vae": 83_653_863, "text_encoder": 340_387_840},
    "sd2-v": {"unet": 865_910_724, "vae": 83_653_863, "text_encoder": 340_387_840},
    "sdxl": {
        "unet": 2_567_463_684,
        "vae": 83_653_863,
        "text_encoder": 123_060_480,
        "text_encoder_2": 694_659_840,
    },
}
EXPECTED = {
    # config: pipeline, scheduler, prediction, UNet sample size, VAE scaling factor
    "sd15": ("StableDiffusionPipeline", "PNDMScheduler", "epsilon", 64, 0.18215),
    "sd2": ("StableDiffusionPipeline", "PNDMScheduler", "epsilon", 64, 0.18215),
    "sd2-v": ("StableDiffusionPipeline", "DDIMScheduler", "v_prediction", 96, 0.18215),
    "sdxl": ("StableDiffusionXLPipeline", "EulerDiscreteScheduler", "epsilon", 128, 0.13025),
}


@pytest.mark.parametrize("config", CONFIG_NAMES)
def test_shipped_config_set_is_complete_and_parses(tmp_path, config):
    import diffusers
    import torch
    import transformers

    folder = write_config_folder(config, tmp_path / config)
    index = json.loads((folder / "model_index.json").read_text())
    pipeline, scheduler_name, prediction, sample_size, scaling = EXPECTED[config]
    assert index["_class_name"] == pipeline
    pipeline_class = getattr(diffusers, pipeline)
    expected_modules, _ = pipeline_class._get_signature_keys(pipeline_class)
    components = {k: v for k, v in index.items() if not k.startswith("_") and isinstance(v, list)}
    # Every component the pipeline needs is named (the optional ones may be null).
    for name in set(expected_modules) - set(pipeline_class._optional_components):
        assert name in components, name

    counts = {}
    for name, (library, class_name) in components.items():
        if library is None:
            continue
        cls = getattr(diffusers if library == "diffusers" else transformers, class_name)
        if name.startswith("tokenizer"):
            tok = cls.from_pretrained(folder / name, local_files_only=True)
            assert len(tok) == 49408
        elif name == "scheduler":
            scheduler = cls.from_pretrained(folder, subfolder=name, local_files_only=True)
            assert type(scheduler).__name__ == scheduler_name
            assert scheduler.config.prediction_type == prediction
        elif library == "diffusers":
            with torch.device("meta"):
                model = cls.from_config(cls.load_config(folder / name, local_files_only=True))
            counts[name] = sum(p.numel() for p in model.parameters())
            if name == "unet":
                assert model.config.sample_size == sample_size
            if name == "vae":
                assert model.config.scaling_factor == pytest.approx(scaling)
        else:
            model_config = cls.config_class.from_pretrained(folder / name, local_files_only=True)
            with torch.device("meta"):
                model = cls(model_config)
            counts[name] = sum(p.numel() for p in model.parameters())
    assert counts == OFFICIAL_PARAMETERS[config]


def test_unknown_config_name_is_refused():
    with pytest.raises(ValueError, match="sd15, sd2, sd2-v, sdxl"):
        shipped_config("sd3")


# --------------------------------------------------------------------------------------------
# Family detection from the keys (synthetic headers: tiny tensors with real names)
# --------------------------------------------------------------------------------------------

UNET = "model.diffusion_model."
SD2_PROBE = UNET + "output_blocks.11.1.transformer_blocks.0.norm1.bias"


def write_checkpoint(
    path: Path,
    shapes: dict[str, tuple[int, ...]],
    metadata: dict[str, str] | None = None,
    **tensors: Any,
) -> Path:
    import torch
    from safetensors.torch import save_file

    data = {key: torch.zeros(shape) for key, shape in shapes.items()}
    data.update({key.replace("__", "."): value for key, value in tensors.items()})
    save_file(data, path, metadata=metadata)
    return path


def sd_keys(in_channels: int = 4, context: int = 768) -> dict[str, tuple[int, ...]]:
    return {
        UNET + "input_blocks.0.0.weight": (2, in_channels, 1, 1),
        UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (2, context),
        "first_stage_model.encoder.conv_in.weight": (2, 3, 1, 1),
    }


def sd1(in_channels: int = 4) -> dict[str, tuple[int, ...]]:
    return sd_keys(in_channels) | {
        "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": (77, 2)
    }


def sd2(in_channels: int = 4) -> dict[str, tuple[int, ...]]:
    return sd_keys(in_channels, 1024) | {"cond_stage_model.model.token_embedding.weight": (4, 2)}


def sdxl(in_channels: int = 4) -> dict[str, tuple[int, ...]]:
    return sd_keys(in_channels, 2048) | {
        UNET + "label_emb.0.0.weight": (2, 2816),
        "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight": (
            77,
            2,
        ),
        "conditioner.embedders.1.model.token_embedding.weight": (4, 2),
    }


def _probe(std: float) -> Any:
    import torch

    return torch.linspace(-1.0, 1.0, 1280) * std / float(torch.linspace(-1.0, 1.0, 1280).std())


def test_detects_sd1_and_its_inpainting_model(tmp_path):
    family = detect_family(write_checkpoint(tmp_path / "model.safetensors", sd1()))
    assert family == Family("sd1", "sd15", False, "epsilon", False, 768, False)
    assert family.default_size == 512 and family.label == "Stable Diffusion 1.x"
    assert family.pipeline_class("img2img") == "StableDiffusionImg2ImgPipeline"
    inpaint = detect_family(write_checkpoint(tmp_path / "inpaint.safetensors", sd1(9)))
    assert (inpaint.name, inpaint.config, inpaint.inpainting) == ("sd1", "sd15", True)
    # The 9-channel UNet needs the mask inputs whatever the mode.
    assert inpaint.pipeline_class("txt2img") == "StableDiffusionInpaintPipeline"
    assert inpaint.label == "Stable Diffusion 1.x (inpainting)"


def test_sd2_prediction_type_from_weights_name_metadata_or_choice(tmp_path):
    def family(name: str, metadata=None, prediction="auto", **tensors) -> Family:
        path = write_checkpoint(tmp_path / name, sd2(), metadata, **tensors)
        return detect_family(path, prediction)

    probe = SD2_PROBE.replace(".", "__")
    # ComfyUI's rule: the spread of one norm bias tells the 768-v model from the 512 base.
    v = family("v2-1_768-ema-pruned.safetensors", **{probe: _probe(0.2)})
    assert (v.config, v.prediction, v.default_size) == ("sd2-v", "v_prediction", 768)
    assert v.label == "Stable Diffusion 2.x (768, v-prediction)"
    base = family("any-name-768.safetensors", **{probe: _probe(0.01)})
    assert (base.config, base.prediction, base.default_size) == ("sd2", "epsilon", 512)
    # Without that weight, the file name decides; then epsilon.
    assert family("sd21-768-v.safetensors").config == "sd2-v"
    assert family("my_model_v.safetensors").prediction == "v_prediction"
    assert family("sd21-base.safetensors").config == "sd2"
    # Metadata (Stability's model spec) wins over the guess; an explicit choice over both.
    assert family("768.safetensors", {"modelspec.prediction_type": "epsilon"}).config == "sd2"
    assert family("b.safetensors", {"modelspec.prediction_type": "v"}).config == "sd2-v"
    assert family("768-v.safetensors", prediction="epsilon").config == "sd2"
    assert family("plain.safetensors", prediction="v_prediction").config == "sd2-v"


def test_sd2_inpainting_is_epsilon(tmp_path):
    path = write_checkpoint(tmp_path / "512-inpainting-ema.safetensors", sd2(9))
    family = detect_family(path)
    assert (family.name, family.config, family.inpainting, family.prediction) == (
        "sd2",
        "sd2",
        True,
        "epsilon",
    )


def test_detects_sdxl_and_v_prediction_fine_tunes(tmp_path):
    import torch

    family = detect_family(write_checkpoint(tmp_path / "xl.safetensors", sdxl()))
    assert family == Family("sdxl", "sdxl", False, "epsilon", False, 2048)
    assert family.pipeline_class("txt2img") == "StableDiffusionXLPipeline"
    assert family.default_size == 1024
    assert detect_family(write_checkpoint(tmp_path / "xli.safetensors", sdxl(9))).pipeline_class(
        "img2img"
    ) == ("StableDiffusionXLInpaintPipeline")
    path = write_checkpoint(
        tmp_path / "vpred.safetensors", sdxl(), v_pred=torch.zeros(0), ztsnr=torch.zeros(0)
    )
    family = detect_family(path)
    assert (family.prediction, family.zero_snr) == ("v_prediction", True)


def test_config_folder_follows_the_checkpoint(tmp_path):
    family = Family("sdxl", "sdxl", inpainting=True, prediction="v_prediction", zero_snr=True)
    folder = write_config_folder(family, tmp_path / "xl")
    assert json.loads((folder / "unet/config.json").read_text())["in_channels"] == 9
    scheduler = json.loads((folder / "scheduler/scheduler_config.json").read_text())
    assert scheduler["prediction_type"] == "v_prediction"
    assert scheduler["rescale_betas_zero_snr"] is True
    assert (folder / "tokenizer/vocab.json").is_file() and (
        folder / "tokenizer_2/merges.txt"
    ).is_file()
    # The shipped folder itself is untouched.
    shipped = json.loads((shipped_config("sdxl") / "unet/config.json").read_text())
    assert shipped["in_channels"] == 4


UNSUPPORTED = {
    "lora": ({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (4, 2)}, "LoRA"),
    "sd3": (
        {UNET + "joint_blocks.0.context_block.adaLN_modulation.1.bias": (4,)},
        "Stable Diffusion 3",
    ),
    "flux": ({"double_blocks.0.img_attn.norm.key_norm.scale": (4,)}, "Flux"),
    "vae": (
        {"encoder.conv_in.weight": (2, 3, 1, 1), "decoder.conv_in.weight": (2, 4, 1, 1)},
        "VAE",
    ),
    "refiner": (
        sd_keys(4, 1280) | {"conditioner.embedders.0.model.token_embedding.weight": (4, 2)},
        "SDXL refiner",
    ),
    "pix2pix": (sd1() | {UNET + "input_blocks.0.0.weight": (2, 8, 1, 1)}, "instruct-pix2pix"),
    "unet-only": (sd_keys(), "without its text encoder"),
    "other": ({"fc.weight": (2, 2)}, "not a Stable Diffusion checkpoint"),
}


@pytest.mark.parametrize("kind", UNSUPPORTED)
def test_unsupported_checkpoints_say_what_they_are_and_what_is_supported(tmp_path, kind):
    shapes, what = UNSUPPORTED[kind]
    path = write_checkpoint(tmp_path / f"{kind}.safetensors", shapes)
    with pytest.raises(UnsupportedCheckpoint) as info:
        detect_family(path)
    message = str(info.value)
    assert path.name in message and what in message
    assert "Stable Diffusion 1.x, Stable Diffusion 2.x" in message and "SDXL" in message
    assert isinstance(info.value, ValueError)


def test_files_that_are_not_safetensors_checkpoints(tmp_path):
    import torch

    ckpt = tmp_path / "v1-5-pruned.ckpt"
    torch.save(
        {"state_dict": {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1)}}, ckpt
    )
    with pytest.raises(UnsafeWeights) as info:
        detect_family(ckpt)
    assert info.value.path == ckpt
    text = tmp_path / "notes.safetensors"
    text.write_text("not a model")
    with pytest.raises(UnsupportedCheckpoint, match=r"notes\.safetensors"):
        detect_family(text)
    with pytest.raises(FileNotFoundError, match=r"missing\.safetensors"):
        detect_family(tmp_path / "missing.safetensors")
    with pytest.raises(IsADirectoryError):
        detect_family(tmp_path)
    with pytest.raises(ValueError, match="auto, epsilon, v_prediction"):
        detect_family(text, prediction="sample")


# --------------------------------------------------------------------------------------------
# A tiny checkpoint in the original layout, loaded offline
# --------------------------------------------------------------------------------------------


def test_fixture_writes_the_exact_inverse_of_diffusers_conversion(tiny_single_file: TinySingleFile):
    import torch
    from diffusers.loaders.single_file_utils import (
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
    )
    from safetensors.torch import load_file

    checkpoint = load_file(tiny_single_file.checkpoint)
    for name, convert in (
        ("unet", convert_ldm_unet_checkpoint),
        ("vae", convert_ldm_vae_checkpoint),
    ):
        folder = tiny_single_file.pipeline_dir / name
        original = load_file(folder / "diffusion_pytorch_model.safetensors")
        config = json.loads((folder / "config.json").read_text())
        converted = convert(checkpoint, config)
        assert set(converted) == set(original)
        assert all(torch.equal(converted[key], original[key]) for key in original)
    # The layout really is LDM's, not diffusers' with a prefix.
    assert "model.diffusion_model.middle_block.1.proj_in.weight" in checkpoint
    assert "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight" in checkpoint
    assert unet_to_ldm and vae_to_ldm


def _run(pipe: Any, **kwargs: Any) -> Any:
    import torch

    generator = torch.Generator().manual_seed(7)
    return pipe(prompt="a photo of a cat", generator=generator, **FAST, **kwargs).images


def test_tiny_single_file_loads_offline_and_draws_the_same_pixels(tiny_single_file: TinySingleFile):
    import numpy as np
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    family = detect_family(tiny_single_file.checkpoint)
    assert (family.name, family.inpainting, family.context_dim) == ("sd1", False, 32)
    with network_blocked() as attempts:
        pipe = load_single_file_pipeline(
            tiny_single_file.checkpoint, mode="txt2img", config_dir=tiny_single_file.config_dir
        )
        reference = StableDiffusionPipeline.from_pretrained(
            tiny_single_file.pipeline_dir, local_files_only=True
        )
        reference.set_progress_bar_config(disable=True)
        image, expected = _run(pipe), _run(reference)
    assert attempts == []
    assert type(pipe) is StableDiffusionPipeline and pipe.safety_checker is None
    assert image.shape == (1, 32, 32, 3)
    np.testing.assert_array_equal(image, expected)

    with network_blocked():
        img2img = load_single_file_pipeline(
            tiny_single_file.checkpoint,
            mode="image",
            dtype="bfloat16",
            family=family,
            config_dir=tiny_single_file.config_dir,
        )
    assert type(img2img) is StableDiffusionImg2ImgPipeline
    assert {img2img.unet.dtype, img2img.vae.dtype, img2img.text_encoder.dtype} == {torch.bfloat16}


def test_tiny_inpainting_single_file_gets_a_nine_channel_unet(
    tiny_single_file: TinySingleFile, tiny_single_file_inpaint: TinySingleFile
):
    import numpy as np
    from diffusers import StableDiffusionInpaintPipeline
    from PIL import Image

    # The 4-channel config folder: in_channels comes from the checkpoint's conv_in weight.
    with network_blocked():
        pipe = load_single_file_pipeline(
            tiny_single_file_inpaint.checkpoint,
            mode="txt2img",
            config_dir=tiny_single_file.config_dir,
        )
        reference = StableDiffusionInpaintPipeline.from_pretrained(
            tiny_single_file_inpaint.pipeline_dir, local_files_only=True
        )
        reference.set_progress_bar_config(disable=True)
        image = Image.new("RGB", (32, 32), (200, 120, 40))
        mask = Image.new("L", (32, 32), 0)
        mask.paste(255, (8, 8, 24, 24))
        got = _run(pipe, image=image, mask_image=mask)
        expected = _run(reference, image=image, mask_image=mask)
    assert type(pipe) is StableDiffusionInpaintPipeline
    assert pipe.unet.config.in_channels == 9
    np.testing.assert_array_equal(got, expected)


def test_early_sd1_text_encoder_keys_are_renamed(tiny_single_file: TinySingleFile, tmp_path):
    import numpy as np
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import load_file, save_file

    # Early SD 1.x files lack transformers' "text_model." level (A1111 renames them on load).
    prefix = "cond_stage_model.transformer."
    tensors = {
        key.replace(prefix + "text_model.", prefix): value
        for key, value in load_file(tiny_single_file.checkpoint).items()
    }
    legacy = tmp_path / "early-sd1.safetensors"
    save_file(tensors, legacy)
    family = detect_family(legacy)
    assert (family.name, family.legacy_text_keys) == ("sd1", True)
    with network_blocked():
        pipe = load_single_file_pipeline(legacy, config_dir=tiny_single_file.config_dir)
        reference = StableDiffusionPipeline.from_pretrained(
            tiny_single_file.pipeline_dir, local_files_only=True
        )
        reference.set_progress_bar_config(disable=True)
        np.testing.assert_array_equal(_run(pipe), _run(reference))


def _same_as_folder(tiny: TinySingleFile, prediction: str = "auto") -> Any:
    import numpy as np

    with network_blocked() as attempts:
        pipe = load_single_file_pipeline(
            tiny.checkpoint, prediction=prediction, config_dir=tiny.config_dir
        )
        reference = type(pipe).from_pretrained(tiny.pipeline_dir, local_files_only=True)
        reference.set_progress_bar_config(disable=True)
        np.testing.assert_array_equal(_run(pipe), _run(reference))
    assert attempts == []
    return pipe


def test_tiny_sd2_single_file_with_open_clip_text_encoder(tiny_single_file_sd2: TinySingleFile):
    from diffusers import StableDiffusionPipeline

    family = detect_family(tiny_single_file_sd2.checkpoint)
    assert (family.name, family.prediction) == ("sd2", "epsilon")  # nothing says v here
    # The tiny SD 2.x model is a v-prediction one: say so, as a user would.
    pipe = _same_as_folder(tiny_single_file_sd2, prediction="v_prediction")
    assert type(pipe) is StableDiffusionPipeline
    assert pipe.scheduler.config.prediction_type == "v_prediction"


def test_tiny_sdxl_single_file_with_both_text_encoders(tiny_single_file_sdxl: TinySingleFile):
    from diffusers import StableDiffusionXLPipeline

    family = detect_family(tiny_single_file_sdxl.checkpoint)
    assert (family.name, family.config, family.context_dim) == ("sdxl", "sdxl", 96)
    pipe = _same_as_folder(tiny_single_file_sdxl)
    assert type(pipe) is StableDiffusionXLPipeline
    assert pipe.text_encoder_2.config.hidden_size == 64


def test_weights_that_do_not_fit_the_family_config_give_a_clear_error(
    tiny_single_file: TinySingleFile,
):
    # The tiny SD 1.x file against the real SD 1.5 config: refused before any weight is read.
    with network_blocked(), pytest.raises(UnsupportedCheckpoint) as info:
        load_single_file_pipeline(tiny_single_file.checkpoint)
    assert "cross-attention width of 32" in str(info.value) and "768" in str(info.value)
