"""The Image panel: a prompt (and optionally an init image) in, an image with previews out."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from studio.core.project.assets import Asset
from studio.plugin_api import Panel
from studio.ui.panels.base import PanelWidget
from studio.ui.widgets import FileInput

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"


class ImageView(QLabel):
    """Shows an image scaled to fit, keeping its aspect ratio."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("image-view")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(200, 200)
        self._image = QImage()

    def set_image(self, image: QImage) -> None:
        self._image = image
        self._rescale()

    def image(self) -> QImage:
        return self._image

    def _rescale(self) -> None:
        if self._image.isNull():
            self.clear()
            return
        pixmap = QPixmap.fromImage(self._image)
        self.setPixmap(
            pixmap.scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()


class ImagePanel(PanelWidget):
    panel = Panel.IMAGE

    def request_title(self) -> str:
        return "Prompt"

    def output_title(self) -> str:
        return "Image"

    def build_request_area(self, layout: QVBoxLayout) -> None:
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("prompt")
        self.prompt.setPlaceholderText("What to draw… (Ctrl+Enter runs)")
        self.negative = QLineEdit()
        self.negative.setObjectName("negative-prompt")
        self.negative.setPlaceholderText("What to avoid (negative prompt)")
        self.init_input = FileInput("Init image", IMAGE_FILTER)
        layout.addWidget(self.prompt, 1)
        layout.addWidget(self.negative)
        layout.addWidget(self.init_input)

    def build_output_area(self, layout: QVBoxLayout) -> None:
        self.view = ImageView()
        self.caption = QLabel()
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)

    def request_fields(self) -> dict[str, str]:
        return {"prompt": self.prompt.toPlainText(), "negative_prompt": self.negative.text()}

    def set_request_fields(self, values: dict[str, Any]) -> None:
        if isinstance(values.get("prompt"), str):
            self.prompt.setPlainText(values["prompt"])
        if isinstance(values.get("negative_prompt"), str):
            self.negative.setText(values["negative_prompt"])

    def file_inputs(self) -> dict[str, FileInput]:
        return {"init": self.init_input}

    def clear_output(self) -> None:
        self.caption.setText("")

    def show_preview(self, data: bytes, media_type: str) -> None:
        image = QImage.fromData(data)
        if not image.isNull():
            self.view.set_image(image)
            self.caption.setText("Preview")

    def show_asset(self, asset: Asset, data: bytes) -> None:
        image = QImage.fromData(data)
        self.view.set_image(image)
        seed = asset.recipe.seed
        self.caption.setText(
            f"{asset.title} · {image.width()}×{image.height()}"
            + (f" · seed {seed}" if seed is not None else "")
        )
