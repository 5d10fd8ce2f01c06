"""Small widgets every panel uses: the error banner, job progress with ETA, file inputs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QHideEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from studio.core.durations import format_duration
from studio.core.jobs import Waiting
from studio.qt.panel_model import PanelModel
from studio.ui.file_dialogs import choose_file


class ErrorBanner(QFrame):
    """A dismissable banner with a readable error message (the details are in the log)."""

    dismissed = Signal()

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
        close.clicked.connect(self.dismissed)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, message: str) -> None:
        self.label.setText(message)
        self.show()

    @property
    def message(self) -> str:
        return self.label.text() if self.isVisible() else ""


class ProgressStrip(QWidget):
    """A thin progress bar that paints only when its value changes.

    Qt's own ``QProgressBar`` animates a running bar in most styles (Fusion's moving stripes,
    60 frames a second): the largest part of the window's work during a job, and on a small
    machine that work is taken from the CPU the model is using. This one shows the fraction
    done; while busy without a fraction (a model loading), a block moves 8 times a second.
    """

    BUSY_STEP_MS = 125
    _BUSY_STEPS = 16

    def __init__(self, height: int = 10, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fraction: float | None = 0.0
        self._step = 0
        self._busy_timer = QTimer(self)
        self._busy_timer.setInterval(self.BUSY_STEP_MS)
        self._busy_timer.timeout.connect(self._advance)
        self.setFixedHeight(height)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Progress")

    def fraction(self) -> float | None:
        """The fraction shown (0 to 1), or None while busy without one."""
        return self._fraction

    def set_fraction(self, fraction: float | None) -> None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, fraction))
        if fraction == self._fraction:
            return
        self._fraction = fraction
        if fraction is None:
            self.setAccessibleDescription("Busy")
            if self.isVisible():
                self._busy_timer.start()
        else:
            self._busy_timer.stop()
            self.setAccessibleDescription(f"{fraction * 100:.0f}%")
        self.update()

    def _advance(self) -> None:
        self._step = (self._step + 1) % self._BUSY_STEPS
        self.update()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._fraction is None:
            self._busy_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._busy_timer.stop()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        outline = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        radius = min(3.0, outline.height() / 2)
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(outline, radius, radius)
        inner = outline.adjusted(1.5, 1.5, -1.5, -1.5)
        if self._fraction is None:
            width = inner.width() / 4
            # there and back again: steps 0..7 go right, 8..15 come back
            half = self._BUSY_STEPS // 2
            position = self._step if self._step < half else self._BUSY_STEPS - self._step
            chunk = QRectF(inner.left() + (inner.width() - width) * position / half, inner.top(),
                           width, inner.height())  # fmt: skip
        elif self._fraction > 0:
            chunk = QRectF(
                inner.left(), inner.top(), inner.width() * self._fraction, inner.height()
            )
        else:
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
        painter.drawRoundedRect(chunk, radius - 1, radius - 1)


class JobProgress(QWidget):
    """A progress bar with the job's message and the time left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = ProgressStrip()
        self.label = QLabel("Ready")
        self.label.setMinimumWidth(220)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.label)
        self.idle("Ready")

    def idle(self, text: str) -> None:
        self.bar.set_fraction(0.0)
        self.label.setText(text)

    def waiting(self, position: int) -> None:
        self.bar.set_fraction(None)
        self.label.setText(Waiting(position).words)

    def update_progress(self, fraction: float | None, message: str, eta: float | None) -> None:
        self.bar.set_fraction(fraction)
        parts = [message or "Working…"]
        if fraction is not None:
            parts.append(f"{fraction * 100:.0f}%")
        if eta is not None:
            parts.append(f"{format_duration(eta)} left")
        self.label.setText(" · ".join(parts))


class FileInput(QWidget):
    """An input of a panel's request (an init image, an image to caption): browse, drop, or
    clear. Bound to its panel's model, which holds the file or the project asset sent here."""

    changed = Signal()

    def __init__(
        self,
        title: str,
        file_filter: str,
        model: PanelModel,
        role: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.file_filter = file_filter
        self.model = model
        self.role = role
        self.setAcceptDrops(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        self.clear_button = QToolButton()
        self.clear_button.setText("✕")
        self.clear_button.setToolTip("Remove")
        self.clear_button.clicked.connect(self.clear)
        layout.addWidget(self.label, 1)
        layout.addWidget(browse)
        layout.addWidget(self.clear_button)
        model.input_changed.connect(self._model_changed)
        self._show()

    @property
    def path(self) -> Path | None:
        return self.model.input(self.role).path

    @property
    def asset_id(self) -> str | None:
        return self.model.input(self.role).asset_id

    def set_title(self, title: str) -> None:
        self.title = title
        self._show()

    def _show(self) -> None:
        if self.path is not None:
            self.label.setText(f"{self.title}: {self.path.name}")
        elif self.asset_id is not None:
            self.label.setText(f"{self.title}: {self.model.input_name(self.role)}")
        else:
            self.label.setText(f"{self.title}: none (drop a file here)")
        self.clear_button.setEnabled(self.path is not None or self.asset_id is not None)

    def _model_changed(self, role: str) -> None:
        if role == self.role:
            self._show()
            self.changed.emit()

    def _browse(self) -> None:
        path = choose_file(
            self, self.model.services.recent_folders, f"input-{self.role}",
            f"Choose {self.title.lower()}", self.file_filter,
        )  # fmt: skip
        if path is not None:
            self.set_path(path)

    def set_path(self, path: Path) -> None:
        self.model.set_input(self.role, path=path)

    def set_asset(self, asset_id: str) -> None:
        self.model.set_input(self.role, asset_id=asset_id)

    def clear(self) -> None:
        self.model.set_input(self.role)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and len(event.mimeData().urls()) == 1:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        url = event.mimeData().urls()[0]
        if url.isLocalFile():
            self.set_path(Path(url.toLocalFile()))
            event.acceptProposedAction()
