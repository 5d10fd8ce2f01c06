"""The open project as the window sees it: one store, change signals, and undo.

A :class:`ProjectSession` lives in the GUI thread. Jobs commit through :meth:`sink`, which may be
called from worker threads: the asset is committed by the store's writer thread and
:attr:`asset_added` then arrives in the GUI thread. Renames and deletions go through the undo
stack, so Edit > Undo can take them back (a deleted asset stays in the file, marked deleted,
until the project is compacted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from studio.core.errors import UserError
from studio.core.generation import StoreSink, import_inputs
from studio.core.input_import import InputImport
from studio.core.jobs import ProducedAsset
from studio.core.media.importing import read_media_file
from studio.core.project.assets import Asset
from studio.core.project.store import UNTITLED_FOLDER, ProjectStore
from studio.plugin_api import InputMedia

log = logging.getLogger(__name__)


class _SessionSink:
    """Commits to the session's store (from any thread) and announces the new asset."""

    def __init__(
        self, session: ProjectSession, store: ProjectStore, details: dict | None = None
    ) -> None:
        self._session = session
        self._sink = StoreSink(store, details)

    def __call__(self, produced: ProducedAsset) -> str:
        asset_id = self._sink(produced)
        self._session.asset_added.emit(asset_id)  # queued to the GUI thread's receivers
        return asset_id


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
    asset_changed = Signal(str)
    assets_removed = Signal(list)
    assets_restored = Signal(list)

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.undo_stack = QUndoStack(self)
        self.store = ProjectStore.untitled(data_dir)

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
        """Refuse to leave the project while an editor holds words it could not save."""
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
        problems = self.flush()
        if problems:
            log.warning("closing %s with unsaved words: %s", self.display_name, problems)
        self.store.close()

    # changes --------------------------------------------------------------------------------

    def sink(self, details: dict | None = None) -> _SessionSink:
        """The asset sink for jobs started now (bound to the current project); ``details``
        are added to every recipe (a preset's name, say)."""
        return _SessionSink(self, self.store, details)

    def import_files(self, paths: Sequence[Path]) -> tuple[list[str], list[str]]:
        """Import media files; returns (new asset ids, one message per refused file)."""
        added, refused = [], []
        for path in paths:
            try:
                media = read_media_file(Path(path))
            except UserError as exc:
                refused.append(str(exc))
                continue
            asset = self.store.add_asset(
                kind=media.kind,
                data=media.data,
                media_type=media.media_type,
                recipe=media.recipe(),
                title=media.title,
            )
            added.append(asset.id)
            self.asset_added.emit(asset.id)
        return added, refused

    def import_inputs(self, inputs: Sequence[tuple[str, Path]]) -> tuple[InputMedia, ...]:
        """Import a job's input files (all checked before any is stored) as lineage."""
        media = import_inputs(self.store, inputs)
        for item in media:
            if item.asset_id:
                self.asset_added.emit(item.asset_id)
        return media

    def start_import(self, inputs: Sequence[tuple[str, Path]]) -> InputImport:
        """Import a job's input files while the job runs (see :mod:`studio.core.input_import`);
        a file that must be checked first and fails raises :class:`UserError` here."""
        return InputImport(self.store, inputs, self.asset_added.emit)

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
