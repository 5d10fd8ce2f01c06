"""The writer's documents: text the user writes, kept in the project with its history.

A document is an asset of kind ``document`` whose content (its blob) is always the newest
text, so the asset browser, search and export treat it like any text; a row of ``documents``
adds where the cursor and the scroll were and whether the title follows the first line; its
history is in ``document_revisions``.

Revisions are kept backwards, as RCS keeps them: the newest text is whole (the blob), and each
older revision stores only the splices that turn the revision after it back into it (its
``back`` delta, :mod:`studio.core.project.text_delta`). Reopening a document reads one blob;
an older revision is the newest text with the deltas of the revisions after it applied in turn.

Saves of the same kind close together amend the newest revision instead of adding one
(:data:`REVISION_SPAN_NS`): a minute of typing is one revision, while each save still commits
at once. Every other kind of change (an accepted generation, a restore, an import) is a
revision of its own, with the asset it brought in as ``source_asset_id``: that is the lineage
from a document's revision to the generation that went into it.

The functions here run on a connection the store gives them: writes on the writer's, inside
its transaction; reads on a reader.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from studio.core.hashing import sha256_bytes
from studio.core.project import text_delta
from studio.core.project.assets import Asset, time_from_ns
from studio.core.project.errors import AssetNotFoundError, ProjectError
from studio.core.project.queries import ASSET_COLUMNS, ASSET_FROM, asset_from_row

DOCUMENT_MEDIA_TYPE = "text/markdown"
REVISION_SPAN_NS = 60 * 1_000_000_000
"""Saves of typing within this long of a revision's first save amend that revision."""
TITLE_LIMIT = 80


class RevisionOrigin(StrEnum):
    """What made a revision."""

    NEW = "new"
    """A new, empty document."""
    TYPING = "typing"
    """The writer's own edits (saves within :data:`REVISION_SPAN_NS` share a revision)."""
    GENERATION = "generation"
    """An accepted generation went in; ``source_asset_id`` is its text asset."""
    INSERT = "insert"
    """A text asset was put into the document; ``source_asset_id`` is that asset."""
    RESTORE = "restore"
    """An earlier revision was restored (``details["revision"]``)."""
    UNDO = "undo"
    """Undo stepped back through the history (``details["revision"]``, the one shown;
    ``details["walk"]``, when the walk began)."""
    IMPORT = "import"
    """The document was made from a file (``details["file_name"]``)."""
    COPY = "copy"
    """The document was made from another asset (a duplicate, or a text opened as one)."""


AMENDING_ORIGINS = frozenset({RevisionOrigin.TYPING, RevisionOrigin.UNDO})
"""Origins whose saves amend a recent revision of the same origin."""


@dataclass(frozen=True)
class DocumentView:
    """Where the writer was: the cursor (and the selection's other end) and the scroll
    position (the first line shown), all counted from the start of the text."""

    cursor: int = 0
    anchor: int = 0
    scroll: int = 0


@dataclass(frozen=True, kw_only=True)
class Revision:
    """One revision of a document's history (its text: ``ProjectStore.document_text_at``)."""

    number: int
    started_at: datetime
    saved_at: datetime
    origin: RevisionOrigin
    source_asset_id: str | None
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    chars: int


@dataclass(frozen=True, kw_only=True)
class OpenedDocument:
    """A document as the editor needs it: the asset, its newest text and where the writer
    was."""

    asset: Asset
    text: str
    view: DocumentView
    revision: int
    auto_title: bool


@dataclass(frozen=True, kw_only=True)
class SavedRevision:
    """What a save did: ``changed`` is False when the text was already the saved one (only the
    view was stored); ``amended`` when it amended the newest revision."""

    document_id: str
    revision: int
    changed: bool
    amended: bool
    title: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class DocumentUse:
    """A revision of a document that took in an asset (an accepted generation, a drop)."""

    document_id: str
    document_title: str
    revision: int
    origin: RevisionOrigin


