"""``studio project repair`` and File > Repair Project: every intact asset of a damaged project,
with its recipe, lineage, trash state and document history, goes into a new file beside it; the
damaged file is never changed; what was lost is reported by id, title and reason."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.project import ProjectStore
from studio.core.project.repair import RepairCancelled, default_target, repair_project
from studio.plugin_api.kinds import AssetKind
from tests.core.fixtures.media_samples import audio_bytes, png_bytes
from tests.qt.asset_samples import add
from tests.reliability.test_project_file import (
    crash_in_wal_mode,
    digest,
    hostile_files,
    project_with_assets,
)

REVISIONS = ["Chapter one", "Chapter one\nIt was a dark night.", "Chapter one\nIt was bright."]


def rich_project(path: Path) -> dict[str, str]:
    """A project as a user has one: an image and what was made from it (lineage), a caption,
    audio, a text in the trash, and a document with three revisions."""
    with ProjectStore.create(path) as store:
        image = add(store, AssetKind.IMAGE, png_bytes(width=20, color="red"), "a red square")
        upscaled = add(
            store,
            AssetKind.IMAGE,
            png_bytes(width=40, color="red"),
            "upscaled square",
            inputs=((image.id, "image"),),
        )
        caption = add(
            store, AssetKind.CAPTION, b"a red square", "caption", inputs=((image.id, "image"),)
        )
        audio = add(store, AssetKind.AUDIO, audio_bytes("FLAC", frames=8000), "a beep")
        trashed = add(store, AssetKind.TEXT, b"an old draft", "old draft")
        store.delete_asset(trashed.id)
        document = store.create_document(REVISIONS[0])
        for number, text in enumerate(REVISIONS[1:], 1):
            store.save_document(document.asset.id, text, now_ns=time.time_ns() + number * 10**12)
    return {
        "image": image.id,
        "upscaled": upscaled.id,
        "caption": caption.id,
        "audio": audio.id,
        "trashed": trashed.id,
        "document": document.asset.id,
    }


def contents(path: Path) -> dict[str, bytes]:
    with ProjectStore.open(path, read_only=True, background_check=False) as store:
        return {a.id: store.read_blob(a.id) for a in store.list_assets(deleted=None)}


def damage(path: Path, *statements: tuple[str, tuple]) -> None:
    """Byte-level damage made with SQL (the checks SQLite would make are off)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    for sql, args in statements:
        conn.execute(sql, args)
    conn.commit()
    conn.close()


def blob_of(path: Path, asset_id: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT blob_sha256 FROM assets WHERE id = ?", (asset_id,)).fetchone()[
            0
        ]
    finally:
        conn.close()


def test_repair_keeps_every_intact_asset_with_recipe_lineage_trash_and_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "Novel.studio"
    ids = rich_project(project)
    before_contents = contents(project)
    with ProjectStore.open(project, read_only=True) as store:
        recipe_before = store.get_asset(ids["upscaled"]).recipe_json
    audio_sha = blob_of(project, ids["audio"])
    damage(
        project,
        ("UPDATE blobs SET data = zeroblob(length(data)) WHERE sha256 = ?", (audio_sha,)),
        ("UPDATE assets SET recipe = CAST(x'7b22ff227d' AS TEXT) WHERE id = ?", (ids["caption"],)),
    )
    before = digest(project)
    listing = sorted(p.name for p in tmp_path.iterdir())

    assert main(["project", "repair", str(project)]) == 0
    captured = capsys.readouterr()
    repaired = tmp_path / "Novel (repaired).studio"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*listing, repaired.name])
    assert digest(project) == before  # the damaged file is not changed
    assert f"Repaired Novel.studio into {repaired.name}: 5 assets kept" in captured.out
    assert f"Lost {ids['audio']} (a beep): its content is damaged" in captured.err
    assert f"Kept {ids['caption']} (caption), but its recipe was damaged" in captured.out

    with ProjectStore.open(repaired) as store:
        assert store.integrity_check().ok
        kept = {a.id: a for a in store.list_assets(deleted=None)}
        assert set(kept) == set(ids.values()) - {ids["audio"]}
        for asset_id in kept:
            assert store.read_blob(asset_id) == before_contents[asset_id]
        assert kept[ids["upscaled"]].recipe_json == recipe_before
        assert [link.input_id for link in store.inputs_of(ids["upscaled"])] == [ids["image"]]
        # The caption's recipe is gone, its lineage is not (the lineage table had it).
        assert [link.input_id for link in store.inputs_of(ids["caption"])] == [ids["image"]]
        assert kept[ids["caption"]].recipe.details["repair"]
        assert kept[ids["trashed"]].deleted_at is not None
        assert kept[ids["image"]].deleted_at is None
        revisions = store.document_revisions(ids["document"])
        assert len(revisions) == 3
        texts = [store.document_text_at(ids["document"], r.number) for r in revisions]
        assert texts == REVISIONS[::-1]
        # The repaired project takes new work.
        add(store, AssetKind.TEXT, b"written after the repair", "new")


