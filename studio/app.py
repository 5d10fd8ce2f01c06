"""The composition root of the window: builds the services and hands them down.

No module-level singletons: everything the window uses is created here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from studio.core.errors import UserError
from studio.core.services import build_core_services


def run_app(project: Path | None = None) -> int:
    if project is not None and not project.is_file():
        raise UserError(f"The project file {project} does not exist.")
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
