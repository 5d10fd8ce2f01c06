"""Switching the theme repaints what style sheets paint with palette colours."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame

from studio.core.settings import Theme
from studio.ui.theme import apply_theme


def test_a_style_sheet_box_takes_the_dark_theme_colours(qtbot):
    apply_theme(Theme.LIGHT)
    box = QFrame()
    box.setObjectName("note")
    box.setStyleSheet("#note { background: palette(base); }")
    box.resize(40, 40)
    qtbot.addWidget(box)
    box.show()
    try:
        light = QColor(box.grab().toImage().pixel(20, 20))
        apply_theme(Theme.DARK)
        dark = QColor(box.grab().toImage().pixel(20, 20))
        assert light.lightness() > 200
        assert dark.lightness() < 60
    finally:
        apply_theme(Theme.LIGHT)
