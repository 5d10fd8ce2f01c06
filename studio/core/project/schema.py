"""The tables of a ``.studio`` file, its identity, and the migrations between schema versions.

A project file is an SQLite database whose ``PRAGMA application_id`` is :data:`APPLICATION_ID`
and whose ``PRAGMA user_version`` is its schema version. New projects get the current schema
directly (:func:`create_schema`); older ones are brought up to date by :data:`MIGRATIONS`, one
step per version, all in the caller's transaction so a failed upgrade leaves the file as it was.
The DDL of every released schema stays here for as long as its migration does.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from studio import __version__
from studio.core.project.assets import prompt_text
from studio.core.recipe import format_time

APPLICATION_ID = 0x53746D64
"""``PRAGMA application_id`` of every project: the bytes ``Stmd`` at offset 68 of the file."""

SCHEMA_VERSION = 3
"""The schema this Studio writes and reads."""

OLDEST_SCHEMA_VERSION = 1
"""The oldest schema this Studio can upgrade."""

# Schema 1 (Studio 0.1 previews): lineage only inside the recipe JSON, a deleted flag.
SCHEMA_1_DDL = (
    """CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    data BLOB NOT NULL
)""",
    """CREATE TABLE assets (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    media_type TEXT NOT NULL,
    blob TEXT NOT NULL REFERENCES blobs (sha256),
    created_at TEXT NOT NULL,
    recipe TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
)""",
    "CREATE INDEX assets_created ON assets (created_at)",
)

# Schema 2: blob sizes, times in ns, soft delete with its time, a lineage table, search text.
PROJECT_META_DDL = """CREATE TABLE project_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID"""

BLOBS_DDL = """CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
)"""

ASSETS_DDL = """CREATE TABLE assets (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    media_type TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    created_ns INTEGER NOT NULL,
    deleted_ns INTEGER,
    recipe TEXT NOT NULL CHECK (json_valid(recipe)),
    prompt_text TEXT NOT NULL DEFAULT ''
)"""

LINEAGE_DDL = """CREATE TABLE lineage (
    asset_id TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    input_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (asset_id, position)
) WITHOUT ROWID"""

SCHEMA_2_INDEXES = (
    "CREATE INDEX assets_newest ON assets (created_ns DESC, id DESC)",
    "CREATE INDEX assets_kind_newest ON assets (kind, created_ns DESC, id DESC)",
    "CREATE INDEX assets_blob ON assets (blob_sha256)",
    "CREATE INDEX lineage_input ON lineage (input_id)",
)

SCHEMA_2_DDL = (PROJECT_META_DDL, BLOBS_DDL, ASSETS_DDL, LINEAGE_DDL, *SCHEMA_2_INDEXES)

# Schema 3: the writer's documents (assets of kind "document") with their revision history.
DOCUMENTS_DDL = """CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    asset_id TEXT NOT NULL UNIQUE REFERENCES assets (id) ON DELETE CASCADE,
    auto_title INTEGER NOT NULL DEFAULT 1,
    cursor INTEGER NOT NULL DEFAULT 0,
    anchor INTEGER NOT NULL DEFAULT 0,
    scroll INTEGER NOT NULL DEFAULT 0,
    opened_ns INTEGER NOT NULL DEFAULT 0
)"""

DOCUMENT_REVISIONS_DDL = """CREATE TABLE document_revisions (
    document INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    started_ns INTEGER NOT NULL,
    saved_ns INTEGER NOT NULL,
    origin TEXT NOT NULL,
    source_asset_id TEXT,
    details TEXT,
    chars INTEGER NOT NULL,
    back TEXT,
    PRIMARY KEY (document, number)
)"""
# A rowid table on purpose: revisions are appended, and SQLite packs appended rows into full
# pages only in rowid tables (WITHOUT ROWID left its pages about half empty).

SCHEMA_3_ADDITIONS = (
    DOCUMENTS_DDL,
    DOCUMENT_REVISIONS_DDL,
    "CREATE INDEX document_revisions_source ON document_revisions (source_asset_id) "
    "WHERE source_asset_id IS NOT NULL",
)

SCHEMA_3_DDL = (*SCHEMA_2_DDL, *SCHEMA_3_ADDITIONS)

REQUIRED_TABLES = {
    1: frozenset({"blobs", "assets"}),
    2: frozenset({"project_meta", "blobs", "assets", "lineage"}),
    3: frozenset({"project_meta", "blobs", "assets", "lineage", "documents", "document_revisions"}),
}
"""The tables a file of each schema version must have (a file without them is damaged)."""


def create_schema(conn: sqlite3.Connection, *, created_ns: int | None = None) -> None:
    """Create the current schema in an empty database (inside the caller's transaction)."""
    for statement in SCHEMA_3_DDL:
        conn.execute(statement)
    _write_meta(conn, created_ns)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _write_meta(conn: sqlite3.Connection, created_ns: int | None) -> None:
    created = datetime.fromtimestamp((created_ns or time.time_ns()) / 1e9, UTC)
    conn.executemany(
        "INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)",
        [("created_at", format_time(created)), ("created_by", f"Studio {__version__}")],
    )


@dataclass(frozen=True)
class Migration:
    """One step from ``from_version`` to ``from_version + 1``, run inside a transaction."""

    from_version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]

    @property
    def to_version(self) -> int:
        return self.from_version + 1


