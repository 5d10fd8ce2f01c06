"""Small widgets every panel uses: the error banner, job progress with ETA, file inputs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

from studio.core.durations import format_duration


class ErrorBanner(QFrame):
    """A dismissable banner with a readable error message (the details are in the log)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("error-banner")
        self.setStyleSheet(
            "#error-banner { background: #fdecea; border: 1px solid #e0a0a0; border-radius: 4px; }"
            "#error-banner QLabel { color: #7a1c1c; }"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, message: str) -> None:
        self.label.setText(message)
        self.show()

    @property
    def message(self) -> str:
        return self.label.text() if self.isVisible() else ""


class JobProgress(QWidget):
    """A progress bar with the job's message and the time left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(14)
        self.label = QLabel("Ready")
        self.label.setMinimumWidth(220)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.label)
        self.idle("Ready")

    def _set_bar(self, value: int | None) -> None:
        """Show ``value`` (of 1000), or the busy indicator for None. QProgressBar repaints
        synchronously on a new value (a couple of milliseconds of the GUI thread, taken from the
        CPU a model may be using); with updates off meanwhile, the repaint joins the next
        paint of the window instead."""
        self.bar.setUpdatesEnabled(False)
        try:
            if value is None:
                self.bar.setRange(0, 0)
            else:
                self.bar.setRange(0, 1000)
                self.bar.setValue(value)
        finally:
            self.bar.setUpdatesEnabled(True)  # schedules one ordinary update

    def idle(self, text: str) -> None:
        self._set_bar(0)
        self.label.setText(text)

    def waiting(self, position: int) -> None:
        self._set_bar(None)
        self.label.setText(f"Waiting for the device (next in line: {position})")

    def update_progress(self, fraction: float | None, message: str, eta: float | None) -> None:
        self._set_bar(None if fraction is None else round(fraction * 1000))
        parts = [message or "Working…"]
        if fraction is not None:
            parts.append(f"{fraction * 100:.0f}%")
        if eta is not None:
            parts.append(f"{format_duration(eta)} left")
        self.label.setText(" · ".join(parts))


class FileInput(QWidget):
    """An input file (an init image, an image to caption): browse, drop, or clear.

    Holds a path, or a project asset id when an asset was sent here.
    """

    changed = Signal()

    def __init__(self, title: str, file_filter: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.file_filter = file_filter
        self.path: Path | None = None
        self.asset_id: str | None = None
        self.setAcceptDrops(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        self.clear_button = QToolButton()
        self.clear_button.setText("✕")
        self.clear_button.setToolTip("Remove")
        self.clear_button.clicked.connect(self.clear)
        layout.addWidget(self.label, 1)
        layout.addWidget(browse)
        layout.addWidget(self.clear_button)
        self._show()

    def _show(self) -> None:
        if self.path is not None:
            self.label.setText(f"{self.title}: {self.path.name}")
        elif self.asset_id is not None:
            self.label.setText(f"{self.title}: project asset {self.asset_id[-6:]}")
        else:
            self.label.setText(f"{self.title}: none (drop a file here)")
        self.clear_button.setEnabled(self.path is not None or self.asset_id is not None)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, f"Choose {self.title.lower()}", "", self.file_filter
        )
        if path:
            self.set_path(Path(path))

    def set_path(self, path: Path) -> None:
        self.path, self.asset_id = path, None
        self._show()
        self.changed.emit()

    def set_asset(self, asset_id: str) -> None:
        self.path, self.asset_id = None, asset_id
        self._show()
        self.changed.emit()

    def clear(self) -> None:
        self.path = self.asset_id = None
        self._show()
        self.changed.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and len(event.mimeData().urls()) == 1:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        url = event.mimeData().urls()[0]
        if url.isLocalFile():
            self.set_path(Path(url.toLocalFile()))
            event.acceptProposedAction()
