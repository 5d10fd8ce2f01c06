"""The editor of Instruct presets (saved as JSON in the data directory)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.presets import Preset, PresetStore


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