def normalize_text(text: str) -> str:
    """A document's text as an editor holds it: every line ends in ``\n`` (``\r\n``, ``\r``
    and the paragraph separator U+2029 become ``\n``), so that what is shown and what is
    stored are the same characters."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u2029", "\n")


@contextlib.contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Read several statements from one state of the file: a save committing meanwhile (and
    deleting the blob of the text before it) is not seen half."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def document_title(text: str, limit: int = TITLE_LIMIT) -> str:
    """A document's title from its first non-blank line (a Markdown heading's marks left out)."""
    for line in text[:4096].splitlines():
        tidy = " ".join(line.lstrip("#").split())
        if tidy:
            return tidy if len(tidy) <= limit else tidy[: limit - 1].rstrip() + "…"
    return "Untitled document"


def _details_json(details: Mapping[str, Any] | None) -> str | None:
    return json.dumps(dict(details), sort_keys=True, ensure_ascii=False) if details else None


def _revision_from_row(row: tuple) -> Revision:
    number, started_ns, saved_ns, origin, source, details, chars = row
    return Revision(
        number=number,
        started_at=time_from_ns(started_ns),
        saved_at=time_from_ns(saved_ns),
        origin=RevisionOrigin(origin),
        source_asset_id=source,
        details=MappingProxyType(json.loads(details) if details else {}),
        chars=chars,
    )


_REVISION_COLUMNS = "number, started_ns, saved_ns, origin, source_asset_id, details, chars"


# Writing (on the writer's connection, inside its transaction) ----------------------------------


def insert_document(
    conn: sqlite3.Connection,
    asset_id: str,
    text: str,
    *,
    created_ns: int,
    origin: RevisionOrigin,
    source_asset_id: str | None,
    details: Mapping[str, Any] | None,
    auto_title: bool,
) -> None:
    """The document row and first revision of an asset just inserted (same transaction)."""
    cursor = conn.execute(
        "INSERT INTO documents (asset_id, auto_title, cursor, anchor, opened_ns) "
        "VALUES (?, ?, ?, ?, ?)",
        (asset_id, int(auto_title), len(text), len(text), created_ns),
    )
    conn.execute(
        f"INSERT INTO document_revisions (document, {_REVISION_COLUMNS}, back) "
        "VALUES (?, 1, ?, ?, ?, ?, ?, ?, NULL)",
        (
            cursor.lastrowid,
            created_ns,
            created_ns,
            RevisionOrigin(origin).value,
            source_asset_id,
            _details_json(details),
            len(text),
        ),
    )


def save_text(
    conn: sqlite3.Connection,
    asset_id: str,
    text: str,
    *,
    origin: RevisionOrigin,
    source_asset_id: str | None,
    details: Mapping[str, Any] | None,
    view: DocumentView | None,
    now_ns: int,
    span_ns: int = REVISION_SPAN_NS,
) -> SavedRevision:
    """Make ``text`` the document's newest text: a new revision, or the newest one amended."""
    document, auto_title, old_sha, title, deleted_ns = _document_row(conn, asset_id)
    if deleted_ns is not None:
        raise ProjectError("This document is in the trash; restore it (Edit > Undo) to edit it.")
    number, started_ns, head_origin, head_details = conn.execute(
        "SELECT number, started_ns, origin, details FROM document_revisions "
        "WHERE document = ? ORDER BY number DESC LIMIT 1",
        (document,),
    ).fetchone()
    old_text = _blob_text(conn, old_sha)
    if view is not None:
        _store_view(conn, document, view)
    if text == old_text:
        return SavedRevision(
            document_id=asset_id,
            revision=number,
            changed=False,
            amended=False,
            title=title,
            sha256=old_sha,
        )
    origin = RevisionOrigin(origin)
    amend = (
        origin in AMENDING_ORIGINS
        and head_origin == origin
        and now_ns - started_ns < span_ns
        # Steps of one walk through the history share a revision; another walk does not
        # amend it (the revision it starts from stays as it was, for Redo to come back to).
        and (details or {}).get("walk") == json.loads(head_details or "{}").get("walk")
    )
    if amend:
        if number > 1:
            previous_back = conn.execute(
                "SELECT back FROM document_revisions WHERE document = ? AND number = ?",
                (document, number - 1),
            ).fetchone()[0]
            previous_text = text_delta.apply(old_text, text_delta.decode(previous_back))
            conn.execute(
                "UPDATE document_revisions SET back = ? WHERE document = ? AND number = ?",
                (text_delta.encode(text_delta.diff(text, previous_text)), document, number - 1),
            )
        conn.execute(
            "UPDATE document_revisions SET saved_ns = ?, source_asset_id = ?, details = ?, "
            "chars = ? WHERE document = ? AND number = ?",
            (now_ns, source_asset_id, _details_json(details), len(text), document, number),
        )
    else:
        conn.execute(
            "UPDATE document_revisions SET back = ? WHERE document = ? AND number = ?",
            (text_delta.encode(text_delta.diff(text, old_text)), document, number),
        )
        number += 1
        conn.execute(
            f"INSERT INTO document_revisions (document, {_REVISION_COLUMNS}, back) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                document,
                number,
                now_ns,
                now_ns,
                origin.value,
                source_asset_id,
                _details_json(details),
                len(text),
            ),
        )
    new_sha = _replace_content(conn, asset_id, old_sha, text.encode("utf-8"))
    if auto_title:
        new_title = document_title(text)
        if new_title != title:
            conn.execute("UPDATE assets SET title = ? WHERE id = ?", (new_title, asset_id))
            title = new_title
    return SavedRevision(
        document_id=asset_id,
        revision=number,
        changed=True,
        amended=amend,
        title=title,
        sha256=new_sha,
    )


