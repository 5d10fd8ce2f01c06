"""The project file never takes pages from a journal that is not its own (issue: "The project
file never loses or corrupts work"). Each case is made as a careless user would make it; every
command refuses with one sentence and leaves the project and the journal byte-identical."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.project import ForeignJournalError, ProjectStore
from tests.core.fixtures.media_samples import png_bytes

CRASH_IN_WAL_MODE = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA wal_autocheckpoint = 0")
conn.execute("BEGIN")
conn.execute("DELETE FROM assets")
conn.execute("COMMIT")
os._exit(0)  # a crash: the WAL stays, with its frames
"""


def project_with_assets(path: Path, count: int) -> Path:
    """A project made as a user makes one: ``studio project import`` of ``count`` pictures."""
    sources = []
    for index in range(count):
        source = path.parent / f"{path.stem}-{index}.png"
        source.write_bytes(png_bytes(width=8 + index, color="blue"))
        sources.append(str(source))
    assert main(["project", "import", str(path), *sources]) == 0
    return path


def crash_in_wal_mode(path: Path) -> Path:
    subprocess.run([sys.executable, "-c", CRASH_IN_WAL_MODE, str(path)], check=True)
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size > 32
    return wal


def digest(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def commands(project: Path, extra: Path, out: Path) -> list[list[str]]:
    return [
        ["project", "info", str(project)],
        ["project", "export", str(project), str(out)],
        ["project", "import", str(project), str(extra)],
    ]


def refusals(
    capsys: pytest.CaptureFixture[str],
    project: Path,
    picture: Path,
    out: Path,
    *,
    one_sentence: bool = True,
) -> list[str]:
    """What each command said: every one exited 2, with no internal error or traceback (and,
    with ``one_sentence``, one line)."""
    said = []
    for argv in commands(project, picture, out):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert "internal error" not in err and "Traceback" not in err, err
        if one_sentence:
            assert len(err.strip().splitlines()) == 1, err
        said.append(err)
    return said


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes(width=30, color="green"))
    return path


def test_another_projects_crash_wal_copied_beside_a_project_is_refused(
    tmp_path: Path, picture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = project_with_assets(tmp_path / "A.studio", 3)
    b = project_with_assets(tmp_path / "B.studio", 2)
    wal = shutil.copy(crash_in_wal_mode(b), tmp_path / "A.studio-wal")
    before = digest(a, Path(wal))
    for err in refusals(capsys, a, picture, tmp_path / "out"):
        assert "A.studio-wal" in err and "not its own" in err
    with pytest.raises(ForeignJournalError):
        ProjectStore.open(a)
    assert digest(a, Path(wal)) == before  # not a byte changed, nothing moved
    assert not (tmp_path / "out").exists()
    Path(wal).unlink()  # what the sentence says to do: then A opens with its 3 assets
    store = ProjectStore.open(a, read_only=True)
    try:
        assert store.count_assets() == 3
    finally:
        store.close()


def test_an_older_copy_restored_over_a_crashed_project_keeps_its_own_pages(
    tmp_path: Path, picture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with_assets(tmp_path / "P.studio", 2)
    backup = shutil.copy(project, tmp_path / "backup.studio")
    crash_in_wal_mode(project)  # the newer project crashed; its WAL stays
    shutil.copy(backup, project)  # the user restores yesterday's copy over it
    before = digest(project)
    assert main(["project", "import", str(project), str(picture)]) == 2
    assert "P.studio-wal" in capsys.readouterr().err
    assert digest(project) == before


def test_a_projects_own_crash_wal_is_replayed(tmp_path: Path) -> None:
    """The same crash, with the WAL left where it was: it is the project's own, and SQLite
    replays it (here, a change that deleted the assets)."""
    project = project_with_assets(tmp_path / "P.studio", 2)
    crash_in_wal_mode(project)
    store = ProjectStore.open(project)
    try:
        assert store.count_assets() == 0
    finally:
        store.close()


def test_a_wal_of_another_page_size_is_refused(tmp_path: Path) -> None:
    project = project_with_assets(tmp_path / "P.studio", 1)
    other = tmp_path / "other.db"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('PRAGMA page_size = 1024'); c.execute('PRAGMA journal_mode = WAL'); "
            "c.execute('CREATE TABLE t (x)'); c.execute('INSERT INTO t VALUES (1)'); os._exit(0)",
            str(other),
        ],
        check=True,
    )
    crash_in_wal_mode(project)  # the project is in WAL mode now, like a crashed one
    wal = project.with_name("P.studio-wal")
    shutil.copy(other.with_name("other.db-wal"), wal)
    with pytest.raises(ForeignJournalError, match="not the size of the project's pages"):
        ProjectStore.open(project)


