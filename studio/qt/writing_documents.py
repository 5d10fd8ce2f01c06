"""The documents of the Writing panel: which one is open, saving it as the user types, and
its history.

:class:`WritingDocuments` binds one ``QTextDocument`` (the editor's) to the project's
documents (:mod:`studio.core.project.documents`). The widget only shows and edits; this object
decides what is stored:

- **Autosave.** Every change starts two timers: a save follows :data:`IDLE_SAVE_MS` after
  typing pauses, and at most :data:`MAX_SAVE_DELAY_MS` after the first unsaved change, so a
  crash loses at most about a second of typing. The GUI thread only takes the text (a copy)
  and queues it; comparing it with the last revision and committing happen on the project's
  writer thread. Every save is its own transaction with a full sync: what was saved survives
  a crash of the app or the machine.
- **Revisions.** Typing amends a revision for a minute; accepting a generation, inserting a
  text, restoring and importing are revisions of their own, saved after the typing before
  them (:meth:`edit`), with the asset they brought in.
- **History after reopening.** Reopened text has no undo steps in the editor; then Undo and
  Redo walk the stored revisions (:meth:`step_back`, :meth:`step_forward`).

The first keystroke in a project without documents creates one ("Untitled document", titled
by its first line from then on).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QTextCursor, QTextDocument

from studio.core.errors import UserError
from studio.core.media.importing import read_media_file
from studio.core.project import Asset, DamagedProjectError, ProjectClosedError, ProjectError
from studio.core.project.documents import (
    DocumentView,
    OpenedDocument,
    RevisionOrigin,
    SavedRevision,
)
from studio.core.project.text_delta import diff
from studio.plugin_api import AssetKind
from studio.qt.project_session import ProjectSession
from studio.qt.text_positions import document_text, qt_from_index

log = logging.getLogger(__name__)

IDLE_SAVE_MS = 400
"""A save follows this long after typing pauses."""
MAX_SAVE_DELAY_MS = 1000
"""...and never later than this after the first unsaved change."""


@dataclass(frozen=True)
class Snapshot:
    """What the editor holds that belongs to the document (unaccepted generated text left
    out), and where the writer is."""

    text: str
    view: DocumentView


class _SaveRelay(QObject):
    """Carries finished saves from the writer thread to the GUI thread."""

    finished = Signal(object)  # the Future


class WritingDocuments(QObject):
    """The open document of the Writing panel, saved as it is typed.

    ``snapshot`` gives the editor's text and view as they should be stored. Call
    :meth:`note_change` when the user changed the text (not for text the model streams in).

    Signals:
        document_opened(opened): another document (an :class:`OpenedDocument`) is in the
            editor now, or None (an empty editor; a document appears with the first words).
        documents_changed(): the list of documents or a title changed.
        save_state_changed(text): "Saved", "Saving…", "Edited", or why the document is not
            saved.
        revision_saved(saved): a save committed (a :class:`SavedRevision`).
        position_shown(index): the editor should show this place (a ``str`` index: the
            first change after stepping through the history).
        message(text): something to tell the user (the start of the history, a refusal).
    """

    document_opened = Signal(object)
    documents_changed = Signal()
    save_state_changed = Signal(str)
    revision_saved = Signal(object)
    position_shown = Signal(int)
    message = Signal(str)

    def __init__(
        self,
        session: ProjectSession,
        text_document: QTextDocument,
        snapshot: Callable[[], Snapshot],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.text_document = text_document
        self._snapshot = snapshot
        self._document_id: str | None = None
        self._revision = 0
        self._last_text: str | None = None  # the text last queued for saving
        self._last_view = DocumentView()  # where the writer was, as last stored
        self._futures: list[Future] = []
        self._creating: Future | None = None  # a new document's creation on its way
        self._loading = False
        self._walk: tuple[int, int] | None = None  # (newest revision, revision shown)
        self._walk_started = 0
        self._failed = ""
        self._state = ""
        self._store = session.store  # Save As goes on in the same store: see _project_changed
        self._relay = _SaveRelay()
        self._relay.finished.connect(self._finish)
        self._idle_timer = QTimer(self)
        self._idle_timer.setSingleShot(True)
        self._idle_timer.setInterval(IDLE_SAVE_MS)
        self._idle_timer.timeout.connect(self._save_typing)
        self._max_timer = QTimer(self)
        self._max_timer.setSingleShot(True)
        self._max_timer.setInterval(MAX_SAVE_DELAY_MS)
        self._max_timer.timeout.connect(self._save_typing)
        session.flush_requested.connect(self.flush)
        session.project_changed.connect(self._project_changed)
        session.asset_changed.connect(self._asset_changed)
        session.assets_removed.connect(self._assets_removed)
        session.assets_restored.connect(self._assets_restored)

    # State ---------------------------------------------------------------------------------

    @property
    def document_id(self) -> str | None:
        """The document in the editor (None until the first words of a new one are saved)."""
        return self._document_id

    @property
    def revision(self) -> int:
        """The newest revision of the open document, as last saved."""
        return self._revision

    @property
    def writable(self) -> bool:
        return not self.session.store.read_only

    def documents(self) -> list[Asset]:
        """The project's documents, by title."""
        try:
            return self.session.store.documents()
        except ProjectClosedError:
            return []
        except DamagedProjectError as exc:  # the window offers the repair
            log.warning("cannot list the documents: %s", exc)
            return []

    # Opening -------------------------------------------------------------------------------

    def open_last(self) -> None:
        """Open the document that was open last in this project (or none)."""
        try:
            document_id = self.session.store.last_opened_document()
        except ProjectClosedError:
            return
        except DamagedProjectError as exc:
            log.warning("cannot find the last document: %s", exc)
            document_id = None
        if document_id is None:
            self._show(None)
        else:
            self.open_document(document_id)

    def open_document(self, document_id: str) -> None:
        """Put a document in the editor (the one open before is saved first)."""
        if document_id == self._document_id:
            return
        self._leave()
        self._show(self.session.store.open_document(document_id))

    def _leave(self) -> None:
        """Save the open document before another takes its place; refuse (:class:`UserError`)
        when it cannot be saved, so that its words stay on screen."""
        if not self.flush():
            raise UserError(
                f"The open document could not be saved ({self._failed.removeprefix('Not saved: ')}"
                "), so it stays open: try again, or save the project elsewhere (File > Save As)."
            )

    def _show(self, opened: OpenedDocument | None) -> None:
        if self._creating is not None:
            self._wait()  # the first words of a new document are stored before it goes
        self._stop_timers()
        self._walk = None
        self._loading = True
        try:
            self.text_document.setPlainText("" if opened is None else opened.text)
        finally:
            self._loading = False
        self._document_id = None if opened is None else opened.asset.id
        self._revision = 0 if opened is None else opened.revision
        self._last_text = None if opened is None else opened.text
        self._last_view = DocumentView() if opened is None else opened.view
        self.document_opened.emit(opened)
        self.documents_changed.emit()
        if opened is not None and self.writable:
            self._track(
                self.session.store.store_document_view(opened.asset.id, opened.view, opened=True)
            )
        self._set_state("Saved" if opened is not None else "")

    def new_document(self) -> None:
        """Start a new, empty document and open it."""
        self._require_writable()
        self._leave()
        self._show(self.session.store.create_document(""))
        self._announce(self._document_id)

    def duplicate(self, title: str) -> None:
        """Open a copy of the open document (made from its newest revision)."""
        if self._document_id is None:
            return
        self._leave()
        source = self._document_id
        opened = self.session.store.create_document(
            self.session.store.open_document(source).text,
            title=title,
            origin=RevisionOrigin.COPY,
            source_asset_id=source,
            details={"revision": self._revision},
        )
        self._show(opened)
        self._announce(opened.asset.id)

    def import_file(self, path: Path) -> None:
        """Make a document of a text or Markdown file and open it (checked like any import:
        encodings, binary content); raises :class:`UserError` for what cannot be a document."""
        media = read_media_file(Path(path))
        if media.kind is not AssetKind.TEXT:
            raise UserError(f"{Path(path).name} is not a text file, so it cannot be a document.")
        self._require_writable()
        self._leave()
        opened = self.session.store.create_document(
            media.data.decode("utf-8"),
            title=media.title,
            origin=RevisionOrigin.IMPORT,
            details={"file_name": Path(path).name},
            recipe=media.recipe(),
        )
        self._show(opened)
        self._announce(opened.asset.id)

    def open_text_asset(self, asset: Asset) -> None:
        """A text or caption asset to work on: the document made from it (made now if none
        was). A document is simply opened."""
        if asset.kind is AssetKind.DOCUMENT:
            self.open_document(asset.id)
            return
        store = self.session.store
        for use in store.document_uses(asset.id):
            made_from_it = use.origin is RevisionOrigin.COPY and use.revision == 1
            if made_from_it and not store.get_asset(use.document_id).deleted:
                self.open_document(use.document_id)
                return
        self._require_writable()
        self._leave()
        opened = store.create_document(
            store.read_blob(asset.id).decode("utf-8", errors="replace"),
            title=asset.title,
            origin=RevisionOrigin.COPY,
            source_asset_id=asset.id,
        )
        self._show(opened)
        self._announce(opened.asset.id)

    def delete_open(self) -> None:
        """Move the open document to the trash (Edit > Undo brings it back)."""
        if self._document_id is not None:
            self.session.delete([self._document_id])  # _assets_removed opens another

    def rename_open(self, title: str) -> None:
        if self._document_id is not None:
            self.session.rename(self._document_id, title)

    # Saving --------------------------------------------------------------------------------

    @Slot()
    def note_change(self) -> None:
        """The text changed: save soon (a save of an unchanged text is skipped)."""
        if self._loading or not self.writable:
            return
        self._walk = None
        self._idle_timer.start()
        if not self._max_timer.isActive():
            self._max_timer.start()
        if not self._failed:
            self._set_state("Edited")

    @Slot()
    def _save_typing(self) -> None:
        self._stop_timers()
        self._save(RevisionOrigin.TYPING)

    def _save(
        self,
        origin: RevisionOrigin,
        source_asset_id: str | None = None,
        details: dict | None = None,
    ) -> None:
        store = self.session.store
        if not self.writable or store.closed:
            return
        if self._creating is not None:
            self._finish(self._creating)  # the new document's id is needed from here on
        snapshot = self._snapshot()
        if self._document_id is None:
            if snapshot.text.strip():
                # The first words of a new document: it is created now, with them in it.
                self._last_text = snapshot.text
                self._creating = store.create_document_async(
                    snapshot.text,
                    origin=origin,
                    source_asset_id=source_asset_id,
                    details=details,
                )
                self._track(self._creating)
            return
        if snapshot.text == self._last_text and origin is RevisionOrigin.TYPING:
            if not self._futures and not self._failed:
                self._set_state("Saved")  # the change was not the document's (a suggestion)
            return
        self._last_text = snapshot.text
        self._last_view = snapshot.view
        self._track(
            store.save_document_async(
                self._document_id,
                snapshot.text,
                origin=origin,
                source_asset_id=source_asset_id,
                details=details,
                view=snapshot.view,
            )
        )

    def _track(self, future: Future) -> None:
        self._futures.append(future)
        self._set_state("Saving…")
        relay = self._relay

        def done(finished: Future) -> None:  # on the writer's thread: only emit
            with contextlib.suppress(RuntimeError):  # the relay is gone: the app is ending
                relay.finished.emit(finished)

        future.add_done_callback(done)

    @Slot(object)
    def _finish(self, future: Future) -> None:
        """A save (or creation) committed or failed: take its result, once."""
        if future not in self._futures:
            return  # taken already (by flush), or of a project that is closed now
        self._futures.remove(future)
        creation = future is self._creating
        if creation:
            self._creating = None
        error = future.exception()
        if error is not None:
            self._failed = f"Not saved: {error}"
            self._last_text = None  # unknown now: the next save sends the whole text again
            log.warning("saving a document failed: %s", error)
            self._set_state(self._failed)
            return
        self._failed = ""
        result = future.result()
        if creation:
            self._document_id = result.asset.id
            self._revision = result.revision
            self._announce(result.asset.id)
            self.documents_changed.emit()
            self._track(
                self.session.store.store_document_view(
                    result.asset.id, self._snapshot().view, opened=True
                )
            )
        elif isinstance(result, SavedRevision) and result.document_id == self._document_id:
            self._revision = result.revision
            if result.changed:
                self.revision_saved.emit(result)
                # The browser shows the new size and first line (and a new title).
                self.session.asset_changed.emit(result.document_id)
        if not self._futures and not self._failed:
            self._set_state("Edited" if self._idle_timer.isActive() else "Saved")

    @Slot(object)
    def flush(self, problems: list[str] | None = None) -> bool:
        """Save what the editor holds now and wait until it is committed; returns whether it
        is (if not, the reason goes to ``problems`` and to the save state)."""
        try:
            if self._idle_timer.isActive() or self._max_timer.isActive():
                self._save_typing()
            self._wait()
            if self._document_id is not None and self._snapshot().text != self._last_text:
                self._save(RevisionOrigin.TYPING)
                self._wait()
            view = self._snapshot().view
            if self._document_id is not None and self.writable and view != self._last_view:
                # The cursor moved without an edit: kept too, for the next time it opens.
                self._last_view = view
                self._track(self.session.store.store_document_view(self._document_id, view))
                self._wait()
        except ProjectClosedError:
            return True  # nothing left to save into (the project was closed)
        except ProjectError as exc:
            log.warning("the open document could not be saved: %s", exc)
            self._failed = f"Not saved: {exc}"
            self._set_state(self._failed)
        if self._failed and problems is not None:
            reason = self._failed.removeprefix("Not saved: ")
            problems.append(f"The open document could not be saved ({reason}).")
        return not self._failed

    def _wait(self) -> None:
        for future in list(self._futures):
            try:
                future.exception(timeout=60)  # a failure is reported by _finish
            except TimeoutError:
                log.warning("a save of the open document is taking more than a minute")
                continue
            self._finish(future)

    def edit(
        self,
        origin: RevisionOrigin,
        apply: Callable[[], None],
        *,
        source_asset_id: str | None = None,
        details: dict | None = None,
    ) -> None:
        """A change that is a revision of its own: the typing before it is saved first, then
        ``apply`` changes the editor, then the result is saved as one ``origin`` revision
        (committed when this returns)."""
        self.flush()
        self._loading = True
        try:
            apply()
        finally:
            self._loading = False
        self._walk = None
        self._stop_timers()
        self._save(origin, source_asset_id, details)
        self._wait()  # a user's action: its revision is there when it returns

    # History -------------------------------------------------------------------------------

    def restore(self, revision: int) -> None:
        """Make an earlier revision the newest (a revision of its own; undoable)."""
        if self._document_id is None:
            return
        text = self.session.store.document_text_at(self._document_id, revision)
        self.edit(
            RevisionOrigin.RESTORE,
            lambda: self._replace_text(text, undoable=True),
            details={"revision": revision},
        )

    def step_back(self) -> bool:
        """Undo with nothing left to undo in the editor: show the revision before."""
        if not self.writable:
            return False
        if self._walk is None:
            if not self.flush() or self._document_id is None:
                return False
            self._walk = (self._revision, self._revision)
            self._walk_started = time.time_ns()
        newest, shown = self._walk
        if shown <= 1:
            self.message.emit("This is the document's first revision.")
            return False
        self._show_revision(newest, shown - 1)
        return True

    def step_forward(self) -> bool:
        """Redo with nothing left to redo in the editor: the revision after the one shown."""
        if self._walk is None:
            return False
        newest, shown = self._walk
        if shown >= newest:
            return False
        self._show_revision(newest, shown + 1)
        return True

    def _show_revision(self, newest: int, number: int) -> None:
        text = self.session.store.document_text_at(self._document_id, number)
        self._loading = True
        try:
            first = self._replace_text(text, undoable=False)
        finally:
            self._loading = False
        self._walk = (newest, number)
        self._stop_timers()
        self._save(RevisionOrigin.UNDO, details={"revision": number, "walk": self._walk_started})
        if first is not None:
            self.position_shown.emit(first)
        self.message.emit(f"Revision {number} of {newest} (Undo and Redo step through them)")

    def _replace_text(self, text: str, *, undoable: bool) -> int | None:
        """Put ``text`` in the editor, changing only what differs; returns where the first
        change is (a ``str`` index). ``undoable`` keeps it on the editor's undo stack."""
        old = document_text(self.text_document)
        if not undoable:
            self.text_document.setUndoRedoEnabled(False)
        cursor = QTextCursor(self.text_document)
        cursor.beginEditBlock()
        first = None
        for splice in reversed(diff(old, text)):
            cursor.setPosition(qt_from_index(old, splice.start))
            cursor.setPosition(qt_from_index(old, splice.end), QTextCursor.MoveMode.KeepAnchor)
            cursor.insertText(splice.text)
            first = splice.start
        cursor.endEditBlock()
        if not undoable:
            self.text_document.setUndoRedoEnabled(True)
        return first

    # Following the session -----------------------------------------------------------------

    @Slot()
    def _project_changed(self) -> None:
        if self.session.store is self._store:
            # Save As: the same store goes on in the copy, with the same document; what the
            # editor holds that the copy does not (a save that had failed) is saved there.
            self.documents_changed.emit()
            if self._document_id is not None and self._snapshot().text != self._last_text:
                self._last_text = None
                self.note_change()
            return
        self._store = self.session.store
        self._futures.clear()
        self._creating = None
        self._failed = ""
        self._document_id = None
        self.open_last()

    @Slot(str)
    def _asset_changed(self, asset_id: str) -> None:
        try:
            kind = self.session.store.get_asset(asset_id).kind
        except ProjectError:
            return
        if kind is AssetKind.DOCUMENT:
            self.documents_changed.emit()

    @Slot(list)
    def _assets_removed(self, asset_ids: list) -> None:
        if self._document_id in asset_ids:
            self._document_id = None
            self.open_last()
        else:
            self.documents_changed.emit()

    @Slot(list)
    def _assets_restored(self, asset_ids: list) -> None:
        self.documents_changed.emit()
        if self._document_id is None and not document_text(self.text_document):
            self.open_last()

    # Helpers -------------------------------------------------------------------------------

    def _announce(self, document_id: str | None) -> None:
        if document_id:
            self.session.asset_added.emit(document_id)

    def _require_writable(self) -> None:
        if not self.writable:
            raise UserError(
                "This project is open read-only: save it as a new file (File > Save As) to "
                "write in it."
            )

    def _stop_timers(self) -> None:
        self._idle_timer.stop()
        self._max_timer.stop()

    def _set_state(self, text: str) -> None:
        if text != self._state:
            self._state = text
            self.save_state_changed.emit(text)
