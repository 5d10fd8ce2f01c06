"""Help dialogs: About (plugins, models and their licences), keyboard shortcuts, plugin list."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from studio import __version__
from studio.core.registry import PluginRegistry

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+Enter", "Run the current panel"),
    ("Esc", "Cancel the current panel's jobs"),
    ("Ctrl+1 … Ctrl+4", "Writing, Image, Voice, Captioning"),
    ("Ctrl+N", "New project"),
    ("Ctrl+O", "Open a project"),
    ("Ctrl+Shift+S", "Save the project as…"),
    ("Ctrl+I", "Import media"),
    ("Ctrl+E", "Export the project's assets"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo (rename, delete)"),
    (
        "Ctrl+Z / Ctrl+Shift+Z in a document",
        "Undo / redo typing; with nothing left, step through the saved revisions",
    ),
    ("Ctrl+Shift+N", "New document (Writing)"),
    ("Ctrl+Shift+H", "A document's revision history (Writing)"),
    ("Ctrl+Shift+Enter / Ctrl+Backspace", "Accept / discard the generated text (Writing)"),
    ("Ctrl+,", "Preferences"),
    ("Ctrl+B", "Show or hide the asset browser"),
    ("Ctrl+J", "Jobs of every panel"),
    ("Ctrl+Shift+M", "Models: every model here, what is loaded, devices"),
    ("Ctrl+R", "Re-run (in a recipe)"),
    ("F2 / Del / Enter", "Rename, delete, open the selected asset"),
    ("Ctrl+Q", "Quit"),
)


def _text_dialog(title: str, body: str, parent: QWidget | None) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.resize(640, 480)
    browser = QTextBrowser()
    browser.setOpenExternalLinks(False)
    browser.setHtml(body)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    return dialog


def plugins_html(registry: PluginRegistry) -> str:
    rows = []
    for record in registry.records():
        manifest = record.manifest
        state = "enabled" if record.enabled else f"disabled: {html.escape(record.reason)}"
        panels = ", ".join(p.value for p in record.panels)
        licence = html.escape(manifest.licence) if manifest else ""
        models = ""
        if manifest and manifest.models:
            models = "<br>".join(
                f"model {html.escape(m.name)}"
                + (f" — {html.escape(m.licence)}" if m.licence else "")
                + (" (embedded)" if m.embedded else "")
                for m in manifest.models
            )
        rows.append(
            f"<tr><td><b>{html.escape(record.name)}</b><br><small>{html.escape(record.id)} "
            f"{html.escape(record.version)} · {record.source.value}</small></td>"
            f"<td>{panels}</td><td>{licence}<br><small>{models}</small></td><td>{state}</td></tr>"
        )
    if not rows:
        return "<p>No plugins are installed.</p>"
    return (
        "<table cellpadding=4><tr><th align=left>Plugin</th><th align=left>Panels</th>"
        "<th align=left>Licence (plugin, models)</th><th align=left>State</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def about_dialog(registry: PluginRegistry, parent: QWidget | None = None) -> QDialog:
    body = (
        f"<h2>Studio {__version__}</h2>"
        "<p>A local, offline-first studio for writing, images, voice and captioning. Everything "
        "runs on this machine; every result is kept in the project with the recipe that made it."
        "</p><h3>Plugins, models and licences</h3>" + plugins_html(registry)
    )
    return _text_dialog("About Studio", body, parent)


def shortcuts_dialog(parent: QWidget | None = None) -> QDialog:
    rows = "".join(
        f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(what)}</td></tr>"
        for keys, what in SHORTCUTS
    )
    return _text_dialog("Keyboard shortcuts", f"<table cellpadding=4>{rows}</table>", parent)
