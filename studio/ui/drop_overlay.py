"""A visible answer while something is dragged over a drop target: a highlighted frame saying
what a drop will do ("Drop to use as the init image"), or a red one saying why it cannot be
taken ("Audio cannot be used in the Image panel")."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget


class DropOverlay(QWidget):
    """Covers its parent while a drag is over it; never takes mouse events."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("drop-overlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.accepting = True
        self.message = ""
        self.hide()
        parent.installEventFilter(self)

    def show_accept(self, message: str) -> None:
        self._show(True, message)

    def show_refuse(self, message: str) -> None:
        self._show(False, message)

    def _show(self, accepting: bool, message: str) -> None:
        self.accepting = accepting
        self.message = message
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()
        self.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return False

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = (
            self.palette().color(QPalette.ColorRole.Highlight)
            if self.accepting
            else QColor(200, 40, 40)
        )
        fill = QColor(colour)
        fill.setAlpha(40)
        rect = QRectF(self.rect()).adjusted(3, 3, -3, -3)
        painter.setBrush(fill)
        painter.setPen(QPen(colour, 3, Qt.PenStyle.DashLine))
        painter.drawRoundedRect(rect, 10, 10)
        if self.message:
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.2)
            font.setBold(True)
            painter.setFont(font)
            metrics = painter.fontMetrics()
            text_rect = metrics.boundingRect(
                rect.toRect().adjusted(20, 20, -20, -20),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message,
            ).adjusted(-14, -10, 14, 10)
            badge = QColor(colour)
            badge.setAlpha(230)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(badge)
            painter.drawRoundedRect(QRectF(text_rect), 8, 8)
            painter.setPen(QColor("white"))
            painter.drawText(
                text_rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message
            )
        painter.end()
