"""A Writing panel typing into a project until it is killed (tests/ui/test_document_crash.py).

Usage: python typing_child.py PROJECT TEXT. Types TEXT into the panel's editor one character
every 15 ms, as key presses, and prints ``<characters typed> <time.time()>`` after each.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from studio.core.services import build_core_services
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession
    from studio.ui.panels.writing import WritingPanel

    project, text = Path(sys.argv[1]), sys.argv[2]
    app = QApplication([])
    services = build_core_services()
    session = ProjectSession(services.paths.data_dir)
    session.open(project)
    runner = PanelJobRunner(services.executor, "writing")
    panel = WritingPanel(services, session, runner)
    panel.show()
    panel.document.setFocus()
    typed = 0

    def type_one() -> None:
        nonlocal typed
        if typed < len(text):
            QTest.keyClicks(panel.document, text[typed])
            typed += 1
            print(f"{typed} {time.time()}", flush=True)

    timer = QTimer()
    timer.timeout.connect(type_one)
    timer.start(15)
    app.exec()


if __name__ == "__main__":
    main()
