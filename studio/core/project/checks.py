"""Integrity checks of a project file, on their own read-only connection.

``quick_check`` (SQLite's ``PRAGMA quick_check``) runs in the background after a project is
opened; the full check (:func:`integrity_check`) runs on demand and also recomputes every
blob's hash and reads every recipe. Neither writes to the file.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from studio.core.project.documents import check_documents
from studio.core.project.opening import connect_read_only
from studio.core.project.schema import APPLICATION_ID, SCHEMA_VERSION
from studio.core.recipe import Recipe, RecipeError
from studio.plugin_api.kinds import AssetKind

log = logging.getLogger(__name__)

_MAX_LISTED = 20


@dataclass(frozen=True)
class IntegrityReport:
    """The result of a check: ``ok``, or the problems found (one sentence each)."""

    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        """``"ok"``, or the problems joined into one line."""
        if self.ok:
            return "ok"
        shown = "; ".join(self.problems[:5])
        more = len(self.problems) - 5
        return f"{shown}; and {more} more problem(s)" if more > 0 else shown


def _sqlite_check(conn: sqlite3.Connection, pragma: str) -> list[str]:
    rows = [row[0] for row in conn.execute(f"PRAGMA {pragma}({_MAX_LISTED})")]
    return [] if rows == ["ok"] else [f"SQLite: {row}" for row in rows]


def _raise_if_interrupted(exc: sqlite3.DatabaseError) -> None:
    if isinstance(exc, sqlite3.OperationalError) and "interrupt" in str(exc):
        raise exc


def _quick_check_on(conn: sqlite3.Connection) -> IntegrityReport:
    try:
        return IntegrityReport(tuple(_sqlite_check(conn, "quick_check")))
    except sqlite3.DatabaseError as exc:
        _raise_if_interrupted(exc)
        return IntegrityReport((f"SQLite: {exc}",))


def quick_check(path: Path) -> IntegrityReport:
    """SQLite's ``quick_check`` of the file (structure only, no index contents)."""
    conn = connect_read_only(path)
    try:
        return _quick_check_on(conn)
    finally:
        conn.close()


def integrity_check(path: Path) -> IntegrityReport:
    """The full check: SQLite's ``integrity_check``, foreign keys, blob hashes, recipes, and
    every revision of every document rebuilt."""
    conn = connect_read_only(path)
    try:
        problems = _sqlite_check(conn, "integrity_check")
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            problems.append("the file is no longer marked as a Studio project")
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
            problems.append(f"a row of {table} (rowid {rowid}) refers to a missing {parent} row")
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            problems += _check_blobs(conn)
            problems += _check_assets(conn)
            problems += check_documents(conn)
        return IntegrityReport(tuple(problems))
    except sqlite3.DatabaseError as exc:
        return IntegrityReport((f"SQLite: {exc}",))
    finally:
        conn.close()


def _check_blobs(conn: sqlite3.Connection) -> list[str]:
    problems = []
    for sha256, size, data in conn.execute("SELECT sha256, size, data FROM blobs"):
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            problems.append(f"blob {sha256[:12]} does not match its hash")
    return problems


def _check_assets(conn: sqlite3.Connection) -> list[str]:
    problems = []
    kinds = {kind.value for kind in AssetKind}
    rows = conn.execute("SELECT id, kind, CAST(recipe AS BLOB) FROM assets")
    for asset_id, kind, recipe in rows:
        if kind not in kinds:
            problems.append(f"asset {asset_id} has an unknown kind {kind!r}")
        try:
            Recipe.from_json_text(bytes(recipe or b"").decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(f"asset {asset_id}: its recipe is not UTF-8 text")
        except RecipeError as exc:
            problems.append(f"asset {asset_id}: {exc}")
    return problems


class BackgroundCheck:
    """A :func:`quick_check` running on its own thread; ``future`` gets the report."""

    def __init__(self, path: Path) -> None:
        self.future: Future[IntegrityReport] = Future()
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._main, args=(path,), name=f"project-check {path.name}", daemon=True
        )
        self._thread.start()

    def _main(self, path: Path) -> None:
        try:
            conn = connect_read_only(path)
            with self._lock:
                self._conn = conn
            try:
                report = _quick_check_on(conn)
            finally:
                # Closed under the lock, so that stop() never interrupts a closed connection.
                with self._lock:
                    self._conn = None
                    conn.close()
        except BaseException as exc:
            log.info("quick check of %s did not finish: %s", path, exc)
            self.future.set_exception(exc)
        else:
            self.future.set_result(report)

    def stop(self) -> None:
        """Interrupt the check (if still running) and wait for its thread."""
        with self._lock:
            if self._conn is not None:
                self._conn.interrupt()
        self._thread.join()
