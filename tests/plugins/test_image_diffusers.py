"""The built-in diffusers image plugin on tiny random Stable Diffusion pipelines (64 px, 2 steps):
text-to-image, image-to-image and inpainting, seeds, previews, cancel, recipes in exported PNGs,
the command line, and bad input."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from studio_image_diffusers.generation import cancel_points
from studio_image_diffusers.loading import SCHEDULER_CHOICES, ModelFolderError
from studio_image_diffusers.plugin import DiffusersImage
from studio_image_diffusers.previews import latents_to_rgb

from studio.cli.main import main
from studio.core.errors import UserError
from studio.core.jobs import Job, JobCancelled, readable_error
from studio.core.media import png_text
from studio.core.media.a1111 import parse_parameters
from studio.core.media.export import export_assets
from studio.core.project.store import ProjectStore
from studio.core.registry import PluginRegistry, PluginSource
from studio.plugin_api import (
    AssetKind,
    Cancelled,
    CancelToken,
    ImageRequest,
    InputMedia,
    LoadContext,
    Panel,
    Partial,
    Progress,
    ResolvedModel,
    Result,
    RunContext,
    read_manifest,
)
from studio.plugin_api.testing import check_plugin
from tests.conftest import REPO_ROOT
from tests.fixtures.single_file import tiny_single_file  # noqa: F401 (fixture)
from tests.fixtures.tiny_models import (
    network_blocked,
    tiny_sd_dir,  # noqa: F401 (fixture)
    tiny_sd_inpaint_dir,  # noqa: F401 (fixture)
    write_clip_tokenizer,
)
from tests.support import import_inputs, make_executor, store_sink

PLUGIN_DIR = REPO_ROOT / "plugins" / "studio_image_diffusers"
MANIFEST = PLUGIN_DIR / "studio-plugin.toml"
PLUGIN_ID = "studio.image-diffusers"
FAST = {"steps": 2, "seed": 3}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plugin() -> DiffusersImage:
    return DiffusersImage()


@pytest.fixture(scope="module")
def loaded(plugin, tiny_sd_dir):
    return load(plugin, tiny_sd_dir)


@pytest.fixture(scope="module")
def loaded_inpaint(plugin, tiny_sd_inpaint_dir):
    return load(plugin, tiny_sd_inpaint_dir)


def load(plugin, path):
    return plugin.load(
        plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="tiny", path=path))
    )


def run(plugin, loaded, request=None, cancel=None, **options) -> list:
    options = plugin.run_options.validate({**FAST, **options})
    ctx = RunContext(model=ResolvedModel(id="tiny"), cancel=cancel or CancelToken())
    return list(plugin.run(loaded, request or ImageRequest(prompt="an apple"), options, ctx))


def images(events) -> list[Image.Image]:
    return [
        Image.open(io.BytesIO(asset.data))
        for e in events
        if isinstance(e, Result)
        for asset in e.assets
    ]


def pixels(image: Image.Image) -> bytes:
    return image.convert("RGB").tobytes()


def write_image(path: Path, size=(64, 64), colour=(200, 40, 40), mode="RGB") -> Path:
    Image.new(mode, size, colour).save(path)
    return path


def write_mask(path: Path, size=(64, 64)) -> Path:
    mask = Image.new("L", size, 0)
    mask.paste(255, (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4))
    mask.save(path)
    return path


def image_input(role: str, path: Path) -> InputMedia:
    return InputMedia(role=role, path=path, kind=AssetKind.IMAGE, media_type="image/png")


def diffusers_executor(tmp_path, sink=None):
    executor, memory = make_executor(tmp_path / "data", plugin_dirs=(), sink=sink)
    executor.registry = PluginRegistry(plugin_dirs=())  # the installed entry point
    return executor, memory


def job(model: Path, request=None, **run_options) -> Job:
    return Job(
        plugin_id=PLUGIN_ID,
        panel=Panel.IMAGE,
        request=request or ImageRequest(prompt="an apple", negative_prompt="blurry"),
        load_options={"model": str(model)},
        run_options={**FAST, **run_options},
        device="cpu",
    )


# --------------------------------------------------------------------------------------------
# Registration and contract
# --------------------------------------------------------------------------------------------


def test_the_manifest_is_honest_about_having_no_embedded_model():
    manifest = read_manifest(MANIFEST)
    assert manifest.id == PLUGIN_ID and manifest.panels == (Panel.IMAGE,)
    assert manifest.name == "Stable Diffusion (diffusers)"
    assert manifest.models == ()
    assert "no model ships with studio" in manifest.description.lower()
    assert manifest.model_formats == ("diffusers", "safetensors", "pickle")


def test_it_registers_through_the_entry_point_and_declares_its_inputs():
    registry = PluginRegistry(plugin_dirs=())
    record = registry.get(PLUGIN_ID)
    assert record.source is PluginSource.BUILTIN
    assert record.enabled, record.reason
    spec = registry.spec(PLUGIN_ID)
    assert spec.input_slot("init").kind is AssetKind.IMAGE
    assert spec.input_slot("mask").kind is AssetKind.IMAGE
    assert spec.input_slot("style") is None


def test_the_plugin_keeps_the_contract(tiny_sd_dir):
    check_plugin(MANIFEST, model=ResolvedModel(id="tiny", path=tiny_sd_dir), run_options=FAST)


def test_options_use_the_names_the_a1111_export_reads(plugin):
    assert plugin.run_options.names == (
        "steps",
        "guidance_scale",
        "scheduler",
        "width",
        "height",
        "loras",
        "seed",
        "variations",
        "strength",
        "preview_every",
    )
    assert {"Euler a", "Euler", "DPM++ 2M", "DDIM", "PNDM", "LMS", "UniPC"} <= set(
        SCHEDULER_CHOICES
    )


# --------------------------------------------------------------------------------------------
# Text-to-image
# --------------------------------------------------------------------------------------------


def test_text_to_image_at_the_models_size_with_progress_and_previews(plugin, loaded):
    events = run(plugin, loaded)
    (image,) = images(events)
    assert image.size == (64, 64) and image.format == "PNG"
    steps = [e.message for e in events if isinstance(e, Progress) and "step" in e.message]
    assert steps == ["step 1 of 2", "step 2 of 2"]
    previews = [e for e in events if isinstance(e, Partial)]
    assert previews and all(p.media_type == "image/png" for p in previews)
    assert Image.open(io.BytesIO(previews[0].data)).size == (32, 32)  # the latent's size
    (result,) = [e for e in events if isinstance(e, Result)]
    asset = result.assets[0]
    assert asset.seed == 3 and asset.input_roles == ()
    assert asset.details["mode"] == "text-to-image" and asset.details["sampler"] == "Euler a"


def test_the_same_seed_gives_identical_pixels(plugin, loaded):
    first = pixels(images(run(plugin, loaded, seed=11))[0])
    again = pixels(images(run(plugin, loaded, seed=11))[0])
    other = pixels(images(run(plugin, loaded, seed=12))[0])
    assert first == again
    assert first != other


def test_previews_can_be_turned_off(plugin, loaded):
    events = run(plugin, loaded, preview_every=0, steps=3)
    assert not [e for e in events if isinstance(e, Partial)]
    events = run(plugin, loaded, preview_every=1, steps=3)
    assert len([e for e in events if isinstance(e, Partial)]) == 2  # not after the last step


@pytest.mark.parametrize("sampler", SCHEDULER_CHOICES)
def test_every_sampler_runs(plugin, loaded, sampler):
    (image,) = images(run(plugin, loaded, scheduler=sampler))
    assert image.size == (64, 64)


def test_a_batch_is_one_result_per_image_with_consecutive_seeds(plugin, loaded):
    events = run(plugin, loaded, variations=2, seed=2**32 - 1)
    results = [e.assets[0] for e in events if isinstance(e, Result)]
    assert [a.seed for a in results] == [2**32 - 1, 0]
    assert [a.details["variation"] for a in results] == [1, 2]
    assert [a.title for a in results] == [f"an apple · seed {2**32 - 1}", "an apple · seed 0"]
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    single = images(run(plugin, loaded, seed=0))[0]
    assert pixels(Image.open(io.BytesIO(results[1].data))) == pixels(single)


def test_width_and_height_are_rounded_to_a_multiple_of_eight(plugin, loaded):
    (image,) = images(run(plugin, loaded, width=100, height=72))
    assert image.size == (96, 72)


def test_the_preview_approximation_maps_latent_channels_to_colours():
    import torch

    latents = torch.zeros(1, 4, 2, 3)
    assert latents_to_rgb(latents, "sd").shape == (2, 3, 3)
    assert int(latents_to_rgb(latents, "sd")[0, 0, 0]) == 127  # zero latents: mid grey
    latents[0, 0] = 1.0
    assert latents_to_rgb(latents, "sd")[0, 0].tolist() == [172, 156, 168]
    assert latents_to_rgb(latents, "sdxl")[0, 0].tolist() != [172, 156, 168]


# --------------------------------------------------------------------------------------------
# Image-to-image and inpainting
# --------------------------------------------------------------------------------------------


def test_image_to_image_takes_the_init_images_size(plugin, loaded, tmp_path):
    init = write_image(tmp_path / "init.png", size=(48, 80))
    request = ImageRequest(prompt="a pear", inputs=(image_input("init", init),))
    events = run(plugin, loaded, request, steps=4, strength=0.5)
    (image,) = images(events)
    assert image.size == (48, 80)
    steps = [e.message for e in events if isinstance(e, Progress) and "step" in e.message]
    assert steps == ["step 1 of 2", "step 2 of 2"]  # strength 0.5 of 4 steps
    asset = next(e for e in events if isinstance(e, Result)).assets[0]
    assert asset.input_roles == ("init",) and asset.details["mode"] == "image-to-image"
    assert asset.title == f"a pear · from init.png · seed {asset.seed}"
    again = images(run(plugin, loaded, request, steps=4, strength=0.5))[0]
    assert pixels(again) == pixels(image)


def test_too_little_strength_for_the_steps_is_refused(plugin, loaded, tmp_path):
    init = write_image(tmp_path / "init.png")
    request = ImageRequest(prompt="x", inputs=(image_input("init", init),))
    with pytest.raises(ValueError, match="no step would run"):
        run(plugin, loaded, request, steps=2, strength=0.3)


@pytest.mark.parametrize("which", ["plain", "inpaint"])
def test_inpainting_with_a_plain_or_an_inpainting_model(
    plugin, loaded, loaded_inpaint, tmp_path, which
):
    model = loaded if which == "plain" else loaded_inpaint
    init = write_image(tmp_path / "init.png")
    mask = write_mask(tmp_path / "mask.png")
    request = ImageRequest(
        prompt="a hole", inputs=(image_input("init", init), image_input("mask", mask))
    )
    events = run(plugin, model, request, strength=1.0)
    (image,) = images(events)
    assert image.size == (64, 64)
    asset = next(e for e in events if isinstance(e, Result)).assets[0]
    assert asset.input_roles == ("init", "mask") and asset.details["mode"] == "inpainting"
    assert pixels(images(run(plugin, model, request, strength=1.0))[0]) == pixels(image)


def test_an_inpainting_model_also_does_text_and_image_to_image(plugin, loaded_inpaint, tmp_path):
    assert images(run(plugin, loaded_inpaint))[0].size == (64, 64)
    init = write_image(tmp_path / "init.png")
    request = ImageRequest(prompt="x", inputs=(image_input("init", init),))
    assert images(run(plugin, loaded_inpaint, request))[0].size == (64, 64)


def test_bad_masks_are_refused_clearly(plugin, loaded, tmp_path):
    init = write_image(tmp_path / "init.png")
    small = write_mask(tmp_path / "small.png", size=(32, 32))
    empty = write_image(tmp_path / "empty.png", colour=0, mode="L")
    with pytest.raises(ValueError, match=r"mask is 32×32 pixels but the init image is 64×64"):
        run(
            plugin,
            loaded,
            ImageRequest(inputs=(image_input("init", init), image_input("mask", small))),
        )
    with pytest.raises(ValueError, match="mask is empty"):
        run(
            plugin,
            loaded,
            ImageRequest(inputs=(image_input("init", init), image_input("mask", empty))),
        )
    with pytest.raises(ValueError, match="needs an init image as well"):
        run(plugin, loaded, ImageRequest(inputs=(image_input("mask", small),)))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ValueError, match=r"init image cannot be used: junk\.png is not an image"):
        run(plugin, loaded, ImageRequest(inputs=(image_input("init", junk),)))


# --------------------------------------------------------------------------------------------
# Cancel
# --------------------------------------------------------------------------------------------


def test_cancel_in_a_step_stops_at_the_end_of_that_step(plugin, loaded):
    cancel = CancelToken()
    seen = []
    stream = plugin.run(
        loaded,
        ImageRequest(prompt="x"),
        plugin.run_options.validate({"steps": 6, "seed": 1}),
        RunContext(model=ResolvedModel(id="tiny"), cancel=cancel),
    )
    with pytest.raises(Cancelled):
        for event in stream:
            seen.append(event)
            if isinstance(event, Progress) and event.message == "step 1 of 6":
                cancel.cancel()
    steps = [e.message for e in seen if isinstance(e, Progress) and "step" in e.message]
    assert steps == ["step 1 of 6"]  # the next step's callback raised
    assert not [e for e in seen if isinstance(e, Result)]


def test_a_job_cancelled_after_one_step_commits_nothing(tmp_path, tiny_sd_dir):
    store = ProjectStore.create(tmp_path / "p.studio")
    try:
        executor, _ = diffusers_executor(tmp_path, sink=store_sink(store))
        cancel = CancelToken()

        def on_event(event):
            if isinstance(event, Progress) and event.message.endswith("step 1 of 4"):
                cancel.cancel()

        with pytest.raises(JobCancelled) as caught:
            executor.execute(job(tiny_sd_dir, steps=4, variations=2), cancel, on_event)
        assert caught.value.asset_ids == ()
        assert store.count_assets() == 0
    finally:
        store.close()


def test_cancel_is_checked_inside_a_step_and_the_hooks_go_away(plugin, loaded):
    pipe = loaded.pipeline_for("text")
    blocks = cancel_points(pipe)
    assert len(blocks) >= 5 and all(not block._forward_pre_hooks for block in blocks)
    cancel = CancelToken()
    calls = []

    def cancel_in_the_second_block(module, inputs):
        calls.append(module)
        if len(calls) == 2:
            cancel.cancel()  # in the middle of the first step's UNet pass

    handle = blocks[0].register_forward_pre_hook(cancel_in_the_second_block)
    handle_2 = blocks[1].register_forward_pre_hook(cancel_in_the_second_block)
    try:
        with pytest.raises(Cancelled):
            run(plugin, loaded, cancel=cancel, steps=4)
    finally:
        handle.remove()
        handle_2.remove()
    assert len(calls) == 2  # the third block never started
    assert all(not block._forward_pre_hooks for block in blocks)


def test_closing_the_stream_early_stops_the_helper_thread(plugin, loaded):
    import threading

    stream = plugin.run(
        loaded,
        ImageRequest(prompt="x"),
        plugin.run_options.validate({"steps": 20, "seed": 1}),
        RunContext(model=ResolvedModel(id="tiny")),
    )
    next(stream)
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "studio-diffusers-generate"]


# --------------------------------------------------------------------------------------------
# Jobs, recipes, lineage and the exported PNG
# --------------------------------------------------------------------------------------------


def test_an_exported_png_carries_parameters_and_the_recipe_with_lineage(tmp_path, tiny_sd_dir):
    store = ProjectStore.create(tmp_path / "p.studio")
    try:
        executor, _ = diffusers_executor(tmp_path, sink=store_sink(store))
        init = write_image(tmp_path / "init.png")
        mask = write_mask(tmp_path / "mask.png")
        inputs = import_inputs(store, [("init", init), ("mask", mask)])
        request = ImageRequest(prompt="a red fox", negative_prompt="blurry", inputs=inputs)
        outcome = executor.execute(
            job(tiny_sd_dir, request, seed=3, steps=4, strength=0.5, guidance_scale=6.5),
            CancelToken(),
        )
        (asset_id,) = outcome.asset_ids
        recipe = store.get_asset(asset_id).recipe
        assert recipe.seed == 3 and recipe.plugin_id == PLUGIN_ID
        assert {(link.role, link.asset_id) for link in recipe.inputs} == {
            ("init", inputs[0].asset_id),
            ("mask", inputs[1].asset_id),
        }
        assert recipe.details["mode"] == "inpainting"
        (exported,) = export_assets(store, tmp_path / "out", asset_ids=[asset_id])
        texts = png_text.read_texts(exported.path.read_bytes())
        parsed = parse_parameters(texts["parameters"])
        assert parsed.prompt == "a red fox" and parsed.negative_prompt == "blurry"
        settings = dict(parsed.settings)
        assert settings["Seed"] == "3" and settings["Steps"] == "4"
        assert settings["Sampler"] == "Euler a" and settings["CFG scale"] == "6.5"
        assert settings["Size"] == "64x64" and settings["Denoising strength"] == "0.5"
        assert json.loads(texts["studio-recipe"])["seed"] == 3
    finally:
        store.close()


def test_the_command_line_makes_images_with_inputs(tmp_path, tiny_sd_dir, capsys):
    project = tmp_path / "cli.studio"
    init = write_image(tmp_path / "a.png")
    mask = write_mask(tmp_path / "m.png")
    args = ["generate", "image", "--project", str(project), "--plugin", PLUGIN_ID]
    settings = ["--set", f"model={tiny_sd_dir}", "--set", "prompt=a cat", "--set", "steps=2"]
    code = main([*args, *settings, "--set", "seed=3", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    (made,) = json.loads(out.out)["assets"]
    assert made["recipe"]["seed"] == 3 and made["kind"] == "image"
    code = main(
        [*args, *settings, "--set", "strength=1.0", "--input", f"init={init}",
         "--input", f"mask={mask}", "--json"]
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    (made,) = json.loads(out.out)["assets"]
    assert {link["role"] for link in made["recipe"]["inputs"]} == {"init", "mask"}
    assert made["recipe"]["details"]["mode"] == "inpainting"
    store = ProjectStore.open(project, read_only=True)
    try:
        assert store.count_assets() == 4  # two images made, init and mask imported
    finally:
        store.close()


def test_the_command_line_refuses_a_mask_of_the_wrong_size_before_importing(
    tmp_path, tiny_sd_dir, capsys
):
    project = tmp_path / "cli.studio"
    ProjectStore.create(project).close()
    code = main(
        ["generate", "image", "--project", str(project), "--plugin", PLUGIN_ID,
         "--set", f"model={tiny_sd_dir}", "--set", "steps=2",
         "--input", f"init={write_image(tmp_path / 'a.png')}",
         "--input", f"mask={write_mask(tmp_path / 'm.png', size=(32, 32))}"]
    )  # fmt: skip
    assert code == 2
    assert "a mask must have the init image's size" in capsys.readouterr().err
    store = ProjectStore.open(project, read_only=True)
    try:
        assert store.count_assets() == 0
    finally:
        store.close()


# --------------------------------------------------------------------------------------------
# Bad input: nothing half-added
# --------------------------------------------------------------------------------------------


def _png(width: int, height: int, *, complete: bool) -> bytes:
    """A grey PNG of zeros; ``complete`` compresses every row (a real decompression bomb:
    ~140 kB for 12000x12000), otherwise only the header is honest."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(packer.compress(row) for _ in range(height if complete else 1))
    idat += packer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(good, "PNG")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.getvalue()[:60])
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png(20000, 20000, complete=False))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(12000, 12000, complete=True))
    return {
        "truncated": (truncated, "not a readable PNG"),
        "non-image": (text, "promises a PNG image but it is not one"),
        "20000x20000": (huge, "too large to decode safely"),
        "bomb": (bomb, "too large to decode safely"),
    }


