"""Reading what is intact out of a damaged project, and writing it into a new one (the work of
:mod:`studio.core.project.repair`, which prepares the copy it reads and checks the result).

Reads never trust the damaged file: every value is checked for its type and decoded leniently
or strictly as it must be, every content against its SHA-256, every document revision by
rebuilding it; an SQLite error costs only what it was reading.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.hashing import sha256_bytes
from studio.core.media.detect import TEXT, MediaFormat, sniff_format
from studio.core.project import documents, queries
from studio.core.project.assets import (
    TEXT_KINDS,
    Asset,
    check_media_type,
    prompt_text,
    time_from_ns,
)
from studio.core.project.checks import integrity_check
from studio.core.project.errors import DamagedProjectError, ProjectOpenError
from studio.core.project.files import create_project_file
from studio.core.project.ids import asset_id_millis, is_asset_id, new_asset_id
from studio.core.project.opening import inspect_project_file
from studio.core.project.schema import migrate
from studio.core.recipe import Recipe, RecipeError
from studio.plugin_api.kinds import AssetKind

_ASSET_COLUMNS = "id, kind, title, media_type, blob_sha256, created_ns, deleted_ns, recipe"


@dataclass(frozen=True)
class RepairedItem:
    """An asset repair could not keep, or kept only in part, and why (one clause)."""

    asset_id: str
    title: str
    why: str


@dataclass
class SalvagedAsset:
    """An asset read whole out of the damaged copy (its content checked against its hash)."""

    asset_id: str
    kind: AssetKind
    title: str
    media_type: str
    sha256: str
    created_ns: int
    deleted_ns: int | None
    recipe: Recipe
    recipe_lost: bool
    size: int
    text: str | None
    """A document's newest text (its history is rebuilt from it); None for other kinds, whose
    content is read again when the new project is written, so that a repair never holds a
    project's content in memory."""


