"""Opening foreign, damaged, newer and read-only files: a clear error or a read-only project,
and never a changed byte."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core.project import (
    SCHEMA_VERSION,
    DamagedProjectError,
    NewerProjectError,
    NotAProjectError,
    ProjectNotFoundError,
    ProjectReadOnlyError,
    ProjectStore,
)
from studio.core.project.opening import inspect_project_file
from studio.core.recipe import Recipe
from studio.plugin_api.kinds import AssetKind


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in the folder with its bytes (side files such as -wal would show up)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "projects"
    folder.mkdir()
    path = folder / "p.studio"
    with ProjectStore.create(path) as store:
        for i in range(40):  # enough pages to truncate in the middle
            store.add_asset(
                kind=AssetKind.TEXT,
                data=f"text number {i} ".encode() * 40,
                media_type="text/plain",
                recipe=Recipe.for_import(f"{i}.txt"),
            )
    return path


def assert_refused_unchanged(path: Path, error: type[Exception], match: str) -> None:
    before = snapshot(path.parent)
    mtime = path.stat().st_mtime_ns
    with pytest.raises(error, match=match):
        ProjectStore.open(path)
    with pytest.raises(error, match=match):
        ProjectStore.open(path, read_only=True)
    assert snapshot(path.parent) == before
    assert path.stat().st_mtime_ns == mtime


def foreign_database(path: Path, *, wal: bool) -> None:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('hello')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("wal", [False, True])
def test_foreign_sqlite_database(tmp_path: Path, wal: bool) -> None:
    path = tmp_path / "other.studio"
    foreign_database(path, wal=wal)
    assert_refused_unchanged(
        path,
        NotAProjectError,
        r"other\.studio is not a Studio project \(it is an SQLite "
        r"database of another program\)\.",
    )


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.studio"
    path.write_bytes(os.urandom(8192))
    assert_refused_unchanged(path, NotAProjectError, r"not an SQLite database")


def test_short_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.studio"
    path.write_text("just some notes")
    assert_refused_unchanged(path, NotAProjectError, r"not an SQLite database")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.studio"
    path.touch()
    assert_refused_unchanged(path, NotAProjectError, r"empty\.studio is empty")


def test_truncated_project(project: Path) -> None:
    data = project.read_bytes()
    project.write_bytes(data[: len(data) // 2 // 4096 * 4096])
    assert_refused_unchanged(project, DamagedProjectError, r"p\.studio is damaged: it is truncated")


def test_project_cut_inside_a_page(project: Path) -> None:
    project.write_bytes(project.read_bytes()[:5000])
    assert_refused_unchanged(project, DamagedProjectError, r"not a whole number of pages")


def test_damaged_schema_page(project: Path) -> None:
    data = bytearray(project.read_bytes())
    data[100:4096] = os.urandom(3996)  # the rest of page 1: the table of tables
    project.write_bytes(bytes(data))
    assert_refused_unchanged(project, DamagedProjectError, r"p\.studio is damaged")


def test_newer_schema(project: Path) -> None:
    conn = sqlite3.connect(project)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    assert_refused_unchanged(
        project,
        NewerProjectError,
        rf"p\.studio was made by a newer Studio \(schema 7; this Studio reads up to "
        rf"{SCHEMA_VERSION}\)\.",
    )


def test_missing_tables(project: Path) -> None:
    conn = sqlite3.connect(project)
    conn.execute("DROP TABLE lineage")
    conn.commit()
    conn.close()
    assert_refused_unchanged(project, DamagedProjectError, r"table\(s\) lineage are missing")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="does not exist"):
        ProjectStore.open(tmp_path / "nowhere.studio")
    with pytest.raises(ProjectNotFoundError, match="is a folder"):
        ProjectStore.open(tmp_path)


@pytest.fixture
def write_protected(project: Path) -> Iterator[Path]:
    project.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    yield project
    project.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_read_only_file_opens_read_only_and_stays_unchanged(write_protected: Path) -> None:
    before = snapshot(write_protected.parent)
    assert inspect_project_file(write_protected).write_protected
    with ProjectStore.open(write_protected) as store:
        assert store.read_only
        assert store.count_assets() == 40
        assert store.read_blob(store.list_assets()[0].id).startswith(b"text number 39")
        assert store.quick_check().result(timeout=10).ok
        assert store.integrity_check().ok
        with pytest.raises(ProjectReadOnlyError, match="read-only"):
            store.add_asset(
                kind=AssetKind.TEXT,
                data=b"x",
                media_type="text/plain",
                recipe=Recipe.for_import("x.txt"),
            )
        with pytest.raises(ProjectReadOnlyError):
            store.delete_asset(store.list_assets()[0].id)
        assert snapshot(write_protected.parent) == before
    assert snapshot(write_protected.parent) == before


def test_read_only_folder_opens_read_only(project: Path) -> None:
    before = snapshot(project.parent)
    project.parent.chmod(0o555)
    try:
        with ProjectStore.open(project) as store:
            assert store.read_only and store.count_assets() == 40
    finally:
        project.parent.chmod(0o755)
    assert snapshot(project.parent) == before


def test_read_only_on_request_changes_nothing(project: Path) -> None:
    before = snapshot(project.parent)
    with ProjectStore.open(project, read_only=True) as store:
        assert store.read_only and store.count_assets() == 40
        assert store.integrity_check().ok
    assert snapshot(project.parent) == before


def test_a_copy_of_a_read_only_project_is_writable(write_protected: Path, tmp_path: Path) -> None:
    with ProjectStore.open(write_protected) as store:
        store.save_as(tmp_path / "mine.studio")
        assert not store.read_only
        store.add_asset(
            kind=AssetKind.TEXT,
            data=b"new",
            media_type="text/plain",
            recipe=Recipe.for_import("new.txt"),
        )
        assert store.count_assets() == 41
