"""Render resources/icons/studio.svg into the PNG sizes the desktop icon theme uses.

QT_QPA_PLATFORM=offscreen python tools/render_icons.py   (from the repository root)
"""

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 24, 32, 48, 64, 128, 256)


def main() -> None:
    app = QGuiApplication(sys.argv)  # noqa: F841 - Qt's painting needs it
    renderer = QSvgRenderer("resources/icons/studio.svg")
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(f"resources/icons/studio-{size}.png")


if __name__ == "__main__":
    main()