def test_the_window_says_the_same_sentence_and_changes_nothing(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from studio.app import build_app

    a = project_with_assets(tmp_path / "A.studio", 2)
    b = project_with_assets(tmp_path / "B.studio", 1)
    wal = Path(shutil.copy(crash_in_wal_mode(b), tmp_path / "A.studio-wal"))
    before = digest(a, wal)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    app = build_app()
    qtbot.addWidget(app.window)
    try:
        assert not app.window.open_project(a)
    finally:
        app.shutdown()
    assert shown and "A.studio-wal" in shown[0] and "not its own" in shown[0]
    assert digest(a, wal) == before


CRASH_IN_ROLLBACK_MODE = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute("PRAGMA cache_size = 1")  # the change spills into the file before the commit
conn.execute("BEGIN IMMEDIATE")
conn.execute("DELETE FROM assets")
conn.execute("CREATE TABLE junk (x)")
conn.executemany("INSERT INTO junk VALUES (randomblob(2000))", [()] * 500)
os._exit(0)  # a crash mid-transaction: the hot journal stays
"""


def test_a_projects_own_hot_journal_is_rolled_back_and_the_project_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with_assets(tmp_path / "P.studio", 2)
    capsys.readouterr()
    subprocess.run([sys.executable, "-c", CRASH_IN_ROLLBACK_MODE, str(project)], check=True)
    journal = project.with_name("P.studio-journal")
    assert journal.exists() and journal.read_bytes()[:8] == bytes.fromhex("d9d505f920a163d7")
    assert main(["project", "info", str(project)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "image 2" in out and "Integrity: ok" in out, out  # as before the cut-off change
    assert not journal.exists() or journal.stat().st_size == 0  # rolled back


def test_a_mislabelled_schema_version_is_a_sentence_and_changes_nothing(
    tmp_path: Path, picture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    project = project_with_assets(tmp_path / "P.studio", 1)
    conn = sqlite3.connect(project)
    conn.execute("PRAGMA user_version = 1")  # the tables are the current schema's
    conn.close()
    capsys.readouterr()
    before = digest(project)
    for err in refusals(capsys, project, picture, tmp_path / "out"):
        assert "version number says schema 1" in err, err
    assert digest(project) == before


def damage_three_assets(project: Path) -> list[str]:
    """Asset 0's content gets a flipped byte, asset 1's recipe stops being UTF-8, asset 2's
    content goes missing (as byte-level damage does); asset 3 stays whole."""
    import sqlite3

    conn = sqlite3.connect(project)
    rows = conn.execute("SELECT id, blob_sha256 FROM assets ORDER BY created_ns").fetchall()
    conn.execute("PRAGMA ignore_check_constraints = ON")
    (data,) = conn.execute("SELECT data FROM blobs WHERE sha256 = ?", (rows[0][1],)).fetchone()
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    conn.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (bytes(flipped), rows[0][1]))
    conn.execute(
        "UPDATE assets SET recipe = CAST(x'7b22ff227d' AS TEXT) WHERE id = ?", (rows[1][0],)
    )
    conn.execute("DELETE FROM blobs WHERE sha256 = ?", (rows[2][1],))
    conn.commit()
    conn.close()
    return [row[0] for row in rows]


def test_export_of_a_damaged_project_writes_only_whole_assets_and_says_what_it_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with_assets(tmp_path / "P.studio", 4)
    ids = damage_three_assets(project)
    capsys.readouterr()
    before = digest(project)
    out = tmp_path / "out"
    assert main(["project", "export", str(project), str(out)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    for asset_id, why in zip(
        ids[:3],
        ["does not match its SHA-256", "recipe is damaged", "content is missing"],
        strict=True,
    ):
        assert f"Left out {asset_id}" in captured.err and why in captured.err, captured.err
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 1 and ids[3].lower() in written[0]  # only the whole one
    from PIL import Image

    with Image.open(out / written[0]) as image:
        image.load()  # it decodes
    assert digest(project) == before


def test_a_truncated_file_with_its_page_count_patched_is_a_sentence_and_stays_as_it_was(
    tmp_path: Path, picture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    sources = []
    for index in range(30):
        source = tmp_path / f"noise-{index}.png"
        Image.effect_noise((64, 64), 40 + index).convert("RGB").save(source)
        sources.append(str(source))
    project = tmp_path / "P.studio"
    assert main(["project", "import", str(project), *sources]) == 0
    data = bytearray(project.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    keep = len(data) // page // 2
    data = data[: keep * page]
    data[28:32] = keep.to_bytes(4, "big")  # the header agrees with the cut
    project.write_bytes(bytes(data))
    capsys.readouterr()
    before = digest(project)
    for err in refusals(capsys, project, picture, tmp_path / "out"):
        assert "P.studio is damaged" in err, err
    assert digest(project) == before


def hostile_files(tmp_path: Path) -> dict[str, Path]:
    import sqlite3

    random_bytes = tmp_path / "random.studio"
    random_bytes.write_bytes(bytes(range(256)) * 20)
    folder = tmp_path / "folder.studio"
    folder.mkdir()
    dangling = tmp_path / "dangling.studio"
    dangling.symlink_to(tmp_path / "nowhere" / "p.studio")
    other = tmp_path / "other.studio"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (text)")
    conn.commit()
    conn.close()
    return {"random": random_bytes, "folder": folder, "dangling": dangling, "other": other}


@pytest.mark.parametrize("case", ["random", "folder", "dangling", "other"])
def test_what_is_not_a_project_is_a_sentence_for_every_command_and_stays_as_it_was(
    tmp_path: Path, picture: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path = hostile_files(tmp_path)[case]
    before = digest(path) if path.is_file() else None
    listing = sorted(p.name for p in tmp_path.iterdir())
    for err in refusals(capsys, path, picture, tmp_path / "out"):
        assert path.name in err, err
    assert (digest(path) if path.is_file() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # nothing made beside it


@pytest.mark.parametrize("cut", [1, 99, 100, 4095, 4096, 8192, 12288, -4096, -1])
def test_a_truncated_project_never_gives_an_internal_error_nor_changes(
    tmp_path: Path, picture: Path, capsys: pytest.CaptureFixture[str], cut: int
) -> None:
    project = project_with_assets(tmp_path / "P.studio", 3)
    data = project.read_bytes()
    project.write_bytes(data[:cut] if cut > 0 else data[: len(data) + cut])
    capsys.readouterr()
    before = digest(project)
    refusals(capsys, project, picture, tmp_path / "out", one_sentence=False)
    assert digest(project) == before


@pytest.mark.parametrize("where", [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
def test_a_flipped_byte_anywhere_never_gives_an_internal_error(
    tmp_path: Path, picture: Path, capsys: pytest.CaptureFixture[str], where: float
) -> None:
    """Past the header (which the opening checks), a flipped byte is either found (a sentence,
    exit 2, nothing written) or harmless to SQLite (and then export still verifies every
    asset's content against its hash)."""
    project = project_with_assets(tmp_path / "P.studio", 4)
    data = bytearray(project.read_bytes())
    offset = max(100, int(len(data) * where))
    data[offset] ^= 0x5A
    project.write_bytes(bytes(data))
    capsys.readouterr()
    for argv in commands(project, picture, tmp_path / "out"):
        code = main(argv)
        err = capsys.readouterr().err
        assert code in (0, 2), (argv, err)
        assert "internal error" not in err and "Traceback" not in err, err


CRASH_AFTER_GROWING = """
import os, sys
from pathlib import Path
from studio.core.project import ProjectStore
from studio.core.recipe import Recipe
from studio.plugin_api.kinds import AssetKind
store = ProjectStore.open(Path(sys.argv[1]), background_check=False)
store.add_asset(kind=AssetKind.TEXT, data=("many words " * 20000).encode(),
                media_type="text/plain", recipe=Recipe.for_import("long.txt"))
os._exit(0)  # the new pages are in the WAL only
"""


def test_a_checkpoint_killed_after_page_one_leaves_a_project_that_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the kill harness: a checkpoint writes page 1 first (with the new page count);
    killed before it wrote the pages after it, the file is shorter than its header says, and
    its own WAL holds the rest. That is not a truncated file: it opens, with everything."""
    import os

    project = project_with_assets(tmp_path / "P.studio", 2)
    subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_GROWING, str(project)],
        check=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    wal = project.with_name("P.studio-wal").read_bytes()
    page_size = int.from_bytes(wal[8:12], "big")
    frames = [
        wal[offset : offset + 24 + page_size]
        for offset in range(32, len(wal) - 24 - page_size + 1, 24 + page_size)
    ]
    page_one = [frame[24:] for frame in frames if int.from_bytes(frame[:4], "big") == 1][-1]
    with open(project, "r+b") as handle:
        handle.write(page_one)  # the checkpoint's first write, then the kill
    claimed = int.from_bytes(page_one[28:32], "big") * page_size
    assert project.stat().st_size < claimed
    capsys.readouterr()
    assert main(["project", "info", str(project)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "text 1, image 2" in out and "Integrity: ok" in out, out
