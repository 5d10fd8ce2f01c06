"""The Writing panel's document widgets: the editor, and the bar of the project's documents
above it (pick, new, rename, duplicate, delete, history, import, export).

The widgets hold no document state: :class:`~studio.qt.writing_documents.WritingDocuments`
knows which document is open and saves it; the bar asks it and shows what it says.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QPlainTextEdit,
    QToolButton,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.media.file_names import file_name_for
from studio.core.project import ProjectError
from studio.core.recent_folders import RecentFolders
from studio.qt.text_positions import document_text
from studio.qt.writing_documents import WritingDocuments
from studio.ui.document_history import RevisionHistoryDialog
from studio.ui.file_dialogs import choose_file, choose_save_file

TEXT_FILTER = "Text and Markdown (*.txt *.md *.markdown *.text);;All files (*)"


class DocumentEditor(QPlainTextEdit):
    """The document's text. Undo with nothing left to undo here (after reopening a project,
    or after switching documents) steps back through the stored revisions instead; Redo with
    nothing to redo steps forward again.

    Signals:
        history_back(), history_forward(): the user asked to step through the revisions.
    """

    history_back = Signal()
    history_forward = Signal()

    def text(self) -> str:
        """The text as typed (see :func:`studio.qt.text_positions.document_text`)."""
        return document_text(self.document())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.isReadOnly():
            document = self.document()
            if event.matches(QKeySequence.StandardKey.Undo) and not document.isUndoAvailable():
                self.history_back.emit()
                event.accept()
                return
            if event.matches(QKeySequence.StandardKey.Redo) and not document.isRedoAvailable():
                self.history_forward.emit()
                event.accept()
                return
        super().keyPressEvent(event)


class DocumentBar(QWidget):
    """The project's documents: a picker, New, History and a menu of the rest.

    ``may_switch`` is asked before another document replaces the open one (the panel says no
    while its model writes into the editor). Messages for the user go to ``show_message``.
    """

    def __init__(
        self,
        documents: WritingDocuments,
        current_text: Callable[[], str],
        may_switch: Callable[[], bool],
        show_message: Callable[[str], None],
        parent: QWidget | None = None,
        recent_folders: RecentFolders | None = None,
    ) -> None:
        super().__init__(parent)
        self.documents = documents
        self._recent = recent_folders
        self._current_text = current_text
        self._may_switch = may_switch
        self._show_message = show_message
        self._listed: list[tuple[str | None, str]] = []
        self.history_dialog: RevisionHistoryDialog | None = None

        self.picker = QComboBox()
        self.picker.setObjectName("document-picker")
        self.picker.setToolTip("The project's documents: pick one to write in it")
        self.picker.setMinimumContentsLength(18)
        self.picker.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.picker.activated.connect(self._picked)

        self.new_action = self._action("New Document", self.new_document, "Ctrl+Shift+N")
        self.rename_action = self._action("Rename…", self.rename)
        self.duplicate_action = self._action("Duplicate", self.duplicate)
        self.delete_action = self._action("Delete", self.delete)
        self.delete_action.setToolTip("Move the document to the trash (Edit > Undo brings it back)")
        self.history_action = self._action("Revision History…", self.show_history, "Ctrl+Shift+H")
        self.import_action = self._action("Open Text File as Document…", self.import_file)
        self.export_action = self._action("Export as Markdown…", self.export_markdown)

        # A button shows its action's icon text: short words beside the picker.
        self.new_action.setIconText("New")
        self.history_action.setIconText("History")
        new_button = QToolButton()
        new_button.setDefaultAction(self.new_action)
        history_button = QToolButton()
        history_button.setDefaultAction(self.history_action)
        self.menu = QMenu(self)
        for action in (
            self.rename_action,
            self.duplicate_action,
            self.delete_action,
            None,
            self.history_action,
            None,
            self.import_action,
            self.export_action,
        ):
            if action is None:
                self.menu.addSeparator()
            else:
                self.menu.addAction(action)
        self.menu_button = QToolButton()
        self.menu_button.setText("Document")
        self.menu_button.setToolTip("Rename, duplicate, delete, history, import and export")
        self.menu_button.setMenu(self.menu)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picker, 1)
        layout.addWidget(new_button)
        layout.addWidget(history_button)
        layout.addWidget(self.menu_button)

        documents.documents_changed.connect(self.refresh)
        documents.document_opened.connect(self.refresh)
        self.refresh()

    def _action(self, text: str, slot, shortcut: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{text.rstrip('…')} ({shortcut})")
        action.triggered.connect(slot)
        return action

    def attach_shortcuts_to(self, widget: QWidget) -> None:
        """Make the shortcuts work wherever in ``widget`` (the panel) the focus is."""
        widget.addAction(self.new_action)
        widget.addAction(self.history_action)

    # The list ----------------------------------------------------------------------------------

    @Slot()
    def refresh(self, *_: object) -> None:
        """List the documents (again only when the list or a title changed)."""
        current = self.documents.document_id
        listed: list[tuple[str | None, str]] = [(a.id, a.title) for a in self.documents.documents()]
        if current is None:
            listed.insert(0, (None, "New document (saved as you type)"))
        if listed != self._listed:
            self._listed = listed
            self.picker.blockSignals(True)
            self.picker.clear()
            for document_id, title in listed:
                self.picker.addItem(title, document_id)
            self.picker.blockSignals(False)
        index = self.picker.findData(current) if current is not None else 0
        self.picker.setCurrentIndex(max(index, 0))
        self.update_actions()

    def update_actions(self, busy: bool = False) -> None:
        writable = self.documents.writable
        has_document = self.documents.document_id is not None
        self.picker.setEnabled(not busy)
        self.new_action.setEnabled(writable and not busy)
        self.import_action.setEnabled(writable and not busy)
        for action in (self.rename_action, self.duplicate_action, self.delete_action):
            action.setEnabled(writable and has_document and not busy)
        self.history_action.setEnabled(has_document and not busy)
        self.export_action.setEnabled(bool(self._current_text()) or has_document)

    @Slot(int)
    def _picked(self, index: int) -> None:
        document_id = self.picker.itemData(index)
        if document_id is None or document_id == self.documents.document_id:
            return
        if not self._may_switch():
            self.refresh()
            return
        self._run(lambda: self.documents.open_document(document_id))

    # Actions -----------------------------------------------------------------------------------

    def _run(self, operation: Callable[[], None]) -> bool:
        try:
            operation()
        except (UserError, ProjectError, OSError) as exc:
            self._show_message(str(exc))
            return False
        return True

    @Slot()
    def new_document(self) -> None:
        if self._may_switch():
            self._run(self.documents.new_document)

    @Slot()
    def rename(self) -> None:
        document_id = self.documents.document_id
        if document_id is None:
            return
        old = self.documents.session.asset(document_id).title
        title, ok = QInputDialog.getText(self, "Rename document", "Title:", text=old)
        if ok and title.strip() and title.strip() != old:
            self._run(lambda: self.documents.rename_open(title))

    @Slot()
    def duplicate(self) -> None:
        document_id = self.documents.document_id
        if document_id is None or not self._may_switch():
            return
        title = self.documents.session.asset(document_id).title
        self._run(lambda: self.documents.duplicate(f"{title} (copy)"))

    @Slot()
    def delete(self) -> None:
        document_id = self.documents.document_id
        if document_id is None or not self._may_switch():
            return
        title = self.documents.session.asset(document_id).title
        if self._run(self.documents.delete_open):
            self._show_message(f"“{title}” is in the trash (Edit > Undo brings it back).")

    @Slot()
    def show_history(self) -> RevisionHistoryDialog | None:
        if self.documents.document_id is None or not self._may_switch():
            return None
        self.documents.flush()
        dialog = RevisionHistoryDialog(
            self.documents.session.store,
            self.documents.document_id,
            self._current_text(),
            self.window(),
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # Modal: the document, its text and the project stay what the dialog shows.
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.restore_requested.connect(self._restore)
        self.history_dialog = dialog
        dialog.show()
        return dialog

    @Slot(str, int)
    def _restore(self, document_id: str, number: int) -> None:
        if document_id != self.documents.document_id or not self._may_switch():
            return  # another document is open now, or the model writes into it
        if self._run(lambda: self.documents.restore(number)):
            self._show_message(f"Restored revision {number} (Undo takes it back).")

    @Slot()
    def import_file(self) -> None:
        path = choose_file(
            self, self._recent, "open-document", "Open a text file as a document", TEXT_FILTER
        )
        if path is not None and self._may_switch():
            self._run(lambda: self.documents.import_file(path))

    @Slot()
    def export_markdown(self) -> None:
        document_id = self.documents.document_id
        title = self.documents.session.asset(document_id).title if document_id else "Document"
        chosen = choose_save_file(
            self,
            self._recent,
            "export-document",
            "Export as Markdown",
            file_name_for(title, ".md", "Document"),
            "Markdown (*.md)",
        )
        if chosen is not None:
            path = str(chosen)
            target = Path(path if path.lower().endswith((".md", ".markdown")) else path + ".md")
            if self._run(lambda: write_text_file(target, self._current_text())):
                self._show_message(f"Exported to {target}.")


def write_text_file(target: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``target`` whole or not at all (a temporary file beside it is
    renamed into place)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
