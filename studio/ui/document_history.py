"""The revision history of a document: every revision with when and what made it, the text it
had (changes against the text now highlighted), and "Restore this revision"."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.project import ProjectError, ProjectStore
from studio.core.project.documents import Revision, RevisionOrigin
from studio.core.project.text_delta import diff
from studio.qt.text_positions import qt_from_index

CHANGED_COLOUR = QColor(120, 190, 255, 90)

_ORIGIN_WORDS = {
    RevisionOrigin.NEW: "Created",
    RevisionOrigin.TYPING: "Typing",
    RevisionOrigin.GENERATION: "Accepted a generation",
    RevisionOrigin.INSERT: "Inserted a text",
    RevisionOrigin.RESTORE: "Restored revision {revision}",
    RevisionOrigin.UNDO: "Went back to revision {revision}",
    RevisionOrigin.IMPORT: "Imported from {file_name}",
    RevisionOrigin.COPY: "Made from another asset",
}


def describe_revision(revision: Revision, store: ProjectStore | None = None) -> str:
    """One line for a revision: what made it (with the asset it brought in, when known)."""
    words = _ORIGIN_WORDS[revision.origin].format(
        **{"revision": "?", "file_name": "a file", **revision.details}
    )
    if revision.source_asset_id and store is not None:
        try:
            title = store.get_asset(revision.source_asset_id).title
        except ProjectError:
            title = "an asset no longer in the project"
        words += f": “{title}”"
    return words


class RevisionHistoryDialog(QDialog):
    """Pick a revision of a document and restore it (the restore is itself a revision).

    Signals:
        restore_requested(document_id, number): the user chose to restore this revision.
    """

    restore_requested = Signal(str, int)

    def __init__(
        self,
        store: ProjectStore,
        document_id: str,
        current_text: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.document_id = document_id
        self.current_text = current_text
        title = store.get_asset(document_id).title
        self.setWindowTitle(f"History of “{title}”")
        self.resize(820, 560)
        self.revisions = store.document_revisions(document_id)
        self.list = QListWidget()
        self.list.setObjectName("revisions")
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setAlternatingRowColors(True)
        for revision in self.revisions:
            when = revision.saved_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            item = QListWidgetItem(
                f"{revision.number} · {when}\n{describe_revision(revision, store)}"
            )
            item.setData(Qt.ItemDataRole.UserRole, revision.number)
            item.setToolTip(f"{revision.chars:,} characters")
            self.list.addItem(item)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("revision-text")
        self.preview.setReadOnly(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.summary)
        right_layout.addWidget(self.preview, 1)
        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        self.restore_button = QPushButton("Restore this revision")
        self.restore_button.setObjectName("restore-revision")
        self.restore_button.setToolTip(
            "Make this text the document's text again (a new revision; Undo takes it back)"
        )
        self.restore_button.clicked.connect(self._restore)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        self.list.currentRowChanged.connect(self._show)
        if self.revisions:
            self.list.setCurrentRow(min(1, len(self.revisions) - 1))  # the one before now

    def selected_number(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    @Slot(int)
    def _show(self, row: int) -> None:
        number = self.selected_number()
        if number is None:
            return
        try:
            text = self.store.document_text_at(self.document_id, number)
        except (ProjectError, UserError, ValueError) as exc:
            self.preview.setPlainText("")
            self.summary.setText(f"This revision cannot be read: {exc}")
            self.restore_button.setEnabled(False)
            return
        self.preview.setPlainText(text)
        # What differs from the text now is highlighted, so a revision can be found by eye.
        changes = diff(self.current_text, text)
        highlight = QTextCharFormat()
        highlight.setBackground(CHANGED_COLOUR)
        cursor = QTextCursor(self.preview.document())
        shift = 0
        for splice in changes:  # positions in the current text; the preview shows the other
            start = splice.start + shift
            cursor.setPosition(qt_from_index(text, start))
            cursor.setPosition(
                qt_from_index(text, start + len(splice.text)), QTextCursor.MoveMode.KeepAnchor
            )
            cursor.mergeCharFormat(highlight)
            shift += len(splice.text) - (splice.end - splice.start)
        if changes:
            first = QTextCursor(self.preview.document())
            first.setPosition(qt_from_index(text, changes[0].start))
            self.preview.setTextCursor(first)
            self.preview.ensureCursorVisible()
        same = text == self.current_text
        words = len(text.split())
        delta = words - len(self.current_text.split())
        self.summary.setText(
            f"Revision {number}: {words:,} words"
            + (" · the same as now" if same else f" · {delta:+,} words against now")
        )
        self.restore_button.setEnabled(not same)

    @Slot()
    def _restore(self) -> None:
        number = self.selected_number()
        if number is not None:
            self.restore_requested.emit(self.document_id, number)
            self.accept()
