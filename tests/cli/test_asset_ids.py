"""Asset ids as typed: any case, a unique prefix of 4 or more characters (as git takes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.errors import UserError
from studio.core.project import AssetNotFoundError, ProjectStore
from studio.core.project.asset_ids import resolve_asset_id
from studio.core.project.store import NewAsset
from studio.core.recipe import Recipe
from studio.plugin_api.kinds import AssetKind

# Two ids share their first 12 characters; five more share the first 8 with each other only.
TWINS = ("01HZXQ4V7M0A000000000000AB", "01HZXQ4V7M0A000000000000CD")
CROWD = tuple(f"01JCROWD00000000000000000{n}" for n in range(5))
LONER = "01KZZZZZZZ00000000000000ZZ"


def note(asset_id: str, text: str) -> NewAsset:
    return NewAsset(
        kind=AssetKind.TEXT,
        data=text.encode(),
        media_type="text/plain",
        recipe=Recipe.for_import(f"{text}.txt"),
        asset_id=asset_id,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "P.studio"
    with ProjectStore.create(path) as store:
        store.add_assets(note(i, f"note {n}") for n, i in enumerate((*TWINS, *CROWD, LONER)))
        store.delete_asset(LONER)  # the trash still answers to its id
    return path


@pytest.fixture
def store(project: Path):
    with ProjectStore.open(project, read_only=True, background_check=False) as store:
        yield store


@pytest.mark.parametrize(
    "typed",
    [TWINS[0], TWINS[0].lower(), " 01hzxq4v7m0a000000000000ab ", "01HZXQ4V7M0A000000000000A"],
)
def test_the_whole_id_or_a_unique_prefix_in_any_case(store, typed):
    assert resolve_asset_id(store, typed) == TWINS[0]


def test_four_characters_are_enough_when_unique_and_the_trash_counts(store):
    assert resolve_asset_id(store, "01kz") == LONER
    assert resolve_asset_id(store, "01KZZZZZZZ00000000000000ZZ".lower()) == LONER


@pytest.mark.parametrize("typed", ["0", "01H", " 01h "])
def test_fewer_than_four_characters_are_refused(store, typed):
    with pytest.raises(UserError, match="too short to name an asset: give at least the first 4"):
        resolve_asset_id(store, typed)


@pytest.mark.parametrize("typed", ["", "  "])
def test_nothing_typed_is_refused(store, typed):
    with pytest.raises(UserError, match="Name an asset by its id"):
        resolve_asset_id(store, typed)


def test_an_ambiguous_prefix_names_the_ids_it_starts(store):
    with pytest.raises(UserError) as caught:
        resolve_asset_id(store, "01hzxq4v7m")
    assert str(caught.value) == (
        f"01hzxq4v7m is ambiguous: it starts the ids {TWINS[0]} and {TWINS[1]}."
    )
    with pytest.raises(UserError) as caught:
        resolve_asset_id(store, "01JCROWD")
    assert str(caught.value) == (
        f"01JCROWD is ambiguous: it starts the ids {CROWD[0]}, {CROWD[1]} and {CROWD[2]} "
        "(and 2 more)."
    )
    assert resolve_asset_id(store, "01JCROWD00000000000000000" + "4") == CROWD[4]


def test_no_id_starts_with_it(store):
    for typed in ("01HZXQ4V7M0B", "ZZZZ", "01H%", "01H_", f"{TWINS[0]}X"):
        with pytest.raises(AssetNotFoundError) as caught:
            resolve_asset_id(store, typed)
        assert str(caught.value) == f"No asset's id starts with {typed}."


def test_recipe_show_takes_a_prefix_in_any_case(project, capsys):
    code = main(["recipe", "show", str(project), "01kz"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["request"]["file_name"] == "note 7.txt"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("01hzxq4v7m", f"it starts the ids {TWINS[0]} and {TWINS[1]}"),
        ("01H", "give at least the first 4 characters"),
        ("QQQQ", "No asset's id starts with QQQQ."),
    ],
)
def test_recipe_commands_refuse_a_bad_id_in_one_sentence(project, capsys, typed, says):
    before = project.read_bytes()
    for command in ("show", "rerun"):
        code = main(["recipe", command, str(project), typed])
        _, err = capsys.readouterr()
        assert code == 2
        assert says in err and err.count("\n") == 1, err
    assert project.read_bytes() == before


def test_an_asset_input_takes_a_prefix_in_any_case(test_plugins, tmp_path, capsys):
    project = tmp_path / "p.studio"
    base = ["generate", "image", "--project", str(project), "--plugin", "studio-test.gradient"]
    assert main([*base, "--set", "steps=2", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["assets"][0]["asset_id"]
    code = main([*base, "--input", f"init=asset:{first[:12].lower()}", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (made,) = json.loads(out)["assets"]
    assert made["recipe"]["inputs"] == [{"asset_id": first, "role": "init"}]

    before = project.read_bytes()
    code = main([*base, "--input", "init=asset:zzzz"])
    assert code == 2
    assert capsys.readouterr().err == "studio: No asset's id starts with zzzz.\n"
    assert project.read_bytes() == before
