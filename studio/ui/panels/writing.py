"""The Writing panel: the project's documents, where a local model continues or answers.

Two modes, as in text-generation-webui and LM Studio:
- **Continue**: the model continues the document from the cursor.
- **Instruct**: the model follows an instruction (from an editable preset) about the selection
  or the whole document; models without a chat template get the preset's plain template.

The writer's own words are project assets: the panel works on one document at a time, saved
into the project as it is typed, with a revision history (see
:mod:`studio.qt.writing_documents`). Generated text streams in at the cursor, highlighted until
it is accepted (Ctrl+Shift+Enter, a revision that records the generation) or discarded
(Ctrl+Backspace). Each generation is also a text asset with its recipe; running again while a
result waits adds variations to pick from, so no result is lost.
"""

from __future__ import annotations

import dataclasses
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
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.pipeline import Draft, PreparedJob
from studio.core.presets import Preset, PresetStore
from studio.core.project import ProjectError
from studio.core.project.assets import Asset
from studio.core.project.documents import DocumentView, OpenedDocument, RevisionOrigin
from studio.core.recipe import RecipeInput
from studio.plugin_api import AssetKind, Panel, TextRequest
from studio.qt.asset_drag import DraggedAssets
from studio.qt.text_positions import index_from_qt, qt_from_index
from studio.qt.writing_documents import Snapshot, WritingDocuments
from studio.ui.document_editor import DocumentBar, DocumentEditor
from studio.ui.panels.base import PanelWidget
from studio.ui.preset_editor import PresetEditor

CONTINUE, INSTRUCT = "continue", "instruct"
PENDING_COLOUR = QColor(255, 236, 160, 150)
COUNT_DELAY_MS = 250
"""How long after a change the word count is brought up to date (changes meanwhile wait
for the same recount)."""
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
_TEXT_KINDS = (AssetKind.TEXT, AssetKind.CAPTION, AssetKind.DOCUMENT)


