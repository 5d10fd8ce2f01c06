"""The main window: a thin assembler of panels, asset browser, menus and status bar."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
)

from studio.core.device import resolve_device
from studio.core.errors import UserError
from studio.core.media.export import export_assets
from studio.core.model_cache import process_memory_bytes
from studio.core.model_files import model_panel
from studio.core.model_scan.describe import describe
from studio.core.pipeline import Draft, draft_from_recipe
from studio.core.plugin_install import PluginInstaller
from studio.core.project import DamagedProjectError
from studio.core.project.opening import refusal_by_header
from studio.core.services import CoreServices
from studio.plugin_api import AssetKind, Panel
from studio.qt.asset_drag import local_paths
from studio.qt.jobs_model import JobsModel, JobState
from studio.qt.model_scans import ModelScans
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.project_session import ProjectSession
from studio.ui.about import about_dialog, shortcuts_dialog
from studio.ui.asset_browser import AssetBrowser
from studio.ui.drop_overlay import DropOverlay
from studio.ui.file_dialogs import choose_file, choose_files, choose_folder, choose_save_file
from studio.ui.jobs_view import JobsLabel, JobsView
from studio.ui.models_view import ModelsView
from studio.ui.panels.base import PanelWidget
from studio.ui.panels.captioning import CaptioningPanel
from studio.ui.panels.image import ImagePanel
from studio.ui.panels.voice import VoicePanel
from studio.ui.panels.writing import WritingPanel
from studio.ui.plugins_dialog import PluginsDialog
from studio.ui.preferences import PreferencesDialog
from studio.ui.repair_dialog import offer_repair, run_repair, show_report
from studio.ui.theme import apply_theme
from studio.ui.welcome import WELCOME_SHOWN_KEY, welcome_dialog

log = logging.getLogger(__name__)

PANEL_TITLES: dict[Panel, str] = {
    Panel.WRITING: "Writing",
    Panel.IMAGE: "Image",
    Panel.VOICE: "Voice",
    Panel.CAPTIONING: "Captioning",
}
PANEL_CLASSES: dict[Panel, type[PanelWidget]] = {
    Panel.WRITING: WritingPanel,
    Panel.IMAGE: ImagePanel,
    Panel.VOICE: VoicePanel,
    Panel.CAPTIONING: CaptioningPanel,
}
PANEL_FOR_ASSET: dict[AssetKind, Panel] = {
    AssetKind.TEXT: Panel.WRITING,
    AssetKind.IMAGE: Panel.IMAGE,
    AssetKind.AUDIO: Panel.VOICE,
    AssetKind.CAPTION: Panel.CAPTIONING,
    AssetKind.DOCUMENT: Panel.WRITING,
}
MAX_RECENT = 10
LAST_PROJECT_KEY = "session/last_project"
"""The project open when Studio last ran (read by studio.app at the next start)."""
PROJECT_FILTER = "Studio projects (*.studio);;All files (*)"
MEDIA_FILTER = (
    "Media (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff *.wav *.flac *.ogg *.txt *.md)"
    ";;All files (*)"
)


class MainWindow(QMainWindow):
    def __init__(
        self,
        services: CoreServices,
        session: ProjectSession,
        runners: dict[Panel, PanelJobRunner],
        qsettings: QSettings,
        *,
        installer: PluginInstaller,
    ) -> None:
        super().__init__()
        self.services = services
        self.installer = installer
        self.plugins_dialog: PluginsDialog | None = None
        self._folders = services.recent_folders
        self.session = session
        self.runners = runners
        self.qsettings = qsettings
        self.resize(1280, 800)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.panels: dict[Panel, PanelWidget] = {}
        for panel, panel_class in PANEL_CLASSES.items():
            widget = panel_class(services, session, runners[panel])
            self.panels[panel] = widget
            self.tabs.addTab(widget, PANEL_TITLES[panel])
        self.setCentralWidget(self.tabs)
        self.setAcceptDrops(True)  # projects and model files, wherever a panel does not take them
        self.drop_overlay = DropOverlay(self)

        self.browser = AssetBrowser(session, registry=services.registry)
        self.browser.open_requested.connect(self.open_asset)
        self.browser.rerun_requested.connect(self.rerun_asset)
        self.browser.caption_requested.connect(self.caption_assets)
        self.browser.speak_requested.connect(self.speak_asset)
        self.browser.settings_requested.connect(self.use_settings_of)
        writing = self.panels[Panel.WRITING]
        if isinstance(writing, WritingPanel):
            writing.send_to_voice.connect(self.send_to_voice)
        self.browser.status_message.connect(self._show_status)
        self.browser_dock = QDockWidget("Assets")
        self.browser_dock.setObjectName("asset-browser-dock")
        self.browser_dock.setWidget(self.browser)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.browser_dock)

        self._start_message = ""
        self.jobs = JobsModel(services.registry, self)  # every job of every panel: View > Jobs
        for panel, runner in runners.items():
            self.jobs.watch(panel, runner)
        self.jobs_view: JobsView | None = None
        self.models_view: ModelsView | None = None
        self.model_scans = ModelScans(services.registry, services.model_library, self)
        for panel_widget in self.panels.values():  # every picker lists the library's models
            self.model_scans.scanned.connect(panel_widget.model.set_library)
        self._idle_timer = QTimer(self)
        self._idle_timer.timeout.connect(self._unload_idle_models)
        self._idle_timer.start(60_000)
        self.jobs_label = JobsLabel()
        self.jobs_label.clicked.connect(self.show_jobs)
        self.device_label = QLabel()
        self.memory_label = QLabel()
        for label in (self.jobs_label, self.device_label, self.memory_label):
            self.statusBar().addPermanentWidget(label)
        for runner in runners.values():
            for signal in (runner.queued, runner.waiting, runner.started):
                signal.connect(self._update_jobs)
            for signal in (runner.finished, runner.cancelled):
                signal.connect(self._job_done)
            runner.failed.connect(self._job_failed)
        self._memory_timer = QTimer(self)
        self._memory_timer.timeout.connect(self._update_memory)
        self._memory_timer.start(2000)

        self._build_menus()
        session.project_changed.connect(self._update_title)
        session.integrity_problem.connect(self._integrity_problem)
        session.asset_added.connect(self._update_title)
        self._update_title()
        self._update_jobs()
        self._update_device()
        self.tabs.currentChanged.connect(lambda _index: self._update_device())
        self._update_memory()
        self.statusBar().showMessage("Looking for plugins…")
        geometry = qsettings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = qsettings.value("window/state")
        if state is not None:
            self.restoreState(state)

    # menus -----------------------------------------------------------------------------------

    def _action(
        self, menu, text: str, slot, shortcut: str | QKeySequence | None = None, tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&New Project", self.new_project, QKeySequence.StandardKey.New)
        self._action(file_menu, "&Open…", self.open_project_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file_menu, "Save &As…", self.save_as, "Ctrl+Shift+S")
        file_menu.addSeparator()
        self._action(
            file_menu,
            "&Import Media…",
            self.import_media,
            "Ctrl+I",
            "Add images, audio or text files to the project",
        )
        self._action(
            file_menu,
            "&Export…",
            self.export_assets,
            "Ctrl+E",
            "Write the project's assets as files, with their recipes",
        )
        self._action(
            file_menu,
            "Re&pair Project…",
            self.repair_project_dialog,
            tip="Save every intact asset of a damaged project into a new file beside it",
        )
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        undo = self.session.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.session.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        edit.addAction(undo)
        edit.addAction(redo)
        edit.addSeparator()
        self._action(edit, "&Preferences…", self.show_preferences, "Ctrl+,")

        view = bar.addMenu("&View")
        toggle = self.browser_dock.toggleViewAction()
        toggle.setText("&Asset Browser")
        toggle.setShortcut(QKeySequence("Ctrl+B"))
        view.addAction(toggle)
        self._action(view, "&Jobs", self.show_jobs, "Ctrl+J", "Every queued, running and ended job")
        self._action(
            view,
            "&Models",
            self.show_models,
            "Ctrl+Shift+M",
            "Every model on this machine, what is loaded, and each panel's device",
        )
        view.addSeparator()
        for index, panel in enumerate(PANEL_CLASSES):
            self._action(
                view,
                PANEL_TITLES[panel],
                lambda _=False, i=index: self.tabs.setCurrentIndex(i),
                f"Ctrl+{index + 1}",
            )

        plugins = bar.addMenu("&Plugins")
        self._action(
            plugins,
            "&Manage Plugins…",
            self.show_plugins,
            tip="Every plugin with what it declared; install, uninstall, enable and disable",
        )
        self._action(plugins, "&Reload Plugins", self.discover_plugins)

        help_menu = bar.addMenu("&Help")
        self._action(
            help_menu,
            "&Keyboard Shortcuts",
            lambda: shortcuts_dialog(self).exec(),
            QKeySequence.StandardKey.HelpContents,
        )
        self._action(help_menu, "&Welcome", self.show_welcome)
        self._action(
            help_menu, "&About Studio", lambda: about_dialog(self.services.registry, self).exec()
        )

    # plugins -----------------------------------------------------------------------------------

    def discover_plugins(self) -> None:
        """Read plugin manifests (no plugin code) and fill the panels' pickers."""
        self.services.registry.discover()
        self.plugins_ready()

    def show_plugins(self) -> PluginsDialog:
        """Plugins > Manage Plugins…: not modal, and kept (an install goes on when closed)."""
        if self.plugins_dialog is None:
            self.plugins_dialog = PluginsDialog(
                self.services.registry, self.installer, self._folders, self
            )
            # The dialog's worker has read the manifests again: the Reload path from here on.
            self.plugins_dialog.plugins_changed.connect(self.plugins_ready)
        else:
            self.plugins_dialog.refresh()
        self.plugins_dialog.show()
        self.plugins_dialog.raise_()
        self.plugins_dialog.activateWindow()
        return self.plugins_dialog

    @Slot()
    def plugins_ready(self) -> None:
        for panel in self.panels.values():
            panel.refresh_plugins()
        self.model_scans.scan()  # the pickers list the library's models once it is read
        dialog = self.plugins_dialog
        if dialog is not None and dialog.isVisible() and self.sender() is not dialog:
            dialog.refresh()  # Plugins > Reload Plugins while it is open
        records = self.services.registry.records()
        enabled = sum(r.enabled for r in records)
        disabled = len(records) - enabled
        message = f"{enabled} plugins ready"
        if disabled:
            message += f", {disabled} disabled (Plugins > Manage Plugins)"
        if self._start_message:
            message += f" · {self._start_message}"
        self.statusBar().showMessage(message, 10000)

    def show_start_message(self, text: str) -> None:
        """Say something about the start (the project reopened); it stays when the plugins
        are found a moment later."""
        self._start_message = text
        self.statusBar().showMessage(text, 10000)

    # project -----------------------------------------------------------------------------------

    def _update_title(self, *_: object) -> None:
        # The project to open at the next start (an untitled one gets its file with its
        # first asset, which comes through here too).
        self.qsettings.setValue(LAST_PROJECT_KEY, str(self.session.path or ""))
        name = self.session.display_name
        suffix = " [read-only]" if self.session.store.read_only else ""
        self.setWindowTitle(f"{name}{suffix} — Studio")
        self.setWindowFilePath(str(self.session.path or ""))

    def _confirm_jobs_stop(self) -> bool:
        busy = [p for p, r in self.runners.items() if r.busy]
        if not busy:
            return True
        answer = QMessageBox.question(
            self,
            "Jobs are running",
            "Jobs are still running. Cancel them? (Finished results are already saved.)",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        for runner in self.runners.values():
            runner.cancel()
        return True

    def new_project(self) -> None:
        if not self._confirm_jobs_stop():
            return
        try:
            self.session.new()
        except UserError as exc:
            QMessageBox.warning(self, "Cannot start a new project", str(exc))

    def open_project_dialog(self) -> None:
        path = choose_file(
            self, self._folders, "project", "Open project", PROJECT_FILTER, self._projects_dir()
        )
        if path is not None:
            self.open_project(path)

    def open_project(self, path: Path) -> bool:
        if not self._confirm_jobs_stop():
            return False
        try:
            self.session.open(path)
        except UserError as exc:
            return self.cannot_open(path, exc)
        self.remember_recent(path)
        return True

    def cannot_open(self, path: Path, problem: UserError) -> bool:
        """Say why ``path`` did not open; a damaged project is offered for repair (True when
        the repaired project opened)."""
        if isinstance(problem, DamagedProjectError):
            if offer_repair(self, path, str(problem)):
                return self.repair_project(path)
            return False
        QMessageBox.warning(self, "Cannot open the project", str(problem))
        return False

    def repair_project_dialog(self) -> None:
        """File > Repair Project: the open project, or a file the user picks."""
        current = None if self.session.store.is_untitled else self.session.path
        path = choose_file(
            self,
            None,  # the open project's folder first, as it is the likely one
            "project",
            "Repair project",
            PROJECT_FILTER,
            str(current.parent if current else self._projects_dir()),
        )
        if path is not None:
            self.repair_project(path)

    def repair_project(self, path: Path) -> bool:
        """Save the intact assets of a damaged project into a new file beside it, say what
        was lost, and open the repaired project if the user wants (True when it opened)."""
        report = run_repair(self, path)
        if report is None or not show_report(self, report) or report.target is None:
            return False
        return self.open_project(report.target)

    def open_from_another_launch(self, path: str) -> None:
        """A second launch (a double-clicked project) handed its path to this window."""
        self.bring_to_front()
        project = Path(path)
        if not project.is_file():
            self.statusBar().showMessage(f"The project {project} does not exist.", 8000)
            return
        if self.session.path is not None and self.session.path.resolve() == project.resolve():
            return  # already open
        self.open_project(project)

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def show_welcome(self) -> QDialog:
        """The first-launch welcome (not modal, so the window can be used at once)."""
        settings = self.services.settings
        projects = (
            Path(settings.projects_dir) if settings.projects_dir else self.services.paths.data_dir
        )
        dialog = welcome_dialog(projects, self.services.paths.data_dir, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.qsettings.setValue(WELCOME_SHOWN_KEY, True)
        return dialog

    def welcome_if_first_launch(self) -> None:
        if not self.qsettings.value(WELCOME_SHOWN_KEY, False, type=bool):
            self.show_welcome()

    # drops the panels leave to the window -----------------------------------------------------

    def drop_answer(self, paths: list[Path]) -> tuple[bool, str]:
        """Whether a drop of these files is taken here, and what it would do (or why not)."""
        if not paths:
            return False, "Only files and folders can be dropped here."
        projects = [p for p in paths if p.suffix.lower() == ".studio" and p.is_file()]
        if projects:
            refused = refusal_by_header(projects[0])
            if refused:
                return False, refused
            return True, f"Drop to open the project {projects[0].name}"
        panel = model_panel(paths[0])
        if panel is not None:
            return True, f"Drop to use the model {paths[0].name} in the {PANEL_TITLES[panel]} panel"
        return False, (
            f"{paths[0].name} is not a project or a model: drop media on a panel or on the "
            "asset browser"
        )

    def take_drop(self, paths: list[Path]) -> bool:
        accepted, message = self.drop_answer(paths)
        if not accepted:
            self.statusBar().showMessage(message, 8000)
            return False
        projects = [p for p in paths if p.suffix.lower() == ".studio" and p.is_file()]
        if projects:
            return self.open_project(projects[0])
        return self.use_model(paths[0])

    def use_model(self, path: Path) -> bool:
        """Put a model file or folder into the model picker of the panel that loads it."""
        panel_kind = model_panel(path)
        if panel_kind is None:
            return False
        facts = describe(path)  # headers and configs only: what would stop it loading
        blocking = [problem for problem in facts.problems if problem.blocking]
        if blocking:
            QMessageBox.warning(self, f"{path.name} cannot be used", blocking[0].message)
            self.statusBar().showMessage(blocking[0].message, 10000)
            return False
        panel = self.panels[panel_kind]
        self.tabs.setCurrentWidget(panel)
        form = panel.load_form
        if form is None or "model" not in form.editors:
            self.statusBar().showMessage(
                f"The {PANEL_TITLES[panel_kind]} panel's plugin takes no model file: pick "
                "another plugin, then drop the model again.",
                10000,
            )
            return False
        form.editors["model"].widget.import_path(str(path))
        self.statusBar().showMessage(
            f"{path.name} is now the model of the {PANEL_TITLES[panel_kind]} panel; it loads on "
            "the next Run.",
            10000,
        )
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        paths = local_paths(event.mimeData())
        if not event.mimeData().hasUrls():
            event.ignore()
            return
        accepted, message = self.drop_answer(paths)
        if accepted:
            self.drop_overlay.show_accept(message)
            event.acceptProposedAction()
        else:
            self.drop_overlay.show_refuse(message)
            event.accept()  # keep hearing of the drag, to keep saying why not

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.drop_overlay.isVisible() and self.drop_overlay.accepting:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_overlay.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_overlay.hide()
        if self.take_drop(local_paths(event.mimeData())):
            event.acceptProposedAction()
        else:
            event.ignore()

    def save_as(self) -> None:
        chosen = choose_save_file(
            self,
            self._folders,
            "project",
            "Save project as",
            f"{self.session.display_name}.studio",
            PROJECT_FILTER,
            self._projects_dir(),
        )
        if chosen is None:
            return
        path = str(chosen)
        target = Path(path) if path.endswith(".studio") else Path(path + ".studio")
        try:
            self.session.save_as(target)
        except (UserError, OSError) as exc:
            QMessageBox.warning(self, "Cannot save the project", str(exc))
            return
        self.remember_recent(target)
        self._update_title()

    def import_media(self) -> None:
        paths = choose_files(self, self._folders, "import-media", "Import media", MEDIA_FILTER)
        if paths:
            self.import_files(paths)

    def import_files(self, paths: list[Path]) -> None:
        """Import files (on a worker thread); the asset browser reports what came in."""
        self.browser_dock.show()
        self.browser.import_paths(paths)

    def export_assets(self) -> None:
        folder = choose_folder(self, self._folders, "export-assets", "Export assets to")
        if folder is None:
            return
        try:
            files = export_assets(self.session.store, folder)
        except (UserError, OSError) as exc:
            QMessageBox.warning(self, "Export failed", str(exc))
            return
        if files.left_out:
            lines = [f"{left.title} ({left.asset_id}): {left.why}." for left in files.left_out]
            QMessageBox.warning(
                self,
                "Some assets were left out",
                f"Exported {len(files)} files to {folder}. {len(files.left_out)} assets were "
                "left out because the project is damaged:\n\n" + "\n".join(lines[:20]),
            )
        self.statusBar().showMessage(f"Exported {len(files)} files to {folder}", 8000)

    def _projects_dir(self) -> str:
        return self.services.settings.projects_dir or str(self.services.paths.data_dir)

    def _recent(self) -> list[str]:
        value = self.qsettings.value("recent", [])
        return [str(v) for v in (value if isinstance(value, list) else [value]) if v]

    def remember_recent(self, path: Path) -> None:
        entry = str(Path(path).resolve())
        recent = [entry] + [p for p in self._recent() if p != entry]
        self.qsettings.setValue("recent", recent[:MAX_RECENT])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in self._recent() if Path(p).exists()]
        if not recent:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
        for entry in recent:
            action = self.recent_menu.addAction(Path(entry).name)
            action.setStatusTip(entry)
            action.triggered.connect(lambda _=False, p=entry: self.open_project(Path(p)))

    # assets ------------------------------------------------------------------------------------

    @Slot(str)
    def open_asset(self, asset_id: str) -> None:
        asset = self.session.asset(asset_id)
        panel = PANEL_FOR_ASSET[asset.kind]
        self.tabs.setCurrentWidget(self.panels[panel])
        self.panels[panel].open_asset(asset_id)

    @Slot(str, object)
    def send_to_voice(self, text: str, source_asset_id: str | None) -> None:
        """Text from the Writing panel, to be spoken in the Voice panel."""
        voice = self.panels[Panel.VOICE]
        if isinstance(voice, VoicePanel):
            voice.open_text(text, source_asset_id)
            self.tabs.setCurrentWidget(voice)

    @Slot(str)
    def speak_asset(self, asset_id: str) -> None:
        """ "Send to Voice" on a text, caption or document: the Voice panel speaks it."""
        self.session.flush()  # a document being typed: its newest words
        text = self.session.store.read_blob(asset_id).decode("utf-8", errors="replace")
        self.send_to_voice(text, asset_id)

    @Slot(list)
    def caption_assets(self, asset_ids: list[str]) -> None:
        """ "Caption This" on image assets: the Captioning panel describes them."""
        captioning = self.panels[Panel.CAPTIONING]
        if isinstance(captioning, CaptioningPanel):
            self.tabs.setCurrentWidget(captioning)
            captioning.caption_assets(asset_ids)

    @Slot(str)
    def use_settings_of(self, asset_id: str) -> None:
        """ "Use These Settings" on an image asset: the Image panel restores them."""
        panel = self.panels[Panel.IMAGE]
        self.tabs.setCurrentWidget(panel)
        summary = panel.restore_from_asset(self.session.asset(asset_id))
        self.statusBar().showMessage(summary, 10000)

    def rerun_asset(self, asset_id: str) -> None:
        """ "Re-run Recipe": the same job again, in the panel that made it."""
        store = self.session.store
        try:
            draft = draft_from_recipe(store, asset_id)
            prepared = self.services.pipeline.run_ready(draft, store)
        except UserError as exc:
            QMessageBox.warning(self, "Cannot run this recipe again", str(exc))
            return
        panel = self.panels[draft.panel]
        self.tabs.setCurrentWidget(panel)
        panel.submit(prepared)

    def run_draft(self, draft: Draft) -> None:
        """A job's draft again (Re-run of a failed or cancelled job in the Jobs view), in the
        panel it belongs to."""
        store = self.session.store
        try:
            prepared = self.services.pipeline.run_ready(draft, store)
        except UserError as exc:
            QMessageBox.warning(self, "Cannot run this job again", str(exc))
            return
        self.panels[draft.panel].submit(prepared)

    def show_models(self) -> ModelsView:
        """View > Models: the model library and the loaded models, not modal."""
        if self.models_view is None:
            self.models_view = ModelsView(self.services, self.model_scans, self)
            self.models_view.use_model_requested.connect(lambda path: self.use_model(Path(path)))
            for box in self.models_view.device_boxes.values():
                box.currentIndexChanged.connect(lambda _i: self._update_device())
        self.models_view.show()
        self.models_view.raise_()
        self.models_view.activateWindow()
        return self.models_view

    def _unload_idle_models(self) -> None:
        """Every minute: unload models unused for the set time (Models view), off the GUI
        thread (a model process answers in its own time)."""
        minutes = self.services.settings.unload_idle_minutes
        if minutes <= 0:
            return
        threading.Thread(
            target=self.services.budget.unload_idle,
            args=(minutes * 60,),
            name="unload-idle-models",
            daemon=True,
        ).start()

    def show_jobs(self) -> JobsView:
        """View > Jobs (or a click on the status bar's job count): every job, not modal."""
        if self.jobs_view is None:
            self.jobs_view = JobsView(self.jobs, self)
            self.jobs_view.open_asset_requested.connect(self.open_asset)
            self.jobs_view.rerun_asset_requested.connect(self.rerun_asset)
            self.jobs_view.run_draft_requested.connect(self.run_draft)
        self.jobs_view.show()
        self.jobs_view.raise_()
        self.jobs_view.activateWindow()
        return self.jobs_view

    # preferences -------------------------------------------------------------------------------

    def show_preferences(self) -> None:
        dialog = PreferencesDialog(
            self.services.settings,
            self.services.settings_file,
            self.services.devices,
            str(self.services.paths.data_dir),
            self,
        )
        if dialog.exec():
            self.services.settings = dialog.result_settings
            budget = dialog.result_settings.memory_budget_bytes
            # One budget for every process, applied now (models over it unload at once), off
            # the GUI thread: a model process may take a moment to answer.
            threading.Thread(
                target=setattr,
                args=(self.services.budget, "budget_bytes", budget),
                name="apply-memory-budget",
                daemon=True,
            ).start()
            self._update_memory()
            apply_theme(dialog.result_settings.theme)
            self._update_device()

    # status bar --------------------------------------------------------------------------------

    @Slot()
    def _update_jobs(self, *_: object) -> None:
        # What each job is doing, as the Jobs view says it (the model heard the runner first).
        counts = self.jobs.counts()
        parts = [
            f"{counts[state]} {state.value}"
            for state in (JobState.RUNNING, JobState.WAITING, JobState.QUEUED)
            if counts[state]
        ]
        self.jobs_label.setText(f"Jobs: {', '.join(parts)}" if parts else "No jobs")

    @Slot(str, object)
    def _job_done(self, *_: object) -> None:
        self._update_jobs()

    @Slot(str, str)
    def _job_failed(self, job_id: str, message: str) -> None:
        self._update_jobs()
        self.statusBar().showMessage(f"A job failed: {message}", 8000)

    def _update_device(self) -> None:
        """The device of the shown panel's jobs (its own setting, else the global one)."""
        panels = list(self.panels)
        index = self.tabs.currentIndex()
        panel = panels[index] if 0 <= index < len(panels) else None
        setting = (
            self.services.settings.device_for(panel) if panel else self.services.settings.device
        )
        try:
            device = resolve_device(setting, self.services.devices)
        except UserError:
            device = f"{setting} (unavailable)"
        self.device_label.setText(f"Device: {device}")

    @Slot()
    def _update_memory(self) -> None:
        """The real memory of the window and of every model process, and what the loaded
        models take of the one budget (the tooltip lists them, most recently used first)."""
        used = process_memory_bytes()
        children = {pid for r in self.runners.values() for pid in r.executor.child_pids}
        model_processes = sum(process_memory_bytes(pid) for pid in children)
        budget = self.services.budget
        held = budget.held()
        text = f"Memory: {(used + model_processes) / 2**30:.1f} GB"
        if held:
            models, limit = budget.total_bytes / 2**30, budget.budget_bytes / 2**30
            text += f" · models {models:.1f} of {limit:.1f} GB"
        self.memory_label.setText(text)
        lines = [
            f"This window: {used / 2**30:.2f} GB",
            f"Model processes ({len(children)}): {model_processes / 2**30:.2f} GB",
            f"Memory for models (Preferences): {budget.budget_bytes / 2**30:.1f} GB",
        ]
        lines += [
            f"  {self._model_words(h.label)}: {h.size / 2**30:.2f} GB, {h.owner}" for h in held
        ]
        self.memory_label.setToolTip("\n".join(lines))

    def _model_words(self, label: str) -> str:
        """A loaded model as people name it: the plugin's name, and its model file if any."""
        plugin_id, _, rest = label.partition(" ")
        try:
            name = self.services.registry.get(plugin_id).name
        except Exception:
            return label
        return f"{name} {rest}".strip()

    # closing -----------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._confirm_jobs_stop():
            event.ignore()
            return
        if self.plugins_dialog is not None and self.plugins_dialog.installs.installing:
            answer = QMessageBox.question(
                self,
                "A plugin is being installed",
                "Quit anyway? Stopping it part way may leave the plugin half installed.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        problems = self.session.flush()
        if problems:
            answer = QMessageBox.warning(
                self,
                "Not everything is saved",
                f"{problems[0]}\n\nQuit anyway and lose it? (No keeps Studio open: copy the "
                "text, or save the project elsewhere with File > Save As.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.browser.shutdown()
        captioning = self.panels[Panel.CAPTIONING]
        if isinstance(captioning, CaptioningPanel):
            captioning.shutdown()  # a running caption batch stops after its current image
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        event.accept()

    @Slot(str)
    def _integrity_problem(self, summary: str) -> None:
        path = self.session.path
        problem = (
            f"A check of {self.session.display_name} found problems: {summary}. What can be "
            "read stays available, but nothing new is saved into it."
        )
        if path is None:  # an untitled project that has no file yet
            QMessageBox.warning(self, "The project is damaged", problem)
        elif offer_repair(self, path, problem):
            self.repair_project(path)

    @Slot(str)
    def _show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)
