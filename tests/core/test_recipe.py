"""The recipe record: frozen, versioned, JSON round trip, tolerant of newer fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from studio.core.recipe import (
    RECIPE_VERSION,
    Recipe,
    RecipeError,
    RecipeInput,
    RecipeOrigin,
    freeze_json,
    thaw_json,
)
from studio.plugin_api.kinds import Panel


def full_recipe() -> Recipe:
    return Recipe(
        panel=Panel.IMAGE,
        plugin_id="diffusers-image",
        plugin_version="1.2.0",
        model_id="stabilityai/sd-turbo",
        model_sha256="ab" * 32,
        model_licence="openrail++",
        load_options={"dtype": "float16", "device": "cpu"},
        run_options={"steps": 4, "guidance_scale": 0.0, "sizes": [512, 512]},
        request={"prompt": "a fox", "negative_prompt": "", "inputs": []},
        seed=1234,
        inputs=(RecipeInput(asset_id="01HZZZZZZZ0000000000000001", role="init"),),
        details={"variation": 2, "nested": {"list": [1, {"a": None}]}},
        created_at=datetime(2026, 5, 9, 7, 35, 25, 123000, tzinfo=UTC),
    )


def test_json_round_trip_keeps_every_field() -> None:
    recipe = full_recipe()
    again = Recipe.from_json_text(recipe.to_json_text())
    assert again == recipe
    assert again.to_json_text() == recipe.to_json_text()
    data = json.loads(recipe.to_json_text())
    assert data["recipe_version"] == RECIPE_VERSION
    assert data["created_at"] == "2026-05-09T07:35:25.123Z"
    assert data["inputs"] == [{"asset_id": "01HZZZZZZZ0000000000000001", "role": "init"}]
    assert again.input_asset_ids == ("01HZZZZZZZ0000000000000001",)


def test_recipe_is_deeply_frozen() -> None:
    recipe = full_recipe()
    with pytest.raises(AttributeError):
        recipe.seed = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        recipe.run_options["steps"] = 50  # type: ignore[index]
    with pytest.raises(TypeError):
        recipe.details["nested"]["list"] = []  # type: ignore[index]
    assert recipe.run_options["sizes"] == (512, 512)
    assert thaw_json(recipe.run_options)["sizes"] == [512, 512]


def test_caller_dicts_are_copied() -> None:
    options = {"steps": 4}
    recipe = Recipe(panel=Panel.IMAGE, plugin_id="p", run_options=options)
    options["steps"] = 99
    assert recipe.run_options["steps"] == 4


@pytest.mark.parametrize(
    "bad", [{"x": object()}, {"x": float("nan")}, {1: "not a string key"}, {"x": {1, 2}}]
)
def test_only_plain_json_is_accepted(bad: dict) -> None:
    with pytest.raises(TypeError):
        Recipe(panel=Panel.WRITING, plugin_id="p", run_options=bad)


def test_unknown_future_fields_are_kept() -> None:
    data = full_recipe().to_json()
    data["recipe_version"] = RECIPE_VERSION + 1
    data["sampler_graph"] = {"nodes": [1, 2]}
    recipe = Recipe.from_json(data)
    assert recipe.recipe_version == RECIPE_VERSION + 1
    assert thaw_json(recipe.extra) == {"sampler_graph": {"nodes": [1, 2]}}
    assert recipe.to_json()["sampler_graph"] == {"nodes": [1, 2]}


@pytest.mark.parametrize("field", ["recipe_version", "origin", "app_version", "created_at"])
def test_missing_required_field_is_a_clear_error(field: str) -> None:
    data = full_recipe().to_json()
    del data[field]
    with pytest.raises(RecipeError, match=f"required field.*{field}"):
        Recipe.from_json(data)


def test_generated_recipe_needs_plugin_and_panel() -> None:
    data = full_recipe().to_json()
    data["plugin_id"] = ""
    with pytest.raises(RecipeError, match="plugin_id"):
        Recipe.from_json(data)
    with pytest.raises(ValueError, match="plugin_id and panel"):
        Recipe(plugin_id="p")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"recipe_version": 1, "origin": "alien", '
        '"app_version": "1", "created_at": "2026-01-01T00:00:00Z"}',
    ],
)
def test_unreadable_recipes_raise_recipe_error(text: str) -> None:
    with pytest.raises(RecipeError):
        Recipe.from_json_text(text)


def test_import_recipe() -> None:
    recipe = Recipe.for_import("cat.png", {"file": {"width": 3}})
    assert recipe.origin is RecipeOrigin.IMPORTED
    assert recipe.panel is None and recipe.plugin_id == ""
    assert recipe.request["file_name"] == "cat.png"
    assert Recipe.from_json_text(recipe.to_json_text()) == recipe


def test_freeze_json_rejects_infinite_numbers() -> None:
    with pytest.raises(TypeError, match="JSON"):
        freeze_json({"a": [float("inf")]})
