"""The main window: one tab per panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.registry import PluginRegistry
from studio.plugin_api import Panel

PANEL_TITLES: dict[Panel, str] = {
    Panel.WRITING: "Writing",
    Panel.IMAGE: "Image",
    Panel.VOICE: "Voice",
    Panel.CAPTIONING: "Captioning",
}


class PanelPage(QWidget):
    """A panel's page: the plugins that serve it, with the reason when one is disabled."""

    def __init__(self, panel: Panel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.setObjectName(f"panel-{panel.value}")
        layout = QVBoxLayout(self)
        self.heading = QLabel(f"{PANEL_TITLES[panel]} plugins")
        self.heading.setStyleSheet("font-weight: bold;")
        self.plugins = QListWidget()
        layout.addWidget(self.heading)
        layout.addWidget(self.plugins, 1)

    def show_plugins(self, registry: PluginRegistry) -> None:
        self.plugins.clear()
        records = [r for r in registry.records() if self.panel in r.panels]
        if not records:
            self.plugins.addItem("No plugin for this panel is installed.")
        for record in records:
            text = f"{record.name}  ({record.id} {record.version})"
            if not record.enabled:
                text += f"  — disabled: {record.reason}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip(record.manifest.description if record.manifest else record.reason)
            self.plugins.addItem(item)


class MainWindow(QMainWindow):
    def __init__(self, registry: PluginRegistry, project: Path | None = None) -> None:
        super().__init__()
        self.registry = registry
        self.setWindowTitle(f"{project.name} — Studio" if project else "Studio")
        self.resize(1100, 720)
        self.tabs = QTabWidget()
        self.pages = {panel: PanelPage(panel) for panel in Panel}
        for panel, page in self.pages.items():
            self.tabs.addTab(page, PANEL_TITLES[panel])
        self.setCentralWidget(self.tabs)
        self.statusBar().showMessage("Looking for plugins…")

    def refresh_plugins(self) -> None:
        self.registry.discover()
        for page in self.pages.values():
            page.show_plugins(self.registry)
        enabled = sum(r.enabled for r in self.registry.records())
        self.statusBar().showMessage(f"{enabled} plugins ready")
