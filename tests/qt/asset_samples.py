"""Projects for the asset model and browser tests: a few assets of every kind, or very many."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.project import Asset, ProjectStore
from studio.core.project.store import NewAsset
from studio.core.recipe import Recipe, RecipeInput
from studio.plugin_api.kinds import AssetKind, Panel
from tests.core.fixtures.media_samples import audio_bytes, png_bytes

MEDIA_TYPES = {
    AssetKind.TEXT: "text/plain",
    AssetKind.CAPTION: "text/plain",
    AssetKind.IMAGE: "image/png",
    AssetKind.AUDIO: "audio/flac",
}
PANELS = {
    AssetKind.TEXT: Panel.WRITING,
    AssetKind.CAPTION: Panel.CAPTIONING,
    AssetKind.IMAGE: Panel.IMAGE,
    AssetKind.AUDIO: Panel.VOICE,
}


def generated_recipe(kind: AssetKind, inputs: tuple[tuple[str, str], ...] = (), **fields) -> Recipe:
    """A recipe as a panel's job writes it; ``inputs`` are (asset id, role) pairs."""
    return Recipe(
        panel=PANELS[kind],
        plugin_id=f"test-{kind.value}",
        plugin_version="1.0",
        model_id="tiny-model",
        seed=7,
        inputs=tuple(RecipeInput(asset_id=asset_id, role=role) for asset_id, role in inputs),
        **fields,
    )


def new_asset(kind: AssetKind, data: bytes, title: str = "", **recipe_fields) -> NewAsset:
    return NewAsset(
        kind=kind,
        data=data,
        media_type=MEDIA_TYPES[kind],
        recipe=generated_recipe(kind, **recipe_fields),
        title=title,
    )


def add(store: ProjectStore, kind: AssetKind, data: bytes, title: str = "", **fields) -> Asset:
    """Add one generated asset (``fields`` go to :func:`generated_recipe`)."""
    (asset,) = store.add_assets([new_asset(kind, data, title, **fields)])
    return asset


def build_many(path: Path, count: int) -> Path:
    """A project with ``count`` assets of all kinds, committed in one transaction.

    Images get one of 40 sizes, so thumbnails are made per content and can be counted; texts
    and captions are unique.
    """
    images = [png_bytes(16 + size, 12) for size in range(40)]
    sound = audio_bytes("FLAC", frames=16000 * 3)
    recipes = {kind: generated_recipe(kind) for kind in PANELS}  # frozen: safe to share
    items = []
    for number in range(count):
        kind = (AssetKind.TEXT, AssetKind.IMAGE, AssetKind.AUDIO, AssetKind.CAPTION)[number % 4]
        if kind is AssetKind.IMAGE:
            data = images[number % len(images)]
        elif kind is AssetKind.AUDIO:
            data = sound
        else:
            data = f"{kind.value} number {number}\nmore words".encode()
        items.append(
            NewAsset(
                kind=kind,
                data=data,
                media_type=MEDIA_TYPES[kind],
                recipe=recipes[kind],
                title=f"{kind.value} {number}",
            )
        )
    with ProjectStore.create(path) as store:
        store.add_assets(items)
    return path


_BUILT: dict[int, Path] = {}


def shared_many(tmp_path_factory: pytest.TempPathFactory, count: int) -> Path:
    """A project of ``count`` assets, built once per test run (about 1.5 s for 10,000).

    Tests open it but must not change it; copy it first to change it.
    """
    if count not in _BUILT:
        _BUILT[count] = build_many(tmp_path_factory.mktemp("many") / "many.studio", count)
    return _BUILT[count]
