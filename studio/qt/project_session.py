"""The open project as the window sees it: one store, change signals, and undo.

A :class:`ProjectSession` lives in the GUI thread. Jobs commit through their own sink
(:meth:`studio.core.pipeline.PreparedJob.sink`), which tells :meth:`ProjectSession.announce` from
its worker thread; :attr:`asset_added` then arrives in the GUI thread. Files are imported on a
thread of the session (:meth:`ProjectSession.import_files`). Renames and deletions go through
the undo stack, so Edit > Undo can take them back (a deleted asset stays in the file, marked
deleted, until the project is compacted).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from studio.core.errors import UserError
from studio.core.media.importing import ImportReport, import_files
from studio.core.pipeline import CommittedResult
from studio.core.project.assets import Asset
from studio.core.project.store import UNTITLED_FOLDER, ProjectStore

log = logging.getLogger(__name__)


class _RenameCommand(QUndoCommand):
    def __init__(self, session: ProjectSession, asset_id: str, old: str, new: str) -> None:
        super().__init__(f"Rename “{old}”")
        self.session, self.asset_id, self.old, self.new = session, asset_id, old, new

    def redo(self) -> None:
        self.session.store.rename_asset(self.asset_id, self.new)
        self.session.asset_changed.emit(self.asset_id)

    def undo(self) -> None:
        self.session.store.rename_asset(self.asset_id, self.old)
        self.session.asset_changed.emit(self.asset_id)


class _DeleteCommand(QUndoCommand):
    def __init__(self, session: ProjectSession, asset_ids: Sequence[str]) -> None:
        count = len(asset_ids)
        super().__init__(f"Delete {count} asset{'s' if count != 1 else ''}")
        self.session, self.asset_ids = session, tuple(asset_ids)

    def redo(self) -> None:
        self.session.flush()  # a document deleted while being typed keeps its last words
        for asset_id in self.asset_ids:
            self.session.store.delete_asset(asset_id)
        self.session.assets_removed.emit(list(self.asset_ids))

    def undo(self) -> None:
        for asset_id in self.asset_ids:
            self.session.store.undelete_asset(asset_id)
        self.session.assets_restored.emit(list(self.asset_ids))


class ProjectSession(QObject):
    """The open project (untitled until saved), shared by the panels, browser and menus.

    Signals:
        flush_requested(problems): whatever is being edited must be in the store now (before
            a Save As, another project, a deletion or closing); receivers save, wait, and
            append to the list ``problems`` a sentence for what they could not save.
        project_changed(): another project is open now (reload everything).
        asset_added(asset_id): a new asset was committed (by a job or an import).
        files_imported(report): an import of files ended (an
            :class:`~studio.core.media.importing.ImportReport`: what was stored, what refused).
        asset_changed(asset_id): an asset's title changed.
        assets_removed(ids): assets were deleted (undoable).
        assets_restored(ids): deleted assets came back (undo).
        integrity_problem(summary): the background quick check of an opened project found
            damage (the project stays open; File > Save As can rescue what is readable).
    """

    flush_requested = Signal(object)
    project_changed = Signal()
    integrity_problem = Signal(str)
    asset_added = Signal(str)
    files_imported = Signal(object)
    asset_changed = Signal(str)
    assets_removed = Signal(list)
    assets_restored = Signal(list)

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.undo_stack = QUndoStack(self)
        self.store = ProjectStore.untitled(data_dir)
        self._imports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="file-import")
        self._last_import: Future[ImportReport] | None = None

    # which project ------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        return self.store.path

    @property
    def display_name(self) -> str:
        if self.store.is_untitled or self.store.path is None:
            return "Untitled"
        return self.store.path.stem

    def flush(self) -> list[str]:
        """Have every editor save what it holds (a document being typed) into the store;
        returns what could not be saved (one sentence each)."""
        problems: list[str] = []
        self.flush_requested.emit(problems)
        return problems

    def _flush_before_leaving(self) -> None:
        """Refuse to leave the project while an editor holds words it could not save; an
        import on its way ends first (it goes into this project)."""
        if self._last_import is not None:
            with contextlib.suppress(Exception):  # its report said what went wrong
                self._last_import.result()
        problems = self.flush()
        if problems:
            raise UserError(
                f"{problems[0]} The project stays open so that nothing is lost: try again, "
                "or save the project elsewhere (File > Save As)."
            )

    def _replace(self, store: ProjectStore) -> None:
        old, self.store = self.store, store
        old.close()
        self.undo_stack.clear()
        self.project_changed.emit()

    def new(self) -> None:
        """Start a new untitled project (its file appears with its first asset)."""
        self._flush_before_leaving()
        self._replace(ProjectStore.untitled(self.data_dir))

    def open(self, path: Path) -> None:
        """Open a project file; a foreign, newer or damaged file raises :class:`UserError`.

        SQLite's quick check then runs in the background; damage it finds is reported
        through :attr:`integrity_problem`.
        """
        path = Path(path)
        self._flush_before_leaving()
        # An untitled project of the data directory stays untitled (Save As moves it).
        untitled = path.parent.resolve() == (self.data_dir / UNTITLED_FOLDER).resolve()
        store = ProjectStore.open(path, untitled=untitled)
        self._replace(store)
        store.quick_check().add_done_callback(self._quick_check_done)

    def _quick_check_done(self, future) -> None:
        # Runs on the check's thread: only emit (queued to the GUI thread's receivers).
        try:
            report = future.result()
        except Exception as exc:
            self.integrity_problem.emit(f"The project could not be checked: {exc}")
            return
        if not report.ok:
            self.integrity_problem.emit(report.summary)

    def save_as(self, path: Path) -> Path:
        """Save the project under a new name and continue there."""
        self.flush()
        target = self.store.save_as(Path(path), overwrite=True)
        self.project_changed.emit()
        return target

    def close(self) -> None:
        self._imports.shutdown(wait=True)
        problems = self.flush()
        if problems:
            log.warning("closing %s with unsaved words: %s", self.display_name, problems)
        self.store.close()

    # changes --------------------------------------------------------------------------------

    def announce(self, committed: CommittedResult) -> None:
        """A job's result (and the inputs stored with it) was committed: tell the window.
        A listener of the job's sink (:meth:`PreparedJob.sink`); called on the job's thread."""
        for asset_id in (*committed.new_input_ids, committed.asset_id):
            if asset_id:
                self.asset_added.emit(asset_id)  # queued to the GUI thread's receivers

    def import_files(self, paths: Sequence[Path]) -> Future[ImportReport]:
        """Import media files on a thread of the session (never the GUI's): each is checked
        completely; the ones that pass are stored, the others listed as refused
        (:func:`studio.core.media.importing.import_files`). :attr:`files_imported` and
        :attr:`asset_added` follow; the future has the report too."""
        store = self.store

        def run() -> ImportReport:
            report = import_files(store, [Path(p) for p in paths])
            for asset_id in report.added:
                self.asset_added.emit(asset_id)
            self.files_imported.emit(report)
            return report

        self._last_import = self._imports.submit(run)
        return self._last_import

    def rename(self, asset_id: str, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise UserError("A title cannot be empty.")
        old = self.store.get_asset(asset_id).title
        if title != old:
            self.undo_stack.push(_RenameCommand(self, asset_id, old, title))

    def delete(self, asset_ids: Sequence[str]) -> None:
        if asset_ids:
            self.undo_stack.push(_DeleteCommand(self, asset_ids))

    def asset(self, asset_id: str) -> Asset:
        return self.store.get_asset(asset_id)