def test_bad_input_files_are_refused_and_nothing_is_added(tmp_path, tiny_sd_dir, capsys):
    project = tmp_path / "bad.studio"
    ProjectStore.create(project).close()
    good = write_image(tmp_path / "good.png")
    for name, (path, message) in _bad_files(tmp_path).items():
        store = ProjectStore.open(project)
        try:
            with pytest.raises(UserError) as caught:
                import_inputs(store, [("init", good), ("mask", path)])
            assert message in str(caught.value), name
            assert store.count_assets() == 0, name
        finally:
            store.close()
        code = main(
            ["generate", "image", "--project", str(project), "--plugin", PLUGIN_ID,
             "--set", f"model={tiny_sd_dir}", "--set", "steps=2", "--input", f"init={path}"]
        )  # fmt: skip
        assert code == 2, name
        assert message in capsys.readouterr().err, name
    store = ProjectStore.open(project, read_only=True)
    try:
        assert store.count_assets() == 0
    finally:
        store.close()


def test_a_folder_that_is_not_a_pipeline_fails_with_a_message(tmp_path, tiny_sd_dir):
    not_a_model = tmp_path / "photos"
    not_a_model.mkdir()
    (not_a_model / "cat.jpg").write_bytes(b"x")
    executor, sink = diffusers_executor(tmp_path)
    with pytest.raises(ModelFolderError) as caught:
        executor.execute(job(not_a_model), CancelToken())
    assert readable_error(caught.value) == (
        f"The folder {not_a_model} is not a diffusers pipeline: it has no model_index.json. "
        "Choose a Stable Diffusion or SDXL folder in the diffusers layout."
    )
    assert sink.produced == []