class WritingPanel(PanelWidget):
    panel = Panel.WRITING
    send_to_voice = Signal(str, object)
    """The selection (or the whole document) to speak, and its asset id or None."""

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
        # About five lines: the options below keep their room.
        self.instruction.setFixedHeight(self.instruction.fontMetrics().lineSpacing() * 5 + 12)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.instruct_widgets = QWidget()
        instruct = QVBoxLayout(self.instruct_widgets)
        instruct.setContentsMargins(0, 0, 0, 0)
        instruct.addLayout(preset_row)
        instruct.addWidget(self.instruction)
        layout.addWidget(self.mode)
        layout.addWidget(self.instruct_widgets)
        layout.addWidget(self.hint)
        self.bind_text("instruction", self.instruction)
        self.model.fields_changed.connect(self._show_mode)
        self.model.extra_inputs = self.extra_input_assets
        self.model.details = self.job_details
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

    def _show_mode(self) -> None:
        mode = self.model.fields.get("mode")
        index = self.mode.findData(mode)
        if index >= 0 and index != self.mode.currentIndex():
            self.mode.setCurrentIndex(index)

    def _mode_changed(self) -> None:
        instruct = self.mode.currentData() == INSTRUCT
        self.model.set_field("mode", self.mode.currentData())
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

    def build_draft(self) -> Draft:
        # The document as the job sees it is a revision of its own (lineage points at it).
        self.documents.flush()
        # The prompt is the document around the cursor (a view's state), taken at Run; while
        # a result waits, Run makes another variation of the same request.
        text = self._pending_prompt if self._pending is not None else self._context()[0]
        preset = self.current_preset()
        self.model.set_fields({"prompt": text, "template": preset.template if preset else ""})
        draft = super().build_draft()
        if self.mode.currentData() == INSTRUCT:
            return draft
        # Continuing reads the document alone: no instruction, no template in its recipe.
        fields = {k: v for k, v in draft.fields.items() if k in ("prompt", "mode")}
        return dataclasses.replace(draft, fields=fields)

    def extra_input_assets(self) -> list[RecipeInput]:
        document_id = self.documents.document_id
        return [RecipeInput(asset_id=document_id, role="source")] if document_id else []

    def job_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.documents.document_id is not None:
            details["document_revision"] = self.documents.revision
        preset = self.current_preset()
        if self.mode.currentData() == INSTRUCT and preset is not None:
            details["preset"] = preset.name
        return details

    # output side: the document ----------------------------------------------------------------

    def build_output_area(self, layout: QVBoxLayout) -> None:
        self._pending: tuple[int, int] | None = None  # (start, end) of unaccepted text
        self._pending_prefix = ""  # what goes before each variation ("\n\n" for answers)
        self._pending_prompt = ""
        self._job_prompt = ""  # the prompt of the job being submitted (see submit)
        self._variations: list[str] = []
        self._variation = 0
        self._run_first = 0  # the first variation of the running job
        self._insert_at = 0
        self._fresh_stream = False
        self._save_state = ""
        self._counted = "0 words · 0 characters"
        self.document = DocumentEditor()
        self.document.setObjectName("document")
        self.document.setPlaceholderText(
            "Write here: everything is saved into the project as you type. Drop a .txt or "
            ".md file to open it as a document. Put the cursor where the model should "
            "continue and press Ctrl+Enter."
        )
        self.documents = WritingDocuments(
            self.session, self.document.document(), self._snapshot, self
        )
        self.document.document().contentsChanged.connect(self.documents.note_change)
        self.document.history_back.connect(self._history_back)
        self.document.history_forward.connect(self._history_forward)
        self.documents.document_opened.connect(self._document_opened)
        self.documents.save_state_changed.connect(self._save_state_changed)
        self.documents.position_shown.connect(self._show_position)
        self.documents.message.connect(self._show_status)
        self.document_bar = DocumentBar(
            self.documents,
            lambda: self._snapshot().text,
            self._may_switch_documents,
            self._show_status,
            recent_folders=self.services.recent_folders,
        )
        self.document_bar.attach_shortcuts_to(self)
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
        self.discard_button.setToolTip(
            "Remove the generated text from the document; it stays in the project (Ctrl+Backspace)"
        )
        self.discard_button.clicked.connect(self.discard_pending)
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip(
            "Try again with a new seed; the results so far stay as variations"
        )
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
        layout.addWidget(self.document_bar)
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
        self.documents.open_last()

    # the open document ---------------------------------------------------------------------

    def _snapshot(self) -> Snapshot:
        """The document as it is stored: the editor's text without unaccepted generated text,
        the cursor and the scroll position."""
        text = self.document.text()
        cursor = self.document.textCursor()
        position, anchor = cursor.position(), cursor.anchor()
        if self._pending is not None:
            start, end = self._pending
            text = text[: index_from_qt(text, start)] + text[index_from_qt(text, end) :]

            def outside(place: int) -> int:
                return place if place <= start else max(start, place - (end - start))

            position, anchor = outside(position), outside(anchor)
        return Snapshot(
            text,
            DocumentView(
                cursor=index_from_qt(text, position),
                anchor=index_from_qt(text, anchor),
                scroll=self.document.verticalScrollBar().value(),
            ),
        )

    @Slot(object)
    def _document_opened(self, opened: OpenedDocument | None) -> None:
        self._pending = None
        self._variations = []
        self._update_tools()
        self.document.setReadOnly(not self.documents.writable or self.runner.busy)
        if opened is None:
            return
        cursor = QTextCursor(self.document.document())
        cursor.setPosition(qt_from_index(opened.text, opened.view.anchor))
        cursor.setPosition(
            qt_from_index(opened.text, opened.view.cursor), QTextCursor.MoveMode.KeepAnchor
        )
        self.document.setTextCursor(cursor)
        bar = self.document.verticalScrollBar()
        bar.setValue(opened.view.scroll)
        if bar.value() != opened.view.scroll:  # laid out later: scroll once it is
            QTimer.singleShot(0, lambda: bar.setValue(opened.view.scroll))
        if not self.documents.writable:
            self.model.show_error(
                "This project is open read-only: save it as a new file (File > Save As) to "
                "write in it."
            )

    def _may_switch_documents(self) -> bool:
        """Before another document replaces the open one: not while the model writes into the
        editor; a result waiting for Accept goes (it stays in the project as a text asset)."""
        if self.runner.busy:
            self._show_status("Wait for the model to finish, or cancel it (Esc), first.")
            return False
        if self._pending is not None:
            self.discard_pending()
            self._show_status("The unaccepted result was removed; it stays in the project.")
        return True

    @Slot()
    def _history_back(self) -> None:
        if self._pending is None and not self.runner.busy:
            self._history_step(self.documents.step_back)

    @Slot()
    def _history_forward(self) -> None:
        if self._pending is None and not self.runner.busy:
            self._history_step(self.documents.step_forward)

    def _history_step(self, step) -> None:
        try:
            step()
        except (ProjectError, UserError, ValueError) as exc:
            self.model.show_error(f"The history cannot be read: {exc}")

    @Slot(int)
    def _show_position(self, index: int) -> None:
        cursor = QTextCursor(self.document.document())
        cursor.setPosition(qt_from_index(self.document.text(), index))
        self.document.setTextCursor(cursor)
        self.document.ensureCursorVisible()

    @Slot(str)
    def _save_state_changed(self, text: str) -> None:
        self._save_state = text
        if text.startswith("Not saved"):
            self.model.show_error(f"The document is {text[0].lower()}{text[1:]}")
        self._show_counts()

    @Slot(str)
    def _show_status(self, text: str) -> None:
        self.model.set_status(text)

    # running and results ---------------------------------------------------------------------

    def _context(self) -> tuple[str, int]:
        """The text the model works on, and where its answer goes (a Qt position)."""
        cursor = self.document.textCursor()
        full = self.document.text()
        if self.mode.currentData() == INSTRUCT:
            if cursor.hasSelection():
                return cursor.selectedText().replace("\u2029", "\n"), cursor.selectionEnd()
            return full, qt_from_index(full, len(full))
        return full[: index_from_qt(full, cursor.position())], cursor.position()

    def submit(self, prepared: PreparedJob) -> str:
        request = prepared.job.request
        self._job_prompt = request.prompt if isinstance(request, TextRequest) else ""
        return super().submit(prepared)

    def clear_output(self) -> None:
        if self._pending is not None:
            # A result waits: the new ones join it as variations, in the same place.
            self._replace_pending("")
            self._run_first = len(self._variations)
        else:
            _, self._insert_at = self._context()
            self._pending = (self._insert_at, self._insert_at)
            self._pending_prefix = "\n\n" if self.mode.currentData() == INSTRUCT else ""
            self._insert_text(self._pending_prefix, pending=True)
            self._pending = (self._pending[0], self._insert_at)
            self._variations = []
            self._run_first = 0
        self._pending_prompt = self._job_prompt
        self._fresh_stream = False
        self._rate = ""  # the last job's tokens/s stays until the next one reports
        self.document.setReadOnly(True)  # the model writes now; the user waits or cancels
        self.document_bar.update_actions(busy=True)
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
        self._insert_text(self._pending_prefix + text, pending=True)
        self._pending = (start, self._insert_at)

    @Slot(str, str)
    def _on_asset_saved(self, job_id: str, asset_id: str) -> None:
        if self._pending is None:
            return  # the document changed under the job: the result stays a text asset
        if asset_id not in self._variations:
            self._variations.append(asset_id)
        self.show_variation(len(self._variations) - 1)
        self._fresh_stream = True

    def show_variation(self, index: int) -> None:
        if not self._variations or self._pending is None:
            return
        self._variation = max(0, min(index, len(self._variations) - 1))
        asset_id = self._variations[self._variation]
        text = self.session.store.read_blob(asset_id).decode("utf-8", errors="replace")
        self._replace_pending(text)
        self._update_tools()

    @Slot(str, object)
    def _on_finished(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        if self._pending is not None:
            self._variations += [a for a in asset_ids if a not in self._variations]
        self._job_ended(job_id)
        count = len(asset_ids)
        where = self.session.display_name
        self.model.set_status(
            f"Done: {count} variations saved to {where}"
            if count > 1
            else f"Done: saved to {where} (Accept keeps it in the document)"
        )

    def _job_ended(self, job_id: str) -> None:
        if self.runner.busy:
            return
        self.document_bar.update_actions(busy=False)
        if self._variations:
            # The new results if there are any, else the one shown before this run.
            first_new = self._run_first if self._run_first < len(self._variations) else None
            self.show_variation(self._variation if first_new is None else first_new)
        elif self._pending is not None:
            self._replace_pending("")
            self._remove_pending()
        self.document.setReadOnly(self._pending is not None or not self.documents.writable)
        self._update_tools()

    def _remove_pending(self) -> None:
        """The pending span is empty now: forget it (and the prefix it held)."""
        if self._pending is not None:
            start, end = self._pending
            cursor = QTextCursor(self.document.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
        self._pending = None
        self._variations = []

    @Slot()
    def accept_pending(self) -> None:
        """Keep the generated text: a revision of the document that records the generation."""
        if self._pending is None or self.runner.busy:
            return
        start, end = self._pending
        asset_id = self._variations[self._variation] if self._variations else None
        full = self.document.text()
        at = [index_from_qt(full, start), index_from_qt(full, end)]

        def keep() -> None:
            cursor = QTextCursor(self.document.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            cursor.setCharFormat(QTextCharFormat())
            self._pending = None

        self.documents.edit(
            RevisionOrigin.GENERATION,
            keep,
            source_asset_id=asset_id,
            details={"at": at, "variations": len(self._variations)},
        )
        cursor = QTextCursor(self.document.document())
        cursor.setPosition(end)
        self.document.setTextCursor(cursor)
        self._variations = []
        self.document.setReadOnly(not self.documents.writable)
        self._update_tools()

    @Slot()
    def discard_pending(self) -> None:
        """Take the generated text out of the document (it stays in the project)."""
        if self._pending is None or self.runner.busy:
            return
        self._remove_pending()
        self.document.setReadOnly(not self.documents.writable)
        self._update_tools()

    @Slot()
    def regenerate(self) -> None:
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
        self._show_counts()

    def _send_to_voice(self) -> None:
        cursor = self.document.textCursor()
        if cursor.hasSelection():
            self.send_to_voice.emit(cursor.selectedText().replace("\u2029", "\n"), None)
            return
        self.documents.flush()
        self.send_to_voice.emit(self._snapshot().text, self.documents.document_id)

    @Slot()
    def _count_soon(self) -> None:
        if not self._count_timer.isActive():
            self._count_timer.start()

    @Slot()
    def _count(self) -> None:
        text = self.document.text()
        self._counted = f"{len(text.split())} words · {len(text)} characters"
        self._show_counts()

    def _show_counts(self) -> None:
        """The counts line: words and characters as last counted, the model's speed, and
        whether the document is saved."""
        parts = [self._counted]
        if self._rate:
            parts.append(self._rate)
        if self._pending is not None and not self.runner.busy:
            parts.append("Accept (Ctrl+Shift+Enter) or Discard (Ctrl+Backspace) to write on")
        elif self._save_state:
            parts.append(self._save_state)
        self.counts.setText(" · ".join(parts))

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

    def asset_drop_answer(self, dragged: DraggedAssets) -> tuple[bool, str]:
        accepted, message = super().asset_drop_answer(dragged)
        if accepted and dragged.kinds[0] == AssetKind.DOCUMENT.value:
            return True, "Drop to open the document"
        if accepted:
            return True, f"Drop to insert the {dragged.kinds[0]} at the cursor"
        return accepted, message

    def take_text_asset(self, asset: Asset, text: str) -> bool:
        """A document dragged from the asset browser opens; a text or caption goes in at the
        cursor (a revision that records which asset went in)."""
        if self.runner.busy:
            return False
        if asset.kind is AssetKind.DOCUMENT:
            if not self._may_switch_documents():
                return False
            return self._open(lambda: self.documents.open_document(asset.id))
        if self._pending is not None:
            self.discard_pending()
        if not self.documents.writable:
            self.model.show_error("This project is open read-only.")
            return False

        def insert() -> None:
            self.document.textCursor().insertText(text)

        self.documents.edit(RevisionOrigin.INSERT, insert, source_asset_id=asset.id)
        return True

    def _open(self, operation) -> bool:
        try:
            operation()
        except (UserError, ProjectError) as exc:
            self.model.show_error(str(exc))
            return False
        return True

    def open_text(self, text: str) -> None:
        """Replace the open document's text (one undoable edit, saved like typing)."""
        if self._pending is not None:
            self.discard_pending()
        cursor = QTextCursor(self.document.document())
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text, QTextCharFormat())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        self.document.setTextCursor(cursor)
        self._update_tools()

    def open_file(self, path: Path) -> bool:
        """A dropped text or Markdown file becomes a document of the project, and opens."""
        if not self._may_switch_documents():
            return False
        return self._open(lambda: self.documents.import_file(path))

    def show_asset(self, asset: Asset, data: bytes) -> None:
        if self.runner.busy:
            return
        if self._variations and asset.id in self._variations:
            self.show_variation(self._variations.index(asset.id))
            return
        if asset.kind in _TEXT_KINDS and self._may_switch_documents():
            self._open(lambda: self.documents.open_text_asset(asset))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if len(urls) == 1 and Path(urls[0].toLocalFile()).suffix.lower() in TEXT_SUFFIXES:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.open_file(Path(event.mimeData().urls()[0].toLocalFile()))
        event.acceptProposedAction()
