"""An image canvas with zoom and pan, and a mask brush painted over the image.

- Wheel: zoom around the pointer. Drag with the middle button (or the left button when not
  painting) to pan. Double-click, or :meth:`ImageCanvas.fit`, fits the image into view;
  a fitted view stays fitted when the widget is resized or a new image of another size comes.
- Mask: when :attr:`ImageCanvas.painting` is on, the left button paints the mask (red, half
  transparent over the image) with a round brush whose size is in image pixels; the eraser
  takes paint away. The mask always has the size of the image it was painted on, and
  :meth:`ImageCanvas.mask_png` gives it as a black-and-white PNG (white: repaint), the
  inpainting convention of diffusers, A1111 and ComfyUI.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

MASK_COLOUR = QColor(235, 40, 40)
MASK_OPACITY = 0.5
MIN_ZOOM, MAX_ZOOM = 0.02, 64.0
_WHEEL_STEP = 1.2


class ImageCanvas(QWidget):
    """Shows one image; zoom, pan and an optional mask layer painted with a brush.

    Signals:
        mask_changed(): a stroke was painted or erased, or the mask was cleared or replaced.
        view_changed(): the zoom or position changed.
    """

    mask_changed = Signal()
    view_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("image-canvas")
        self.setMinimumSize(240, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._image = QImage()
        self._pixmap = QPixmap()
        self._mask: QImage | None = None
        self._mask_pixmap: QPixmap | None = None
        self._painted = False
        self._zoom = 1.0
        self._offset = QPointF(0, 0)
        self._fitted = True
        self._drag: QPointF | None = None
        self._stroke_from: QPointF | None = None
        self._pointer: QPointF | None = None
        self.painting = False
        self.eraser = False
        self.brush_size = 32
        self.placeholder = ""

    # the image -----------------------------------------------------------------------------

    def image(self) -> QImage:
        return self._image

    def set_image(self, image: QImage, *, keep_view: bool = False) -> None:
        """Show ``image``; the view is fitted unless ``keep_view`` and the size is unchanged."""
        same_size = image.size() == self._image.size()
        self._image = image
        self._pixmap = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        if not (keep_view and same_size) or self._fitted:
            self.fit()
        self.update()

    def clear_image(self) -> None:
        self.set_image(QImage())

    # the view -------------------------------------------------------------------------------

    def zoom(self) -> float:
        return self._zoom

    def fit(self) -> None:
        """Scale the image to fill the widget (small images are enlarged) and centre it."""
        self._fitted = True
        if self._image.isNull():
            self._zoom, self._offset = 1.0, QPointF(0, 0)
        else:
            width, height = self._image.width(), self._image.height()
            self._zoom = max(MIN_ZOOM, min(MAX_ZOOM, self.width() / width, self.height() / height))
            self._offset = QPointF(
                (self.width() - width * self._zoom) / 2, (self.height() - height * self._zoom) / 2
            )
        self.update()
        self.view_changed.emit()

    def set_zoom(self, zoom: float, around: QPointF | None = None) -> None:
        """Zoom keeping the image point under ``around`` (default: the centre) in place."""
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        around = around if around is not None else QPointF(self.width() / 2, self.height() / 2)
        anchor = self.to_image(around)
        self._zoom = zoom
        self._offset = around - anchor * zoom
        self._fitted = False
        self.update()
        self.view_changed.emit()

    def pan(self, dx: float, dy: float) -> None:
        self._offset += QPointF(dx, dy)
        self._fitted = False
        self.update()
        self.view_changed.emit()

    def to_image(self, point: QPointF) -> QPointF:
        """Widget coordinates to image pixel coordinates."""
        return (point - self._offset) / self._zoom

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in widget coordinates."""
        return QRectF(
            self._offset.x(),
            self._offset.y(),
            self._image.width() * self._zoom,
            self._image.height() * self._zoom,
        )

    # the mask -------------------------------------------------------------------------------

    def has_mask(self) -> bool:
        """True when something is painted on the mask."""
        return self._mask is not None and self._painted

    def mask_size(self) -> QSize | None:
        return self._mask.size() if self._mask is not None else None

    def ensure_mask(self, size: QSize) -> bool:
        """Make sure the mask has ``size`` (the init image's); a mask of another size is
        dropped. Returns True when a painted mask had to be dropped."""
        if self._mask is not None and self._mask.size() == size:
            return False
        dropped = self.has_mask()
        self._mask = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        self._mask.fill(Qt.GlobalColor.transparent)
        self._painted = False
        self._mask_pixmap = None
        self.update()
        if dropped:
            self.mask_changed.emit()
        return dropped

    def clear_mask(self) -> None:
        if self._mask is not None:
            self._mask.fill(Qt.GlobalColor.transparent)
        self._painted = False
        self._mask_pixmap = None
        self.update()
        self.mask_changed.emit()

    def set_mask(self, mask: QImage) -> None:
        """Take a black-and-white mask (white: repaint), such as a recipe's mask input."""
        grey = mask.convertToFormat(QImage.Format.Format_Grayscale8)
        alpha = QImage(
            grey.constBits(), grey.width(), grey.height(), grey.bytesPerLine(),
            QImage.Format.Format_Alpha8,
        ).copy()  # fmt: skip
        layer = QImage(grey.size(), QImage.Format.Format_ARGB32_Premultiplied)
        layer.fill(MASK_COLOUR)
        painter = QPainter(layer)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        painter.drawImage(0, 0, alpha)
        painter.end()
        self._mask = layer
        self._painted = self._any_paint()
        self._mask_pixmap = None
        self.update()
        self.mask_changed.emit()

    def _any_paint(self) -> bool:
        if self._mask is None:
            return False
        alpha = self._mask.convertToFormat(QImage.Format.Format_Alpha8)
        return any(bytes(alpha.constBits()))

    def mask_image(self) -> QImage:
        """The mask as an 8-bit grey image: white where painted, black elsewhere."""
        if self._mask is None:
            return QImage()
        alpha = self._mask.convertToFormat(QImage.Format.Format_Alpha8)
        return QImage(
            alpha.constBits(), alpha.width(), alpha.height(), alpha.bytesPerLine(),
            QImage.Format.Format_Grayscale8,
        ).copy()  # fmt: skip

    def mask_png(self) -> bytes:
        """The mask as PNG bytes (see :meth:`mask_image`); empty when there is no mask."""
        image = self.mask_image()
        if image.isNull():
            return b""
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        return bytes(data.data())

    def stroke(self, start: QPointF, end: QPointF) -> None:
        """Paint (or erase) a brush stroke between two image points."""
        if self._mask is None:
            return
        painter = QPainter(self._mask)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(
            MASK_COLOUR,
            self.brush_size,
            Qt.PenStyle.SolidLine,
            Qt.PenCapStyle.RoundCap,
            Qt.PenJoinStyle.RoundJoin,
        )
        painter.setPen(pen)
        if self.eraser:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        else:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        if start == end:
            painter.setBrush(MASK_COLOUR)
            painter.setPen(Qt.PenStyle.NoPen)
            radius = self.brush_size / 2
            painter.drawEllipse(start, radius, radius)
        else:
            painter.drawLine(start, end)
        painter.end()
        self._painted = True if not self.eraser else self._any_paint()
        self._mask_pixmap = None
        self.update()
        self.mask_changed.emit()

    # painting -------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(115))
        if self._pixmap.isNull():
            if self.placeholder:
                painter.setPen(self.palette().color(self.foregroundRole()))
                painter.drawText(
                    self.rect().adjusted(16, 16, -16, -16),
                    Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                    self.placeholder,
                )
            return
        # Enlarged pixels stay sharp (a 64-pixel image is shown as it is); reduced ones smooth.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._zoom < 2)
        target = self.image_rect()
        painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        if self.painting and self._mask is not None:
            if self._mask_pixmap is None:
                self._mask_pixmap = QPixmap.fromImage(self._mask)
            painter.setOpacity(MASK_OPACITY)
            painter.drawPixmap(target, self._mask_pixmap, QRectF(self._mask_pixmap.rect()))
            painter.setOpacity(1.0)
        if self.painting and self._pointer is not None:
            radius = self.brush_size * self._zoom / 2
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(self._pointer, radius, radius)
            painter.setPen(QPen(QColor(0, 0, 0), 1.0, Qt.PenStyle.DashLine))
            painter.drawEllipse(self._pointer, radius, radius)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps and not self._image.isNull():
            self.set_zoom(self._zoom * _WHEEL_STEP**steps, event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if not self.painting:
            self.fit()

    def _paints(self, event: QMouseEvent) -> bool:
        return (
            self.painting
            and self._mask is not None
            and event.buttons() & Qt.MouseButton.LeftButton
            and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if self._paints(event):
            point = self.to_image(position)
            self._stroke_from = point
            self.stroke(point, point)
        elif event.buttons() & (Qt.MouseButton.MiddleButton | Qt.MouseButton.LeftButton):
            self._drag = position
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        self._pointer = position
        if self._stroke_from is not None and self._paints(event):
            point = self.to_image(position)
            self.stroke(self._stroke_from, point)
            self._stroke_from = point
        elif self._drag is not None:
            delta = position - self._drag
            self._drag = position
            self.pan(delta.x(), delta.y())
        elif self.painting:
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._stroke_from = None
        if self._drag is not None:
            self._drag = None
            self.unsetCursor()

    def leaveEvent(self, event) -> None:
        self._pointer = None
        self.update()
        super().leaveEvent(event)
