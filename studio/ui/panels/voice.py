"""The Voice panel: text in, speech out."""

from __future__ import annotations

import io
from typing import Any

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout

from studio.core.project.assets import Asset
from studio.plugin_api import Panel
from studio.ui.panels.base import PanelWidget
from studio.ui.widgets import format_duration


class VoicePanel(PanelWidget):
    panel = Panel.VOICE

    def request_title(self) -> str:
        return "Text to speak"

    def output_title(self) -> str:
        return "Speech"

    def build_request_area(self, layout: QVBoxLayout) -> None:
        self.text = QPlainTextEdit()
        self.text.setObjectName("text")
        self.text.setPlaceholderText("Type or paste the text to speak… (Ctrl+Enter runs)")
        layout.addWidget(self.text)

    def build_output_area(self, layout: QVBoxLayout) -> None:
        self.info = QLabel("Speech you make appears here and in the project.")
        self.info.setObjectName("audio-info")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        layout.addStretch(1)

    def request_fields(self) -> dict[str, str]:
        return {"text": self.text.toPlainText()}

    def set_request_fields(self, values: dict[str, Any]) -> None:
        if isinstance(values.get("text"), str):
            self.text.setPlainText(values["text"])

    def show_asset(self, asset: Asset, data: bytes) -> None:
        import soundfile  # with numpy: 0.3 s, so not at start-up

        try:
            info = soundfile.info(io.BytesIO(data))
            facts = (
                f"{format_duration(info.duration)} · {info.samplerate} Hz · "
                f"{'mono' if info.channels == 1 else f'{info.channels} channels'}"
            )
        except (RuntimeError, soundfile.LibsndfileError):
            facts = f"{asset.media_type}, {asset.size} bytes"
        self.info.setText(f"{asset.title}\n{facts}")