def store_view(
    conn: sqlite3.Connection, asset_id: str, view: DocumentView, *, opened_ns: int | None
) -> None:
    """Remember where the writer was in a document (and, with ``opened_ns``, that it is the
    document open now)."""
    document = _document_row(conn, asset_id)[0]
    _store_view(conn, document, view)
    if opened_ns is not None:
        conn.execute("UPDATE documents SET opened_ns = ? WHERE id = ?", (opened_ns, document))


def stop_auto_title(conn: sqlite3.Connection, asset_id: str) -> None:
    """The user named the document: its title no longer follows its first line."""
    conn.execute("UPDATE documents SET auto_title = 0 WHERE asset_id = ?", (asset_id,))


def _store_view(conn: sqlite3.Connection, document: int, view: DocumentView) -> None:
    conn.execute(
        "UPDATE documents SET cursor = ?, anchor = ?, scroll = ? WHERE id = ?",
        (max(0, view.cursor), max(0, view.anchor), max(0, view.scroll), document),
    )


def _replace_content(conn: sqlite3.Connection, asset_id: str, old_sha: str, data: bytes) -> str:
    sha = sha256_bytes(data)
    conn.execute(
        "INSERT INTO blobs (sha256, size, data) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        (sha, len(data), data),
    )
    conn.execute("UPDATE assets SET blob_sha256 = ? WHERE id = ?", (sha, asset_id))
    # The text a document had a moment ago is in its revisions now: its blob goes, unless
    # another asset has the same content.
    conn.execute(
        "DELETE FROM blobs WHERE sha256 = ? AND NOT EXISTS "
        "(SELECT 1 FROM assets WHERE blob_sha256 = ?)",
        (old_sha, old_sha),
    )
    return sha


# Reading -------------------------------------------------------------------------------------


def _document_row(conn: sqlite3.Connection, asset_id: str) -> tuple:
    row = conn.execute(
        "SELECT d.id, d.auto_title, a.blob_sha256, a.title, a.deleted_ns "
        "FROM documents d JOIN assets a ON a.id = d.asset_id WHERE d.asset_id = ?",
        (asset_id,),
    ).fetchone()
    if row is None:
        raise AssetNotFoundError(f"No document has the id {asset_id}.")
    return row


def _blob_text(conn: sqlite3.Connection, sha256: str) -> str:
    return bytes(
        conn.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()[0]
    ).decode("utf-8")


def load_document(conn: sqlite3.Connection, asset_id: str) -> OpenedDocument:
    """A document's newest text, where the writer was, and its newest revision's number."""
    with read_snapshot(conn):
        return _load_document(conn, asset_id)


def _load_document(conn: sqlite3.Connection, asset_id: str) -> OpenedDocument:
    row = conn.execute(
        f"SELECT {ASSET_COLUMNS}, d.id, d.auto_title, d.cursor, d.anchor, d.scroll "
        f"FROM {ASSET_FROM} JOIN documents d ON d.asset_id = a.id WHERE a.id = ?",
        (asset_id,),
    ).fetchone()
    if row is None:
        raise AssetNotFoundError(f"No document has the id {asset_id}.")
    asset = asset_from_row(row[:9])
    document, auto_title, cursor, anchor, scroll = row[9:]
    number = conn.execute(
        "SELECT max(number) FROM document_revisions WHERE document = ?", (document,)
    ).fetchone()[0]
    text = _blob_text(conn, asset.sha256)
    return OpenedDocument(
        asset=asset,
        text=text,
        view=DocumentView(
            cursor=min(cursor, len(text)), anchor=min(anchor, len(text)), scroll=scroll
        ),
        revision=number,
        auto_title=bool(auto_title),
    )


