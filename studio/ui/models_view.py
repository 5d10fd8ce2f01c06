"""The Models view (View > Models, Ctrl+Shift+M): every model on this machine, and what is
loaded now.

**Library**: the models Studio can use, per panel and by source (embedded, imported, the
Hugging Face cache, AUTOMATIC1111, ComfyUI, InvokeAI, LM Studio, Ollama, Coqui, your folders),
with format, parameters, size and licence, and the reason a model cannot be used. The selected
model's details are below, with what can be done: **Use in Panel** puts it into its panel's
model picker, **Import** keeps it in the panel's picker, **Convert to Safetensors…** turns a
pickle file picklescan found no code in into a safetensors copy (after the user allows
unpickling it, in a process of its own), **Show Folder**. **Add Folder…** adds a folder to look
in; **Rescan** looks again. The scan runs off the GUI thread (:class:`ModelScans`).

**Loaded**: the one memory budget with every loaded model (its process, size and idle time)
and an **Unload** for each; "Unload models unused for N minutes"; and the device of each
panel's jobs (the global device by default, or one that exists here).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.durations import format_size
from studio.core.errors import UserError
from studio.core.model_scan.catalog import LibraryEntry, library_places
from studio.core.model_scan.places import SOURCE_LABELS
from studio.core.safety.consent import Consent, ConsentKind
from studio.core.safety.converter import convert_to_safetensors, converted_dir
from studio.plugin_api import Panel
from studio.qt.model_scans import ModelScans
from studio.ui.file_dialogs import choose_folder

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Model", "Format", "Parameters", "Size", "Licence", "State")
PANEL_TITLES = {
    Panel.WRITING: "Writing",
    Panel.IMAGE: "Image",
    Panel.VOICE: "Voice",
    Panel.CAPTIONING: "Captioning",
}


def entry_state(entry: LibraryEntry) -> str:
    if entry.facts is None:
        return "Ships with Studio"
    blocking = [p for p in entry.facts.problems if p.blocking]
    if blocking:
        return "Cannot be used"
    if entry.facts.problems:
        return "Asks first"
    return "Ready"


def entry_details(entry: LibraryEntry) -> str:
    """The selected model in a few lines of HTML."""
    from html import escape

    lines = [f"<b>{escape(entry.name)}</b> · {escape(entry.source_label)}"]
    facts = entry.facts
    if facts is None:
        lines.append(f"Embedded in the plugin {escape(entry.plugin_id)}.")
        if entry.licence:
            lines.append(f"Licence: {escape(entry.licence)}")
        return "<br>".join(lines)
    what = ", ".join(escape(part) for part in facts.summary_parts())
    lines.append(what)
    if facts.licence:
        lines.append(f"Licence: {escape(facts.licence)}")
    lines.append(f"Where: {escape(str(facts.path))}")
    for problem in facts.problems:
        colour = "#c62828" if problem.blocking else "#8d6e00"
        lines.append(f'<span style="color:{colour}">{escape(problem.message)}</span>')
    return "<br>".join(lines)


CONSENT_WORDS = {
    ConsentKind.UNPICKLE: "unpickle it",
    ConsentKind.REMOTE_CODE: "run the code that comes with it",
}


class _Converter(QObject):
    """A conversion to safetensors on a thread of its own."""

    done = Signal(str, str)  # source, converted path
    failed = Signal(str, str)  # source, message

    def start(self, path: Path, consents, out_dir: Path) -> None:
        def run() -> None:
            try:
                output = convert_to_safetensors(path, consents, out_dir)
            except UserError as exc:
                self.failed.emit(str(path), str(exc))
            else:
                self.done.emit(str(path), str(output))

        threading.Thread(target=run, name="convert-model", daemon=True).start()


class ModelsView(QDialog):
    """View > Models: the library and the loaded models (not modal)."""

    use_model_requested = Signal(str)
    """The path of a model to put into its panel's picker (the window does it)."""

    def __init__(self, services, scans: ModelScans, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(1000, 680)
        self.services = services
        self.scans = scans
        tabs = QTabWidget()
        tabs.addTab(self._library_tab(), "Library")
        tabs.addTab(self._loaded_tab(), "Loaded")
        self.tabs = tabs
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        self._places = ""
        self._scanned()
        scans.scanned.connect(self._scanned)
        scans.scanned.connect(self._show_entries)
        scans.failed.connect(lambda message: self.status.setText(message))
        scans.busy_changed.connect(self._busy)
        self.converter = _Converter(self)
        self.converter.done.connect(self._converted)
        self.converter.failed.connect(self._conversion_failed)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh_loaded)
        self._timer.start(2000)
        if scans.entries:
            self._show_entries(scans.entries)
        self.refresh_loaded()
        scans.scan()

    # library -----------------------------------------------------------------------------------

    def _library_tab(self) -> QWidget:
        page = QWidget()
        self.search = QLineEdit(placeholderText="Filter by name, format, architecture…")
        self.search.textChanged.connect(lambda _text: self._show_entries(self.scans.entries))
        self.panel_filter = QComboBox()
        self.panel_filter.addItem("All panels", "")
        for panel, title in PANEL_TITLES.items():
            self.panel_filter.addItem(title, panel.value)
        self.panel_filter.currentIndexChanged.connect(
            lambda _i: self._show_entries(self.scans.entries)
        )
        add_folder = QPushButton("Add Folder…")
        add_folder.setToolTip("Also look for models in a folder of your own")
        add_folder.clicked.connect(self.add_folder)
        self.rescan_button = QPushButton("Rescan")
        self.rescan_button.clicked.connect(self.scans.scan)
        top = QHBoxLayout()
        for widget in (self.search, self.panel_filter, add_folder, self.rescan_button):
            top.addWidget(widget)
        top.setStretch(0, 1)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column, width in ((1, 170), (2, 80), (3, 80), (4, 150), (5, 120)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.tree.itemDoubleClicked.connect(lambda *_: self.use_selected())

        self.details = QTextBrowser()
        self.details.setOpenExternalLinks(False)
        self.use_button = QPushButton("Use in Panel")
        self.use_button.setToolTip("Put it into its panel's model picker (Enter)")
        self.use_button.clicked.connect(self.use_selected)
        self.import_button = QPushButton("Import")
        self.import_button.setToolTip("Keep it in its panel's model picker")
        self.import_button.clicked.connect(self.import_selected)
        self.convert_button = QPushButton("Convert to Safetensors…")
        self.convert_button.clicked.connect(self.convert_selected)
        self.revoke_button = QPushButton("Revoke Consent")
        self.revoke_button.setToolTip(
            "Withdraw your permission to unpickle this file or run this folder's code: Studio "
            "asks again before it does"
        )
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.folder_button = QPushButton("Show Folder")
        self.folder_button.clicked.connect(self.show_folder)
        buttons = QHBoxLayout()
        for button in (
            self.use_button,
            self.import_button,
            self.convert_button,
            self.revoke_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)
        below = QWidget()
        below_layout = QVBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.details)
        below_layout.addLayout(buttons)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(below)
        split.setSizes([440, 180])

        self.notice = QLabel()  # what the last action did (import, conversion)
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.status = QLabel("Looking for models…")  # what the scan found, and where
        self.status.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.notice)
        layout.addWidget(self.status)
        self._selection_changed()
        return page

    def _matches(self, entry: LibraryEntry) -> bool:
        panel = self.panel_filter.currentData()
        if panel and Panel(panel) not in entry.panels:
            return False
        words = self.search.text().lower().split()
        facts = entry.facts
        haystack = " ".join(
            [entry.name, entry.source_label, entry.licence]
            + ([facts.format, facts.kind, facts.architecture, str(facts.path)] if facts else [])
        ).lower()
        return all(word in haystack for word in words)

    @Slot(list)
    def _show_entries(self, entries: list) -> None:
        selected = self.selected_entry()
        self.tree.clear()
        shown = [entry for entry in entries if self._matches(entry)]
        groups: list[tuple[str, list[LibraryEntry]]] = [
            (PANEL_TITLES[panel], [e for e in shown if panel in e.panels]) for panel in Panel
        ]
        groups.append(("No panel uses these", [e for e in shown if not e.panels]))
        reselect = None
        for title, members in groups:
            if not members:
                continue
            top = QTreeWidgetItem([f"{title} ({len(members)})"])
            self.tree.addTopLevelItem(top)
            for source, label in SOURCE_LABELS.items():
                of_source = [e for e in members if e.source == source]
                if not of_source:
                    continue
                group = QTreeWidgetItem([f"{label} ({len(of_source)})"])
                top.addChild(group)
                for entry in of_source:
                    item = self._entry_item(entry)
                    group.addChild(item)
                    if selected is not None and entry.key == selected.key and reselect is None:
                        reselect = item
            top.setExpanded(True)
            for index in range(top.childCount()):
                top.child(index).setExpanded(True)
        if reselect is not None:
            self.tree.setCurrentItem(reselect)
        unusable = sum(not entry.usable for entry in entries)
        self.status.setText(
            f"{len(entries)} models"
            + (f", {unusable} cannot be used as they are" if unusable else "")
            + f". Looked in: {self._places}."
        )
        self._selection_changed()

    def _scanned(self) -> None:
        """Where the scan looked, read once a scan (not on every key typed in the filter)."""
        places = library_places(self.services.model_library)
        self._places = ", ".join(f"{p.label} ({p.root})" for p in places) or (
            "no other tool's folders"
        )

    def _entry_item(self, entry: LibraryEntry) -> QTreeWidgetItem:
        facts = entry.facts
        cells = [
            entry.name,
            facts.format if facts else entry.plugin_name,
            facts.parameters_text if facts else "",
            facts.size_text if facts else "",
            entry.licence,
            entry_state(entry),
        ]
        item = QTreeWidgetItem(cells)
        item.setData(0, ENTRY_ROLE, entry)
        tip = str(facts.path) if facts else f"Embedded in {entry.plugin_id}"
        item.setToolTip(0, f"{entry.name}\n{tip}")
        item.setToolTip(4, entry.licence)
        if facts is not None and facts.problems:
            item.setToolTip(5, "\n".join(p.message for p in facts.problems))
        if not entry.usable:
            item.setForeground(5, Qt.GlobalColor.red)
        return item

    def selected_entry(self) -> LibraryEntry | None:
        item = self.tree.currentItem()
        return item.data(0, ENTRY_ROLE) if item is not None else None

    def select(self, key: str) -> bool:
        """Select the model with this key (a path): True if it is listed."""
        for item in self._items():
            entry = item.data(0, ENTRY_ROLE)
            if entry is not None and entry.key == key:
                self.tree.setCurrentItem(item)
                return True
        return False

    def _items(self):
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            yield item
            stack.extend(item.child(i) for i in range(item.childCount()))

    def _selection_changed(self) -> None:
        entry = self.selected_entry()
        facts = entry.facts if entry else None
        self.details.setHtml(entry_details(entry) if entry else "Select a model.")
        usable_file = facts is not None and entry.usable and len(facts.panels) == 1
        self.use_button.setEnabled(usable_file)
        self.import_button.setEnabled(usable_file and entry.source != "imported")
        convertible = (
            facts is not None and facts.format == "pickle" and facts.path.is_file() and entry.usable
        )
        self.convert_button.setEnabled(convertible)
        self.convert_button.setToolTip(
            "Unpickle it once, in a process of its own, into a safetensors copy"
            if convertible
            else "Only a pickle file picklescan found no code in can be converted"
        )
        self.folder_button.setEnabled(facts is not None)
        granted = self._consents_for(facts.path) if facts is not None else ()
        self.revoke_button.setVisible(bool(granted))
        if granted:
            when = max(consent.granted_at for consent in granted).strftime("%Y-%m-%d %H:%M")
            allowed = " and ".join(sorted({CONSENT_WORDS[c.kind] for c in granted}))
            self.details.append(f"<p>You allowed Studio to {allowed} on {when}.</p>")

    def _consents_for(self, path: Path) -> tuple[Consent, ...]:
        """The consents given for ``path`` (by path: hashing a large file on every click
        would freeze the window)."""
        try:
            return self.services.consents.given_at(path)
        except (OSError, UserError):  # an unreadable consent file: shown nowhere here
            return ()

    def revoke_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.facts is None:
            return
        path = entry.facts.path
        removed = [
            consent for kind in ConsentKind for consent in self.services.consents.revoke(kind, path)
        ]
        self.say(
            f"Consent for {path.name} withdrawn: Studio asks again before it loads it."
            if removed
            else f"There was no consent for {path.name}."
        )
        self._selection_changed()

    def say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _busy(self, busy: bool) -> None:
        self.rescan_button.setEnabled(not busy)
        if busy:
            self.status.setText("Looking for models…")

    def use_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None and entry.facts is not None and entry.usable:
            self.use_model_requested.emit(str(entry.facts.path))

    def import_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.facts is None or len(entry.facts.panels) != 1:
            return
        self.services.model_library.remember(entry.facts.path, entry.facts.panels[0])
        self.say(
            f"{entry.name} is in the {PANEL_TITLES[entry.facts.panels[0]]} panel's model "
            "picker now."
        )
        self.scans.scan()

    def add_folder(self) -> None:
        folder = choose_folder(self, self.services.recent_folders, "model", "Add a model folder")
        if folder is None:
            return
        self.services.model_library.add_folder(folder)
        self.scans.scan()

    def show_folder(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.facts is None:
            return
        path = entry.facts.path
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path if path.is_dir() else path.parent)))

    def convert_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.facts is None or entry.facts.format != "pickle":
            return
        path = entry.facts.path
        answer = QMessageBox.question(
            self,
            "Convert to safetensors",
            f"{path.name} is a pickle file. picklescan found no code in it, but unpickling can "
            "run code that a scanner misses.\n\nStudio unpickles it once, offline, in a process "
            "of its own, and writes a safetensors copy that every plugin loads safely. Convert "
            "it, if you trust where it came from?",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.services.consents.grant(ConsentKind.UNPICKLE, path)
        self.convert_button.setEnabled(False)
        self.say(f"Converting {path.name}…")
        self.converter.start(path, self.services.consents, converted_dir(self.services.paths))

    @Slot(str, str)
    def _converted(self, source: str, output: str) -> None:
        facts = next(
            (e.facts for e in self.scans.entries if e.facts and str(e.facts.path) == source),
            None,
        )
        panels = facts.panels if facts else ()
        if len(panels) == 1:
            self.services.model_library.remember(Path(output), panels[0])
        self.say(
            f"Converted {Path(source).name} to {output}"
            + (f"; it is in the {PANEL_TITLES[panels[0]]} panel's picker." if panels else ".")
        )
        self.scans.scan()

    @Slot(str, str)
    def _conversion_failed(self, source: str, message: str) -> None:
        self.say(message)
        self._selection_changed()

    # loaded ------------------------------------------------------------------------------------

    def _loaded_tab(self) -> QWidget:
        page = QWidget()
        self.budget_label = QLabel()
        self.loaded = QTableWidget(0, 6)
        self.loaded.setHorizontalHeaderLabels(
            ["Model", "Process", "Device", "Size", "Unused for", ""]
        )
        header = self.loaded.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 6):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.loaded.verticalHeader().setVisible(False)
        self.loaded.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        settings = self.services.settings
        self.idle_minutes = QSpinBox()
        self.idle_minutes.setRange(0, 10_080)
        self.idle_minutes.setSpecialValueText("never")
        self.idle_minutes.setSuffix(" min")
        self.idle_minutes.setValue(settings.unload_idle_minutes)
        self.idle_minutes.setToolTip("Unload a model nobody used for this long (0: never)")
        self.idle_minutes.valueChanged.connect(self._idle_changed)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Unload models unused for", self.idle_minutes)
        self.device_boxes: dict[Panel, QComboBox] = {}
        for panel, title in PANEL_TITLES.items():
            box = QComboBox()
            box.addItem(f"Like all panels ({settings.device})", "")
            for name in self.services.devices.names():
                box.addItem(name.upper() if name == "cpu" else name, name)
            current = settings.panel_devices.get(panel.value, "")
            index = box.findData(current)
            if index < 0:  # a device set earlier that is not here now
                box.addItem(f"{current} (not found here)", current)
                index = box.count() - 1
            box.setCurrentIndex(index)
            box.currentIndexChanged.connect(lambda _i, p=panel: self._device_changed(p))
            self.device_boxes[panel] = box
            form.addRow(f"{title} panel runs on", box)
        layout = QVBoxLayout(page)
        layout.addWidget(self.budget_label)
        layout.addWidget(self.loaded, 1)
        layout.addLayout(form)
        return page

    def refresh_loaded(self) -> None:
        budget = self.services.budget
        held = budget.held()
        self.budget_label.setText(
            f"Loaded models take {format_size(budget.total_bytes)} of the "
            f"{format_size(budget.budget_bytes)} budget (Preferences)."
            if held
            else f"No model is loaded. Budget: {format_size(budget.budget_bytes)} (Preferences)."
        )
        now = time.monotonic()
        self.loaded.setRowCount(len(held))
        for row, model in enumerate(held):
            idle = max(0.0, now - model.last_used)
            parts = model.key.split(" ", 2)  # plugin, device, load options (CacheKey.text)
            cells = [
                model.label,
                model.owner,
                parts[1] if len(parts) > 2 else "",
                format_size(model.size),
                "in use" if model.pinned else f"{idle / 60:.0f} min" if idle >= 60 else "now",
            ]
            for column, text in enumerate(cells):
                self.loaded.setItem(row, column, QTableWidgetItem(text))
            button = QPushButton("Unload")
            button.setEnabled(not model.pinned)
            button.clicked.connect(
                lambda _=False, owner=model.owner, key=model.key: self.unload(owner, key)
            )
            self.loaded.setCellWidget(row, 5, button)

    def unload(self, owner: str, key: str) -> None:
        def run() -> None:
            self.services.budget.unload(owner, key)

        threading.Thread(target=run, name="unload-model", daemon=True).start()
        QTimer.singleShot(300, self.refresh_loaded)

    def _save_settings(self, settings) -> None:
        self.services.settings = settings
        try:
            self.services.settings_file.save(settings)
        except (OSError, UserError) as exc:
            self.say(f"The settings could not be saved: {exc}")

    def _idle_changed(self, minutes: int) -> None:
        self._save_settings(
            dataclasses.replace(self.services.settings, unload_idle_minutes=minutes)
        )

    def _device_changed(self, panel: Panel) -> None:
        chosen = self.device_boxes[panel].currentData()
        devices = dict(self.services.settings.panel_devices)
        if chosen:
            devices[panel.value] = chosen
        else:
            devices.pop(panel.value, None)
        self._save_settings(dataclasses.replace(self.services.settings, panel_devices=devices))
