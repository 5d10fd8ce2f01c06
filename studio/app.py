"""The composition root of the window: builds the services and hands them down.

No module-level singletons: everything the window uses is created here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from studio.core.errors import UserError
from studio.core.services import build_core_services


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


def run_app(project: Path | None = None) -> int:
    if project is not None and not project.is_file():
        raise UserError(f"The project file {project} does not exist.")
    _check_display()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from studio.ui.main_window import MainWindow

    services = build_core_services()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    window = MainWindow(services.registry, project)
    window.show()
    QTimer.singleShot(0, window.refresh_plugins)
    return app.exec()