def list_revisions(conn: sqlite3.Connection, asset_id: str) -> list[Revision]:
    """A document's revisions, newest first."""
    with read_snapshot(conn):
        document = _document_row(conn, asset_id)[0]
        rows = conn.execute(
            f"SELECT {_REVISION_COLUMNS} FROM document_revisions WHERE document = ? "
            "ORDER BY number DESC",
            (document,),
        ).fetchall()
    return [_revision_from_row(row) for row in rows]


def text_at(conn: sqlite3.Connection, asset_id: str, number: int) -> str:
    """The text of revision ``number``: the newest text taken back one revision at a time."""
    with read_snapshot(conn):
        document, _, sha256, _, _ = _document_row(conn, asset_id)
        rows = conn.execute(
            "SELECT number, back FROM document_revisions WHERE document = ? AND number >= ? "
            "ORDER BY number DESC",
            (document, number),
        ).fetchall()
        text = _blob_text(conn, sha256)
    if not rows or rows[-1][0] != number:
        raise ProjectError(f"The document has no revision {number}.")
    for _, back in rows[1:]:
        text = text_delta.apply(text, text_delta.decode(back))
    return text


def live_documents(conn: sqlite3.Connection) -> list[Asset]:
    """The documents not in the trash, by title."""
    rows = conn.execute(
        f"SELECT {ASSET_COLUMNS} FROM {ASSET_FROM} JOIN documents d ON d.asset_id = a.id "
        "WHERE a.deleted_ns IS NULL ORDER BY studio_casefold(a.title), a.id"
    )
    return [asset_from_row(row) for row in rows]


def last_opened(conn: sqlite3.Connection) -> str | None:
    """The document open last (not in the trash), if any."""
    row = conn.execute(
        "SELECT d.asset_id FROM documents d JOIN assets a ON a.id = d.asset_id "
        "WHERE a.deleted_ns IS NULL ORDER BY d.opened_ns DESC, a.created_ns DESC LIMIT 1"
    ).fetchone()
    return None if row is None else row[0]


def uses_of(conn: sqlite3.Connection, source_asset_id: str) -> list[DocumentUse]:
    """The document revisions that took in this asset, newest first."""
    rows = conn.execute(
        "SELECT d.asset_id, a.title, r.number, r.origin FROM document_revisions r "
        "JOIN documents d ON d.id = r.document JOIN assets a ON a.id = d.asset_id "
        "WHERE r.source_asset_id = ? ORDER BY r.saved_ns DESC",
        (source_asset_id,),
    )
    return [
        DocumentUse(
            document_id=document_id,
            document_title=title,
            revision=number,
            origin=RevisionOrigin(origin),
        )
        for document_id, title, number, origin in rows
    ]


def check_documents(conn: sqlite3.Connection) -> list[str]:
    """Problems of the documents' histories: every revision is rebuilt from the newest text
    and must have the length it was saved with."""
    with read_snapshot(conn):
        return _check_documents(conn)


def _check_documents(conn: sqlite3.Connection) -> list[str]:
    problems = []
    documents = conn.execute(
        "SELECT d.id, d.asset_id, a.kind, b.data FROM documents d "
        "JOIN assets a ON a.id = d.asset_id JOIN blobs b ON b.sha256 = a.blob_sha256"
    ).fetchall()
    for document, asset_id, kind, data in documents:
        if kind != "document":
            problems.append(f"document {asset_id} is stored as a {kind} asset")
            continue
        rows = conn.execute(
            "SELECT number, chars, back FROM document_revisions WHERE document = ? "
            "ORDER BY number DESC",
            (document,),
        ).fetchall()
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"document {asset_id}: {exc}")
            continue
        _, problem = intact_history(text, rows)
        if problem:
            problems.append(f"document {asset_id}: {problem}")
    return problems


def intact_history(text: str, rows: Sequence[Sequence]) -> tuple[int, str]:
    """How many of a document's revisions, newest first, rebuild from its newest ``text``
    (each row begins ``number, chars, back``), and what stopped the rest ("" when none did)."""
    if not rows:
        return 0, "it has no revision"
    newest = rows[0][0]
    for index, (number, chars, back, *_) in enumerate(rows):
        try:
            if number != newest - index:
                raise ValueError(f"revision {newest - index} is missing")
            if index:
                if back is None:
                    raise ValueError(f"revision {number} has no delta")
                text = text_delta.apply(text, text_delta.decode(back))
            if len(text) != chars:
                raise ValueError(
                    f"revision {number} rebuilds to {len(text)} characters, not {chars}"
                )
        except (ValueError, UnicodeDecodeError) as exc:
            return index, str(exc)
    return len(rows), ""
