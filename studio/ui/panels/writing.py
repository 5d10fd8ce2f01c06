"""The Writing panel: a document editor where a local model continues or answers.

Two modes, as in text-generation-webui and LM Studio:
- **Continue**: the model continues the document from the cursor.
- **Instruct**: the model follows an instruction (from an editable preset) about the selection
  or the whole document; models without a chat template get the preset's plain template.

Generated text streams in at the cursor, highlighted until it is accepted (Ctrl+Shift+Enter)
or discarded (Ctrl+Backspace). Several variations can be made at once and picked from; each is
also a text asset in the project, with its recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.media.importing import read_media_file
from studio.core.presets import Preset, PresetStore
from studio.core.project.assets import Asset
from studio.core.recipe import RecipeInput
from studio.plugin_api import AssetKind, Panel
from studio.ui.panels.base import PanelWidget

CONTINUE, INSTRUCT = "continue", "instruct"
PENDING_COLOUR = QColor(255, 236, 160, 150)
COUNT_DELAY_MS = 250
"""How long after a change the word count is brought up to date (changes meanwhile wait
for the same recount)."""
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}


class PresetEditor(QDialog):
    """Edit, add and remove Instruct presets (saved as JSON in the data directory)."""

    def __init__(self, store: PresetStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Instruct presets")
        self.resize(640, 420)
        self.store = store
        self.presets = store.load()
        self.names = QListWidget()
        self.name = QLineEdit()
        self.instruction = QPlainTextEdit()
        self.template = QPlainTextEdit()
        self.template.setToolTip(
            "Used when the model has no chat template. {instruction} and {text} are filled in."
        )
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Instruction", self.instruction)
        form.addRow("Plain template", self.template)
        add = QPushButton("Add")
        remove = QPushButton("Remove")
        add.clicked.connect(self._add)
        remove.clicked.connect(self._remove)
        left = QVBoxLayout()
        left.addWidget(self.names)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        left.addLayout(row)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(form, 2)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        layout.addWidget(buttons)
        self._current = -1
        self.names.currentRowChanged.connect(self._select)
        self._refresh(0)

    def _refresh(self, row: int) -> None:
        self.names.blockSignals(True)
        self.names.clear()
        self.names.addItems([p.name for p in self.presets])
        self.names.blockSignals(False)
        self._current = -1
        self.names.setCurrentRow(min(row, len(self.presets) - 1))

    def _store_current(self) -> None:
        if 0 <= self._current < len(self.presets):
            self.presets[self._current] = Preset(
                self.name.text().strip(),
                self.instruction.toPlainText(),
                self.template.toPlainText(),
            )

    def _select(self, row: int) -> None:
        self._store_current()
        self._current = row
        if 0 <= row < len(self.presets):
            preset = self.presets[row]
            self.name.setText(preset.name)
            self.instruction.setPlainText(preset.instruction)
            self.template.setPlainText(preset.template)

    def _add(self) -> None:
        self._store_current()
        self.presets.append(Preset(f"New preset {len(self.presets) + 1}", "Describe the task."))
        self._refresh(len(self.presets) - 1)

    def _remove(self) -> None:
        if 0 <= self._current < len(self.presets):
            del self.presets[self._current]
            self._refresh(max(0, self._current - 1))

    def accept(self) -> None:
        self._store_current()
        try:
            self.store.save(self.presets)
        except (UserError, OSError) as exc:
            QMessageBox.warning(self, "Presets not saved", str(exc))
            return
        super().accept()


class WritingPanel(PanelWidget):
    panel = Panel.WRITING
    send_to_voice = Signal(str, object)
    """The selection (or the whole document) to speak, and its text asset id or None."""

    # request side ----------------------------------------------------------------------------

    def request_title(self) -> str:
        return "What the model should do"

    def output_title(self) -> str:
        return "Document"

    def request_stretch(self) -> int:
        return 0  # the options need the room; the instruction box is small

    def build_request_area(self, layout: QVBoxLayout) -> None:
        self.presets = PresetStore(self.services.paths.data_dir / "presets.json")
        self.mode = QComboBox()
        self.mode.setObjectName("mode")
        self.mode.addItem("Continue the document", CONTINUE)
        self.mode.addItem("Follow an instruction", INSTRUCT)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.preset = QComboBox()
        self.preset.setObjectName("preset")
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        edit_presets = QToolButton()
        edit_presets.setText("Edit…")
        edit_presets.setToolTip("Edit, add or remove presets")
        edit_presets.clicked.connect(self._edit_presets)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset, 1)
        preset_row.addWidget(edit_presets)
        self.instruction = QPlainTextEdit()
        self.instruction.setObjectName("instruction")
        self.instruction.setPlaceholderText("The instruction (Ctrl+Enter runs)")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.instruct_widgets = QWidget()
        instruct = QVBoxLayout(self.instruct_widgets)
        instruct.setContentsMargins(0, 0, 0, 0)
        instruct.addLayout(preset_row)
        instruct.addWidget(self.instruction, 1)
        layout.addWidget(self.mode)
        layout.addWidget(self.instruct_widgets, 1)
        layout.addWidget(self.hint)
        layout.addStretch(0)
        self._fill_presets()
        self._mode_changed()

    def _fill_presets(self, select: str | None = None) -> None:
        self._preset_list = self.presets.load()
        self.preset.blockSignals(True)
        self.preset.clear()
        for preset in self._preset_list:
            self.preset.addItem(preset.name)
        self.preset.blockSignals(False)
        index = self.preset.findText(select) if select else 0
        self.preset.setCurrentIndex(max(index, 0))
        self._preset_chosen()

    def _preset_chosen(self) -> None:
        index = self.preset.currentIndex()
        if 0 <= index < len(self._preset_list):
            self.instruction.setPlainText(self._preset_list[index].instruction)

    def _edit_presets(self) -> None:
        current = self.preset.currentText()
        if PresetEditor(self.presets, self).exec():
            self._fill_presets(current)

    def _mode_changed(self) -> None:
        instruct = self.mode.currentData() == INSTRUCT
        self.instruct_widgets.setVisible(instruct)
        self.hint.setText(
            "Works on the selected text, or on the whole document if nothing is selected; "
            "the answer appears after it."
            if instruct
            else "The model continues the document from the cursor. Small base models "
            "continue text; they do not follow instructions."
        )

    def current_preset(self) -> Preset | None:
        index = self.preset.currentIndex()
        return self._preset_list[index] if 0 <= index < len(self._preset_list) else None

    def request_fields(self) -> dict[str, str]:
        self._settle_pending()
        text, _ = self._context()
        if self.mode.currentData() == INSTRUCT:
            preset = self.current_preset()
            return {
                "prompt": text,
                "instruction": self.instruction.toPlainText(),
                "mode": INSTRUCT,
                "template": preset.template if preset else "",
            }
        return {"prompt": text, "mode": CONTINUE}

    def set_request_fields(self, values: dict[str, Any]) -> None:
        mode = values.get("mode", CONTINUE)
        self.mode.setCurrentIndex(max(self.mode.findData(mode), 0))
        if isinstance(values.get("instruction"), str) and mode == INSTRUCT:
            self.instruction.setPlainText(values["instruction"])

    def extra_input_assets(self) -> list[RecipeInput]:
        if self.source_asset_id:
            return [RecipeInput(asset_id=self.source_asset_id, role="source")]
        return []

    def job_details(self) -> dict[str, Any]:
        preset = self.current_preset()
        if self.mode.currentData() == INSTRUCT and preset is not None:
            return {"preset": preset.name}
        return {}

    # output side: the document ----------------------------------------------------------------

    def build_output_area(self, layout: QVBoxLayout) -> None:
        self.source_asset_id: str | None = None
        self._pending: tuple[int, int] | None = None  # (start, end) of unaccepted text
        self._variations: list[str] = []
        self._variation = 0
        self._insert_at = 0
        self._fresh_stream = False
        self.document = QPlainTextEdit()
        self.document.setObjectName("document")
        self.document.setPlaceholderText(
            "Write here, or drop a .txt or .md file. Put the cursor where the model should "
            "continue and press Ctrl+Enter."
        )
        # The word count of a long document is a whole pass over it: recounted COUNT_DELAY_MS
        # after a change (so at most four times a second while text streams), not per change.
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self._count)
        self._rate = ""
        self.document.textChanged.connect(self._count_soon)
        self.setAcceptDrops(True)

        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Keep the generated text (Ctrl+Shift+Enter)")
        self.accept_button.clicked.connect(self.accept_pending)
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Remove the generated text (Ctrl+Backspace)")
        self.discard_button.clicked.connect(self.discard_pending)
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Discard and try again with a new seed")
        self.regenerate_button.clicked.connect(self.regenerate)
        self.previous_button = QToolButton()
        self.previous_button.setArrowType(Qt.ArrowType.LeftArrow)
        self.previous_button.setToolTip("Previous variation")
        self.previous_button.clicked.connect(lambda: self.show_variation(self._variation - 1))
        self.next_button = QToolButton()
        self.next_button.setArrowType(Qt.ArrowType.RightArrow)
        self.next_button.setToolTip("Next variation")
        self.next_button.clicked.connect(lambda: self.show_variation(self._variation + 1))
        self.variation_label = QLabel()
        tools = QHBoxLayout()
        for widget in (self.accept_button, self.discard_button, self.regenerate_button):
            tools.addWidget(widget)
        tools.addStretch(1)
        self.send_to_voice_button = QToolButton()
        self.send_to_voice_button.setText("Send to Voice")
        self.send_to_voice_button.setToolTip(
            "Speak the selection, or the whole document, in the Voice panel"
        )
        self.send_to_voice_button.clicked.connect(self._send_to_voice)
        tools.addWidget(self.send_to_voice_button)
        tools.addWidget(self.previous_button)
        tools.addWidget(self.variation_label)
        tools.addWidget(self.next_button)

        self.find_bar = QWidget()
        find_layout = QHBoxLayout(self.find_bar)
        find_layout.setContentsMargins(0, 0, 0, 0)
        self.find_text = QLineEdit()
        self.find_text.setPlaceholderText("Find")
        self.find_text.returnPressed.connect(lambda: self.find(backward=False))
        find_next = QToolButton()
        find_next.setText("Next")
        find_next.clicked.connect(lambda: self.find(backward=False))
        find_previous = QToolButton()
        find_previous.setText("Previous")
        find_previous.clicked.connect(lambda: self.find(backward=True))
        close_find = QToolButton()
        close_find.setText("✕")
        close_find.clicked.connect(self.find_bar.hide)
        for widget in (self.find_text, find_next, find_previous, close_find):
            find_layout.addWidget(widget)
        self.find_bar.hide()

        self.counts = QLabel()
        self.counts.setObjectName("counts")
        layout.addLayout(tools)
        layout.addWidget(self.document, 1)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.counts)

        for keys, slot in (
            ("Ctrl+Shift+Return", self.accept_pending),
            ("Ctrl+Backspace", self.discard_pending),
            (QKeySequence.StandardKey.Find, self.show_find),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self.runner.asset_saved.connect(self._on_asset_saved)
        self._update_tools()
        self._count()

    def _context(self) -> tuple[str, int]:
        """The text the model works on, and where its answer goes."""
        cursor = self.document.textCursor()
        full = self.document.toPlainText()
        if self.mode.currentData() == INSTRUCT:
            if cursor.hasSelection():
                return cursor.selectedText().replace("\u2029", "\n"), cursor.selectionEnd()
            return full, len(full)
        return full[: cursor.position()], cursor.position()

    def clear_output(self) -> None:
        self._settle_pending()
        _, self._insert_at = self._context()
        if self.mode.currentData() == INSTRUCT:
            self._insert_text("\n\n", pending=False)
        self._pending = (self._insert_at, self._insert_at)
        self._variations = []
        self._variation = 0
        self._fresh_stream = False
        self._rate = ""  # the last job's tokens/s stays until the next one reports
        self.document.setReadOnly(True)  # the model writes now; the user waits or cancels
        self._update_tools()

    def _insert_text(self, text: str, *, pending: bool) -> None:
        cursor = QTextCursor(self.document.document())
        cursor.setPosition(self._insert_at)
        text_format = QTextCharFormat()
        if pending:
            text_format.setBackground(PENDING_COLOUR)
        cursor.insertText(text, text_format)
        self._insert_at = cursor.position()

    def show_text(self, text: str) -> None:
        if self._pending is None:
            return
        if self._fresh_stream:  # a new variation starts: it streams where the last one shows
            self._fresh_stream = False
            self._replace_pending("")
        start, _ = self._pending
        self._insert_text(text, pending=True)
        self._pending = (start, self._insert_at)
        self.document.ensureCursorVisible()

    def _replace_pending(self, text: str) -> None:
        if self._pending is None:
            return
        start, end = self._pending
        cursor = QTextCursor(self.document.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._insert_at = start
        self._insert_text(text, pending=True)
        self._pending = (start, self._insert_at)

    @Slot(str, str)
    def _on_asset_saved(self, job_id: str, asset_id: str) -> None:
        self._variations.append(asset_id)
        self.show_variation(len(self._variations) - 1)
        self._fresh_stream = True

    def show_variation(self, index: int) -> None:
        if not self._variations:
            return
        self._variation = max(0, min(index, len(self._variations) - 1))
        asset_id = self._variations[self._variation]
        text = self.session.store.read_blob(asset_id).decode("utf-8", errors="replace")
        self._replace_pending(text)
        self._update_tools()

    @Slot(str, object)
    def _on_finished(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._job_ended(job_id)
        self.document.setReadOnly(False)
        if asset_ids and not self._variations:
            self._variations = list(asset_ids)
        self.show_variation(0)
        count = len(asset_ids)
        where = self.session.display_name
        self.progress.idle(
            f"Done: {count} variations saved to {where}"
            if count > 1
            else f"Done: saved to {where} (Accept keeps it in the document)"
        )
        self._update_tools()

    def _job_ended(self, job_id: str) -> None:
        super()._job_ended(job_id)
        if not self.runner.busy:
            self.document.setReadOnly(False)
            if self._pending is not None and self._pending[0] == self._pending[1]:
                self._pending = None
            self._update_tools()

    def _settle_pending(self) -> None:
        """Before a new run: unaccepted text from the last one is discarded."""
        if self._pending is not None and not self.runner.busy:
            self.discard_pending()

    @Slot()
    def accept_pending(self) -> None:
        if self._pending is None or self.runner.busy:
            return
        start, end = self._pending
        cursor = QTextCursor(self.document.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(QTextCharFormat())
        self._pending = None
        cursor.clearSelection()
        self.document.setTextCursor(cursor)
        self._variations = []
        self._update_tools()

    @Slot()
    def discard_pending(self) -> None:
        if self._pending is None or self.runner.busy:
            return
        self._replace_pending("")
        self._pending = None
        self._variations = []
        self._update_tools()

    @Slot()
    def regenerate(self) -> None:
        self.discard_pending()
        self.run()

    def _update_tools(self) -> None:
        pending = self._pending is not None and self._pending[0] != self._pending[1]
        busy = self.runner.busy
        self.accept_button.setEnabled(pending and not busy)
        self.discard_button.setEnabled(pending and not busy)
        self.regenerate_button.setEnabled(pending and not busy)
        several = len(self._variations) > 1
        for widget in (self.previous_button, self.variation_label, self.next_button):
            widget.setVisible(several)
        if several:
            self.variation_label.setText(
                f"Variation {self._variation + 1} of {len(self._variations)}"
            )
            self.previous_button.setEnabled(self._variation > 0)
            self.next_button.setEnabled(self._variation < len(self._variations) - 1)

    def _send_to_voice(self) -> None:
        cursor = self.document.textCursor()
        if cursor.hasSelection():
            self.send_to_voice.emit(cursor.selectedText().replace("\u2029", "\n"), None)
        else:
            self.send_to_voice.emit(self.document.toPlainText(), self.source_asset_id)

    @Slot()
    def _count_soon(self) -> None:
        if not self._count_timer.isActive():
            self._count_timer.start()

    @Slot()
    def _count(self) -> None:
        text = self.document.toPlainText()
        counts = f"{len(text.split())} words · {len(text)} characters"
        self.counts.setText(f"{counts} · {self._rate}" if self._rate else counts)

    @Slot(str, object, str, object)
    def _on_progress(self, job_id: str, fraction: Any, message: str, eta: Any) -> None:
        super()._on_progress(job_id, fraction, message, eta)
        if "tokens/s" in message:
            self._rate = message
            self._count()

    # find, open, drop ------------------------------------------------------------------------

    def show_find(self) -> None:
        self.find_bar.show()
        self.find_text.setFocus()
        self.find_text.selectAll()

    def find(self, backward: bool = False) -> bool:
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        text = self.find_text.text()
        if not text:
            return False
        if self.document.find(text, flags):
            return True
        cursor = self.document.textCursor()  # wrap around once
        cursor.movePosition(
            QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start
        )
        self.document.setTextCursor(cursor)
        return self.document.find(text, flags)

    def takes_text_assets(self) -> str:
        return "the document"

    def take_text_asset(self, asset: Asset, text: str) -> bool:
        """A text or caption dragged from the asset browser (recorded as the source)."""
        self.open_text(text, source_asset_id=asset.id)
        return True

    def open_text(self, text: str, source_asset_id: str | None = None) -> None:
        """Put text in the document (undoable), remembering the asset it came from."""
        self._pending = None
        cursor = QTextCursor(self.document.document())
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text, QTextCharFormat())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        self.document.setTextCursor(cursor)
        self.source_asset_id = source_asset_id
        self._variations = []
        self._update_tools()

    def open_file(self, path: Path) -> None:
        try:
            media = read_media_file(path)
            if media.kind is not AssetKind.TEXT:
                raise UserError(f"{path.name} is not a text file.")
        except UserError as exc:
            self.error_banner.show_message(str(exc))
            return
        self.open_text(media.data.decode("utf-8"))

    def show_asset(self, asset: Asset, data: bytes) -> None:
        if self.runner.busy:
            return
        if self._variations and asset.id in self._variations:
            self.show_variation(self._variations.index(asset.id))
            return
        self.open_text(data.decode("utf-8", errors="replace"), asset.id)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if len(urls) == 1 and Path(urls[0].toLocalFile()).suffix.lower() in TEXT_SUFFIXES:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.open_file(Path(event.mimeData().urls()[0].toLocalFile()))
        event.acceptProposedAction()
