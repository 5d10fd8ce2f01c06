"""Input files are imported once: the same picture used again is the asset it already is."""

from __future__ import annotations

from studio.core.generation import import_inputs
from studio.core.project.store import ProjectStore
from studio.plugin_api.sample_media import write_sample_png


def test_the_same_file_twice_is_one_asset(tmp_path):
    store = ProjectStore.create(tmp_path / "p.studio")
    try:
        photo = write_sample_png(tmp_path / "photo.png", 40, 30)
        (first,) = import_inputs(store, [("init", photo)])
        copy = tmp_path / "copy-of-photo.png"
        copy.write_bytes(photo.read_bytes())
        (second,) = import_inputs(store, [("init", copy)])
        assert second.asset_id == first.asset_id
        assert len(store.list_assets()) == 1
        other = write_sample_png(tmp_path / "other.png", 41, 30)
        (third,) = import_inputs(store, [("init", other)])
        assert third.asset_id != first.asset_id
        # A deleted asset is not brought back behind the user's back: a new one is made.
        store.delete_asset(first.asset_id)
        (fourth,) = import_inputs(store, [("init", photo)])
        assert fourth.asset_id not in (first.asset_id, third.asset_id)
    finally:
        store.close()
