"""A waveform view with a play head: click or drag to seek.

The samples are reduced once to a min/max envelope of at most :data:`ENVELOPE_COLUMNS` columns
(numpy), so painting costs the same for a second of audio as for an hour.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

ENVELOPE_COLUMNS = 4000


def envelope(samples: Any, columns: int = ENVELOPE_COLUMNS) -> tuple[Any, Any]:
    """Per-column minimum and maximum of mono ``samples`` (multi-channel: averaged)."""
    import numpy as np

    data = np.asarray(samples)
    if data.ndim == 2:
        data = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
    # 16-bit samples stay integers until the (small) envelope is scaled: twice as fast.
    scale = 1 / 32768 if data.dtype == np.int16 else 1.0
    if data.size == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    columns = max(1, min(columns, data.size))
    blocks = data[: data.size - data.size % columns].reshape(columns, -1)
    low = blocks.min(axis=1).astype(np.float32) * scale
    high = blocks.max(axis=1).astype(np.float32) * scale
    return low, high


class WaveformView(QWidget):
    """Shows a take's waveform and play head; ``seek_requested(seconds)`` on click or drag."""

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("waveform")
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._low: Any = None
        self._high: Any = None
        self.duration = 0.0
        self.position = 0.0
        self.placeholder = "No take yet: type some text and press Speak."
        self.preview = False
        self._picture: QPixmap | None = None

    @property
    def has_audio(self) -> bool:
        return self._low is not None and len(self._low) > 0

    def set_samples(self, samples: Any, sample_rate: int, *, preview: bool = False) -> None:
        import numpy as np

        data = np.asarray(samples)
        frames = data.shape[0] if data.ndim else 0
        self._low, self._high = envelope(data)
        self.duration = frames / sample_rate if sample_rate else 0.0
        self.position = min(self.position, self.duration) if preview else 0.0
        self.preview = preview
        self._picture = None
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        self._low = self._high = None
        self._picture = None
        self.duration = self.position = 0.0
        if placeholder is not None:
            self.placeholder = placeholder
        self.update()

    def set_position(self, seconds: float) -> None:
        self.position = max(0.0, min(seconds, self.duration))
        self.update()

    def _seconds_at(self, x: float) -> float:
        width = max(1, self.width())
        return max(0.0, min(1.0, x / width)) * self.duration

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.has_audio and event.button() == Qt.MouseButton.LeftButton:
            self.seek_requested.emit(self._seconds_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.has_audio and event.buttons() & Qt.MouseButton.LeftButton:
            self.seek_requested.emit(self._seconds_at(event.position().x()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._picture = None

    def _render(self) -> QPixmap:
        """The waveform itself, drawn once per take and size (the play head moves over it).

        Built as an image with numpy (a column of pixels per x between the extremes under it):
        a few milliseconds where drawing a line per pixel costs tens.
        """
        import numpy as np

        ratio = self.devicePixelRatioF()
        width = max(1, round(self.width() * ratio))
        height = max(1, round(self.height() * ratio))
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Base)
        colour = QColor(palette.color(QPalette.ColorRole.Highlight))
        if self.preview:  # lighter while the take is still being made
            colour = QColor(
                (colour.red() + background.red()) // 2,
                (colour.green() + background.green()) // 2,
                (colour.blue() + background.blue()) // 2,
            )
        axis = palette.color(QPalette.ColorRole.Mid)
        columns = len(self._low)
        # The columns under each pixel: their extremes, so short peaks stay visible.
        starts = np.minimum(np.arange(width) * columns // width, columns - 1)
        lows = np.minimum.reduceat(self._low, starts)
        highs = np.maximum.reduceat(self._high, starts)
        mid = (height - 1) / 2
        scale = mid * 0.95
        top = np.floor(mid - highs * scale).astype(np.int32)
        bottom = np.ceil(mid - lows * scale).astype(np.int32)
        rows = np.arange(height, dtype=np.int32)[:, None]
        inside = (rows >= top[None, :]) & (rows <= bottom[None, :])
        pixels = np.empty((height, width), dtype=np.uint32)
        pixels[:] = background.rgba()
        pixels[round(mid)] = axis.rgba()
        pixels[inside] = colour.rgba()
        image = QImage(pixels.data, width, height, width * 4, QImage.Format.Format_ARGB32)
        pixmap = QPixmap.fromImage(image.copy())  # copy: the numpy buffer goes away
        pixmap.setDevicePixelRatio(ratio)
        return pixmap

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        rect = QRectF(self.rect())
        if not self.has_audio:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        if self._picture is None:
            self._picture = self._render()
        painter.drawPixmap(0, 0, self._picture)
        if self.duration > 0:
            head = self.position / self.duration * rect.width()
            painter.setPen(QPen(QColor(220, 60, 40), 2))
            painter.drawLine(QPointF(head, 0), QPointF(head, rect.height()))