def test_damaged_and_foreign_model_folders_are_refused(plugin, tmp_path, tiny_sd_dir):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_sd_dir, broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.write_bytes(b"garbage")
    with pytest.raises(ModelFolderError, match="cannot be loaded as a StableDiffusionPipeline"):
        load(plugin, broken)
    foreign = tmp_path / "foreign"
    shutil.copytree(tiny_sd_dir, foreign)
    index = json.loads((foreign / "model_index.json").read_text())
    (foreign / "model_index.json").write_text(json.dumps(index | {"_class_name": "FluxPipeline"}))
    with pytest.raises(ModelFolderError, match="holds a FluxPipeline pipeline"):
        load(plugin, foreign)
    custom = tmp_path / "custom"
    shutil.copytree(tiny_sd_dir, custom)
    (custom / "model_index.json").write_text(json.dumps(index | {"unet": ["my_code", "MyUNet"]}))
    with pytest.raises(ModelFolderError, match="needs code from 'my_code'"):
        load(plugin, custom)
    (custom / "model_index.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="cannot be read as JSON"):
        load(plugin, custom)


def test_components_must_be_classes_diffusers_or_transformers_export(plugin, tmp_path, tiny_sd_dir):
    from studio_image_diffusers.loading import is_library_class, pickled_weights

    assert is_library_class("diffusers", "UNet2DConditionModel")
    assert is_library_class("transformers", "CLIPTextModel")
    for name in ("logging", "os", "NoSuchModel", "pipelines.Evil", "__class__", None):
        assert not is_library_class("diffusers", name)
    odd = tmp_path / "odd"
    shutil.copytree(tiny_sd_dir, odd)
    index = json.loads((odd / "model_index.json").read_text())
    (odd / "model_index.json").write_text(json.dumps(index | {"vae": ["diffusers", "os"]}))
    with pytest.raises(ModelFolderError) as caught:
        load(plugin, odd)
    assert str(caught.value) == (
        f"{odd / 'model_index.json'} names the component 'vae' as diffusers class 'os', which "
        "is not a class of diffusers; Studio does not load it."
    )
    assert pickled_weights(odd / "unet") == []  # safetensors weights: diffusers reads them
    (odd / "vae" / "diffusion_pytorch_model.safetensors").rename(odd / "vae" / "x.bin")
    assert pickled_weights(odd / "vae") == [odd / "vae" / "x.bin"]


def test_no_model_or_a_single_file_says_what_to_do(plugin, tmp_path, tiny_sd_dir):
    with pytest.raises(ModelFolderError, match="import a model folder"):
        plugin.load(plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="")))
    single = tmp_path / "model.safetensors"
    single.write_bytes(b"x")
    with pytest.raises(ModelFolderError, match=r"model\.safetensors"):
        load(plugin, single)
    executor, _ = diffusers_executor(tmp_path)
    no_model = Job(plugin_id=PLUGIN_ID, panel=Panel.IMAGE, request=ImageRequest(prompt="x"))
    with pytest.raises(UserError, match="has no embedded model"):
        executor.execute(no_model, CancelToken())


