"""ProjectStore.add_assets (many assets, one transaction) and listing by ids."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from studio.core.project import AssetNotFoundError, ProjectStore
from studio.core.project.store import NewAsset
from studio.core.recipe import Recipe, RecipeInput
from studio.plugin_api.kinds import AssetKind, Panel
from tests.core.fixtures.media_samples import png_bytes


def writing_recipe(*inputs: str, prompt: str = "") -> Recipe:
    return Recipe(
        panel=Panel.WRITING,
        plugin_id="echo",
        request={"prompt": prompt},
        inputs=tuple(RecipeInput(asset_id=i, role="source") for i in inputs),
    )


def text_item(text: str, recipe: Recipe | None = None) -> NewAsset:
    return NewAsset(
        kind=AssetKind.TEXT,
        data=text.encode(),
        media_type="text/plain",
        recipe=recipe or writing_recipe(),
    )


@pytest.fixture
def store(tmp_path: Path):
    with ProjectStore.create(tmp_path / "bulk.studio") as opened:
        yield opened


def test_add_assets_commits_many_in_order_and_fast(store: ProjectStore) -> None:
    items = [text_item(f"note {i}") for i in range(2000)]
    started = time.perf_counter()
    added = store.add_assets(items)
    elapsed = time.perf_counter() - started
    assert [a.title for a in added] == [f"note {i}" for i in range(2000)]
    assert store.count_assets() == 2000
    # Newest first: the last item of the batch is the newest asset.
    assert store.list_assets(limit=1)[0].id == added[-1].id
    assert store.read_blob(added[7].id) == b"note 7"
    assert elapsed < 10  # one disk sync for all, not 2000 (about 0.2 s here)


def test_add_assets_links_to_an_earlier_item_of_the_same_batch(store: ProjectStore) -> None:
    (first,) = store.add_assets([text_item("source")])
    source, derived = store.add_assets(
        [
            text_item("again"),
            NewAsset(
                kind=AssetKind.IMAGE,
                data=png_bytes(),
                media_type="image/png",
                recipe=Recipe(
                    panel=Panel.IMAGE,
                    plugin_id="painter",
                    inputs=(RecipeInput(asset_id=first.id, role="prompt"),),
                ),
            ),
        ]
    )
    assert [link.input_id for link in store.inputs_of(derived.id)] == [first.id]
    assert source.kind is AssetKind.TEXT


def test_add_assets_is_all_or_nothing(store: ProjectStore) -> None:
    store.add_assets([text_item("kept")])
    with pytest.raises(AssetNotFoundError):
        store.add_assets(
            [
                text_item("would be stored"),
                text_item("bad", recipe=writing_recipe("01HZZZZZZZ0000000000000009")),
            ]
        )
    with pytest.raises(UnicodeDecodeError):  # checked before anything reaches the writer
        store.add_assets(
            [
                text_item("fine"),
                NewAsset(
                    kind=AssetKind.TEXT,
                    data=b"\xff\xfe",
                    media_type="text/plain",
                    recipe=writing_recipe(),
                ),
            ]
        )
    assert [a.title for a in store.list_assets()] == ["kept"]
    assert store.stats().blobs == 1


def test_listing_by_ids_applies_the_same_filter(store: ProjectStore) -> None:
    fox, owl, cat = store.add_assets([text_item("a fox"), text_item("an owl"), text_item("a cat")])
    store.delete_asset(cat.id)
    assert [a.id for a in store.list_assets(ids=[fox.id, owl.id])] == [owl.id, fox.id]
    assert [a.id for a in store.list_assets(ids=[fox.id, owl.id], search="fox")] == [fox.id]
    assert store.list_assets(ids=[cat.id]) == []  # deleted
    assert [a.id for a in store.list_assets(ids=[cat.id], deleted=True)] == [cat.id]
    assert store.list_assets(ids=[]) == []
    assert store.count_assets() == 2
