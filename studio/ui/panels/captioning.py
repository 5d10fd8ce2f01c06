"""The Captioning panel: an image (and optionally a question) in, a caption out."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QVBoxLayout

from studio.core.project.assets import Asset
from studio.plugin_api import AssetKind, Panel
from studio.ui.panels.base import PanelWidget
from studio.ui.panels.image import IMAGE_FILTER, ImageView
from studio.ui.widgets import FileInput


class CaptioningPanel(PanelWidget):
    panel = Panel.CAPTIONING

    def request_title(self) -> str:
        return "Image"

    def output_title(self) -> str:
        return "Caption"

    def build_request_area(self, layout: QVBoxLayout) -> None:
        self.image_input = FileInput("Image", IMAGE_FILTER)
        self.image_input.changed.connect(self._show_input)
        self.preview = ImageView()
        self.preview.setMinimumSize(160, 160)
        self.question = QLineEdit()
        self.question.setObjectName("question")
        self.question.setPlaceholderText("Ask about the image (empty: describe it)")
        layout.addWidget(self.image_input)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.question)

    def build_output_area(self, layout: QVBoxLayout) -> None:
        self.output = QPlainTextEdit()
        self.output.setObjectName("output")
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("The caption appears here.")
        layout.addWidget(self.output)

    def _show_input(self) -> None:
        if self.image_input.path is not None:
            self.preview.set_image(QImage(str(self.image_input.path)))
        elif self.image_input.asset_id is not None:
            data = self.session.store.read_blob(self.image_input.asset_id)
            self.preview.set_image(QImage.fromData(data))
        else:
            self.preview.set_image(QImage())

    def request_fields(self) -> dict[str, str]:
        return {"question": self.question.text()}

    def set_request_fields(self, values: dict[str, Any]) -> None:
        if isinstance(values.get("question"), str):
            self.question.setText(values["question"])

    def file_inputs(self) -> dict[str, FileInput]:
        return {"image": self.image_input}

    def clear_output(self) -> None:
        self.output.clear()

    def show_text(self, text: str) -> None:
        self.output.insertPlainText(text)

    def show_asset(self, asset: Asset, data: bytes) -> None:
        if asset.kind is AssetKind.IMAGE:
            self.image_input.set_asset(asset.id)
            return
        self.output.setPlainText(data.decode("utf-8", errors="replace"))
