"""Light, dark or the system's look."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from studio.core.settings import Theme

_system_style: str | None = None


def _dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2b2e",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f1f22",
        QPalette.ColorRole.AlternateBase: "#2f2f33",
        QPalette.ColorRole.ToolTipBase: "#3a3a3e",
        QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#38383c",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#3d7bd9",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#7aa7ff",
        QPalette.ColorRole.PlaceholderText: "#8a8a8e",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7e"))
    return palette


def apply_theme(theme: Theme) -> None:
    """Switch the whole application's look now."""
    global _system_style
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    if _system_style is None:
        _system_style = app.style().name()
    if theme is Theme.SYSTEM:
        app.setStyle(_system_style)
        app.setPalette(app.style().standardPalette())
    elif theme is Theme.DARK:
        app.setStyle("Fusion")
        app.setPalette(_dark_palette())
    else:
        app.setStyle("Fusion")
        app.setPalette(app.style().standardPalette())
    # A style sheet's palette(...) colours are taken when it is applied: apply each again, or
    # the boxes it paints keep the colours of the theme before (a white strip in the dark).
    for window in app.topLevelWidgets():
        if not window.isVisible():
            continue  # one shown later takes the palette when it is polished
        for widget in (window, *window.findChildren(QWidget)):
            sheet = widget.styleSheet()
            if sheet and "palette(" in sheet:
                widget.setStyleSheet("")
                widget.setStyleSheet(sheet)
