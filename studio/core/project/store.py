"""``ProjectStore``: the project file as the rest of Studio sees it.

All changes go through the project's single :class:`~studio.core.project.writer.ProjectWriter`
(its own thread and connection); reads use a pool of read-only connections, so the window can
browse while a job commits. Every asset is committed as soon as it is added.

Ways in:

- :meth:`ProjectStore.create`: a new, empty project file.
- :meth:`ProjectStore.open`: an existing file, checked without changing it first (see
  :mod:`studio.core.project.opening`); an older schema is upgraded in one transaction, a file
  that cannot be written opens read-only.
- :meth:`ProjectStore.untitled`: a project that gets its file in the data directory with its
  first asset, so that nothing made lives only in memory.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from studio.core.hashing import sha256_bytes
from studio.core.project import documents, queries
from studio.core.project.assets import (
    TEXT_KINDS,
    Asset,
    LineageLink,
    check_media_type,
    derive_title,
    prompt_text,
    time_from_ns,
)
from studio.core.project.checks import (
    BackgroundCheck,
    IntegrityReport,
    integrity_check,
)
from studio.core.project.checks import (
    quick_check as quick_check_file,
)
from studio.core.project.documents import (
    DOCUMENT_MEDIA_TYPE,
    DocumentUse,
    DocumentView,
    OpenedDocument,
    Revision,
    RevisionOrigin,
    SavedRevision,
    document_title,
    normalize_text,
)
from studio.core.project.errors import (
    AssetNotFoundError,
    DamagedProjectError,
    DamagedRowError,
    NewerProjectError,
    NotAProjectError,
    ProjectClosedError,
    ProjectError,
    ProjectExistsError,
    ProjectReadOnlyError,
    is_damage,
    repair_advice,
)
from studio.core.project.files import (
    create_project_file,
    fsync_file,
    move_into_place,
    temporary_beside,
)
from studio.core.project.ids import new_asset_id
from studio.core.project.opening import (
    connect_read_only,
    inspect_project_file,
    is_write_protected,
)
from studio.core.project.readers import ReaderPool, add_functions
from studio.core.project.schema import APPLICATION_ID, SCHEMA_VERSION, create_schema, migrate
from studio.core.project.writer import ProjectWriter
from studio.core.recipe import Recipe, RecipeInput, RecipeOrigin
from studio.plugin_api.kinds import AssetKind, Panel

log = logging.getLogger(__name__)

T = TypeVar("T")

PROJECT_SUFFIX = ".studio"
UNTITLED_FOLDER = "untitled"


@dataclass(frozen=True, kw_only=True)
class NewAsset:
    """An asset to add with :meth:`ProjectStore.add_assets` (the arguments of
    :meth:`ProjectStore.add_asset`)."""

    kind: AssetKind
    data: bytes
    media_type: str
    recipe: Recipe
    title: str = ""
    asset_id: str = ""
    """The id to give it (from :func:`~studio.core.project.ids.new_asset_id`), so that a later
    item of the same :meth:`ProjectStore.add_assets` call can name it in its recipe's inputs;
    empty: a new one."""


@dataclass(frozen=True, kw_only=True)
class ProjectStats:
    """Counts and sizes of a project (``studio project info``)."""

    assets: dict[AssetKind, int]
    deleted_assets: int
    blobs: int
    blob_bytes: int
    file_bytes: int


class ProjectStore:
    """A ``.studio`` project: assets with their blobs, recipes and lineage.

    Use :meth:`create`, :meth:`open`, :meth:`open_or_create` or :meth:`untitled`; close with
    :meth:`close` (or use the store as a context manager). Methods may be called from any
    thread. Reads return frozen records; changes return the changed record once committed.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        untitled: bool = False,
        read_only: bool = False,
        file_schema_version: int = SCHEMA_VERSION,
        untitled_folder: Path | None = None,
    ) -> None:
        """Internal: use the class methods."""
        self._path = path
        self._untitled = untitled
        self._untitled_folder = untitled_folder
        self._read_only = read_only
        self._file_schema_version = file_schema_version
        self._writer: ProjectWriter | None = None
        self._readers: ReaderPool | None = None
        self._check: BackgroundCheck | None = None
        self._lock = threading.RLock()
        self._closed = False

    # Opening and creating

    @classmethod
    def create(cls, path: Path) -> ProjectStore:
        """Create a new, empty project at ``path`` (which must not exist) and open it."""
        path = Path(path)
        create_project_file(path)
        return cls.open(path, background_check=False)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        read_only: bool = False,
        background_check: bool = True,
        untitled: bool = False,
    ) -> ProjectStore:
        """Open an existing project.

        The file is checked without being changed first; a foreign, newer or damaged file
        raises a :class:`~studio.core.project.errors.ProjectOpenError` and is left untouched.
        A file (or folder) that cannot be written opens read-only, as does ``read_only``; a
        read-only project of an older schema is upgraded in memory only. Otherwise an older
        schema is upgraded in the file, in one transaction. With ``background_check``, SQLite's
        ``quick_check`` starts on another thread (see :meth:`quick_check`). ``untitled`` marks
        a recovered untitled project (see :meth:`untitled_projects`).
        """
        path = Path(path)
        info = inspect_project_file(path)
        store = cls(
            path,
            untitled=untitled,
            read_only=read_only or info.write_protected,
            file_schema_version=info.schema_version,
        )
        store._attach(path)
        if background_check:
            store._check = BackgroundCheck(path)
        return store

    @classmethod
    def open_or_create(cls, path: Path, *, background_check: bool = False) -> ProjectStore:
        """Open ``path``, or create a new project there when no file exists."""
        path = Path(path)
        if not path.exists():
            with contextlib.suppress(ProjectExistsError):  # someone else created it meanwhile
                return cls.create(path)
        return cls.open(path, background_check=background_check)

    @classmethod
    def untitled(cls, data_dir: Path) -> ProjectStore:
        """A new untitled project; its file appears in ``<data_dir>/untitled`` with the first
        asset (an untitled project with no assets leaves nothing behind)."""
        store = cls(None, untitled=True, untitled_folder=Path(data_dir) / UNTITLED_FOLDER)
        store._readers = _empty_readers()
        return store

    @staticmethod
    def untitled_projects(data_dir: Path) -> list[Path]:
        """Untitled projects left in the data directory (for example after a crash), newest
        first; open one with ``ProjectStore.open(path, untitled=True)``."""
        folder = Path(data_dir) / UNTITLED_FOLDER
        found = [p for p in folder.glob(f"*{PROJECT_SUFFIX}") if p.is_file()]
        return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)

    def _attach(self, path: Path) -> None:
        if self._read_only:
            self._readers = _read_only_readers(path, self._file_schema_version)
            return
        self._writer = ProjectWriter(
            path, prepare=_prepare_for_writing, before_first_change=self._refuse_if_damaged
        )
        self._file_schema_version = SCHEMA_VERSION
        self._readers = ReaderPool(lambda: _reader_connection(path))

    def _refuse_if_damaged(self) -> None:
        """Before the first change: the file must pass SQLite's quick check (the one started
        at open, or one now), so nothing is ever written into a damaged project."""
        path = self._path
        if path is None:
            return
        check = self._check
        report = check.future.result() if check is not None else quick_check_file(path)
        if not report.ok:
            found = [
                line.strip()
                for problem in report.problems
                for line in problem.replace("SQLite: ", "").splitlines()
                if line.strip() and not line.startswith("***")
            ] or ["SQLite's check failed"]
            more = f", and {len(found) - 1} more problems" if len(found) > 1 else ""
            raise DamagedProjectError(
                path,
                f"{path.name} is damaged ({found[0]}{more}), so Studio does not write into it; "
                f"{repair_advice(path.name)}.",
            )

    # State

    @property
    def path(self) -> Path | None:
        """The project file; None for an untitled project that has no asset yet."""
        return self._path

    @property
    def is_untitled(self) -> bool:
        return self._untitled

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def schema_version(self) -> int:
        """The schema version of the file on disk (older only for a read-only project)."""
        return self._file_schema_version

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "read-only" if self._read_only else "open"
        return f"<ProjectStore {self._path or 'untitled'} ({state})>"

    # Adding assets

    def add_asset(
        self,
        *,
        kind: AssetKind,
        data: bytes,
        media_type: str,
        recipe: Recipe,
        title: str = "",
    ) -> Asset:
        """Commit a new asset and return it (see :meth:`add_asset_async`)."""
        return self.add_asset_async(
            kind=kind, data=data, media_type=media_type, recipe=recipe, title=title
        ).result()

    def add_asset_async(
        self,
        *,
        kind: AssetKind,
        data: bytes,
        media_type: str,
        recipe: Recipe,
        title: str = "",
    ) -> Future[Asset]:
        """Queue a new asset for the writer; the future gets the committed :class:`Asset`.

        The content is stored once per SHA-256, however many assets share it. The recipe's
        inputs become lineage and must be assets of this project. Text and captions must be
        UTF-8. Nothing is stored when anything fails. An empty title is derived from the
        content or the request.
        """
        row = _prepare_row(
            NewAsset(kind=kind, data=data, media_type=media_type, recipe=recipe, title=title)
        )
        return self._writer_for_change().submit(lambda conn: queries.insert_asset(conn, **row))

    def add_assets(self, items: Iterable[NewAsset]) -> list[Asset]:
        """Commit many new assets in one transaction and return them, in the given order.

        The rules of :meth:`add_asset_async` hold for each; an item's recipe may name an
        earlier item of the same call as input. All or nothing: when one fails, none is stored.
        Use it for bulk imports, where a commit per asset would cost a disk sync each.
        """
        rows = [_prepare_row(item) for item in items]

        def insert_all(conn: sqlite3.Connection) -> list[Asset]:
            return [queries.insert_asset(conn, **row) for row in rows]

        return self._write(insert_all)

    # Changing assets

    def rename_asset(self, asset_id: str, title: str) -> Asset:
        """Give an asset a new title (whitespace is tidied; empty titles are refused)."""
        title = " ".join(title.split())
        if not title:
            raise ProjectError("A title cannot be empty.")

        def rename(conn: sqlite3.Connection) -> Asset:
            documents.stop_auto_title(conn, asset_id)  # a named document keeps its name
            return queries.update_asset(conn, asset_id, "title = ?", (title,))

        return self._write(rename)

    def delete_asset(self, asset_id: str) -> Asset:
        """Move an asset to the trash (it stays in the file until :meth:`purge_deleted`)."""
        now = time.time_ns()
        return self._write(
            lambda c: queries.update_asset(
                c, asset_id, "deleted_ns = coalesce(deleted_ns, ?)", (now,)
            )
        )

    def undelete_asset(self, asset_id: str) -> Asset:
        """Bring a deleted asset back."""
        return self._write(lambda c: queries.update_asset(c, asset_id, "deleted_ns = NULL", ()))

    def purge_deleted(self) -> int:
        """Remove deleted assets for good (and blobs no asset uses); returns how many.

        Lineage that pointed to a purged asset stays, with ``input_exists`` False.
        """
        purged = self._write(queries.purge_deleted)
        # Give the freed pages back to the file system (auto_vacuum is incremental). A plain
        # execute() would free one page only: the pragma frees one page per step.
        with contextlib.suppress(sqlite3.Error):  # giving space back is optional
            self._writer_for_change().run(
                lambda c: c.executescript("PRAGMA incremental_vacuum;"), transaction=False
            )
        return purged

    # Documents (see studio.core.project.documents)

    def create_document(self, text: str = "", **options) -> OpenedDocument:
        """:meth:`create_document_async`, waiting for the commit."""
        return self.create_document_async(text, **options).result()

    def create_document_async(
        self,
        text: str = "",
        *,
        title: str = "",
        origin: RevisionOrigin = RevisionOrigin.NEW,
        source_asset_id: str | None = None,
        details: dict | None = None,
        recipe: Recipe | None = None,
    ) -> Future[OpenedDocument]:
        """Queue a new document with ``text`` as its first revision; the future gets it.

        Without a ``title`` the title follows the first line until the document is renamed.
        Line ends become ``\n`` (:func:`~studio.core.project.documents.normalize_text`).
        The recipe says where the document came from (written here, by default; an imported
        file's recipe for an import); a ``source_asset_id`` is recorded as its lineage too.
        """
        if recipe is None:
            inputs = (RecipeInput(asset_id=source_asset_id, role="source"),)
            recipe = Recipe(
                origin=RecipeOrigin.WRITTEN,
                panel=Panel.WRITING,
                inputs=inputs if source_asset_id else (),
                details=dict(details or {}),
            )
        text = normalize_text(text)
        row = _prepare_row(
            NewAsset(
                kind=AssetKind.DOCUMENT,
                data=text.encode("utf-8"),
                media_type=DOCUMENT_MEDIA_TYPE,
                recipe=recipe,
                title=title or document_title(text),
            )
        )

        def create(conn: sqlite3.Connection) -> OpenedDocument:
            asset = queries.insert_asset(conn, **row)
            documents.insert_document(
                conn,
                asset.id,
                text,
                created_ns=row["created_ns"],
                origin=origin,
                source_asset_id=source_asset_id,
                details=details,
                auto_title=not title,
            )
            return documents.load_document(conn, asset.id)

        return self._writer_for_change().submit(create)

    def save_document_async(
        self,
        document_id: str,
        text: str,
        *,
        origin: RevisionOrigin = RevisionOrigin.TYPING,
        source_asset_id: str | None = None,
        details: dict | None = None,
        view: DocumentView | None = None,
        now_ns: int | None = None,
    ) -> Future[SavedRevision]:
        """Queue ``text`` as the document's newest text (a revision, or typing amending the
        last revision of typing); the future gets what the save did. The comparison with the
        last revision happens on the writer's thread, not the caller's."""
        now = time.time_ns() if now_ns is None else now_ns
        text = normalize_text(text)
        return self._writer_for_change().submit(
            lambda conn: documents.save_text(
                conn,
                document_id,
                text,
                origin=origin,
                source_asset_id=source_asset_id,
                details=details,
                view=view,
                now_ns=now,
            )
        )

    def save_document(self, document_id: str, text: str, **kwargs) -> SavedRevision:
        """:meth:`save_document_async`, waiting for the commit."""
        return self.save_document_async(document_id, text, **kwargs).result()

    def store_document_view(
        self, document_id: str, view: DocumentView, *, opened: bool = False
    ) -> Future[None]:
        """Queue where the writer is in a document; ``opened``: it is the one open now (the
        one to open when the project is opened again)."""
        opened_ns = time.time_ns() if opened else None
        return self._writer_for_change().submit(
            lambda conn: documents.store_view(conn, document_id, view, opened_ns=opened_ns)
        )

    def open_document(self, document_id: str) -> OpenedDocument:
        """A document's newest text, with where the writer was."""
        with self._reader() as conn:
            return documents.load_document(conn, document_id)

    def documents(self) -> list[Asset]:
        """The documents not in the trash, by title."""
        with self._reader() as conn:
            return documents.live_documents(conn)

    def last_opened_document(self) -> str | None:
        """The id of the document open last (not in the trash), if any."""
        with self._reader() as conn:
            return documents.last_opened(conn)

    def document_revisions(self, document_id: str) -> list[Revision]:
        """A document's history, newest revision first."""
        with self._reader() as conn:
            return documents.list_revisions(conn, document_id)

    def document_text_at(self, document_id: str, revision: int) -> str:
        """The text a document had at a revision."""
        with self._reader() as conn:
            return documents.text_at(conn, document_id, revision)

    def document_uses(self, asset_id: str) -> list[DocumentUse]:
        """The document revisions that took in this asset (an accepted generation...)."""
        with self._reader() as conn:
            return documents.uses_of(conn, asset_id)

    # Reading

    def get_asset(self, asset_id: str) -> Asset:
        """The asset with this id, deleted or not; raises ``AssetNotFoundError``."""
        with self._reader() as conn:
            return queries.fetch_asset(conn, asset_id)

    def list_assets(
        self,
        *,
        kind: AssetKind | None = None,
        search: str = "",
        deleted: bool | None = False,
        limit: int | None = None,
        offset: int = 0,
        ids: Iterable[str] | None = None,
    ) -> list[Asset]:
        """Assets, newest first (see :class:`~studio.core.project.queries.AssetFilter` for
        ``kind``, ``search``, ``deleted`` and ``ids``), ``limit`` at a time from ``offset``."""
        filter_ = queries.AssetFilter(
            kind=kind, search=search, deleted=deleted, ids=None if ids is None else tuple(ids)
        )
        with self._reader() as conn:
            return queries.list_assets(conn, filter_, limit, offset)

    def count_assets(
        self, *, kind: AssetKind | None = None, search: str = "", deleted: bool | None = False
    ) -> int:
        """How many assets :meth:`list_assets` would return without a limit."""
        filter_ = queries.AssetFilter(kind=kind, search=search, deleted=deleted)
        with self._reader() as conn:
            return queries.count_assets(conn, filter_)

    def counts_by_kind(self, *, deleted: bool | None = False) -> dict[AssetKind, int]:
        """The number of (live, by default) assets of every kind, zeros included."""
        with self._reader() as conn:
            return queries.counts_by_kind(conn, deleted)

    def find_by_content(self, sha256: str, kind: AssetKind) -> Asset | None:
        """The newest live asset of this kind with exactly this content, if any."""
        with self._reader() as conn:
            row = conn.execute(
                f"SELECT {queries.ASSET_COLUMNS} FROM {queries.ASSET_FROM} "
                f"WHERE a.blob_sha256 = ? AND a.kind = ? AND a.deleted_ns IS NULL "
                f"{queries.NEWEST_FIRST} LIMIT 1",
                (sha256, str(kind)),
            ).fetchone()
        return None if row is None else queries.asset_from_row(row)

    def read_blob(self, asset_id: str) -> bytes:
        """The content of an asset."""
        with self._reader() as conn:
            return queries.read_blob(conn, asset_id)

    def raw_recipe(self, asset_id: str) -> bytes:
        """An asset's recipe as stored, as bytes (for checking a damaged one)."""
        with self._reader() as conn:
            row = conn.execute(
                "SELECT CAST(recipe AS BLOB) FROM assets WHERE id = ?", (asset_id,)
            ).fetchone()
        if row is None:
            raise AssetNotFoundError(f"No asset has the id {asset_id}.")
        return bytes(row[0])

    def assets_missing_content(self) -> list[tuple[str, str]]:
        """(id, title) of live assets whose content is not in the project (a damaged file:
        listings leave them out, since they join each asset to its content)."""
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT a.id, CAST(a.title AS BLOB) FROM assets a "
                "LEFT JOIN blobs b ON b.sha256 = a.blob_sha256 "
                "WHERE b.sha256 IS NULL AND a.deleted_ns IS NULL ORDER BY a.created_ns"
            ).fetchall()
        return [(row[0], bytes(row[1]).decode("utf-8", "replace")) for row in rows]

    def inputs_of(self, asset_id: str) -> list[LineageLink]:
        """The assets this asset was made from, in request order."""
        with self._reader() as conn:
            return queries.lineage_links(conn, "asset_id", asset_id)

    def outputs_of(self, asset_id: str) -> list[LineageLink]:
        """The links to assets made directly from this one."""
        with self._reader() as conn:
            return queries.lineage_links(conn, "input_id", asset_id)

    def ancestors(self, asset_id: str) -> list[Asset]:
        """Every asset this one was made from, directly or not, newest first."""
        with self._reader() as conn:
            return queries.related_assets(conn, asset_id, ancestors=True)

    def descendants(self, asset_id: str) -> list[Asset]:
        """Every asset made from this one, directly or not, newest first."""
        with self._reader() as conn:
            return queries.related_assets(conn, asset_id, ancestors=False)

    def stats(self) -> ProjectStats:
        """Asset counts per kind, deleted assets, blob count and sizes."""
        with self._reader() as conn:
            counts = queries.counts_by_kind(conn, False)
            deleted = queries.count_assets(conn, queries.AssetFilter(deleted=True))
            blobs, blob_bytes = conn.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM blobs"
            ).fetchone()
        file_bytes = self._path.stat().st_size if self._path and self._path.exists() else 0
        return ProjectStats(
            assets=counts,
            deleted_assets=deleted,
            blobs=blobs,
            blob_bytes=blob_bytes,
            file_bytes=file_bytes,
        )

    # Checks

    def quick_check(self) -> Future[IntegrityReport]:
        """The background ``quick_check`` (started now if :meth:`open` did not start it)."""
        with self._lock:
            self._ensure_open()
            if self._check is None:
                if self._path is None:
                    done: Future[IntegrityReport] = Future()
                    done.set_result(IntegrityReport())
                    return done
                self._check = BackgroundCheck(self._path)
            return self._check.future

    def integrity_check(self) -> IntegrityReport:
        """The full check (SQLite ``integrity_check``, foreign keys, blob hashes, recipes);
        it reads the whole file, so call it off the GUI thread."""
        self._ensure_open()
        return IntegrityReport() if self._path is None else integrity_check(self._path)

    # Saving elsewhere

    def save_copy(self, target: Path, *, overwrite: bool = False) -> Path:
        """Write a compact copy of the project to ``target`` (``VACUUM INTO``) and keep
        working on this one. The copy appears whole or not at all."""
        target = Path(target)
        with self._lock:
            self._ensure_open()
            if target.exists() and not overwrite:
                raise ProjectExistsError(f"{target} already exists.")
            if self._path is not None and target.exists() and target.samefile(self._path):
                raise ProjectExistsError(f"{target} is this project's own file.")
            temporary = temporary_beside(target, "saving")
            try:
                vacuum = _vacuum_into(temporary)
                if self._writer is not None:
                    self._writer.run(vacuum, transaction=False)
                elif self._path is None:
                    create_project_file(temporary)
                else:
                    with self._reader() as conn:
                        vacuum(conn)
                fsync_file(temporary)
                move_into_place(temporary, target, overwrite=overwrite)
            finally:
                temporary.unlink(missing_ok=True)
        return target

    def save_as(self, target: Path, *, overwrite: bool = False) -> Path:
        """Save the project as ``target`` and continue there (like "Save As" everywhere).

        An untitled project's file in the data directory is removed afterwards; a named
        project's old file stays as it was.
        """
        target = Path(target)
        with self._lock:
            self.save_copy(target, overwrite=overwrite)
            old_path, was_untitled = self._path, self._untitled
            self._detach()
            self._path, self._untitled = target, False
            self._read_only = is_write_protected(target)
            self._file_schema_version = SCHEMA_VERSION
            try:
                self._attach(target)
            except BaseException:
                self._closed = True  # the copy is saved, but this store cannot go on with it
                raise
            if was_untitled and old_path is not None:
                old_path.unlink(missing_ok=True)
        return target

    # Closing

    def close(self) -> None:
        """Finish pending writes and close; the file is then a single file on disk."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._detach()

    def discard(self) -> None:
        """Close, and delete the file if the project is untitled (named projects are kept)."""
        with self._lock:
            path, untitled = self._path, self._untitled
            self.close()
            if untitled and path is not None:
                path.unlink(missing_ok=True)

    # Internals

    def _detach(self) -> None:
        if self._check is not None:
            self._check.stop()
            self._check = None
        if self._readers is not None:
            self._readers.close()
            self._readers = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _ensure_open(self) -> None:
        if self._closed:
            raise ProjectClosedError(f"The project {self._path or 'untitled'} is closed.")

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._ensure_open()
            readers = self._readers
        assert readers is not None
        with readers.connection() as conn:
            try:
                yield conn
            except (sqlite3.DatabaseError, DamagedRowError) as exc:
                if isinstance(exc, sqlite3.DatabaseError) and not is_damage(exc):
                    raise
                name = self._path.name if self._path else "The project"
                raise DamagedProjectError(
                    self._path or Path(name),
                    f"{name} is damaged ({exc}), so this part of it cannot be read; "
                    f"{repair_advice(name)}.",
                ) from exc

    def _writer_for_change(self) -> ProjectWriter:
        with self._lock:
            self._ensure_open()
            if self._read_only:
                raise ProjectReadOnlyError(
                    f"{self._path.name if self._path else 'The project'} is open read-only; "
                    "save it as a new file to change it."
                )
            if self._writer is None:
                self._materialise_untitled()
            assert self._writer is not None
            return self._writer

    def _write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        return self._writer_for_change().run(operation)

    def _materialise_untitled(self) -> None:
        # The first change of an untitled project gives it a file in the data directory.
        assert self._untitled_folder is not None
        self._untitled_folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y-%m-%d %H.%M.%S")
        for number in range(1, 1000):
            suffix = "" if number == 1 else f" ({number})"
            path = self._untitled_folder / f"Untitled {stamp}{suffix}{PROJECT_SUFFIX}"
            try:
                create_project_file(path)
            except ProjectExistsError:
                continue
            break
        else:
            raise ProjectExistsError(f"No free name for an untitled project in {path.parent}.")
        if self._readers is not None:
            self._readers.close()
        self._path = path
        self._attach(path)


def _prepare_row(item: NewAsset) -> dict:
    """Check a new asset and build the arguments of ``queries.insert_asset`` for it."""
    kind = AssetKind(item.kind)
    data = bytes(item.data)
    check_media_type(kind, item.media_type)
    if kind in TEXT_KINDS:
        data.decode("utf-8")  # raises UnicodeDecodeError (a ValueError) for non-UTF-8
    created_ns = time.time_ns()
    asset = Asset(
        id=item.asset_id or new_asset_id(created_ns),
        kind=kind,
        title=" ".join(item.title.split()) or derive_title(kind, data, item.recipe),
        media_type=item.media_type,
        sha256=sha256_bytes(data),
        size=len(data),
        created_at=time_from_ns(created_ns),
        recipe_json=item.recipe.to_json_text(),
    )
    asset.__dict__["recipe"] = item.recipe  # fill the cached property: no need to parse it back
    return {
        "asset": asset,
        "created_ns": created_ns,
        "data": data,
        "prompt_text": prompt_text(item.recipe.request),
    }


def _prepare_for_writing(conn: sqlite3.Connection) -> None:
    """Check the file again on the writer's own connection and upgrade an older schema."""
    conn.execute("BEGIN EXCLUSIVE")
    try:
        path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise NotAProjectError(path, f"{path.name} is not a Studio project.")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise NewerProjectError(
                path, f"{path.name} was made by a newer Studio (schema {version})."
            )
        if version < SCHEMA_VERSION:
            # An upgrade writes: never into a damaged file (the quick check before the first
            # change comes too late for it).
            try:
                found = [row[0] for row in conn.execute("PRAGMA quick_check(1)")]
            except sqlite3.DatabaseError as exc:
                found = [str(exc)]
            if found != ["ok"]:
                raise DamagedProjectError(
                    path,
                    f"{path.name} is damaged ({found[0]}), so Studio does not upgrade it; "
                    f"{repair_advice(path.name)}.",
                )
            steps = migrate(conn, version)
            log.info("%s: upgraded from schema %d in %d step(s)", path, version, steps)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _reader_connection(path: Path) -> sqlite3.Connection:
    conn = connect_read_only(path)
    add_functions(conn)
    # Text that is not UTF-8 (a damaged file) reads with U+FFFD instead of failing the whole
    # query: the assets still list, and export checks the stored bytes (raw_recipe).
    conn.text_factory = _lenient_text
    return conn


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _read_only_readers(path: Path, schema_version: int) -> ReaderPool:
    if schema_version == SCHEMA_VERSION:
        return ReaderPool(lambda: _reader_connection(path))
    # An older file that must not be written: upgrade a copy in memory and read that.
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    source = connect_read_only(path)
    try:
        source.backup(memory)
    finally:
        source.close()
    memory.execute("BEGIN")
    migrate(memory, schema_version)
    memory.execute("COMMIT")
    add_functions(memory)
    return ReaderPool(lambda: memory, size=1)


def _empty_readers() -> ReaderPool:
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    create_schema(memory)
    add_functions(memory)
    return ReaderPool(lambda: memory, size=1)


def _vacuum_into(target: Path) -> Callable[[sqlite3.Connection], None]:
    def vacuum(conn: sqlite3.Connection) -> None:
        conn.execute("VACUUM INTO ?", (str(target),))

    return vacuum
