"""The Writing panel: a prompt in, text streamed out."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout

from studio.core.project.assets import Asset
from studio.plugin_api import Panel
from studio.ui.panels.base import PanelWidget


class WritingPanel(PanelWidget):
    panel = Panel.WRITING

    def request_title(self) -> str:
        return "Prompt"

    def output_title(self) -> str:
        return "Text"

    def build_request_area(self, layout: QVBoxLayout) -> None:
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("prompt")
        self.prompt.setPlaceholderText("Write the beginning, or an instruction… (Ctrl+Enter runs)")
        layout.addWidget(self.prompt)

    def build_output_area(self, layout: QVBoxLayout) -> None:
        self.output = QPlainTextEdit()
        self.output.setObjectName("output")
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("Generated text appears here as it is written.")
        self.counts = QLabel()
        layout.addWidget(self.output, 1)
        layout.addWidget(self.counts)

    def request_fields(self) -> dict[str, str]:
        return {"prompt": self.prompt.toPlainText()}

    def set_request_fields(self, values: dict[str, Any]) -> None:
        if isinstance(values.get("prompt"), str):
            self.prompt.setPlainText(values["prompt"])

    def clear_output(self) -> None:
        self.output.clear()
        self.counts.clear()

    def show_text(self, text: str) -> None:
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.output.setTextCursor(cursor)
        self._count()

    def show_asset(self, asset: Asset, data: bytes) -> None:
        self.output.setPlainText(data.decode("utf-8", errors="replace"))
        self._count()

    def _count(self) -> None:
        text = self.output.toPlainText()
        self.counts.setText(f"{len(text.split())} words · {len(text)} characters")
