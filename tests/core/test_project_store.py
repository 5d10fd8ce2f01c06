"""ProjectStore: assets of every kind with recipes and lineage, listing, trash, copies."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from studio.core.project import (
    AssetNotFoundError,
    ProjectClosedError,
    ProjectError,
    ProjectExistsError,
    ProjectStore,
)
from studio.core.project.store import UNTITLED_FOLDER
from studio.core.recipe import Recipe, RecipeError, RecipeInput
from studio.plugin_api.kinds import AssetKind, Panel
from tests.core.fixtures.media_samples import audio_bytes, png_bytes


def recipe(panel: Panel, plugin: str = "plugin", *inputs: tuple[str, str], **fields) -> Recipe:
    return Recipe(
        panel=panel,
        plugin_id=plugin,
        plugin_version="1.0",
        model_id="tiny-model",
        model_sha256="cd" * 32,
        model_licence="MIT",
        inputs=tuple(RecipeInput(asset_id=a, role=r) for a, r in inputs),
        **fields,
    )


def sidecar_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name + "-"))


@pytest.fixture
def store(tmp_path: Path):
    with ProjectStore.create(tmp_path / "p.studio") as opened:
        yield opened


def add_text(store: ProjectStore, text: str, **fields) -> object:
    return store.add_asset(
        kind=AssetKind.TEXT,
        data=text.encode(),
        media_type="text/plain",
        recipe=recipe(Panel.WRITING, "echo", **fields),
    )


def test_round_trip_of_every_kind_with_recipes_and_lineage(tmp_path: Path) -> None:
    path = tmp_path / "round.studio"
    png, flac = png_bytes(), audio_bytes("FLAC")
    with ProjectStore.create(path) as store:
        text = store.add_asset(
            kind=AssetKind.TEXT,
            data="Once upon a time… ✨".encode(),
            media_type="text/plain",
            recipe=recipe(Panel.WRITING, "writer", request={"prompt": "Tell a story"}, seed=1),
        )
        image = store.add_asset(
            kind=AssetKind.IMAGE,
            data=png,
            media_type="image/png",
            title="  A   red square ",
            recipe=recipe(
                Panel.IMAGE,
                "painter",
                (text.id, "prompt"),
                request={"prompt": "red", "negative_prompt": "blue"},
                run_options={"steps": 4},
                seed=42,
            ),
        )
        caption = store.add_asset(
            kind=AssetKind.CAPTION,
            data=b"a red square",
            media_type="text/plain",
            recipe=recipe(Panel.CAPTIONING, "describer", (image.id, "image")),
        )
        audio = store.add_asset(
            kind=AssetKind.AUDIO,
            data=flac,
            media_type="audio/flac",
            recipe=recipe(Panel.VOICE, "speaker", (caption.id, "text"), request={"text": "hi"}),
        )
        document = store.create_document("# Notes\nabout the story", source_asset_id=text.id)
        originals = {a.id: a for a in (text, image, caption, audio, document.asset)}
    assert sidecar_files(path) == []  # a clean close leaves a single file

    with ProjectStore.open(path) as store:
        for asset_id, original in originals.items():
            assert store.get_asset(asset_id) == original
        assert store.read_blob(image.id) == png
        assert store.read_blob(audio.id) == flac
        assert store.read_blob(text.id).decode() == "Once upon a time… ✨"
        assert [a.id for a in store.list_assets()] == [
            document.asset.id,
            audio.id,
            caption.id,
            image.id,
            text.id,
        ]
        assert store.open_document(document.asset.id).text == "# Notes\nabout the story"
        assert image.title == "A red square"
        assert text.title == "Once upon a time… ✨"  # derived from the content
        assert store.get_asset(image.id).recipe.run_options["steps"] == 4
        links = store.inputs_of(audio.id)
        assert [(link.input_id, link.role, link.input_exists) for link in links] == [
            (caption.id, "text", True)
        ]
        assert [link.asset_id for link in store.outputs_of(image.id)] == [caption.id]
        assert [a.id for a in store.ancestors(audio.id)] == [caption.id, image.id, text.id]
        assert [a.id for a in store.descendants(text.id)] == [
            document.asset.id,
            audio.id,
            caption.id,
            image.id,
        ]
        assert store.counts_by_kind() == {kind: 1 for kind in AssetKind}
    assert sidecar_files(path) == []


def test_content_is_stored_once(store: ProjectStore) -> None:
    first = add_text(store, "same words")
    second = add_text(store, "same words")
    assert first.id != second.id and first.sha256 == second.sha256
    stats = store.stats()
    assert stats.blobs == 1 and stats.blob_bytes == len("same words")
    assert sum(stats.assets.values()) == 2


def test_a_failed_add_leaves_nothing(store: ProjectStore) -> None:
    add_text(store, "kept")
    with pytest.raises(AssetNotFoundError, match="not in this project"):
        store.add_asset(
            kind=AssetKind.IMAGE,
            data=png_bytes(),
            media_type="image/png",
            recipe=recipe(Panel.IMAGE, "p", ("01HZZZZZZZ0000000000000009", "init")),
        )
    with pytest.raises(ValueError, match="does not fit"):
        store.add_asset(
            kind=AssetKind.AUDIO, data=b"x", media_type="image/png", recipe=recipe(Panel.VOICE)
        )
    with pytest.raises(UnicodeDecodeError):
        store.add_asset(
            kind=AssetKind.TEXT,
            data=b"\xff\xfe\xfa",
            media_type="text/plain",
            recipe=recipe(Panel.WRITING),
        )
    stats = store.stats()
    assert sum(stats.assets.values()) == 1 and stats.blobs == 1
    assert store.integrity_check().ok


def test_listing_filters_search_and_pages(store: ProjectStore) -> None:
    fox = add_text(store, "The quick brown FOX", request={"prompt": "write about animals"})
    store.add_asset(
        kind=AssetKind.IMAGE,
        data=png_bytes(),
        media_type="image/png",
        title="Ärger im Wald",
        recipe=recipe(Panel.IMAGE, request={"prompt": "A forest at dusk"}),
    )
    caption = store.add_asset(
        kind=AssetKind.CAPTION,
        data=b"a fox in a forest",
        media_type="text/plain",
        recipe=recipe(Panel.CAPTIONING),
    )
    assert [a.id for a in store.list_assets(kind=AssetKind.TEXT)] == [fox.id]
    assert {a.id for a in store.list_assets(search="fox")} == {fox.id, caption.id}
    assert len(store.list_assets(search="ÄRGER")) == 1  # not only ASCII is case-insensitive
    assert len(store.list_assets(search="forest")) == 2  # prompt of one, content of another
    assert [a.id for a in store.list_assets(search="fox forest")] == [caption.id]
    assert store.list_assets(search="animals")[0].id == fox.id
    assert store.list_assets(search="nothing like this") == []
    assert store.count_assets(search="forest") == 2
    page = store.list_assets(limit=2, offset=1)
    assert [a.id for a in page] == [a.id for a in store.list_assets()][1:3]


def test_rename_delete_undelete_and_purge(store: ProjectStore) -> None:
    source = store.add_asset(
        kind=AssetKind.IMAGE, data=png_bytes(), media_type="image/png", recipe=recipe(Panel.IMAGE)
    )
    derived = store.add_asset(
        kind=AssetKind.CAPTION,
        data=b"red",
        media_type="text/plain",
        recipe=recipe(Panel.CAPTIONING, "d", (source.id, "image")),
    )
    assert store.rename_asset(source.id, " Red\nsquare ").title == "Red square"
    with pytest.raises(ProjectError, match="empty"):
        store.rename_asset(source.id, "   ")
    with pytest.raises(AssetNotFoundError):
        store.rename_asset("01HZZZZZZZ0000000000000009", "x")

    deleted = store.delete_asset(source.id)
    assert deleted.deleted and deleted.deleted_at is not None
    assert [a.id for a in store.list_assets()] == [derived.id]
    assert [a.id for a in store.list_assets(deleted=True)] == [source.id]
    assert len(store.list_assets(deleted=None)) == 2
    assert store.delete_asset(source.id).deleted_at == deleted.deleted_at  # first time counts
    assert not store.undelete_asset(source.id).deleted
    assert store.count_assets() == 2

    store.delete_asset(source.id)
    assert store.purge_deleted() == 1
    with pytest.raises(AssetNotFoundError):
        store.get_asset(source.id)
    assert store.stats().blobs == 1  # the image blob went with its only asset
    (link,) = store.inputs_of(derived.id)
    assert link.input_id == source.id and not link.input_exists
    assert store.integrity_check().ok


def test_async_adds_commit_in_order(store: ProjectStore) -> None:
    futures = [
        store.add_asset_async(
            kind=AssetKind.TEXT,
            data=f"text {i}".encode(),
            media_type="text/plain",
            recipe=recipe(Panel.WRITING),
        )
        for i in range(20)
    ]
    ids = [future.result(timeout=10).id for future in futures]
    assert ids == sorted(ids)
    assert [a.id for a in store.list_assets()] == ids[::-1]


def test_readers_work_while_the_writer_writes(store: ProjectStore) -> None:
    errors: list[BaseException] = []
    seen: list[list[int]] = [[], [], []]

    def read(counts: list[int]) -> None:
        try:
            for _ in range(30):
                counts.append(len(store.list_assets(search="text")))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    readers = [threading.Thread(target=read, args=(counts,)) for counts in seen]
    for thread in readers:
        thread.start()
    for i in range(30):
        add_text(store, f"text {i}")
    for thread in readers:
        thread.join()
    assert errors == []
    for counts in seen:  # each reader sees the project grow, never shrink
        assert counts == sorted(counts) and all(0 <= n <= 30 for n in counts)
    assert store.count_assets() == 30


def test_untitled_project_gets_its_file_with_the_first_asset(
    studio_data_dir: Path, tmp_path: Path
) -> None:
    store = ProjectStore.untitled(studio_data_dir)
    assert store.path is None and store.list_assets() == []
    assert not (studio_data_dir / UNTITLED_FOLDER).exists()
    asset = add_text(store, "first words")
    assert store.path is not None and store.path.parent == studio_data_dir / UNTITLED_FOLDER
    assert store.path.is_file()
    untitled_file = store.path
    assert ProjectStore.untitled_projects(studio_data_dir) == [untitled_file]

    target = tmp_path / "named.studio"
    store.save_as(target)
    assert store.path == target and not store.is_untitled
    assert not untitled_file.exists()
    add_text(store, "second words")
    store.close()
    with ProjectStore.open(target) as reopened:
        assert [a.id for a in reopened.list_assets()][-1] == asset.id
        assert reopened.count_assets() == 2


def test_untitled_without_assets_leaves_nothing_and_discard_removes_the_file(
    studio_data_dir: Path,
) -> None:
    ProjectStore.untitled(studio_data_dir).close()
    assert ProjectStore.untitled_projects(studio_data_dir) == []
    store = ProjectStore.untitled(studio_data_dir)
    add_text(store, "scratch")
    path = store.path
    store.discard()
    assert not path.exists()


def test_recovered_untitled_project(studio_data_dir: Path) -> None:
    store = ProjectStore.untitled(studio_data_dir)
    add_text(store, "survives a crash")
    store.close()
    (path,) = ProjectStore.untitled_projects(studio_data_dir)
    with ProjectStore.open(path, untitled=True) as recovered:
        assert recovered.is_untitled and recovered.count_assets() == 1


def test_save_copy_is_a_compact_single_file_and_the_store_stays(
    store: ProjectStore, tmp_path: Path
) -> None:
    add_text(store, "copied")
    copy = store.save_copy(tmp_path / "copy.studio")
    header = copy.read_bytes()[:100]
    assert header[18:20] == b"\x01\x01"  # rollback journal: no -wal needed to read it
    assert sidecar_files(copy) == []
    add_text(store, "only in the original")
    with ProjectStore.open(copy) as opened:
        assert [a.title for a in opened.list_assets()] == ["copied"]
    assert store.count_assets() == 2

    with pytest.raises(ProjectExistsError):
        store.save_copy(copy)
    before = copy.read_bytes()
    store.save_copy(copy, overwrite=True)
    assert copy.read_bytes() != before
    with pytest.raises(ProjectExistsError, match="own file"):
        store.save_copy(store.path, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_save_as_continues_in_the_new_file_and_keeps_the_old(
    store: ProjectStore, tmp_path: Path
) -> None:
    add_text(store, "before")
    old = store.path
    store.save_as(tmp_path / "new.studio")
    add_text(store, "after")
    store.close()
    with ProjectStore.open(old) as original:
        assert original.count_assets() == 1
    with ProjectStore.open(tmp_path / "new.studio") as new:
        assert new.count_assets() == 2


def test_create_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "taken.studio"
    path.write_bytes(b"precious")
    with pytest.raises(ProjectExistsError):
        ProjectStore.create(path)
    assert path.read_bytes() == b"precious"


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = ProjectStore.create(tmp_path / "c.studio")
    store.close()
    store.close()  # twice is fine
    with pytest.raises(ProjectClosedError):
        store.list_assets()
    with pytest.raises(ProjectClosedError):
        add_text(store, "late")


def test_checks_find_a_corrupted_blob(tmp_path: Path) -> None:
    path = tmp_path / "k.studio"
    with ProjectStore.create(path) as store:
        asset = add_text(store, "original")
        assert store.quick_check().result(timeout=10).ok
    conn = sqlite3.connect(path)
    conn.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (b"tampered", asset.sha256))
    conn.commit()
    conn.close()
    with ProjectStore.open(path) as store:
        assert store.quick_check().result(timeout=10).ok  # SQLite's structure is fine
        report = store.integrity_check()
        assert not report.ok
        assert "does not match its hash" in report.summary


def test_open_starts_a_background_quick_check(tmp_path: Path) -> None:
    path = tmp_path / "q.studio"
    ProjectStore.create(path).close()
    with ProjectStore.open(path) as store:
        assert store.quick_check().result(timeout=10).summary == "ok"


def test_committed_assets_survive_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "crash.studio"
    script = f"""
