"""The SQL of the project store: reading assets and lineage, and the write operations.

Write operations are plain functions of a connection; the store hands them to the writer,
which runs each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from studio.core.project.assets import TEXT_KINDS, Asset, LineageLink, time_from_ns
from studio.core.project.errors import AssetNotFoundError, DamagedRowError
from studio.plugin_api.kinds import AssetKind

ASSET_COLUMNS = (
    "a.id, a.kind, a.title, a.media_type, a.blob_sha256, b.size, a.created_ns, a.deleted_ns, "
    "a.recipe"
)
ASSET_FROM = "assets a JOIN blobs b ON b.sha256 = a.blob_sha256"
NEWEST_FIRST = "ORDER BY a.created_ns DESC, a.id DESC"


def asset_from_row(row: Sequence) -> Asset:
    """An :class:`Asset` from a row of ``ASSET_COLUMNS``."""
    asset_id, kind, title, media_type, sha256, size, created_ns, deleted_ns, recipe = row
    try:
        kind = AssetKind(kind)
    except ValueError:
        raise DamagedRowError(f"the asset {asset_id} has an unknown kind {kind!r}") from None
    return Asset(
        id=asset_id,
        kind=kind,
        title=title,
        media_type=media_type,
        sha256=sha256,
        size=size,
        created_at=time_from_ns(created_ns),
        recipe_json=recipe,
        deleted_at=None if deleted_ns is None else time_from_ns(deleted_ns),
    )


def fetch_asset(conn: sqlite3.Connection, asset_id: str) -> Asset:
    """The asset with this id (deleted or not); raises ``AssetNotFoundError``."""
    row = conn.execute(f"SELECT {ASSET_COLUMNS} FROM {ASSET_FROM} WHERE a.id = ?", (asset_id,))
    found = row.fetchone()
    if found is None:
        raise AssetNotFoundError(f"No asset has the id {asset_id}.")
    return asset_from_row(found)


@dataclass(frozen=True)
class AssetFilter:
    """Which assets a listing shows.

    Attributes:
        kind: only this kind, or all kinds.
        search: words that must appear (case-insensitive) in the title, the request
            (prompt, text, question) or, for text and captions, the content.
        deleted: False for live assets, True for deleted ones (the trash), None for both.
        ids: only assets with these ids, or all (lets a view ask whether a new or restored
            asset belongs in its listing, with the very same rules).
    """

    kind: AssetKind | None = None
    search: str = ""
    deleted: bool | None = False
    ids: tuple[str, ...] | None = None

    def where(self) -> tuple[str, list]:
        clauses: list[str] = []
        params: list = []
        if self.kind is not None:
            clauses.append("a.kind = ?")
            params.append(AssetKind(self.kind).value)
        if self.deleted is not None:
            clauses.append("a.deleted_ns IS NOT NULL" if self.deleted else "a.deleted_ns IS NULL")
        if self.ids is not None:
            clauses.append(f"a.id IN ({', '.join('?' * len(self.ids))})")
            params += list(self.ids)
        text_kinds = ", ".join(f"'{kind.value}'" for kind in sorted(TEXT_KINDS))
        for word in self.search.casefold().split():
            clauses.append(
                "(instr(studio_casefold(a.title), ?) OR instr(a.prompt_text, ?) OR "
                f"(a.kind IN ({text_kinds}) AND instr(studio_casefold(b.data), ?)))"
            )
            params += [word, word, word]
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def list_assets(
    conn: sqlite3.Connection, filter_: AssetFilter, limit: int | None, offset: int
) -> list[Asset]:
    """Assets matching the filter, newest first."""
    where, params = filter_.where()
    sql = f"SELECT {ASSET_COLUMNS} FROM {ASSET_FROM}{where} {NEWEST_FIRST} LIMIT ? OFFSET ?"
    rows = conn.execute(sql, [*params, -1 if limit is None else limit, offset])
    return [asset_from_row(row) for row in rows]


def count_assets(conn: sqlite3.Connection, filter_: AssetFilter) -> int:
    """How many assets match the filter."""
    where, params = filter_.where()
    join = " JOIN blobs b ON b.sha256 = a.blob_sha256" if filter_.search else ""
    return conn.execute(f"SELECT count(*) FROM assets a{join}{where}", params).fetchone()[0]


def counts_by_kind(conn: sqlite3.Connection, deleted: bool | None = False) -> dict[AssetKind, int]:
    """The number of assets of every kind, zeros included."""
    where, params = AssetFilter(deleted=deleted).where()
    counts = {kind: 0 for kind in AssetKind}
    for kind, count in conn.execute(
        f"SELECT a.kind, count(*) FROM assets a{where} GROUP BY a.kind", params
    ):
        if kind in counts:
            counts[AssetKind(kind)] = count
    return counts


def read_blob(conn: sqlite3.Connection, asset_id: str) -> bytes:
    """The content of an asset."""
    row = conn.execute(
        "SELECT b.data FROM assets a JOIN blobs b ON b.sha256 = a.blob_sha256 WHERE a.id = ?",
        (asset_id,),
    ).fetchone()
    if row is None:
        raise AssetNotFoundError(f"No asset has the id {asset_id}.")
    return bytes(row[0])


def lineage_links(conn: sqlite3.Connection, column: str, asset_id: str) -> list[LineageLink]:
    """Lineage rows where ``column`` (``asset_id`` or ``input_id``) is ``asset_id``."""
    order = "l.position" if column == "asset_id" else "l.asset_id"
    rows = conn.execute(
        "SELECT l.asset_id, l.input_id, l.role, "
        "EXISTS (SELECT 1 FROM assets i WHERE i.id = l.input_id) "
        f"FROM lineage l WHERE l.{column} = ? ORDER BY {order}",
        (asset_id,),
    )
    return [
        LineageLink(asset_id=a, input_id=i, role=role, input_exists=bool(exists))
        for a, i, role, exists in rows
    ]


def related_assets(conn: sqlite3.Connection, asset_id: str, *, ancestors: bool) -> list[Asset]:
    """Every asset reachable through lineage, towards inputs or outputs."""
    # Walk the lineage graph in one query; UNION (not UNION ALL) stops at cycles.
    step_from, step_to = ("asset_id", "input_id") if ancestors else ("input_id", "asset_id")
    rows = conn.execute(
        f"""WITH RECURSIVE related(id) AS (
                SELECT {step_to} FROM lineage WHERE {step_from} = :start
                UNION
                SELECT l.{step_to} FROM lineage l JOIN related r ON l.{step_from} = r.id
            )
            SELECT {ASSET_COLUMNS} FROM {ASSET_FROM}
            WHERE a.id IN (SELECT id FROM related) AND a.id != :start {NEWEST_FIRST}""",
        {"start": asset_id},
    )
    return [asset_from_row(row) for row in rows]


def insert_asset(
    conn: sqlite3.Connection,
    *,
    asset: Asset,
    created_ns: int,
    data: bytes,
    prompt_text: str,
    inputs_must_exist: bool = True,
) -> Asset:
    """Add the blob (once per content) and the asset with its lineage; inputs must exist
    (unless not ``inputs_must_exist``: a repair keeps lineage to an input that was lost, as a
    purge does)."""
    inputs = asset.recipe.inputs
    for item in inputs if inputs_must_exist else ():
        if conn.execute("SELECT 1 FROM assets WHERE id = ?", (item.asset_id,)).fetchone() is None:
            raise AssetNotFoundError(
                f"The input asset {item.asset_id} is not in this project, so lineage cannot "
                "point to it."
            )
    conn.execute(
        "INSERT INTO blobs (sha256, size, data) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        (asset.sha256, len(data), data),
    )
    conn.execute(
        "INSERT INTO assets (id, kind, title, media_type, blob_sha256, created_ns, deleted_ns, "
        "recipe, prompt_text) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
        (
            asset.id,
            asset.kind.value,
            asset.title,
            asset.media_type,
            asset.sha256,
            created_ns,
            asset.recipe_json,
            prompt_text,
        ),
    )
    conn.executemany(
        "INSERT INTO lineage (asset_id, position, input_id, role) VALUES (?, ?, ?, ?)",
        [(asset.id, position, item.asset_id, item.role) for position, item in enumerate(inputs)],
    )
    return asset


def update_asset(conn: sqlite3.Connection, asset_id: str, assignment: str, params: tuple) -> Asset:
    """Apply ``SET assignment`` to one asset and return it as it is now."""
    cursor = conn.execute(f"UPDATE assets SET {assignment} WHERE id = ?", (*params, asset_id))
    if cursor.rowcount == 0:
        raise AssetNotFoundError(f"No asset has the id {asset_id}.")
    return fetch_asset(conn, asset_id)


def purge_deleted(conn: sqlite3.Connection) -> int:
    """Delete assets in the trash and the blobs no asset uses; returns how many."""
    purged = conn.execute("DELETE FROM assets WHERE deleted_ns IS NOT NULL").rowcount
    conn.execute(
        "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM assets a WHERE a.blob_sha256 = "
        "blobs.sha256)"
    )
    return purged
