"""``studio assets list``: ids, kinds, dates and titles of a project's assets, read-only."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.project import ProjectStore
from studio.core.recipe import Recipe
from studio.plugin_api.kinds import AssetKind
from tests.core.fixtures.media_samples import png_bytes


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_project(path: Path) -> dict[str, str]:
    """A note, a picture and a deleted draft, made in that order."""
    with ProjectStore.create(path) as store:
        note = store.add_asset(
            kind=AssetKind.TEXT,
            data=b"A short note",
            media_type="text/plain",
            recipe=Recipe.for_import("note.txt"),
            title="The note",
        )
        picture = store.add_asset(
            kind=AssetKind.IMAGE,
            data=png_bytes(),
            media_type="image/png",
            recipe=Recipe.for_import("red.png"),
            title="Red square",
        )
        draft = store.add_asset(
            kind=AssetKind.TEXT,
            data=b"An old draft",
            media_type="text/plain",
            recipe=Recipe.for_import("draft.txt"),
            title="Old draft",
        )
        store.delete_asset(draft.id)
    return {"note": note.id, "picture": picture.id, "draft": draft.id}


def state(path: Path) -> tuple[str, list[str]]:
    """The project's bytes (as a hash) and the files beside it."""
    return (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        sorted(p.name for p in path.parent.iterdir()),
    )


def test_lists_live_assets_newest_first_with_kind_date_and_title(tmp_path, capsys):
    project = tmp_path / "P.studio"
    ids = make_project(project)
    before = state(project)
    code, out, err = run(capsys, "assets", "list", str(project))
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [ids["picture"], ids["note"]]
    _, kind, day, minute, *title = lines[0].split()
    assert (kind, " ".join(title)) == ("image", "Red square")
    with ProjectStore.open(project, read_only=True) as store:
        created = store.get_asset(ids["picture"]).created_at.astimezone()
    assert f"{day} {minute}" == created.strftime("%Y-%m-%d %H:%M")  # local time, readable
    assert state(project) == before  # read-only: not a byte changed, no journal left


def test_kind_search_trash_and_limit(tmp_path, capsys):
    project = tmp_path / "P.studio"
    ids = make_project(project)
    code, out, _ = run(capsys, "assets", "list", str(project), "--kind", "text")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [ids["note"]]
    code, out, _ = run(capsys, "assets", "list", str(project), "--trash")
    assert [line.split()[0] for line in out.splitlines()] == [
        ids["draft"],
        ids["picture"],
        ids["note"],
    ]
    assert "[trash] Old draft" in out.splitlines()[0]
    code, out, _ = run(capsys, "assets", "list", str(project), "--search", "RED")
    assert [line.split()[0] for line in out.splitlines()] == [ids["picture"]]
    code, out, _ = run(capsys, "assets", "list", str(project), "--limit", "1")
    assert [line.split()[0] for line in out.splitlines()] == [ids["picture"]]
    code, out, _ = run(capsys, "assets", "list", str(project), "--kind", "audio")
    assert (code, out) == (0, "P.studio has no audio assets.\n")


def test_json_has_iso_times_and_the_trash(tmp_path, capsys):
    project = tmp_path / "P.studio"
    ids = make_project(project)
    code, out, err = run(capsys, "assets", "list", str(project), "--json", "--trash")
    assert code == 0, err
    assets = json.loads(out)["assets"]
    assert [a["id"] for a in assets] == [ids["draft"], ids["picture"], ids["note"]]
    draft, picture, _ = assets
    assert picture["kind"] == "image" and picture["title"] == "Red square"
    assert picture["media_type"] == "image/png" and picture["size"] == len(png_bytes())
    assert picture["deleted_at"] is None
    created = datetime.fromisoformat(picture["created_at"])
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
    assert datetime.fromisoformat(draft["deleted_at"]) >= datetime.fromisoformat(
        draft["created_at"]
    )
    code, out, _ = run(capsys, "assets", "list", str(project), "--json", "--kind", "audio")
    assert json.loads(out) == {"assets": []}


def refused(capsys, project: Path, *extra: str) -> str:
    code, out, err = run(capsys, "assets", "list", str(project), *extra)
    assert code == 2, err
    assert out == ""
    assert err.startswith("studio: ") and err.count("\n") == 1, err
    return err


def test_a_missing_file_a_folder_and_another_file_are_one_sentence(tmp_path, capsys):
    assert "does not exist" in refused(capsys, tmp_path / "none.studio")
    assert not (tmp_path / "none.studio").exists()
    assert "is a folder" in refused(capsys, tmp_path)
    other = tmp_path / "notes.studio"
    other.write_text("not a project")
    before = state(other)
    assert "not a Studio project" in refused(capsys, other)
    assert state(other) == before


def test_a_damaged_project_is_one_sentence_and_stays_as_it_was(tmp_path, capsys):
    project = tmp_path / "P.studio"
    ids = make_project(project)
    conn = sqlite3.connect(project)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("UPDATE assets SET kind = 'hologram' WHERE id = ?", (ids["note"],))
    conn.commit()
    conn.close()
    before = state(project)
    err = refused(capsys, project)
    assert "P.studio is damaged" in err and "studio project repair" in err
    assert state(project) == before

    half = tmp_path / "Half.studio"
    data = (tmp_path / "P.studio").read_bytes()
    half.write_bytes(data[: len(data) // 2])
    before = state(half)
    assert "Half.studio" in refused(capsys, half)
    assert state(half) == before


def test_bad_options_are_usage_errors(tmp_path, capsys):
    project = tmp_path / "P.studio"
    make_project(project)
    assert "--kind" in refused(capsys, project, "--kind", "video")
    assert "--limit" in refused(capsys, project, "--limit", "0")