@dataclass
class Salvage:
    """What could be read of ``copy`` (a working copy of the damaged ``source``): :meth:`read`
    fills ``rows`` (kept), ``lost``, ``partly`` (kept without something), ``recovered``
    (content whose row was lost) and ``notes``; :meth:`write` makes the new project."""

    source: Path
    copy: Path
    notes: list[str]
    progress: Callable[[int, int], None] | None
    rows: list[SalvagedAsset] = field(default_factory=list)
    lost: list[RepairedItem] = field(default_factory=list)
    partly: list[RepairedItem] = field(default_factory=list)
    recovered: list[tuple[str, MediaFormat]] = field(default_factory=list)
    lost_content: dict[str, int] = field(default_factory=dict)
    _ids: set[str] = field(default_factory=set)
    meta: dict[str, str] = field(default_factory=dict)
    lineage: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    histories: dict[str, tuple[tuple, list[tuple]]] = field(default_factory=dict)
    sqlite_ok: bool = True
    _contents: _BlobFinder | None = None

    # Reading the damaged copy ---------------------------------------------------------------

    def read(self) -> None:
        conn = sqlite3.connect(self.copy, isolation_level=None)
        conn.text_factory = bytes
        # A broken entry in the list of tables (an index whose page is gone) does not stop
        # SQLite from reading the others.
        conn.execute("PRAGMA writable_schema = ON")
        try:
            try:
                # The first read replays the own WAL or rolls back the own hot journal.
                tables = {
                    _text(name)
                    for (name,) in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    )
                }
            except sqlite3.DatabaseError as exc:
                raise DamagedProjectError(
                    self.source,
                    f"{self.source.name} is damaged beyond repair: SQLite cannot read its list "
                    f"of tables ({exc}). Nothing was written.",
                ) from exc
            if "assets" not in tables or "blobs" not in tables:
                raise DamagedProjectError(
                    self.source,
                    f"{self.source.name} is damaged beyond repair: its assets or their contents "
                    "are gone from its list of tables. Nothing was written.",
                )
            self._upgrade_old_schema(conn)
            self.sqlite_ok = _sqlite_says_ok(conn)
            self._read_meta(conn)
            self._read_assets(conn)
            if {"documents", "document_revisions"} <= tables:
                self._read_histories(conn)
            self._read_orphans(conn)
        finally:
            conn.close()

    def _upgrade_old_schema(self, conn: sqlite3.Connection) -> None:
        columns = {_text(row[1]) for row in conn.execute("PRAGMA table_info(assets)")}
        if "blob_sha256" in columns:
            return
        conn.text_factory = str  # the migration reads schema 1's text as text
        try:
            conn.execute("BEGIN")
            migrate(conn, 1)
            conn.execute("COMMIT")
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
            raise DamagedProjectError(
                self.source,
                f"{self.source.name} is a project of an early Studio that is too damaged to "
                f"read ({exc}). Nothing was written.",
            ) from exc
        finally:
            conn.text_factory = bytes
        self.notes.append("It was a project of an early Studio; the copy has the current schema.")

    def _read_meta(self, conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.DatabaseError):
            for key, value in conn.execute("SELECT key, value FROM project_meta"):
                with contextlib.suppress(UnicodeDecodeError):
                    self.meta[key.decode()] = value.decode()

    def _read_assets(self, conn: sqlite3.Connection) -> None:
        rowids, known, complete = _asset_rowids(conn)
        if not complete:
            self.notes.append(
                "Parts of the assets table could not be read; the assets there were looked for "
                "through its indexes, and their content among the rest."
            )
        blobs = _BlobFinder(conn)
        for done, rowid in enumerate(sorted(rowids), 1):
            self._read_asset(conn, blobs, rowid, known.get(rowid, {}))
            if self.progress is not None:
                self.progress(done, len(rowids))
        self.lineage = _lineage(conn, {row.asset_id for row in self.rows if row.recipe_lost})
        kept = {row.asset_id for row in self.rows}
        for row in self.rows:
            missing = [i.asset_id for i in row.recipe.inputs if i.asset_id not in kept]
            if missing and not row.recipe_lost:
                self.partly.append(
                    RepairedItem(
                        row.asset_id,
                        row.title,
                        f"it was made from {', '.join(missing)}, which could not be saved",
                    )
                )

    def _read_asset(
        self, conn: sqlite3.Connection, blobs: _BlobFinder, rowid: int, known: dict
    ) -> None:
        name = _lenient(known.get("id")) or "?"
        try:
            found = conn.execute(
                f"SELECT {_ASSET_COLUMNS} FROM assets NOT INDEXED WHERE rowid = ?", (rowid,)
            ).fetchone()
            why = "its row is gone"
        except sqlite3.DatabaseError as exc:
            found, why = None, f"its row cannot be read ({exc})"
        if found is None:
            self._rebuild_from_indexes(blobs, known, why)
            return
        raw_id, raw_kind, raw_title, raw_type, raw_sha, created_ns, deleted_ns, raw_recipe = found
        asset_id = _lenient(raw_id)
        title = " ".join(_lenient(raw_title).split())
        if asset_id in self._ids:
            self.lost.append(RepairedItem(asset_id, title, "a second row had the same id"))
            return
        if not is_asset_id(asset_id):
            self._lost_with_content(name or "?", title, raw_sha, "its id is damaged")
            return
        try:
            kind = AssetKind(_text(raw_kind))
            media_type = _text(raw_type)
            check_media_type(kind, media_type)
        except (ValueError, TypeError):
            self._lost_with_content(asset_id, title, raw_sha, "its kind or media type is damaged")
            return
        sha256 = _lenient(raw_sha)
        data, why = blobs.content(sha256)
        if data is not None and kind in TEXT_KINDS:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                data, why = None, "its text is not readable"
        if data is None:
            self.lost.append(RepairedItem(asset_id, title, why))
            return
        try:
            recipe = Recipe.from_json_text(raw_recipe.decode("utf-8"))
            recipe_lost = False
        except (AttributeError, UnicodeDecodeError, RecipeError, ValueError, TypeError):
            recipe = Recipe.for_import(
                title or asset_id, {"repair": "the recipe was damaged and could not be read"}
            )
            recipe_lost = True
            self.partly.append(
                RepairedItem(asset_id, title, "its recipe was damaged, so it cannot be re-run")
            )
        if not isinstance(created_ns, int) or isinstance(created_ns, bool):
            created_ns = int(recipe.created_at.timestamp() * 1e9)
        if not isinstance(deleted_ns, int):
            deleted_ns = None
        self._ids.add(asset_id)
        self.rows.append(
            SalvagedAsset(
                asset_id=asset_id,
                kind=kind,
                title=title or kind.value,
                media_type=media_type,
                sha256=sha256,
                created_ns=created_ns,
                deleted_ns=deleted_ns,
                recipe=recipe,
                recipe_lost=recipe_lost,
                size=len(data),
                text=data.decode("utf-8") if kind is AssetKind.DOCUMENT else None,
            )
        )

    def _rebuild_from_indexes(self, blobs: _BlobFinder, known: dict, why: str) -> None:
        """An asset whose row is lost, from what the indexes still hold: its id and content
        hash (and kind and time, when they have them). Its title and recipe are gone."""
        asset_id = _lenient(known.get("id"))
        if not is_asset_id(asset_id) or asset_id in self._ids:
            self.lost.append(RepairedItem(asset_id or "?", "", why))
            return
        data, _ = blobs.content(_lenient(known.get("blob_sha256")))
        fmt = _format_of(data) if data is not None else None
        if data is None or fmt is None:
            self.lost.append(RepairedItem(asset_id, "", why))
            return
        kind = fmt.kind
        with contextlib.suppress(ValueError):
            stored = AssetKind(_lenient(known.get("kind")))
            check_media_type(stored, fmt.media_type)
            kind = stored  # a caption or document is text whose kind only the row said
        created_ns = known.get("created_ns")
        if not isinstance(created_ns, int):
            created_ns = asset_id_millis(asset_id) * 1_000_000
        title = f"Recovered {fmt.name}"
        self._ids.add(asset_id)
        self.rows.append(
            SalvagedAsset(
                asset_id=asset_id,
                kind=kind,
                title=title,
                media_type=fmt.media_type,
                sha256=sha256_bytes(data),
                created_ns=created_ns,
                deleted_ns=None,
                recipe=Recipe.for_import(
                    f"{asset_id.lower()}{fmt.extension}",
                    {"repair": "its title and recipe were lost; its content was kept"},
                ),
                recipe_lost=True,
                size=len(data),
                text=data.decode("utf-8") if kind is AssetKind.DOCUMENT else None,
            )
        )
        self.partly.append(
            RepairedItem(
                asset_id,
                title,
                f"{why}; its content was kept under its own id, without its title and recipe",
            )
        )

    def _lost_with_content(self, asset_id: str, title: str, raw_sha: object, why: str) -> None:
        self.lost.append(RepairedItem(asset_id, title, why))
        self.lost_content[_lenient(raw_sha)] = len(self.lost) - 1

    def _read_histories(self, conn: sqlite3.Connection) -> None:
        for row in self.rows:
            if row.kind is not AssetKind.DOCUMENT:
                continue
            why = "its history could not be read, so only its newest text was kept"
            try:
                document = conn.execute(
                    "SELECT id, auto_title, cursor, anchor, scroll, opened_ns FROM documents "
                    "WHERE asset_id = ?",
                    (row.asset_id,),
                ).fetchone()
                revisions = (
                    conn.execute(
                        "SELECT number, chars, back, started_ns, saved_ns, origin, "
                        "source_asset_id, details FROM document_revisions WHERE document = ? "
                        "ORDER BY number DESC",
                        (document[0],),
                    ).fetchall()
                    if document is not None
                    else []
                )
            except sqlite3.DatabaseError:
                revisions, document = [], None
            assert row.text is not None
            keep, problem = _intact_revisions(row.text, revisions)
            if document is not None and keep:
                self.histories[row.asset_id] = (document, keep)
                if problem:
                    why = (
                        f"revisions before {keep[-1][0]} were damaged ({problem}) and were not kept"
                    )
            if problem or not keep or document is None:
                self.partly.append(RepairedItem(row.asset_id, row.title, why))

    def _read_orphans(self, conn: sqlite3.Connection) -> None:
        """Content whose asset row was lost: whole content (its hash checks) that no asset
        uses is kept, when its format says what it is."""
        used = {row.sha256 for row in self.rows}
        for sha256, data in _BlobFinder(conn).all_whole():
            if sha256 in used:
                continue
            fmt = _format_of(data)
            if fmt is None:
                continue
            self.recovered.append((sha256, fmt))
            lost = self.lost_content.get(sha256)
            if lost is not None:  # its row was damaged, its content is whole: keep that
                item = self.lost[lost]
                self.partly.append(
                    RepairedItem(
                        item.asset_id,
                        item.title,
                        f"{item.why}; its content was kept as Recovered {fmt.name} "
                        f"{len(self.recovered)}",
                    )
                )
                self.lost[lost] = RepairedItem("", "", "")
        self.lost = [item for item in self.lost if item.asset_id]

    def healthy(self) -> bool:
        if self.lost or self.partly or self.recovered or self.notes or not self.sqlite_ok:
            return False
        try:
            inspect_project_file(self.copy)
        except ProjectOpenError:
            return False
        return integrity_check(self.copy).ok

    # Writing the new project ----------------------------------------------------------------

    def write(self, path: Path) -> None:
        create_project_file(path)
        damaged = sqlite3.connect(self.copy, isolation_level=None)
        damaged.text_factory = bytes
        damaged.execute("PRAGMA writable_schema = ON")
        self._contents = _BlobFinder(damaged)
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            for key in ("created_at", "created_by"):
                if key in self.meta:
                    conn.execute(
                        "INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)",
                        (key, self.meta[key]),
                    )
            conn.execute(
                "INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)",
                ("repaired_from", self.source.name),
            )
            for row in sorted(self.rows, key=lambda r: (r.created_ns, r.asset_id)):
                self._insert(conn, row)
            self._insert_recovered(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
            damaged.close()

    def _content(self, sha256: str) -> bytes:
        assert self._contents is not None
        data, why = self._contents.content(sha256)
        if data is None:  # it was whole a moment ago: the copy is Studio's own
            raise RuntimeError(f"content {sha256[:12]} changed during the repair: {why}")
        return data

    def _insert(self, conn: sqlite3.Connection, row: SalvagedAsset) -> None:
        asset = Asset(
            id=row.asset_id,
            kind=row.kind,
            title=row.title,
            media_type=row.media_type,
            sha256=row.sha256,
            size=row.size,
            created_at=time_from_ns(row.created_ns),
            recipe_json=row.recipe.to_json_text(),
        )
        queries.insert_asset(
            conn,
            asset=asset,
            created_ns=row.created_ns,
            data=self._content(row.sha256),
            prompt_text=prompt_text(row.recipe.request),
            inputs_must_exist=False,
        )
        if row.deleted_ns is not None:
            conn.execute(
                "UPDATE assets SET deleted_ns = ? WHERE id = ?", (row.deleted_ns, row.asset_id)
            )
        conn.executemany(
            "INSERT OR IGNORE INTO lineage (asset_id, position, input_id, role) "
            "VALUES (?, ?, ?, ?)",
            [(row.asset_id, *link) for link in self.lineage.get(row.asset_id, ())],
        )
        if row.kind is AssetKind.DOCUMENT:
            self._insert_document(conn, row)

    def _insert_document(self, conn: sqlite3.Connection, row: SalvagedAsset) -> None:
        history = self.histories.get(row.asset_id)
        if history is None:
            documents.insert_document(
                conn,
                row.asset_id,
                row.text or "",
                created_ns=row.created_ns,
                origin=documents.RevisionOrigin.COPY,
                source_asset_id=None,
                details={"repair": "the older revisions could not be read"},
                auto_title=False,
            )
            return
        (_, auto_title, cursor, anchor, scroll, opened_ns), revisions = history
        document = conn.execute(
            "INSERT INTO documents (asset_id, auto_title, cursor, anchor, scroll, opened_ns) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                row.asset_id,
                1 if auto_title == 1 else 0,
                *(v if isinstance(v, int) else 0 for v in (cursor, anchor, scroll, opened_ns)),
            ),
        ).lastrowid
        conn.executemany(
            "INSERT INTO document_revisions (document, number, chars, back, started_ns, "
            "saved_ns, origin, source_asset_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(document, *revision) for revision in revisions],
        )

    def _insert_recovered(self, conn: sqlite3.Connection) -> None:
        now = time.time_ns()
        for number, (sha256, fmt) in enumerate(self.recovered, 1):
            data = self._content(sha256)
            recipe = Recipe.for_import(
                f"recovered-{sha256[:12]}{fmt.extension}",
                {"repair": "its asset's details were lost; only the content was recovered"},
            )
            asset = Asset(
                id=new_asset_id(now + number),
                kind=fmt.kind,
                title=f"Recovered {fmt.name} {number}",
                media_type=fmt.media_type,
                sha256=sha256,
                size=len(data),
                created_at=time_from_ns(now + number),
                recipe_json=recipe.to_json_text(),
            )
            queries.insert_asset(
                conn, asset=asset, created_ns=now + number, data=data, prompt_text=""
            )


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise TypeError(f"{value!r} is not text")


