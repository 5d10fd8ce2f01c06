"""Input files imported beside their job: the job gets them at once, results wait for the
import and point at the stored inputs, and a refused input commits nothing."""

from __future__ import annotations

import threading

import pytest

from studio.core.errors import UserError
from studio.core.generation import StoreSink, build_request
from studio.core.input_import import InputImport, provisional_input
from studio.core.jobs import Job, ProducedAsset
from studio.core.project.store import ProjectStore
from studio.plugin_api import AssetKind, GeneratedAsset, Panel, ResolvedModel
from studio.plugin_api.sample_media import write_sample_png


@pytest.fixture
def store(tmp_path):
    store = ProjectStore.create(tmp_path / "p.studio")
    yield store
    store.close()


def produced_for(pending: InputImport) -> ProducedAsset:
    job = Job(
        plugin_id="test.caption",
        panel=Panel.CAPTIONING,
        request=build_request(Panel.CAPTIONING, {}, pending.provisional),
    )
    return ProducedAsset(
        job=job,
        plugin_version="1",
        model=ResolvedModel(id=""),
        load_options={},
        run_options={},
        asset=GeneratedAsset.from_text("a caption", kind=AssetKind.CAPTION, input_roles=("image",)),
    )


def test_the_job_gets_the_file_at_once_and_the_result_points_at_the_stored_input(store, tmp_path):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    announced = []
    pending = InputImport(store, [("image", photo)], announced.append)
    (early,) = pending.provisional
    assert (early.role, early.path, early.kind, early.media_type) == (
        "image", photo, AssetKind.IMAGE, "image/png"
    )  # fmt: skip
    assert early.asset_id is None
    caption_id = pending.sink(StoreSink(store))(produced_for(pending))
    (link,) = store.get_asset(caption_id).recipe.inputs
    assert link.role == "image" and link.asset_id == pending.asset_id("image")
    assert announced == [link.asset_id]
    assert store.read_blob(link.asset_id) == photo.read_bytes()
    assert pending.error() is None


def test_a_truncated_image_is_refused_and_nothing_is_committed(store, tmp_path):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo.read_bytes()[:60])  # a PNG header: checked beside the job
    refused = threading.Event()
    pending = InputImport(store, [("image", cut)])
    pending.when_refused(refused.set)
    assert pending.provisional[0].asset_id is None
    assert refused.wait(10)
    assert "cut.png cannot be imported" in pending.error()
    with pytest.raises(UserError, match=r"cut\.png cannot be imported"):
        pending.sink(StoreSink(store))(produced_for(pending))
    assert pending.asset_id("image") is None
    assert store.count_assets() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"", "it is empty"), (b"just some words", "promises a PNG image")],
)
def test_a_file_without_a_known_header_is_checked_before_the_job(store, tmp_path, content, message):
    path = tmp_path / "input.png"
    if content is not None:
        path.write_bytes(content)
    assert provisional_input("image", path) is None
    with pytest.raises(UserError, match=message):
        InputImport(store, [("image", path)])
    assert store.count_assets() == 0


def test_text_is_imported_before_the_job(store, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Some notes.")
    pending = InputImport(store, [("source", notes)])
    (item,) = pending.provisional
    assert item.asset_id is not None and item.kind is AssetKind.TEXT
    assert pending.asset_id("source") == item.asset_id


def test_content_already_in_the_project_is_that_asset_without_a_second_check(
    store, tmp_path, monkeypatch
):
    from studio.core import generation

    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    first = InputImport(store, [("image", photo)]).result()
    copy = tmp_path / "again.png"
    copy.write_bytes(photo.read_bytes())

    def no_decoding(path, data=None):
        raise AssertionError("decoded again")

    monkeypatch.setattr(generation, "read_media_file", no_decoding)
    again = InputImport(store, [("image", copy)]).result()
    assert again[0].asset_id == first[0].asset_id and again[0].path == copy
    assert store.count_assets() == 1
    # New content, and an init image with its mask, are checked in full.
    other = write_sample_png(tmp_path / "other.png", 41, 30)
    assert "decoded again" in InputImport(store, [("image", other)]).error()
    pair = InputImport(store, [("init", photo), ("mask", copy)])
    assert "decoded again" in pair.error()