import os
from studio.core.project import ProjectStore
from studio.core.recipe import Recipe
from studio.plugin_api.kinds import AssetKind
store = ProjectStore.create({str(path)!r})
for i in range(5):
    store.add_asset(kind=AssetKind.TEXT, data=b"kept %d" % i, media_type="text/plain",
                    recipe=Recipe.for_import("x.txt"))
os._exit(0)  # no close: the process dies with the WAL still there
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert sidecar_files(path) == ["crash.studio-shm", "crash.studio-wal"]
    with ProjectStore.open(path, read_only=True) as store:
        assert store.count_assets() == 5
    with ProjectStore.open(path) as store:
        assert store.count_assets() == 5
        assert store.integrity_check().ok
    assert sidecar_files(path) == []


def test_an_unreadable_recipe_does_not_hide_the_asset(store: ProjectStore) -> None:
    asset = add_text(store, "fine content")
    conn = sqlite3.connect(store.path)
    conn.execute('UPDATE assets SET recipe = \'{"origin": "generated"}\' WHERE id = ?', (asset.id,))
    conn.commit()
    conn.close()
    (listed,) = store.list_assets()
    assert listed.id == asset.id and store.read_blob(asset.id) == b"fine content"
    with pytest.raises(RecipeError, match="required field"):
        listed.recipe  # noqa: B018 - the property access is the test
    assert "lacks the required field" in store.integrity_check().summary


def test_purging_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "big.studio"
    with ProjectStore.create(path) as store:
        ids = [
            store.add_asset(
                kind=AssetKind.AUDIO,
                data=bytes([i]) * 100_000,
                media_type="audio/wav",
                recipe=Recipe.for_import(f"{i}.wav"),
            ).id
            for i in range(10)
        ]
    full = path.stat().st_size
    with ProjectStore.open(path) as store:
        for asset_id in ids[1:]:
            store.delete_asset(asset_id)
        assert store.purge_deleted() == 9
    assert path.stat().st_size < full * 0.2
