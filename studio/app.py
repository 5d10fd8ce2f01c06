"""The composition root of the window: builds every service once and hands them down.

No module-level singletons: settings, registry, model cache, job runners and the open project
are created here and passed to the widgets that need them. The window shows before any plugin
code runs; plugin discovery finishes on a background thread.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import UserError
from studio.core.services import CoreServices, build_core_services

log = logging.getLogger(__name__)


def _check_display() -> None:
    """Refuse clearly instead of letting Qt abort when there is no screen to show a window on."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        raise UserError(
            "No display found: the Studio window needs a desktop session "
            "(or run it under xvfb-run); headless commands work anyway, see 'studio --help'."
        )


@dataclass
class StudioApp:
    """Everything the running window is made of (tests build one without ``exec``)."""

    services: CoreServices
    session: object
    runners: dict
    window: object

    executors: dict

    def shutdown(self) -> None:
        """Quit: returns within a few seconds, whatever the running jobs do (a job that ignores
        its cancel has its model process ended)."""
        self.window.browser.shutdown()
        for runner in self.runners.values():
            runner.cancel()
        for executor in self.executors.values():
            executor.shutdown()
        for runner in self.runners.values():
            runner.shutdown()
        self.services.cache.unload_all()
        self.session.close()


def panel_executors(services: CoreServices, panels) -> dict:
    """One executor per panel: its own model process, or this process, as the preference says
    when each job starts. Jobs in this process leave a mark while they run, so that a crash
    they cause is named at the next start."""
    from studio.core.crash_marks import CrashMarks

    services.executor.crash_marks = CrashMarks(services.paths.data_dir)
    return {panel: services.panel_executor(panel.value) for panel in panels}


def build_app(project: Path | None = None, services: CoreServices | None = None) -> StudioApp:
    """Build the window and its services (a QApplication must exist)."""
    from PySide6.QtCore import QObject, QSettings, Signal

    from studio.core.panel_defaults import check_default
    from studio.core.plugin_install import PluginInstaller
    from studio.plugin_api import Panel
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import apply_theme

    services = services or build_core_services()
    qsettings = QSettings(str(services.paths.data_dir / "window.ini"), QSettings.Format.IniFormat)
    session = ProjectSession(services.paths.data_dir)
    reopened = ""
    cannot_open: UserError | None = None
    if project is not None:
        try:
            session.open(project)
        except UserError as exc:  # said in the window (a double-click has no terminal)
            cannot_open = exc
    else:
        reopened = reopen_last_project(session, qsettings)
    executors = panel_executors(services, list(Panel))
    if services.scheduler.lease is not None:
        services.scheduler.lease.start()  # the window's CPU time is Studio's, not another's
    runners = {panel: PanelJobRunner(executors[panel], panel.value) for panel in Panel}
    apply_theme(services.settings.theme)
    # The one installer of the window (the command line builds its own from the same paths).
    installer = PluginInstaller(services.paths)
    window = MainWindow(services, session, runners, qsettings, installer=installer)
    if project is not None and cannot_open is None:
        window.remember_recent(project)
    elif project is not None and cannot_open is not None:
        from PySide6.QtCore import QTimer

        problem = cannot_open
        QTimer.singleShot(0, lambda: window.cannot_open(project, problem))
    if services.settings_file.problem:
        window.statusBar().showMessage(services.settings_file.problem, 15000)
    elif reopened:
        window.show_start_message(reopened)

    class _Discovery(QObject):
        done = Signal()

    discovery = _Discovery(window)
    discovery.done.connect(window.plugins_ready)

    def discover() -> None:
        # Manifests only, plus importing the light plugin modules: never torch or models.
        services.registry.verify()
        discovery.done.emit()
        # Engines never checked on this machine ('studio doctor' checks them all) are checked
        # now, each in a process of its own, so that no panel offers one that fails here.
        store = services.engine_checks.store
        before = store.path.stat().st_mtime_ns if store.path.exists() else 0
        for panel in Panel:
            try:
                check_default(services.registry, services.engine_checks, panel)
            except Exception:
                log.warning("checking the engines of %s failed", panel.value, exc_info=True)
        after = store.path.stat().st_mtime_ns if store.path.exists() else 0
        if after != before:
            discovery.done.emit()

    threading.Thread(target=discover, name="plugin-discovery", daemon=True).start()
    return StudioApp(
        services=services, session=session, runners=runners, window=window, executors=executors
    )


def reopen_last_project(session, qsettings) -> str:
    """Open the project that was open when Studio last closed (or crashed), as editors and
    notes apps do, so that nothing written is out of sight; returns what to tell the user."""
    from studio.ui.main_window import LAST_PROJECT_KEY

    last = str(qsettings.value(LAST_PROJECT_KEY, "") or "")
    if not last or not Path(last).is_file():
        return ""
    try:
        session.open(Path(last))
    except UserError as exc:
        log.warning("cannot reopen %s: %s", last, exc)
        from studio.core.project import DamagedProjectError

        repair = (
            " (File > Repair Project saves its intact assets)"
            if isinstance(exc, DamagedProjectError)
            else ""
        )
        return f"The last project could not be opened again{repair}: {exc}"
    return f"Reopened {session.display_name} (File > New Project starts an empty one)."


def listen_for_launches(studio: StudioApp, name: str):
    """Let later launches hand their project to this window (see studio.qt.single_instance)."""
    from studio.qt.single_instance import InstanceServer

    server = InstanceServer(name, studio.window)
    server.open_requested.connect(studio.window.open_from_another_launch)
    server.activate_requested.connect(studio.window.bring_to_front)
    if not server.listen():
        log.warning("cannot listen for later launches on %s", name)
    return server


def run_app(project: Path | None = None) -> int:
    if project is not None and not project.is_file():
        raise UserError(f"The project file {project} does not exist.")
    _check_display()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    from PySide6.QtGui import QIcon

    from studio.core.paths import Paths
    from studio.core.resources import resource_path
    from studio.qt.single_instance import message_for, send_to_running, server_name

    name = server_name(Paths.from_environment().data_dir)
    if send_to_running(name, message_for(project)):
        print(
            "Studio is already running"
            + (f": {project} opens in its window." if project else "; its window comes forward."),
            file=sys.stderr,
        )
        return 0
    app.setWindowIcon(QIcon(str(resource_path("icons", "studio.svg"))))
    from studio.core.logs import enable_crash_stacks
    from studio.core.services import build_core_services
    from studio.ui.crash_notice import offer_model_processes_after_crash

    services = build_core_services()
    enable_crash_stacks(services.paths)
    offer_model_processes_after_crash(services)
    studio = build_app(project, services)
    listen_for_launches(studio, name)
    studio.window.show()
    studio.window.welcome_if_first_launch()
    try:
        return app.exec()
    finally:
        studio.shutdown()