def build_tiny_sdxl_pipeline(folder: Path) -> Path:
    """A tiny random SDXL pipeline (two CLIP text encoders, "text_time" UNet), shapes from
    diffusers' own fast SDXL tests, with the tests' CLIP tokenizer for both encoders."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(folder / "tokenizer-source"))
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80,  # 6 * 8 + 32
        cross_attention_dim=64,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        sample_size=64,
    )
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(config),
        text_encoder_2=CLIPTextModelWithProjection(config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
        ),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    shutil.rmtree(folder / "tokenizer-source")
    return folder


def test_sdxl_folders_run_every_mode(plugin, tmp_path):
    model = load(plugin, build_tiny_sdxl_pipeline(tmp_path / "sdxl"))
    assert model.family == "sdxl" and model.default_size == 64
    events = run(plugin, model, preview_every=1, steps=3)
    (image,) = images(events)
    assert image.size == (64, 64)
    assert [e for e in events if isinstance(e, Partial)]
    init = write_image(tmp_path / "init.png")
    mask = write_mask(tmp_path / "mask.png")
    request = ImageRequest(prompt="x", inputs=(image_input("init", init),))
    assert images(run(plugin, model, request))[0].size == (64, 64)
    request = ImageRequest(inputs=(image_input("init", init), image_input("mask", mask)))
    assert images(run(plugin, model, request, strength=1.0))[0].size == (64, 64)
    assert pixels(images(run(plugin, model, seed=4))[0]) == pixels(
        images(run(plugin, model, seed=4))[0]
    )


def test_cpu_loads_are_float32_and_memory_is_counted(plugin, loaded):
    import torch

    assert loaded.pipe.unet.dtype == torch.float32
    assert plugin.memory_bytes(loaded) > 0


def test_a_single_file_checkpoint_draws_what_its_folder_draws(
    plugin, tiny_single_file, monkeypatch
):
    """The plugin loads a single-file checkpoint offline (its family's config, here the tiny
    pipeline's own) and draws exactly what the diffusers folder it was written from draws."""
    import functools

    from studio_image_diffusers import single_file

    monkeypatch.setattr(
        single_file,
        "load_single_file_pipeline",
        functools.partial(
            single_file.load_single_file_pipeline, config_dir=tiny_single_file.config_dir
        ),
    )
    with network_blocked() as attempts:
        from_file = load(plugin, tiny_single_file.checkpoint)
        drawn = images(run(plugin, from_file, seed=5))
    assert attempts == []
    from_folder = load(plugin, tiny_single_file.pipeline_dir)
    expected = images(run(plugin, from_folder, seed=5))
    assert from_file.path == tiny_single_file.checkpoint
    assert pixels(drawn[0]) == pixels(expected[0])
