"""Checking a file before Studio opens it as a project, without changing a byte of it.

The order matters. First the 100-byte SQLite header is read with a plain file read: an empty
file, random bytes or an SQLite database of another program is refused before SQLite ever
sees it (SQLite would happily turn an empty file into a database, and opening a foreign
database for writing could change its journal mode). Then a read-only SQLite connection reads
the schema version and the table list. Only a file that passed both is opened for writing.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from studio.core.project.errors import (
    DamagedProjectError,
    ForeignJournalError,
    NewerProjectError,
    NotAProjectError,
    ProjectNotFoundError,
    ProjectOpenError,
)
from studio.core.project.schema import (
    APPLICATION_ID,
    OLDEST_SCHEMA_VERSION,
    REQUIRED_TABLES,
    SCHEMA_VERSION,
    create_schema,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100


@dataclass(frozen=True, kw_only=True)
class ProjectFileInfo:
    """What the checks found out about a project file.

    Attributes:
        path: the file.
        schema_version: its schema version (may be older than the current one).
        write_protected: the file or its folder cannot (or should not) be written.
        size: the file size in bytes.
    """

    path: Path
    schema_version: int
    write_protected: bool
    size: int


def read_only_uri(path: Path) -> str:
    """An SQLite URI that opens ``path`` read-only (it never creates or changes the file)."""
    return f"{path.absolute().as_uri()}?mode=ro"


def connect_read_only(path: Path, *, timeout: float = 5.0) -> sqlite3.Connection:
    """A read-only connection, usable from any thread (one thread at a time)."""
    return sqlite3.connect(
        read_only_uri(path),
        uri=True,
        timeout=timeout,
        isolation_level=None,
        check_same_thread=False,
    )


def is_write_protected(path: Path) -> bool:
    """Whether Studio must not write ``path``: the file or its folder (where SQLite writes its
    journals) has no write permission, or no write bit at all (so that something marked
    read-only stays untouched even for an administrator, whom permissions do not stop)."""
    folder = path.absolute().parent
    for item, access in ((path, os.W_OK), (folder, os.W_OK | os.X_OK)):
        if not item.stat().st_mode & 0o222 or not os.access(item, access):
            return True
    return False


def inspect_project_file(path: Path) -> ProjectFileInfo:
    """Check that ``path`` is a Studio project this Studio can read, changing nothing.

    Raises a :class:`~studio.core.project.errors.ProjectOpenError` subclass with one clear
    sentence when the file is missing, not a project, made by a newer Studio, or damaged.
    """
    name = path.name
    if not path.exists():
        raise ProjectNotFoundError(path, f"{path} does not exist.")
    if not path.is_file():
        raise ProjectNotFoundError(path, f"{path} is a folder, not a Studio project file.")
    header_version = _check_header(path)
    if header_version > SCHEMA_VERSION:
        raise _newer(path, header_version)
    if not check_journal(path):
        _recover_own_rollback_journal(path)
        _check_size(path)
    try:
        conn = connect_read_only(path)
    except sqlite3.Error as exc:
        raise DamagedProjectError(path, f"{name} cannot be read ({exc}).") from exc
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        columns = {
            table: {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
            for table in REQUIRED_TABLES[SCHEMA_VERSION] & tables
        }
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # a name that is not UTF-8
        why = exc if isinstance(exc, sqlite3.DatabaseError) else "its list of tables is garbled"
        raise DamagedProjectError(path, f"{name} is damaged: {why}.") from exc
    finally:
        conn.close()
    if application_id != APPLICATION_ID:
        raise NotAProjectError(
            path, f"{name} is not a Studio project (it is an SQLite database of another program)."
        )
    if version > SCHEMA_VERSION:
        raise _newer(path, version)
    if version < OLDEST_SCHEMA_VERSION:
        raise DamagedProjectError(path, f"{name} is damaged: it has no schema version.")
    missing = sorted(REQUIRED_TABLES[version] - tables)
    if missing:
        raise DamagedProjectError(
            path, f"{name} is damaged: the table(s) {', '.join(missing)} are missing."
        )
    if version == SCHEMA_VERSION:
        for table, expected in sorted(_current_columns().items()):
            lacking = sorted(expected - columns.get(table, expected))
            if lacking:
                raise DamagedProjectError(
                    path,
                    f"{name} is damaged: its table {table} lacks the column(s) "
                    f"{', '.join(lacking)}.",
                )
    # Tables only a newer schema has, in a file whose version says older: upgrading it would
    # create them again ("table project_meta already exists").
    later = sorted(
        (REQUIRED_TABLES[SCHEMA_VERSION] - REQUIRED_TABLES[version]) & tables
        if version < SCHEMA_VERSION
        else set()
    )
    if later:
        raise DamagedProjectError(
            path,
            f"{name} is damaged: its version number says schema {version}, but it has the "
            f"table(s) {', '.join(later)} of a later schema.",
        )
    return ProjectFileInfo(
        path=path,
        schema_version=version,
        write_protected=is_write_protected(path),
        size=path.stat().st_size,
    )


@functools.cache
def _current_columns() -> dict[str, set[str]]:
    """The columns of each table of the current schema (from its own DDL, in memory)."""
    conn = sqlite3.connect(":memory:")
    try:
        create_schema(conn)
        return {
            table: {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
            for table in REQUIRED_TABLES[SCHEMA_VERSION]
        }
    finally:
        conn.close()


def refusal_by_header(path: Path) -> str:
    """The sentence that says ``path`` is not a Studio project, by its first 100 bytes alone
    (for a drop, before anything opens it); "" for a file that says it is one, damaged or not."""
    try:
        _check_header(path)
    except NotAProjectError as exc:
        return str(exc)
    except (ProjectOpenError, OSError):
        return ""
    return ""


def _newer(path: Path, version: int) -> NewerProjectError:
    return NewerProjectError(
        path,
        f"{path.name} was made by a newer Studio (schema {version}; "
        f"this Studio reads up to {SCHEMA_VERSION}).",
    )


def _check_header(path: Path) -> int:
    """Check the SQLite header with a plain read; returns the schema version it names."""
    name = path.name
    size = path.stat().st_size
    if size == 0:
        raise NotAProjectError(path, f"{name} is empty (0 bytes), so it is not a Studio project.")
    with open(path, "rb") as handle:
        header = handle.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE or not header.startswith(SQLITE_MAGIC):
        raise NotAProjectError(
            path, f"{name} is not a Studio project (it is not an SQLite database)."
        )
    if int.from_bytes(header[68:72], "big", signed=True) != APPLICATION_ID:
        raise NotAProjectError(
            path, f"{name} is not a Studio project (it is an SQLite database of another program)."
        )
    raw_page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise DamagedProjectError(path, f"{name} is damaged: its header is invalid.")
    return int.from_bytes(header[60:64], "big", signed=True)


def _check_size(path: Path) -> None:
    """The file must hold the pages its header counts. Only without a WAL of its own: a
    checkpoint killed after it wrote page 1 (with the new page count) and before the pages
    after it leaves a file shorter than its header says, and the WAL holds the rest."""
    name = path.name
    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(HEADER_SIZE)
    page_size = _page_size(int.from_bytes(header[16:18], "big"))
    if size % page_size:
        raise DamagedProjectError(
            path, f"{name} is damaged: its size is not a whole number of pages (truncated?)."
        )
    # The page count in the header is only trustworthy when the two counters agree.
    page_count = int.from_bytes(header[28:32], "big")
    if header[24:28] == header[92:96] and size < page_count * page_size:
        raise DamagedProjectError(
            path,
            f"{name} is damaged: it is truncated ({size} of {page_count * page_size} bytes).",
        )


WAL_MAGICS = (0x377F0682, 0x377F0683)
WAL_HEADER_SIZE = 32


def _page_size(raw: int) -> int:
    return 65536 if raw == 1 else raw


def check_journal(path: Path) -> bool:
    """Refuse a write-ahead log beside the project that cannot be its own, before SQLite sees
    it: SQLite would replay its pages into the project (SQLite's "How To Corrupt An SQLite
    Database File": a WAL copied beside another database, or a backup restored over a file
    whose crash WAL is still there). Nothing is moved or deleted.

    A crash WAL can only be a file's own if the file was left in WAL mode (header bytes 18 and
    19 are 2; a clean close sets them back to 1), and its pages must have the file's page
    size. A WAL too short to hold a header is ignored by SQLite, and so here. Returns whether
    the project has a WAL of its own (which may hold pages the file does not have yet)."""
    wal = path.with_name(path.name + "-wal")
    try:
        with open(wal, "rb") as handle:
            wal_header = handle.read(WAL_HEADER_SIZE)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise DamagedProjectError(
            path, f"{path.name} cannot be opened: its journal {wal.name} cannot be read ({exc})."
        ) from exc
    if len(wal_header) < WAL_HEADER_SIZE:
        return False
    with open(path, "rb") as handle:
        header = handle.read(HEADER_SIZE)
    in_wal_mode = header[18] == 2 and header[19] == 2
    magic = int.from_bytes(wal_header[0:4], "big")
    wal_page_size = int.from_bytes(wal_header[8:12], "big")
    why = ""
    if magic not in WAL_MAGICS:
        why = "it is not an SQLite journal"
    elif not in_wal_mode:
        why = (
            "the project was closed cleanly, so it has no journal of its own to replay (the "
            "journal was copied or restored from another file)"
        )
    elif wal_page_size != _page_size(int.from_bytes(header[16:18], "big")):
        why = "its pages are not the size of the project's pages (it belongs to another file)"
    if why:
        raise ForeignJournalError(
            path,
            f"{path.name} was not opened, and nothing was changed: the journal {wal.name} beside "
            f"it is not its own ({why}). Move {wal.name} out of this folder (keep it if it "
            "belongs to another project), then open the project again.",
        )
    return True


ROLLBACK_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def _recover_own_rollback_journal(path: Path) -> None:
    """A hot rollback journal (a change cut off by a crash) that is the project's own is rolled
    back now, as SQLite does on the first write connection: the project goes back to its last
    committed state, and opens. A read-only connection cannot do it (SQLite says "attempt to
    write a readonly database" for ever). A journal of another page size is not its own."""
    journal = path.with_name(path.name + "-journal")
    try:
        with open(journal, "rb") as handle:
            journal_header = handle.read(28)
    except FileNotFoundError:
        return
    except OSError:
        return  # SQLite will say what it cannot read
    if len(journal_header) < 28 or not journal_header.startswith(ROLLBACK_JOURNAL_MAGIC):
        return  # not hot: SQLite ignores it
    with open(path, "rb") as handle:
        header = handle.read(HEADER_SIZE)
    page_size = _page_size(int.from_bytes(header[16:18], "big"))
    if int.from_bytes(journal_header[24:28], "big") != page_size:
        raise ForeignJournalError(
            path,
            f"{path.name} was not opened, and nothing was changed: the journal {journal.name} "
            "beside it is not its own (its pages are not the size of the project's pages). "
            f"Move {journal.name} out of this folder, then open the project again.",
        )
    if is_write_protected(path):
        raise DamagedProjectError(
            path,
            f"{path.name} has a change that was cut off (its journal {journal.name}) and must be "
            "rolled back before it can be read, but Studio may not write there: make the file "
            "and its folder writable, then open it again.",
        )
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=10.0)
    try:
        conn.execute("PRAGMA schema_version").fetchone()  # the first read rolls it back
    except sqlite3.Error as exc:
        raise DamagedProjectError(
            path, f"{path.name} is damaged: its cut-off change cannot be rolled back ({exc})."
        ) from exc
    finally:
        conn.close()