def _iso_to_ns(text: str) -> int:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # schema 1 meant UTC when it wrote no offset
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE assets RENAME TO assets_v1")
    conn.execute("ALTER TABLE blobs RENAME TO blobs_v1")
    conn.execute("DROP INDEX IF EXISTS assets_created")
    for statement in SCHEMA_2_DDL:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO blobs (sha256, size, data) SELECT sha256, length(data), data FROM blobs_v1"
    )
    migrated_ns = time.time_ns()
    rows = conn.execute(
        "SELECT id, kind, title, media_type, blob, created_at, recipe, deleted FROM assets_v1"
    ).fetchall()
    for asset_id, kind, title, media_type, blob, created_at, recipe_text, deleted in rows:
        recipe = json.loads(recipe_text)
        request = recipe.get("request") or {}
        conn.execute(
            "INSERT INTO assets (id, kind, title, media_type, blob_sha256, created_ns, "
            "deleted_ns, recipe, prompt_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                asset_id,
                kind,
                title,
                media_type,
                blob,
                _iso_to_ns(created_at),
                migrated_ns if deleted else None,
                recipe_text,
                prompt_text(request) if isinstance(request, dict) else "",
            ),
        )
        # Schema 1 kept lineage only in the recipe; schema 2 indexes it.
        conn.executemany(
            "INSERT INTO lineage (asset_id, position, input_id, role) VALUES (?, ?, ?, ?)",
            [
                (asset_id, position, item["asset_id"], item.get("role", ""))
                for position, item in enumerate(recipe.get("inputs") or ())
            ],
        )
    conn.execute("DROP TABLE assets_v1")
    conn.execute("DROP TABLE blobs_v1")
    first = conn.execute("SELECT min(created_ns) FROM assets").fetchone()[0]
    _write_meta(conn, first)


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA_3_ADDITIONS:
        conn.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "lineage table, blob sizes, times in ns, soft delete time", _migrate_1_to_2),
    Migration(2, "documents with their revision history", _migrate_2_to_3),
)


def migrate(conn: sqlite3.Connection, from_version: int) -> int:
    """Run every migration from ``from_version`` to :data:`SCHEMA_VERSION` (in the caller's
    transaction); returns the number of steps run."""
    steps = [m for m in MIGRATIONS if m.from_version >= from_version]
    if from_version < OLDEST_SCHEMA_VERSION or [m.from_version for m in steps] != list(
        range(from_version, SCHEMA_VERSION)
    ):
        raise ValueError(f"no migration path from schema {from_version} to {SCHEMA_VERSION}")
    for step in steps:
        step.apply(conn)
        conn.execute(f"PRAGMA user_version = {step.to_version}")
    return len(steps)
