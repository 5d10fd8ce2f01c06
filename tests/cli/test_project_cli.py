"""``studio project info|import|export``, run in-process."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.project import SCHEMA_VERSION
from tests.core.fixtures.media_samples import audio_bytes, png_bytes


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def media(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    files = {
        "red.png": png_bytes(),
        "tone.flac": audio_bytes("FLAC"),
        "tone.ogg": audio_bytes("OGG", "VORBIS"),
        "notes.txt": "Notizen: Grüße".encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


def test_import_creates_the_project_then_info_and_export(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, media: list[Path]
) -> None:
    project = tmp_path / "p.studio"
    code, out, err = run(capsys, "project", "import", str(project), *map(str, media))
    assert code == 0, err
    assert out.startswith(f"Created {project}")
    assert out.count("Imported ") == 4 and "red.png as image" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "p.studio"]  # one file

    code, out, err = run(capsys, "project", "info", str(project), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["schema_version"] == SCHEMA_VERSION
    assert info["assets"] == {"text": 1, "image": 1, "audio": 2, "caption": 0, "document": 0}
    assert info["integrity"] == "ok"

    code, out, _ = run(capsys, "project", "info", str(project))
    assert code == 0 and "Integrity: ok" in out and "Assets:    4" in out

    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "project", "export", str(project), str(out_dir))
    assert code == 0, err
    assert out.count("Exported ") == 4
    names = sorted(p.suffix for p in out_dir.iterdir())
    assert names == [".flac", ".json", ".ogg", ".png", ".txt"]  # the text has a sidecar

    code, _, err = run(capsys, "project", "export", str(project), str(out_dir))
    assert code == 2 and "already has" in err
    code, _, err = run(capsys, "project", "export", str(project), str(out_dir), "--overwrite")
    assert code == 0, err

    # The exported files import again, with their titles and recipes.
    again = tmp_path / "again.studio"
    exported = sorted(out_dir.iterdir())
    code, out, err = run(capsys, "project", "import", str(again), *map(str, exported))
    assert code == 0, err
    assert out.count("Imported ") == 4


def test_import_adds_to_an_existing_project(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, media: list[Path]
) -> None:
    project = tmp_path / "p.studio"
    assert run(capsys, "project", "import", str(project), str(media[0]))[0] == 0
    code, out, _ = run(capsys, "project", "import", str(project), str(media[1]))
    assert code == 0 and "Created" not in out
    info = json.loads(run(capsys, "project", "info", str(project), "--json")[1])
    assert sum(info["assets"].values()) == 2


def test_refused_import_creates_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, media: list[Path]
) -> None:
    fake = tmp_path / "in" / "fake.wav"
    fake.write_bytes(b"this is not audio")
    project = tmp_path / "new.studio"
    code, _, err = run(capsys, "project", "import", str(project), str(media[0]), str(fake))
    assert code == 2
    assert err.startswith("studio: Nothing was imported") and "fake.wav" in err
    assert not project.exists()

    assert run(capsys, "project", "import", str(project), str(media[0]))[0] == 0
    before = project.read_bytes()
    code, _, err = run(capsys, "project", "import", str(project), str(fake))
    assert code == 2 and "fake.wav cannot be imported" in err
    assert project.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty (0 bytes), so it is not a Studio project"),
        (os.urandom(4096), "is not a Studio project (it is not an SQLite database)"),
        (None, "is not a Studio project (it is an SQLite database of another program)"),
    ],
)
def test_info_and_import_refuse_foreign_files_unchanged(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    media: list[Path],
    content: bytes | None,
    message: str,
) -> None:
    path = tmp_path / "x.studio"
    if content is None:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (x)")
        conn.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    for argv in (
        ("project", "info", str(path), "--json"),
        ("project", "import", str(path), str(media[0])),
        ("project", "export", str(path), str(tmp_path / "out")),
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == ""
        assert err == f"studio: x.studio {message}.\n"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "x.studio"]


def test_info_reports_what_is_wrong(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, media: list[Path]
) -> None:
    project = tmp_path / "p.studio"
    run(capsys, "project", "import", str(project), str(media[3]))
    conn = sqlite3.connect(project)
    conn.execute("UPDATE blobs SET data = x'00'")
    conn.commit()
    conn.close()
    code, out, err = run(capsys, "project", "info", str(project), "--json")
    assert code == 2
    assert "does not match its hash" in json.loads(out)["integrity"]
    assert "failed its integrity check" in err


def test_missing_project_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "project", "info", str(tmp_path / "none.studio"))
    assert code == 2 and "does not exist" in err


def test_help_lists_the_project_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "project", "--help")
    assert code == 0
    assert all(name in out for name in ("info", "import", "export"))
