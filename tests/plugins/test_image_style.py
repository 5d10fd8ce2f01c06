"""The built-in style transfer plugin with its real, embedded networks on small pictures:
built-in styles, a style image, strength, sizes, recipes and lineage, the CLI, cancel and
clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from studio_image_style.plugin import (
    BUILT_IN_CHOICES,
    EMBEDDED_MODEL_ID,
    STYLE_IMAGE,
    STYLE_NAMES,
    StyleTransferPlugin,
)
from studio_image_style.thumbnails import THUMBNAIL_SIZE, scene, thumbnail_path

from studio.cli.main import main
from studio.core.errors import UserError
from studio.core.jobs import Job, JobCancelled
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
    Progress,
    ResolvedModel,
    Result,
    RunContext,
    read_manifest,
)
from studio.plugin_api.testing import check_plugin
from tests.conftest import REPO_ROOT
from tests.support import import_inputs, make_executor, store_sink

PLUGIN_DIR = REPO_ROOT / "plugins" / "studio_image_style"
MANIFEST = PLUGIN_DIR / "studio-plugin.toml"
PLUGIN_ID = "studio.image-style"


@pytest.fixture(scope="module")
def plugin() -> StyleTransferPlugin:
    return StyleTransferPlugin()


@pytest.fixture(scope="module")
def loaded(plugin):
    return plugin.load({}, LoadContext(model=ResolvedModel(id=EMBEDDED_MODEL_ID), threads=2))


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    photo = folder / "photo.png"
    scene(96).crop((0, 16, 96, 80)).save(photo)  # 96 x 64
    rng = np.random.default_rng(3)
    stripes = np.zeros((80, 80, 3), np.uint8)
    stripes[:, :, 0] = (np.arange(80) % 16 < 8)[None, :] * 230
    stripes[:, :, 2] = rng.integers(0, 255, (80, 80))
    painting = folder / "painting.png"
    Image.fromarray(stripes).save(painting)
    return {"photo": photo, "painting": painting}


def image_input(role: str, path: Path) -> InputMedia:
    return InputMedia(role=role, path=path, kind=AssetKind.IMAGE, media_type="image/png")


def request_for(pictures, *, style: bool = False) -> ImageRequest:
    inputs = [image_input("init", pictures["photo"])]
    if style:
        inputs.append(image_input("style", pictures["painting"]))
    return ImageRequest(inputs=tuple(inputs))


def run(plugin, loaded, request, cancel=None, **options):
    ctx = RunContext(model=ResolvedModel(id=EMBEDDED_MODEL_ID), cancel=cancel or CancelToken())
    return list(plugin.run(loaded, request, plugin.run_options.validate(options), ctx))


def result_image(events) -> tuple[Image.Image, dict]:
    assert isinstance(events[-1], Result)
    (asset,) = events[-1].assets
    assert asset.kind is AssetKind.IMAGE and asset.media_type == "image/png"
    return Image.open(io.BytesIO(asset.data)).convert("RGB"), asset


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Registration, contract, options
# --------------------------------------------------------------------------------------------


def test_the_manifest_declares_the_embedded_networks_with_their_licences():
    manifest = read_manifest(MANIFEST)
    assert manifest.id == PLUGIN_ID and manifest.panels == (Panel.IMAGE,)
    (model,) = manifest.models
    assert model.id == EMBEDDED_MODEL_ID and model.embedded
    assert "Apache-2.0" in model.licence and "MIT" in model.licence
    assert manifest.needs.network is False


def test_it_registers_through_the_entry_point_and_is_enabled():
    record = PluginRegistry(plugin_dirs=()).get(PLUGIN_ID)
    assert record.source is PluginSource.BUILTIN
    assert record.enabled, record.reason


def test_the_plugin_keeps_the_contract():
    check_plugin(MANIFEST, model=ResolvedModel(id=EMBEDDED_MODEL_ID))


def test_it_declares_an_image_and_an_optional_style_image(plugin):
    init, style = plugin.inputs
    assert (init.role, init.kind, init.required) == ("init", AssetKind.IMAGE, True)
    assert (style.role, style.kind, style.required) == ("style", AssetKind.IMAGE, False)
    assert plugin.run_options.names == (
        "style",
        "strength",
        "keep_colours",
        "max_size",
        "keep_size",
    )


def test_the_26_styles_have_names_and_a_number_picks_one_on_the_command_line(plugin):
    option = plugin.run_options["style"]
    assert option.choices[:2] == ("auto", STYLE_IMAGE)
    assert len(BUILT_IN_CHOICES) == len(STYLE_NAMES) == 26
    assert option.choices[2:] == BUILT_IN_CHOICES
    assert option.parse("7") == "7 · Deep blue and gold"
    assert option.parse("style image") == STYLE_IMAGE
    with pytest.raises(ValueError, match="is not one of"):
        option.parse("26")


def test_every_style_has_a_thumbnail():
    for index in range(26):
        with Image.open(thumbnail_path(index)) as thumb:
            assert thumb.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    assert (thumbnail_path(0).parent / "original.png").is_file()


# --------------------------------------------------------------------------------------------
# Real runs
# --------------------------------------------------------------------------------------------


def test_a_built_in_style_repaints_the_picture_at_its_own_size(plugin, loaded, pictures):
    events = run(plugin, loaded, request_for(pictures), style="3")
    assert isinstance(events[0], Progress) and events[0].fraction == 0.0
    image, asset = result_image(events)
    original = Image.open(pictures["photo"]).convert("RGB")
    assert image.size == original.size == (96, 64)
    assert np.abs(pixels(image) - pixels(original)).mean() > 20
    assert asset.details["style_used"] == "3 · Blue and red cubist"
    assert asset.input_roles == ("init",)
    assert asset.title == "Blue and red cubist style · photo.png"
    assert plugin.memory_bytes(loaded) > 500_000  # the 26-style network's weights (0.75 MB)


def test_different_styles_give_different_pictures(plugin, loaded, pictures):
    first, _ = result_image(run(plugin, loaded, request_for(pictures), style="3"))
    second, _ = result_image(run(plugin, loaded, request_for(pictures), style="14"))
    assert np.abs(pixels(first) - pixels(second)).mean() > 10


def test_strength_blends_with_the_original(plugin, loaded, pictures):
    original = pixels(Image.open(pictures["photo"]))
    none, _ = result_image(run(plugin, loaded, request_for(pictures), style="3", strength=0.0))
    half, _ = result_image(run(plugin, loaded, request_for(pictures), style="3", strength=0.5))
    full, _ = result_image(run(plugin, loaded, request_for(pictures), style="3", strength=1.0))
    assert np.abs(pixels(none) - original).mean() < 3
    distance = [np.abs(pixels(img) - original).mean() for img in (none, half, full)]
    assert distance[0] < distance[1] < distance[2]


def test_the_style_image_is_used_and_recorded_as_lineage(plugin, loaded, pictures):
    request = request_for(pictures, style=True)
    auto, asset = result_image(run(plugin, loaded, request))  # auto: the style image
    assert asset.details["style_used"] == STYLE_IMAGE
    assert asset.title == "Style of painting.png · photo.png"
    assert asset.input_roles == ("init", "style")
    built_in, _ = result_image(run(plugin, loaded, request_for(pictures)))  # auto: style 19
    assert auto.size == (96, 64)
    assert np.abs(pixels(auto) - pixels(built_in)).mean() > 10
    explicit, _ = result_image(run(plugin, loaded, request, style=STYLE_IMAGE))
    assert np.array_equal(pixels(explicit), pixels(auto))


def test_a_built_in_choice_ignores_a_given_style_image(plugin, loaded, pictures):
    _, asset = result_image(run(plugin, loaded, request_for(pictures, style=True), style="5"))
    assert asset.details["style_used"] == "5 · Warm impasto"
    assert asset.input_roles == ("init",)


def test_the_working_size_can_be_kept_or_the_original_size_restored(plugin, loaded, pictures):
    small, asset = result_image(
        run(plugin, loaded, request_for(pictures), style="1", max_size=64, keep_size=False)
    )
    assert small.size == (64, 43)
    restored, asset = result_image(
        run(plugin, loaded, request_for(pictures), style="1", max_size=64, keep_size=True)
    )
    assert restored.size == (96, 64)
    assert (asset.details["working_width"], asset.details["working_height"]) == (64, 43)


# --------------------------------------------------------------------------------------------
# Errors and cancel
# --------------------------------------------------------------------------------------------


def test_a_missing_picture_is_a_clear_error(plugin, loaded):
    with pytest.raises(ValueError, match="needs a picture: give one as the 'init' input"):
        run(plugin, loaded, ImageRequest())


def test_style_image_without_a_style_image_is_a_clear_error(plugin, loaded, pictures):
    with pytest.raises(ValueError, match="no style image was given"):
        run(plugin, loaded, request_for(pictures), style=STYLE_IMAGE)


def test_an_unreadable_picture_is_a_clear_error(plugin, loaded, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(ValueError, match=r"init image cannot be used: broken\.png is not an image"):
        run(plugin, loaded, ImageRequest(inputs=(image_input("init", broken),)))


def test_a_tiny_picture_is_refused_with_the_reason(plugin, loaded, tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (20, 40), "red").save(tiny)
    with pytest.raises(ValueError, match="at least 32 pixels"):
        run(plugin, loaded, ImageRequest(inputs=(image_input("init", tiny),)))


def test_a_cancelled_run_stops_before_stylizing(plugin, loaded, pictures):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run(plugin, loaded, request_for(pictures), cancel=token)


# --------------------------------------------------------------------------------------------
# Through the executor and the command line: recipes and lineage
# --------------------------------------------------------------------------------------------


def test_through_the_executor_the_recipe_has_the_model_licence_and_lineage(tmp_path, pictures):
    executor, _ = make_executor(tmp_path / "data", plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=())  # the installed entry point
    store = ProjectStore.open_or_create(tmp_path / "p.studio")
    try:
        inputs = import_inputs(
            store, [("init", pictures["photo"]), ("style", pictures["painting"])]
        )
        job = Job(
            plugin_id=PLUGIN_ID,
            panel=Panel.IMAGE,
            request=ImageRequest(inputs=inputs),
            run_options={"style": STYLE_IMAGE, "strength": 0.8},
            device="cpu",
        )
        outcome = executor.execute(job, CancelToken(), sink=store_sink(store))
        (asset_id,) = outcome.asset_ids
        stored = store.get_asset(asset_id)
        recipe = stored.recipe
        assert recipe.plugin_id == PLUGIN_ID and recipe.model_id == EMBEDDED_MODEL_ID
        assert "Apache-2.0" in recipe.model_licence
        assert [(i.role, i.asset_id) for i in recipe.inputs] == [
            ("init", inputs[0].asset_id),
            ("style", inputs[1].asset_id),
        ]
        assert recipe.run_options["strength"] == 0.8
        assert recipe.details["style_used"] == STYLE_IMAGE
        assert Image.open(io.BytesIO(store.read_blob(asset_id))).size == (96, 64)
    finally:
        store.close()


def test_a_cancel_through_the_executor_commits_nothing(tmp_path, pictures):
    executor, sink = make_executor(tmp_path / "data", plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=())
    token = CancelToken()
    token.cancel()
    job = Job(
        plugin_id=PLUGIN_ID,
        panel=Panel.IMAGE,
        request=request_for(pictures),
        device="cpu",
    )
    with pytest.raises((JobCancelled, Cancelled)):
        executor.execute(job, token)
    assert sink.produced == []


def test_the_command_line_styles_a_picture_with_a_style_image(tmp_path, pictures, capsys):
    project = tmp_path / "cli.studio"
    code = main(
        [
            "generate",
            "image",
            "--project",
            str(project),
            "--plugin",
            PLUGIN_ID,
            "--input",
            f"init={pictures['photo']}",
            "--input",
            f"style={pictures['painting']}",
            "--set",
            "strength=0.9",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (asset,) = json.loads(captured.out)["assets"]
    recipe = asset["recipe"]
    assert recipe["plugin_id"] == PLUGIN_ID and recipe["model_licence"]
    assert [i["role"] for i in recipe["inputs"]] == ["init", "style"]
    assert recipe["run_options"]["style"] == "auto"


def test_the_command_line_takes_a_style_number(tmp_path, pictures, capsys):
    code = main(
        [
            "generate",
            "image",
            "--project",
            str(tmp_path / "n.studio"),
            "--plugin",
            PLUGIN_ID,
            "--input",
            str(pictures["photo"]),
            "--set",
            "style=7",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (asset,) = json.loads(captured.out)["assets"]
    assert asset["recipe"]["run_options"]["style"] == "7 · Deep blue and gold"


def test_the_command_line_explains_a_missing_picture(tmp_path, capsys):
    code = main(
        ["generate", "image", "--project", str(tmp_path / "m.studio"), "--plugin", PLUGIN_ID]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "needs its image: give one as the 'init' input" in err
    assert not (tmp_path / "m.studio").exists()  # refused before the project was made


def test_user_error_is_the_error_type_for_bad_options(tmp_path, pictures):
    executor, _ = make_executor(tmp_path / "data", plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=())
    job = Job(
        plugin_id=PLUGIN_ID,
        panel=Panel.IMAGE,
        request=request_for(pictures),
        run_options={"strength": 2.0},
    )
    with pytest.raises(UserError, match="strength"):
        executor.check(job)