def test_a_healthy_project_has_nothing_to_repair_and_nothing_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with_assets(tmp_path / "P.studio", 2)
    before, listing = digest(project), sorted(tmp_path.iterdir())
    capsys.readouterr()
    assert main(["project", "repair", str(project)]) == 0
    assert "P.studio passed its full check: there is nothing to repair." in capsys.readouterr().out
    assert sorted(tmp_path.iterdir()) == listing and digest(project) == before


@pytest.mark.parametrize("patched", [True, False], ids=["page-count-patched", "plain-cut"])
def test_a_truncated_project_gives_back_the_assets_before_the_cut(
    tmp_path: Path, patched: bool
) -> None:
    from PIL import Image

    project = tmp_path / "P.studio"
    with ProjectStore.create(project) as store:
        for index in range(30):
            buffer = io.BytesIO()
            Image.effect_noise((64, 64), 40 + index).convert("RGB").save(buffer, "PNG")
            add(store, AssetKind.IMAGE, buffer.getvalue(), f"noise {index}")
    originals = contents(project)
    data = bytearray(project.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    keep = len(data) // page // 2
    data = data[: keep * page + (0 if patched else 1000)]
    if patched:
        data[28:32] = keep.to_bytes(4, "big")
    project.write_bytes(bytes(data))
    before = digest(project)

    assert default_target(project) == tmp_path / "P (repaired).studio"
    report = repair_project(project)
    assert digest(project) == before
    assert report.target == tmp_path / "P (repaired).studio"
    assert default_target(project) == tmp_path / "P (repaired 2).studio"  # never replaced
    saved = contents(report.target)
    assert 0 < len(saved) < 30
    for asset_id, data in saved.items():
        assert data == originals[asset_id]  # every kept asset is exactly what was made
    named = {item.asset_id for item in report.lost} | set(saved)
    assert named <= set(originals)
    assert report.kept == len(saved)
    assert report.lost or report.notes  # what was lost is said
    with ProjectStore.open(report.target) as store:
        assert store.integrity_check().ok


@pytest.mark.parametrize("where", [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95])
def test_damage_anywhere_is_repaired_into_exactly_the_intact_assets(
    tmp_path: Path, where: float
) -> None:
    """A page of zeros (a lost disk sector) at several places: the repaired project has only
    assets exactly as they were made (or their content, recovered), and passes its check."""
    project = project_with_assets(tmp_path / "P.studio", 12)
    originals = contents(project)
    data = bytearray(project.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    number = max(1, int(len(data) // page * where))
    data[number * page : (number + 1) * page] = bytes(page)
    project.write_bytes(bytes(data))
    before = digest(project)
    report = repair_project(project)
    assert digest(project) == before
    if report.nothing_to_repair:  # a free page
        return
    with ProjectStore.open(report.target) as store:
        assert store.integrity_check().ok
        for asset in store.list_assets(deleted=None):
            content = store.read_blob(asset.id)
            if asset.id in originals:
                assert content == originals[asset.id]
            else:
                assert asset.title.startswith("Recovered") and content in originals.values()
    # Every asset is accounted for: kept, or named as lost (unless the table itself was cut).
    said = {item.asset_id for item in (*report.lost, *report.partly_kept)}
    with ProjectStore.open(report.target) as store:
        kept = {asset.id for asset in store.list_assets(deleted=None)}
    assert set(originals) <= kept | said or "assets table could not be read" in report.notes[0]


def test_content_whose_asset_row_is_damaged_is_recovered(tmp_path: Path) -> None:
    project = project_with_assets(tmp_path / "P.studio", 2)
    originals = contents(project)
    victim = sorted(originals)[0]
    damage(project, ("UPDATE assets SET kind = 'bogus' WHERE id = ?", (victim,)))
    report = repair_project(project)
    assert not report.lost
    (item,) = report.partly_kept
    assert item.asset_id == victim and "kept as Recovered PNG image 1" in item.why
    with ProjectStore.open(report.target) as store:
        titles = {a.title: store.read_blob(a.id) for a in store.list_assets()}
    assert titles["Recovered PNG image 1"] == originals[victim]


def test_a_document_keeps_the_revisions_that_still_rebuild(tmp_path: Path) -> None:
    project = tmp_path / "Novel.studio"
    ids = rich_project(project)
    conn = sqlite3.connect(project)
    document = conn.execute(
        "SELECT id FROM documents WHERE asset_id = ?", (ids["document"],)
    ).fetchone()[0]
    conn.execute(
        "UPDATE document_revisions SET back = '[[0, 99999, \"x\"]]' WHERE document = ? AND "
        "number = 1",
        (document,),
    )
    conn.commit()
    conn.close()
    report = repair_project(project)
    (item,) = [i for i in report.partly_kept if i.asset_id == ids["document"]]
    assert "revisions before 2 were damaged" in item.why
    with ProjectStore.open(report.target) as store:
        revisions = store.document_revisions(ids["document"])
        assert [r.number for r in revisions] == [3, 2]
        assert store.document_text_at(ids["document"], 2) == REVISIONS[1]


CRASH_AFTER_COMMIT = """
import os, sys
from pathlib import Path
from studio.core.project import ProjectStore
from studio.core.recipe import Recipe
from studio.plugin_api.kinds import AssetKind
store = ProjectStore.open(Path(sys.argv[1]), background_check=False)
asset = store.add_asset(kind=AssetKind.TEXT, data=b"committed just before the crash",
                        media_type="text/plain", recipe=Recipe.for_import("note.txt"))
print(asset.id, flush=True)
os._exit(0)  # the WAL stays, with the committed asset in it
"""


def test_repair_keeps_work_committed_in_the_projects_own_crash_wal(tmp_path: Path) -> None:
    """A crash left the newest asset in the project's WAL, and the file's first bytes were
    lost: the repair mends the header and replays the project's own WAL into its copy."""
    project = project_with_assets(tmp_path / "P.studio", 3)
    done = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_COMMIT, str(project)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    in_wal = done.stdout.strip()
    wal = project.with_name("P.studio-wal")
    assert wal.stat().st_size > 32
    with open(project, "r+b") as handle:
        handle.write(bytes(16))  # "SQLite format 3" is gone
    before = digest(project, wal)
    report = repair_project(project)
    assert digest(project, wal) == before
    saved = contents(report.target)
    assert len(saved) == 4 and saved[in_wal] == b"committed just before the crash"
    assert any("header was damaged" in note for note in report.notes)


def test_a_foreign_journal_is_left_out_of_the_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = project_with_assets(tmp_path / "A.studio", 2)
    b = project_with_assets(tmp_path / "B.studio", 1)
    wal = tmp_path / "A.studio-wal"
    wal.write_bytes(crash_in_wal_mode(b).read_bytes())
    before = digest(a, wal)
    capsys.readouterr()
    assert main(["project", "repair", str(a)]) == 0
    out = capsys.readouterr().out
    assert "A journal beside it was left out" in out
    assert digest(a, wal) == before
    assert len(contents(tmp_path / "A (repaired).studio")) == 2


def test_a_mislabelled_version_is_repaired_into_a_project_that_opens(tmp_path: Path) -> None:
    project = project_with_assets(tmp_path / "P.studio", 2)
    damage(project, ("PRAGMA user_version = 1", ()))
    report = repair_project(project)
    assert report.kept == 2 and not report.lost
    with ProjectStore.open(report.target) as store:
        assert store.schema_version == 3 and store.integrity_check().ok


@pytest.mark.parametrize("case", ["random", "folder", "dangling", "other"])
def test_repair_refuses_what_is_not_a_project_and_makes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path = hostile_files(tmp_path)[case]
    before = digest(path) if path.is_file() else None
    listing = sorted(p.name for p in tmp_path.iterdir())
    assert main(["project", "repair", str(path)]) == 2
    err = capsys.readouterr().err
    assert path.name in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    assert (digest(path) if path.is_file() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_repair_never_replaces_a_file_and_a_cancel_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with_assets(tmp_path / "P.studio", 2)
    damage(project, ("PRAGMA user_version = 1", ()))
    taken = tmp_path / "taken.studio"
    taken.write_bytes(b"mine")
    capsys.readouterr()
    assert main(["project", "repair", str(project), "--into", str(taken)]) == 2
    assert "taken.studio already exists" in capsys.readouterr().err
    assert taken.read_bytes() == b"mine"
    listing = sorted(tmp_path.iterdir())

    def cancel(done: int, total: int) -> None:
        raise RepairCancelled()

    with pytest.raises(RepairCancelled):
        repair_project(project, progress=cancel)
    assert sorted(tmp_path.iterdir()) == listing


def zero_the_assets_table_root(project: Path) -> None:
    """A lost sector: the first page of the assets table is zeros after its header (the file
    still opens; SQLite's quick check finds the damage)."""
    data = bytearray(project.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    conn = sqlite3.connect(project)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'assets'").fetchone()[0]
    conn.close()
    data[(root - 1) * page + 8 : root * page] = bytes(page - 8)
    project.write_bytes(bytes(data))


def test_writes_into_a_damaged_project_point_to_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with_assets(tmp_path / "P.studio", 3)
    zero_the_assets_table_root(project)
    picture = tmp_path / "x.png"
    picture.write_bytes(png_bytes(width=9))
    before = digest(project)
    capsys.readouterr()
    assert main(["project", "import", str(project), str(picture)]) == 2
    err = capsys.readouterr().err
    assert "studio project repair" in err and "File > Repair Project" in err, err
    assert digest(project) == before


class BoxAnswers:
    """Answers the window's message boxes as a user would click them: each box's text is kept,
    and the button named next in ``clicks`` is pressed."""

    def __init__(self, clicks: list[str]) -> None:
        from PySide6.QtCore import QTimer

        self.clicks = list(clicks)
        self.seen: list[str] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self._answer)
        self.timer.start(20)

    def _answer(self) -> None:
        from PySide6.QtWidgets import QApplication, QMessageBox

        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isVisible():
            return
        self.seen.append(" ".join([box.text(), box.informativeText(), box.detailedText()]))
        names = {button.text().replace("&", "").rstrip("…"): button for button in box.buttons()}
        wanted = (
            self.clicks.pop(0)
            if self.clicks
            else next(name for name in ("Cancel", "Close", "OK") if name in names)
        )
        assert wanted in names, f"no button {wanted!r} in {list(names)}"
        names[wanted].click()


def truncated_project(tmp_path: Path) -> Path:
    project = project_with_assets(tmp_path / "Album.studio", 12)
    data = bytearray(project.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    keep = len(data) // page * 2 // 3
    project.write_bytes(bytes(data[: keep * page]))
    return project


def test_the_window_offers_to_repair_a_damaged_project_and_opens_the_repair(
    qtbot, tmp_path: Path
) -> None:
    from studio.app import build_app

    project = truncated_project(tmp_path)
    before = digest(project)
    app = build_app()
    qtbot.addWidget(app.window)
    try:
        answers = BoxAnswers(["Repair", "Open Repaired Project"])
        assert app.window.open_project(project)
        repaired = tmp_path / "Album (repaired).studio"
        assert app.session.path == repaired
        assert "Album.studio is damaged" in answers.seen[0]
        assert "Album.studio itself is not changed" in answers.seen[0]
        assert "Repaired Album.studio into Album (repaired).studio" in answers.seen[1]
        assert app.session.store.count_assets() == contents(repaired).__len__() > 0
        assert app.window.windowTitle().startswith("Album (repaired)")
    finally:
        answers.timer.stop()
        app.shutdown()
    assert digest(project) == before


def test_the_window_leaves_a_damaged_project_alone_when_repair_is_declined(
    qtbot, tmp_path: Path
) -> None:
    from studio.app import build_app

    project = truncated_project(tmp_path)
    listing = sorted(tmp_path.iterdir())
    app = build_app()
    qtbot.addWidget(app.window)
    try:
        answers = BoxAnswers(["Cancel"])
        assert not app.window.open_project(project)
        assert len(answers.seen) == 1 and app.session.store.is_untitled
    finally:
        answers.timer.stop()
        app.shutdown()
    assert sorted(tmp_path.iterdir()) == listing


def test_damage_found_after_opening_is_offered_for_repair_too(qtbot, tmp_path: Path) -> None:
    from studio.app import build_app

    project = project_with_assets(tmp_path / "Album.studio", 40)
    zero_the_assets_table_root(project)
    app = build_app()
    qtbot.addWidget(app.window)
    try:
        answers = BoxAnswers(["Repair", "Close"])
        assert app.window.open_project(project)  # it opens: the damage is past the header
        qtbot.waitUntil(lambda: len(answers.seen) == 2, timeout=20000)
        assert "A check of Album found problems" in answers.seen[0]
        assert "Repaired Album.studio into Album (repaired).studio" in answers.seen[1]
        assert app.session.path == project  # "Close": the repaired project was not opened
    finally:
        answers.timer.stop()
        app.shutdown()
    assert (tmp_path / "Album (repaired).studio").is_file()


def damaged_cases(tmp_path: Path) -> dict[str, Path]:
    """Every kind of damaged or foreign file the reliability tests make, one of each."""
    cases = dict(hostile_files(tmp_path))
    for cut in (100, 4096, -4096):
        project = project_with_assets(tmp_path / f"cut{cut}.studio", 3)
        data = project.read_bytes()
        project.write_bytes(data[:cut])
        cases[f"cut{cut}"] = project
    for where in (0.3, 0.6, 0.9):
        project = project_with_assets(tmp_path / f"flip{where}.studio", 4)
        data = bytearray(project.read_bytes())
        data[max(100, int(len(data) * where))] ^= 0x5A
        project.write_bytes(bytes(data))
        cases[f"flip{where}"] = project
    mislabelled = project_with_assets(tmp_path / "mislabelled.studio", 1)
    damage(mislabelled, ("PRAGMA user_version = 1", ()))
    cases["mislabelled"] = mislabelled
    foreign = project_with_assets(tmp_path / "foreign.studio", 2)
    other = project_with_assets(tmp_path / "other-project.studio", 1)
    foreign.with_name("foreign.studio-wal").write_bytes(crash_in_wal_mode(other).read_bytes())
    cases["foreign-wal"] = foreign
    sector = project_with_assets(tmp_path / "sector.studio", 30)
    zero_the_assets_table_root(sector)
    cases["lost-sector"] = sector
    return cases


CASES = [
    "random", "folder", "dangling", "other", "cut100", "cut4096", "cut-4096",
    "flip0.3", "flip0.6", "flip0.9", "mislabelled", "foreign-wal", "lost-sector",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_the_window_says_a_sentence_for_every_damaged_file_and_changes_nothing(
    qtbot, tmp_path: Path, case: str
) -> None:
    """Opened in the window and declined: one box that names the file (a refusal, or the offer
    to repair), no error in the event loop, and the file as it was."""
    from studio.app import build_app

    path = damaged_cases(tmp_path)[case]
    neighbours = [p for p in tmp_path.iterdir() if p.is_file() and p.name.startswith(path.stem)]
    before = {p.name: digest(p) for p in neighbours}
    app = build_app()
    qtbot.addWidget(app.window)
    answers = BoxAnswers([])
    try:
        opened = app.window.open_project(path)
        if opened:  # the damage is past what opening reads: the background check finds it
            qtbot.waitUntil(app.session.store.quick_check().done, timeout=20000)
            qtbot.wait(100)
    finally:
        answers.timer.stop()
        app.shutdown()
    if not (opened and not answers.seen):  # a flip SQLite never reads is harmless
        assert len(answers.seen) == 1, answers.seen
        assert path.stem in answers.seen[0], answers.seen
    assert {p.name: digest(p) for p in neighbours} == before


def test_a_double_clicked_file_that_is_not_a_project_is_said_in_the_window(
    qtbot, tmp_path: Path
) -> None:
    """A double-click has no terminal: the window opens (untitled) and says why the file did
    not; a damaged project double-clicked is offered for repair."""
    from studio.app import build_app

    random_file = hostile_files(tmp_path)["random"]
    app = build_app(random_file)
    qtbot.addWidget(app.window)
    answers = BoxAnswers([])
    try:
        qtbot.waitUntil(lambda: bool(answers.seen), timeout=5000)
        assert "random.studio is not a Studio project" in answers.seen[0]
        assert app.session.store.is_untitled
        accepted, said = app.window.drop_answer([random_file])
        assert not accepted and said.startswith("random.studio is not a Studio project")
    finally:
        answers.timer.stop()
        app.shutdown()

    damaged = truncated_project(tmp_path)
    app = build_app(damaged)
    qtbot.addWidget(app.window)
    answers = BoxAnswers(["Repair", "Open Repaired Project"])
    try:
        qtbot.waitUntil(lambda: app.session.path is not None, timeout=20000)
        assert "Album.studio is damaged" in answers.seen[0]
        assert app.session.path == tmp_path / "Album (repaired).studio"
        assert app.window.drop_answer([damaged])[0]  # damaged, but a project: offered
    finally:
        answers.timer.stop()
        app.shutdown()


def test_a_full_disk_stops_the_repair_with_a_sentence_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import shutil

    project = project_with_assets(tmp_path / "P.studio", 2)
    damage(project, ("PRAGMA user_version = 1", ()))
    listing = sorted(tmp_path.iterdir())

    def no_room(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", no_room)
    capsys.readouterr()
    assert main(["project", "repair", str(project)]) == 2
    err = capsys.readouterr().err
    assert "stopped, and nothing was written" in err and "No space left" in err, err
    assert sorted(tmp_path.iterdir()) == listing
