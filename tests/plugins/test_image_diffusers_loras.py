"""LoRAs for Stable Diffusion: a LoRA built from the tiny pipeline changes the picture at its
strength, is found by name in the model library (the ``loras`` option or AUTOMATIC1111's
``<lora:NAME:STRENGTH>`` prompt tags) and is kept in the recipe."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import io

import pytest
from PIL import Image
from studio_image_diffusers.plugin import DiffusersImage
from studio_image_diffusers.settings import options_from_settings

from studio.core.errors import UserError
from studio.core.jobs import Job
from studio.core.model_library import ModelLibrary
from studio.core.model_scan.catalog import scan_library
from studio.core.model_scan.describe import describe
from studio.core.model_scan.loras import LoraFinder
from studio.core.model_scan.places import Place
from studio.core.pipeline import Draft, JobPipeline
from studio.core.registry import PluginRegistry
from studio.plugin_api import (
    CancelToken,
    GenerationSettings,
    ImageRequest,
    LoadContext,
    LoraOption,
    LoraUse,
    LoraWeight,
    Panel,
    ResolvedModel,
    Result,
    RunContext,
    SettingsDialect,
)
from studio.plugin_api.options import OptionError, take_lora_tags
from tests.fixtures.tiny_models import build_tiny_sd_lora, tiny_sd_dir  # noqa: F401
from tests.support import make_executor

FAST = {"steps": 2, "seed": 3, "preview_every": 0}


@pytest.fixture(scope="module")
def loras(tiny_sd_dir, tmp_path_factory):
    """An A1111 models/Lora folder with a diffusers-format and a kohya-format LoRA."""
    folder = tmp_path_factory.mktemp("a1111") / "models" / "Lora"
    build_tiny_sd_lora(tiny_sd_dir, folder / "ink.safetensors")
    build_tiny_sd_lora(tiny_sd_dir, folder / "style" / "Film Grain.safetensors", kohya=True)
    return folder


@pytest.fixture(scope="module")
def plugin():
    return DiffusersImage()


@pytest.fixture(scope="module")
def loaded(plugin, tiny_sd_dir):
    return plugin.load(
        plugin.load_options.validate({}),
        LoadContext(model=ResolvedModel(id="tiny", path=tiny_sd_dir)),
    )


def draw(plugin, loaded, **options) -> tuple[bytes, dict]:
    options = plugin.run_options.validate({**FAST, **options})
    ctx = RunContext(model=ResolvedModel(id="tiny"), cancel=CancelToken())
    events = list(plugin.run(loaded, ImageRequest(prompt="an apple"), options, ctx))
    asset = next(e for e in events if isinstance(e, Result)).assets[0]
    return Image.open(io.BytesIO(asset.data)).convert("RGB").tobytes(), dict(asset.details)


def difference(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def test_a_lora_changes_the_picture_by_its_strength_and_switches_off_again(plugin, loaded, loras):
    ink = loras / "ink.safetensors"
    plain, details = draw(plugin, loaded)
    assert "loras" not in details
    full, details = draw(plugin, loaded, loras=f"{ink}:1")
    half, _ = draw(plugin, loaded, loras=f"{ink}:0.5")
    zero, _ = draw(plugin, loaded, loras=f"{ink}:0")
    assert details["loras"] == [{"name": "ink", "strength": 1.0}]
    assert difference(plain, full) > 1.0  # mean change per channel value out of 255
    assert 0 < difference(plain, half) < difference(plain, full)
    assert zero == plain  # strength 0 is no LoRA
    again, _ = draw(plugin, loaded)  # a run without LoRAs after one with: switched off
    assert again == plain


def test_an_automatic1111_kohya_lora_and_two_loras_together(plugin, loaded, loras):
    grain = loras / "style" / "Film Grain.safetensors"
    plain, _ = draw(plugin, loaded)
    kohya, _ = draw(plugin, loaded, loras=f"{grain}:1")
    both, details = draw(plugin, loaded, loras=f"{loras / 'ink.safetensors'}:0.7; {grain}:0.4")
    assert difference(plain, kohya) > 1.0
    assert both not in (plain, kohya)
    assert [lora["name"] for lora in details["loras"]] == ["ink", "Film Grain"]


def test_the_library_knows_them_as_loras_and_never_as_a_model(loras):
    for path in (loras / "ink.safetensors", loras / "style" / "Film Grain.safetensors"):
        facts = describe(path)
        assert (facts.kind, facts.panels, facts.usable) == ("LoRA", (Panel.IMAGE,), True)


def finder_for(folder) -> LoraFinder:
    return LoraFinder(lambda: scan_library([Place("automatic1111", folder)]))


def test_a_job_finds_its_loras_by_name_takes_the_prompt_tags_out_and_records_them(
    tmp_path, tiny_sd_dir, loras
):
    executor, sink = make_executor(tmp_path / "data", plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=())
    executor.loras = finder_for(loras.parent.parent)
    job = Job(
        plugin_id="studio.image-diffusers",
        panel=Panel.IMAGE,
        request=ImageRequest(prompt="an apple, <lora:film grain:0.4> on a table <lora:ink>"),
        load_options={"model": str(tiny_sd_dir)},
        run_options={**FAST, "loras": "ink:0.7"},
        device="cpu",
    )
    checked = executor.check(job)
    assert checked.request.prompt == "an apple, on a table"
    grain = loras / "style" / "Film Grain.safetensors"
    # ink named twice: once, at the strength given last
    assert LoraOption.uses(checked.run_options["loras"]) == (
        LoraUse(str(loras / "ink.safetensors"), 1.0),
        LoraUse(str(grain), 0.4),
    )
    executor.execute(job, CancelToken())
    recipe = sink.produced[0]
    assert recipe.run_options["loras"] == checked.run_options["loras"]
    assert recipe.job.request.prompt == "an apple, on a table"
    assert [lora["name"] for lora in recipe.asset.details["loras"]] == ["ink", "Film Grain"]


def test_a_lora_that_is_not_there_or_is_no_lora_is_one_clear_sentence(tmp_path, tiny_sd_dir, loras):
    finder = finder_for(loras.parent.parent)
    with pytest.raises(UserError, match=r"No LoRA named 'watercolour' .*models/Lora"):
        finder.find("watercolour")
    with pytest.raises(UserError, match="is not a LoRA"):
        finder.find(str(tiny_sd_dir / "unet" / "diffusion_pytorch_model.safetensors"))
    pickle = tmp_path / "old.safetensors"
    pickle.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(UserError):
        finder.find(str(pickle))
    assert finder.names() == ["Film Grain", "ink"]
    # a recipe's path to a LoRA that has moved since: found again by its name
    assert finder.find(str(tmp_path / "gone" / "ink.safetensors")) == loras / "ink.safetensors"


def test_a_library_folder_the_user_added_is_searched(tmp_path, tiny_sd_dir):
    own = tmp_path / "my-loras"
    build_tiny_sd_lora(tiny_sd_dir, own / "sketch.safetensors")
    library = ModelLibrary(tmp_path / "library.json")
    library.add_folder(own)
    finder = LoraFinder(
        lambda: scan_library([Place("folder", folder) for folder in library.folders()])
    )
    assert finder.find("SKETCH") == own / "sketch.safetensors"


def test_lora_option_values_and_prompt_tags():
    option = LoraOption()
    assert option.uses("ink:0.7; C:\\loras\\grain.safetensors\nplain") == (
        LoraUse("ink", 0.7),
        LoraUse("C:\\loras\\grain.safetensors", 1.0),
        LoraUse("plain", 1.0),
    )
    assert option.validate(" ink : -1.5 ;") == " ink : -1.5 ;"
    for bad in (":0.5", "ink:11", "ink:nan"):
        with pytest.raises(OptionError):
            option.validate(bad)
    assert take_lora_tags("a cat <lora:ink:0.8>, <LORA:grain:0.5:0.2> at dusk") == (
        "a cat, at dusk",
        (LoraUse("ink", 0.8), LoraUse("grain", 0.5)),
    )
    assert take_lora_tags("no tags here") == ("no tags here", ())


def test_comfyui_loras_come_back_by_name_and_a1111_ones_stay_in_the_prompt():
    comfy = GenerationSettings(
        dialect=SettingsDialect.COMFYUI,
        prompt="a cat",
        loras=(LoraWeight(name="styles/ink.safetensors", weight=0.6),),
    )
    mapping = options_from_settings(comfy)
    assert mapping.run_options["loras"] == "ink:0.6" and "loras" in mapping.used
    a1111 = GenerationSettings(
        dialect=SettingsDialect.AUTOMATIC1111,
        prompt="a cat <lora:ink:0.6>",
        loras=(LoraWeight(name="ink", weight=0.6),),
    )
    assert "loras" not in options_from_settings(a1111).run_options


def test_the_prepared_job_keeps_the_prompt_without_its_tags(tmp_path, tiny_sd_dir, loras):
    """The pipeline adds the inputs to the checked request, not to the draft's fields again:
    the model never reads a LoRA tag as words."""
    executor, _sink = make_executor(tmp_path / "data", plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=())
    executor.loras = finder_for(loras.parent.parent)
    pipeline = JobPipeline(executor.registry, executor.check)
    draft = Draft(
        plugin_id="studio.image-diffusers",
        panel=Panel.IMAGE,
        fields={"prompt": "a cat <lora:ink:0.6>"},
        load_options={"model": str(tiny_sd_dir)},
        run_options=FAST,
    )
    prepared = pipeline.run_ready(draft, None)
    assert prepared.job.request.prompt == "a cat"
    assert prepared.job.run_options["loras"] == f"{loras / 'ink.safetensors'}:0.6"
