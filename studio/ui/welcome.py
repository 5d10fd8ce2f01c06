"""The welcome shown on the first launch (and from Help > Welcome): what works out of the box
with the embedded models, where projects live, and that nothing leaves the machine."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

WELCOME_SHOWN_KEY = "welcome/shown"

PANELS = (
    (
        "Writing",
        "Gemma 3 270M, a small base model, continues your text through llama.cpp, ready a "
        "moment after the window opens. Any .gguf model file works the same way.",
    ),
    (
        "Image",
        "Style transfer (26 styles, or the style of a picture you give) and upscaling work on "
        "any picture you drop in. For text-to-image, import a Stable Diffusion model folder or "
        "file (no such model can come with Studio).",
    ),
    ("Voice", "An English voice (hibari) reads your text aloud; Coqui voices load from folders."),
    (
        "Captioning",
        "Reads the text in a picture (OCR) and tags what it shows; BLIP-style captioners load "
        "from folders. Whole folders can be captioned at once.",
    ),
)


def welcome_html(projects_dir: Path, data_dir: Path) -> str:
    items = "".join(
        f"<li><b>{html.escape(name)}</b>: {html.escape(text)}</li>" for name, text in PANELS
    )
    return (
        "<h2>Welcome to Studio</h2>"
        "<p>Write, draw, speak and caption with models that run on this computer. Nothing is "
        "sent anywhere, and no account is needed.</p>"
        f"<p>What works right away, with the models that came with Studio:</p><ul>{items}</ul>"
        "<p>Everything you make is saved at once in the open project, with the recipe that "
        "made it, so you can make it again. Until you save a project (File &gt; Save As…) "
        f"your work lives in an untitled project in <code>{html.escape(str(data_dir))}</code>; "
        f"new projects are saved in <code>{html.escape(str(projects_dir))}</code> "
        "(Preferences).</p>"
        "<p>Press <b>Ctrl+Enter</b> to run a panel and <b>Esc</b> to cancel; drop files onto a "
        "panel to use them. Help &gt; Keyboard Shortcuts lists the rest.</p>"
    )


def welcome_dialog(projects_dir: Path, data_dir: Path, parent: QWidget | None = None) -> QDialog:
    dialog = QDialog(parent)
    dialog.setObjectName("welcome")
    dialog.setWindowTitle("Welcome to Studio")
    label = QLabel(welcome_html(projects_dir, data_dir))
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setMinimumWidth(520)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
    start = buttons.button(QDialogButtonBox.StandardButton.Ok)
    start.setText("Start")
    start.setIcon(QIcon())
    buttons.accepted.connect(dialog.accept)
    layout = QVBoxLayout(dialog)
    layout.addWidget(label)
    layout.addWidget(buttons)
    return dialog