def _lenient(value: object) -> str:
    """Text from a damaged row: bytes decoded with U+FFFD for what is not UTF-8; "" for a
    value that is not text at all."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _format_of(data: bytes) -> MediaFormat | None:
    """What content is, by its bytes: a media format, or text when it is UTF-8."""
    fmt = sniff_format(data)
    if fmt is not None:
        return fmt
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return TEXT


def _intact_revisions(text: str, rows: list[tuple]) -> tuple[list[tuple], str]:
    """The newest revisions of a document that rebuild from its newest ``text`` and whose
    fields are whole, as rows to insert; and what stopped the rest ("" when nothing did)."""
    keep: list[tuple] = []
    readable: list[tuple] = []
    problem = ""
    for number, chars, back, started_ns, saved_ns, origin, source, details in rows:
        try:
            row = (
                number,
                chars,
                None if back is None else _text(back),
                started_ns,
                saved_ns,
                documents.RevisionOrigin(_text(origin)).value,
                None if source is None else _text(source),
                None if details is None else json.dumps(json.loads(_text(details))),
            )
            if not all(isinstance(v, int) for v in (number, chars, started_ns, saved_ns)):
                raise ValueError("a number is damaged")
        except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
            problem = f"revision {number}: {exc}"
            break
        readable.append(row)
    count, rebuild_problem = documents.intact_history(text, readable)
    keep = readable[:count]
    return keep, rebuild_problem or problem


def _sqlite_says_ok(conn: sqlite3.Connection) -> bool:
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check(1)")] == [b"ok"]
    except sqlite3.DatabaseError:
        return False


def _asset_rowids(conn: sqlite3.Connection) -> tuple[set[int], dict[int, dict], bool]:
    """Every asset row SQLite can still find, by the table and by each of its indexes (a
    broken page of one leaves the others); what the indexes hold of each row (its id, kind,
    time and content hash), for rows whose own page is lost; and whether the table itself was
    read to its end."""
    rowids: set[int] = set()
    known: dict[int, dict] = {}
    complete = True
    paths = [("NOT INDEXED", [])]
    try:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'assets'"
        ).fetchall():
            index = _text(name)
            columns = [_text(row[2]) for row in conn.execute(f'PRAGMA index_info("{index}")')]
            paths.append((f'INDEXED BY "{index}"', [c for c in columns if c.isidentifier()]))
    except (sqlite3.DatabaseError, ValueError, TypeError):
        pass  # the table alone, then
    for how, columns in paths:
        selected = ", ".join(["rowid", *columns])
        try:
            for rowid, *values in conn.execute(f"SELECT {selected} FROM assets {how}"):
                rowids.add(rowid)
                known.setdefault(rowid, {}).update(zip(columns, values, strict=True))
        except sqlite3.DatabaseError:
            complete = complete and bool(columns)  # a broken index alone loses nothing
    return rowids, known, complete


def _lineage(conn: sqlite3.Connection, asset_ids: set[str]) -> dict[str, list[tuple]]:
    """The stored lineage of assets whose recipe was lost (the others get theirs from the
    recipe's inputs)."""
    found: dict[str, list[tuple]] = {}
    for asset_id in asset_ids:
        with contextlib.suppress(sqlite3.DatabaseError, UnicodeDecodeError, TypeError):
            found[asset_id] = [
                (position, _text(input_id), _text(role))
                for position, input_id, role in conn.execute(
                    "SELECT position, input_id, role FROM lineage WHERE asset_id = ?",
                    (asset_id,),
                )
            ]
    return found


class _BlobFinder:
    """Contents by SHA-256, by the primary key index, or by a scan of the table when the
    index is what is broken; only content that matches its hash is given out."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._by_scan: dict[str, int] | None = None

    def content(self, sha256: str) -> tuple[bytes | None, str]:
        try:
            found = self._conn.execute(
                "SELECT data FROM blobs WHERE sha256 = ?", (sha256,)
            ).fetchone()
        except sqlite3.DatabaseError:
            found = None
        if found is None:
            rowid = self._scan().get(sha256)
            if rowid is not None:
                with contextlib.suppress(sqlite3.DatabaseError):
                    found = self._conn.execute(
                        "SELECT data FROM blobs NOT INDEXED WHERE rowid = ?", (rowid,)
                    ).fetchone()
        if found is None:
            return None, "its content is missing"
        data = found[0]
        if not isinstance(data, bytes) or sha256_bytes(data) != sha256:
            return None, "its content is damaged (it does not match its SHA-256)"
        return data, ""

    def _scan(self) -> dict[str, int]:
        if self._by_scan is None:
            self._by_scan = {}
            with contextlib.suppress(sqlite3.DatabaseError):
                for rowid, sha256 in self._conn.execute(
                    "SELECT rowid, sha256 FROM blobs NOT INDEXED"
                ):
                    if isinstance(sha256, bytes):
                        with contextlib.suppress(UnicodeDecodeError):
                            self._by_scan[sha256.decode()] = rowid
        return self._by_scan

    def all_whole(self):
        """(sha256, content) of every content that matches its hash."""
        for sha256, rowid in self._scan().items():
            with contextlib.suppress(sqlite3.DatabaseError):
                found = self._conn.execute(
                    "SELECT data FROM blobs NOT INDEXED WHERE rowid = ?", (rowid,)
                ).fetchone()
                data = found[0] if found else None
                if isinstance(data, bytes) and sha256_bytes(data) == sha256:
                    yield sha256, data
