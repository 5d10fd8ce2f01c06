"""Plugins > Manage Plugins…: every plugin with its state and what it declared, and the same
steps as ``studio plugins install|uninstall|enable|disable``.

Installing is two steps, as on the command line: :meth:`PluginsDialog.review_source` reads what
the user has (a folder, a .zip, a wheel, or a package name on the package index) and shows the
review (manifest, what it declares it needs, the Python requirements and what installing does
about each); Install puts it in place. Every step of the installer runs off the GUI thread
(:class:`studio.qt.plugin_installs.PluginInstalls`). After a change the registry has read the
manifests again and :attr:`PluginsDialog.plugins_changed` is emitted: the main window refreshes
its panels' pickers, so a new plugin is there without a restart.

The dialog stays alive with the window (closing only hides it): an install goes on when it is
closed; a review that arrives after the close, or one left unanswered, is discarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.plugin_install import InstalledPlugin, InstallReview, PluginInstaller
from studio.core.recent_folders import RecentFolders
from studio.core.registry import PluginRecord, PluginRegistry, PluginSource
from studio.qt.plugin_installs import UNKNOWN, PluginInstalls, Step
from studio.ui.file_dialogs import choose_file, choose_folder
from studio.ui.plugin_review import (
    FactsGrid,
    ReviewView,
    Tone,
    author_of,
    listed,
    needs_facts,
    panels_text,
    refusal,
)
from studio.ui.widgets import ErrorBanner

SOURCE_PURPOSE = "plugin-source"
"""The recent-folders purpose of the Folder… and Zip or Wheel… pickers."""
ARCHIVE_FILTER = "Plugin archives (*.zip *.whl);;All files (*)"

COLUMNS = ("Plugin", "Version", "Panels", "Source", "State")
NAME, VERSION, PANELS, SOURCE, STATE = range(len(COLUMNS))

SWITCHED_OFF = "Switched off"
_SOURCE_LABELS = {
    PluginSource.BUILTIN: "Built-in",
    PluginSource.PACKAGE: "Package",
    PluginSource.FOLDER: "Folder",
}


@dataclass(frozen=True)
class PluginRow:
    """One plugin as the list shows it."""

    id: str
    name: str
    version: str
    panels: str
    source: str  # Built-in, Package, Folder or Installed
    state: str  # Enabled, Switched off, or "Disabled: <reason>"
    usable: bool
    switched_off: bool  # by the user (Disable; 'studio plugins disable')
    record: PluginRecord | None
    installed: InstalledPlugin | None

    @property
    def why_kept(self) -> str:
        """Why Uninstall does not apply ("" when it does): Studio removes only what it
        installed. Disable applies to every plugin."""
        if self.installed is not None:
            return ""
        record = self.record
        if record is None or record.source is PluginSource.BUILTIN:
            return (
                "A built-in plugin is part of Studio: it cannot be uninstalled (Disable keeps it "
                "out of its panel)."
            )
        if record.source is PluginSource.PACKAGE:
            return (
                "It comes from a Python package installed beside Studio ("
                f"{record.location}): pip removes it, not Studio."
            )
        folder = record.folder or Path(record.location)
        return f"Studio did not install it: it is the plugin folder {folder}; remove it there."


def plugin_rows(records: list[PluginRecord], installed: list[InstalledPlugin]) -> list[PluginRow]:
    """Every plugin the registry knows, in its order, and any installed one it does not list."""
    by_id = {plugin.id: plugin for plugin in installed}
    rows = []
    for record in records:
        plugin = by_id.pop(record.id, None) if record.source is PluginSource.FOLDER else None
        switched_off = bool(getattr(record, "switched_off", False)) or (
            plugin is not None and not plugin.enabled
        )
        if switched_off:
            state, usable = SWITCHED_OFF, False
        elif record.enabled:
            state, usable = "Enabled", True
        else:
            state, usable = f"Disabled: {record.reason}", False
        rows.append(
            PluginRow(
                id=record.id,
                name=record.name,
                version=record.version,
                panels=panels_text(record.manifest) if record.manifest else "",
                source="Installed" if plugin is not None else _SOURCE_LABELS[record.source],
                state=state,
                usable=usable,
                switched_off=switched_off,
                record=record,
                installed=plugin,
            )
        )
    for plugin in by_id.values():  # installed, yet not found by discovery
        state = SWITCHED_OFF if not plugin.enabled else f"Disabled: not found in {plugin.folder}"
        rows.append(
            PluginRow(
                id=plugin.id,
                name=plugin.id,
                version=plugin.version,
                panels="",
                source="Installed",
                state=state,
                usable=False,
                switched_off=not plugin.enabled,
                record=None,
                installed=plugin,
            )
        )
    return rows


def detail_rows(row: PluginRow) -> list[tuple[str, str, Tone]]:
    """The facts of one plugin for the pane beside the list."""
    record = row.record
    manifest = record.manifest if record is not None else None
    rows: list[tuple[str, str, Tone]] = [("Id", row.id, Tone.PLAIN)]
    if row.version:
        rows.append(("Version", row.version, Tone.PLAIN))
    if manifest is not None:
        rows += [
            ("Author", author_of(manifest) or "Not given", Tone.PLAIN),
            ("Licence", manifest.licence, Tone.PLAIN),
            ("Plugin API", str(manifest.api_version), Tone.PLAIN),
            ("Panels", row.panels, Tone.PLAIN),
        ]
    if row.installed is not None:
        rows.append(("Source", f"Installed from {row.installed.source}", Tone.PLAIN))
        rows.append(("Folder", str(row.installed.folder), Tone.PLAIN))
    elif record is not None:
        where = {
            PluginSource.BUILTIN: "Built into Studio",
            PluginSource.PACKAGE: f"A Python package: {record.location}",
            PluginSource.FOLDER: f"A plugin folder: {record.folder or record.location}",
        }[record.source]
        rows.append(("Source", where, Tone.PLAIN))
    if row.switched_off:
        state = ("Switched off by you", Tone.WARN)
    elif row.usable:
        state = ("Enabled", Tone.PLAIN)
    else:
        state = (row.state, Tone.BAD)
    rows.append(("State", *state))
    if manifest is not None:
        third_party = record is not None and record.source is not PluginSource.BUILTIN
        rows += needs_facts(manifest, third_party)
        rows.append(("Python requirements", listed(manifest.requires), Tone.PLAIN))
        if manifest.description:
            rows.append(("About", manifest.description, Tone.PLAIN))
    return rows


class PluginsDialog(QDialog):
    """Every plugin, and installing, removing and switching plugins on and off.

    Signals:
        plugins_changed(): a plugin was installed, uninstalled, enabled or disabled; the
            registry has read the manifests again (refresh what shows plugins).
    """

    plugins_changed = Signal()

    def __init__(
        self,
        registry: PluginRegistry,
        installer: PluginInstaller,
        recent_folders: RecentFolders | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.installer = installer
        self.recent_folders = recent_folders
        self.installs = PluginInstalls(installer, registry, self)
        self.review: InstallReview | None = None  # shown and not yet answered
        self.rows: list[PluginRow] = []
        self._reviewing = False  # a review asked for has not arrived yet
        self._discard_arriving = False  # ... and the user left meanwhile: it goes when it comes
        self._installed_id = ""  # to select once the list shows it
        self.setWindowTitle("Plugins")
        self.resize(980, 640)

        self.pages = QStackedWidget()
        self.pages.addWidget(self._list_page())
        self.pages.addWidget(self._review_page())

        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.error = ErrorBanner()
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.error)
        bottom = QHBoxLayout()
        bottom.addWidget(self.notice, 1)
        bottom.addWidget(buttons)
        layout.addLayout(bottom)

        installs = self.installs
        installs.started.connect(self._on_started)
        installs.progressed.connect(self._on_progress)
        installs.reviewed.connect(self._on_reviewed)
        installs.installed.connect(self._on_installed)
        installs.changed.connect(self._on_changed)
        installs.failed.connect(self._on_failed)
        installs.busy_changed.connect(self._on_busy)
        self._on_busy(False)
        self.refresh()

    # building ---------------------------------------------------------------------------------

    def _list_page(self) -> QWidget:
        self.table = QTreeWidget()
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        header = self.table.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.ResizeToContents)
        for column in (VERSION, PANELS, SOURCE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.currentItemChanged.connect(self._show_selected)

        self.details_title = QLabel()
        font = self.details_title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.details_title.setFont(font)
        self.details_title.setWordWrap(True)
        self.details = FactsGrid()
        self.enable_button = QPushButton("Disable")
        self.enable_button.clicked.connect(self.toggle_selected)
        self.uninstall_button = QPushButton("Uninstall…")
        self.uninstall_button.clicked.connect(self.uninstall_selected)
        self.kept_note = QLabel()
        self.kept_note.setWordWrap(True)
        self.kept_note.setStyleSheet("QLabel { color: palette(placeholder-text); }")
        actions = QHBoxLayout()
        actions.addWidget(self.enable_button)
        actions.addWidget(self.uninstall_button)
        actions.addStretch(1)
        details_body = QWidget()
        details_column = QVBoxLayout(details_body)
        details_column.setContentsMargins(8, 0, 8, 0)
        details_column.addWidget(self.details_title)
        details_column.addWidget(self.details)
        details_column.addLayout(actions)
        details_column.addWidget(self.kept_note)
        details_column.addStretch(1)
        details_scroll = QScrollArea()
        details_scroll.setWidgetResizable(True)
        details_scroll.setFrameShape(QFrame.Shape.NoFrame)
        details_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        details_scroll.setWidget(details_body)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(details_scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([520, 440])
        splitter.setChildrenCollapsible(False)

        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("A plugin folder with its studio-plugin.toml")
        self.folder_button.clicked.connect(self.pick_folder)
        self.archive_button = QPushButton("Zip or Wheel…")
        self.archive_button.setToolTip("A .zip of a plugin folder, or a wheel (.whl)")
        self.archive_button.clicked.connect(self.pick_archive)
        self.package_button = QPushButton("Package Name…")
        self.package_button.setToolTip("A plugin package on the package index (uses the network)")
        self.package_button.clicked.connect(self.ask_package_name)
        install_row = QHBoxLayout()
        install_row.addWidget(QLabel("Install from:"))
        install_row.addWidget(self.folder_button)
        install_row.addWidget(self.archive_button)
        install_row.addWidget(self.package_button)
        install_row.addStretch(1)

        self.package_edit = QLineEdit()
        self.package_edit.setPlaceholderText("its name on the package index: studio-acme-writer")
        self.package_edit.returnPressed.connect(self.review_package)
        self.package_review_button = QPushButton("Review")
        self.package_review_button.clicked.connect(self.review_package)
        package_note = QLabel(
            "Studio looks the name up on the package index and downloads it: this uses the "
            "network. Nothing of it runs before you have seen the review."
        )
        package_note.setWordWrap(True)
        self.package_box = QWidget()
        package_layout = QVBoxLayout(self.package_box)
        package_layout.setContentsMargins(0, 0, 0, 0)
        package_row = QHBoxLayout()
        package_row.addWidget(QLabel("Package name:"))
        package_row.addWidget(self.package_edit, 1)
        package_row.addWidget(self.package_review_button)
        package_layout.addLayout(package_row)
        package_layout.addWidget(package_note)
        self.package_box.setVisible(False)

        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(splitter, 1)
        column.addLayout(install_row)
        column.addWidget(self.package_box)
        return page

    def _review_page(self) -> QWidget:
        self.review_view = ReviewView()
        self.refusal = QLabel()
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet("QLabel { color: #b3261e; }")
        self.install_button = QPushButton("Install")
        self.install_button.setDefault(True)
        self.install_button.clicked.connect(self.install_reviewed)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Do not install it; what was unpacked for the review goes")
        self.cancel_button.clicked.connect(self.cancel_review)
        row = QHBoxLayout()
        row.addWidget(self.refusal, 1)
        row.addWidget(self.install_button)
        row.addWidget(self.cancel_button)
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.review_view, 1)
        column.addLayout(row)
        return page

    # the list ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Show the plugins as the registry and the installer know them now."""
        try:
            installed = self.installer.installed()
        except (UserError, OSError) as exc:
            installed = []
            self.error.show_message(str(exc))
        selected = self.selected_id()
        self.rows = plugin_rows(self.registry.records(), installed)
        greyed = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        self.table.blockSignals(True)
        self.table.clear()
        for row in self.rows:
            item = QTreeWidgetItem([row.name, row.version, row.panels, row.source, row.state])
            item.setData(NAME, Qt.ItemDataRole.UserRole, row.id)
            item.setToolTip(NAME, row.id)
            item.setToolTip(STATE, row.state)
            if row.installed is not None:
                item.setToolTip(SOURCE, f"Installed from {row.installed.source}")
            elif row.record is not None:
                item.setToolTip(SOURCE, row.record.location)
            if not row.usable:
                for column in range(len(COLUMNS)):
                    item.setForeground(column, greyed)
            self.table.addTopLevelItem(item)
        self.table.blockSignals(False)
        self.select(selected or (self.rows[0].id if self.rows else ""))

    def row(self, plugin_id: str) -> PluginRow | None:
        return next((row for row in self.rows if row.id == plugin_id), None)

    def item(self, plugin_id: str) -> QTreeWidgetItem | None:
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if item.data(NAME, Qt.ItemDataRole.UserRole) == plugin_id:
                return item
        return None

    def selected_id(self) -> str:
        item = self.table.currentItem()
        return str(item.data(NAME, Qt.ItemDataRole.UserRole)) if item is not None else ""

    def select(self, plugin_id: str) -> bool:
        item = self.item(plugin_id)
        if item is not None:
            self.table.setCurrentItem(item)
        self._show_selected()
        return item is not None

    @Slot()
    def _show_selected(self, *_: object) -> None:
        row = self.row(self.selected_id())
        if row is None:
            self.details_title.setText("No plugin selected")
            self.details.set_rows([])
        else:
            self.details_title.setText(row.name)
            self.details.set_rows(detail_rows(row))
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.installs.busy
        row = self.row(self.selected_id())
        why_kept = row.why_kept if row is not None else ""
        self.uninstall_button.setEnabled(row is not None and not why_kept and not busy)
        self.uninstall_button.setToolTip(why_kept)
        self.enable_button.setEnabled(row is not None and not busy)
        self.enable_button.setText("Enable" if row is not None and row.switched_off else "Disable")
        self.enable_button.setToolTip(
            "Switched off, it stays installed but out of its panel's picker, also after a restart"
        )
        self.kept_note.setText(why_kept)
        self.kept_note.setVisible(bool(why_kept))
        for button in (
            self.folder_button,
            self.archive_button,
            self.package_button,
            self.package_review_button,
        ):
            button.setEnabled(not busy)
        review = self.review
        self.install_button.setEnabled(review is not None and review.can_install and not busy)
        self.cancel_button.setEnabled(review is not None and not self.installs.installing)

    # installing -------------------------------------------------------------------------------

    @Slot()
    def pick_folder(self) -> None:
        folder = choose_folder(
            self, self.recent_folders, SOURCE_PURPOSE, "Install a plugin from its folder"
        )
        if folder is not None:
            self.review_source(folder)

    @Slot()
    def pick_archive(self) -> None:
        path = choose_file(
            self,
            self.recent_folders,
            SOURCE_PURPOSE,
            "Install a plugin from a zip or a wheel",
            ARCHIVE_FILTER,
        )
        if path is not None:
            self.review_source(path)

    @Slot()
    def ask_package_name(self) -> None:
        self.package_box.setVisible(True)
        self.package_edit.setFocus()
        self.package_edit.selectAll()

    @Slot()
    def review_package(self) -> None:
        name = self.package_edit.text().strip()
        if not name:
            self.error.show_message(
                "Type the name of a plugin's package on the package index, then Review."
            )
            return
        self.review_source(name)

    def review_source(self, source: str | Path) -> None:
        """Read a folder, a .zip, a wheel or a package name and show what installing it would
        do (off the GUI thread; :attr:`PluginInstalls.reviewed` brings the review)."""
        if self.installs.busy:
            return
        self._clear_messages()
        self._reviewing, self._discard_arriving = True, False
        self.installs.review(str(source))

    @Slot()
    def install_reviewed(self) -> None:
        review = self.review
        if review is None or not review.can_install or self.installs.busy:
            return
        self._clear_messages()
        self.installs.install(review)

    @Slot()
    def cancel_review(self) -> None:
        """Say no to the review shown: what was unpacked for it goes."""
        review, self.review = self.review, None
        if review is not None:
            self.installs.discard(review)
        self.pages.setCurrentIndex(0)
        self._update_buttons()

    # uninstall, enable, disable ---------------------------------------------------------------

    @Slot()
    def uninstall_selected(self) -> None:
        row = self.row(self.selected_id())
        if row is None or row.installed is None or self.installs.busy:
            return
        packages = (
            f" and the packages only it used ({row.installed.packages})"
            if row.installed.packages is not None
            else ""
        )
        answer = QMessageBox.question(
            self,
            "Uninstall plugin",
            f"Uninstall {row.name} {row.version}? Its folder ({row.installed.folder}){packages} "
            "are removed. What it made stays in your projects.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._clear_messages()
        self.installs.uninstall(row.id, row.name)

    @Slot()
    def toggle_selected(self) -> None:
        """Disable the selected plugin, or enable it again when it was switched off."""
        row = self.row(self.selected_id())
        if row is None or self.installs.busy:
            return
        self._clear_messages()
        self.installs.set_enabled(row.id, row.switched_off, row.name)

    # what the worker says ---------------------------------------------------------------------

    def _clear_messages(self) -> None:
        self.error.hide()
        self.notice.clear()

    @Slot(str, str)
    def _on_started(self, step: str, subject: str) -> None:
        if step == Step.DISCARD:
            return
        doing = {
            Step.REVIEW: f"Reading {subject}…",
            Step.INSTALL: f"Installing {subject}…",
            Step.UNINSTALL: f"Uninstalling {subject}…",
            Step.ENABLE: f"Switching {subject} on…",
            Step.DISABLE: f"Switching {subject} off…",
        }[Step(step)]
        self.progress_label.setText(doing)
        self.progress_label.setVisible(True)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        if fraction == UNKNOWN:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(max(0.0, min(1.0, fraction)) * 1000))
        if message:
            self.progress_label.setText(message)

    @Slot(object)
    def _on_reviewed(self, review: InstallReview) -> None:
        self._reviewing = False
        if self._discard_arriving:  # the user left while it was being read
            self._discard_arriving = False
            self.installs.discard(review)
            return
        self.review = review
        self.review_view.show_review(review)
        reason = refusal(review)
        self.refusal.setText(reason)
        self.install_button.setToolTip(reason)
        self.pages.setCurrentIndex(1)
        self._update_buttons()

    @Slot(object)
    def _on_installed(self, plugin: InstalledPlugin) -> None:
        self.review = None
        self.pages.setCurrentIndex(0)
        self.package_box.setVisible(False)
        self.package_edit.clear()
        self._installed_id = plugin.id

    @Slot(str)
    def _on_changed(self, sentence: str) -> None:
        self.refresh()
        installed_id, self._installed_id = self._installed_id, ""
        if installed_id:
            self.select(installed_id)
            row = self.row(installed_id)
            if row is not None and row.usable and row.panels:
                sentence += f" It is in the plugin picker of {row.panels}."
            elif row is not None:
                sentence += f" {row.state}."
        self.notice.setText(sentence)
        self.plugins_changed.emit()

    @Slot(str, str)
    def _on_failed(self, step: str, sentence: str) -> None:
        if step == Step.REVIEW:
            self._reviewing = self._discard_arriving = False
        self.error.show_message(sentence)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self.progress.setVisible(False)
            self.progress_label.setVisible(False)
        self._update_buttons()

    # leaving ----------------------------------------------------------------------------------

    def _leave(self) -> None:
        """Closing says no to a review (shown, or still being read); an install goes on."""
        if self.review is not None and not self.installs.installing:
            self.cancel_review()
        elif self._reviewing:
            self._discard_arriving = True

    def reject(self) -> None:  # Close, Esc and the window's close button (QDialog.closeEvent)
        self._leave()
        super().reject()
