"""Screenshots of desktop life under Xvfb: a project opened through its desktop entry, and the
window's drop highlight (accepting a project, refusing a file it cannot take).

    xvfb-run -a -s "-screen 0 1400x900x24" python docs/screenshots/desktop_shots.py [OUT_DIR]

Installs the desktop entry into a temporary XDG data folder, makes a small project with the
command line, starts Studio exactly as the desktop would (the entry's Exec line with %f
replaced by the project), and grabs the screen.
"""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from studio.plugin_api.sample_media import write_sample_png


def studio_command(*args: str) -> None:
    launcher = Path(sys.executable).parent / "studio"
    subprocess.run([str(launcher), *args], check=True, capture_output=True, text=True)


def project_through_desktop_entry(out: Path, work: Path) -> None:
    xdg = work / "xdg"
    os.environ["XDG_DATA_HOME"] = str(xdg)
    studio_command("desktop", "install")
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(xdg / "applications" / "studio.desktop")
    project = work / "Lighthouse.studio"
    samples = [write_sample_png(work / f"sample-{i}.png", 160 + 40 * i, 120) for i in range(3)]
    (work / "notes.txt").write_text("The keeper climbs the stairs every evening.\n")
    studio_command("project", "import", str(project), *map(str, samples), str(work / "notes.txt"))
    exec_line = entry["Desktop Entry"]["Exec"].replace("%f", shlex.quote(str(project)))
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    process = subprocess.Popen(shlex.split(exec_line), env=env)
    try:
        time.sleep(8)
        subprocess.run(
            ["import", "-window", "root", str(out / "desktop-entry-project.png")], check=True
        )
    finally:
        process.terminate()
        process.wait(20)


def drop_highlight(out: Path, work: Path) -> None:
    from PySide6.QtCore import QEventLoop, QMimeData, QPoint, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.core.project.store import ProjectStore

    def wait(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    os.environ["STUDIO_DATA_DIR"] = str(work / "data")
    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - kept alive
    studio = build_app()
    window = studio.window
    window.resize(1200, 760)
    window.show()
    wait(1500)
    project = work / "Holiday.studio"
    ProjectStore.create(project).close()
    stray = work / "budget.xlsx"
    stray.write_bytes(b"PK\x03\x04")
    for name, path in (("drop-accept", project), ("drop-refuse", stray)):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDragEnterEvent(
            QPoint(600, 380),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(window, event)
        wait(400)
        window.grab().save(str(out / f"window-{name}.png"))
        window.drop_overlay.hide()
    studio.shutdown()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="studio-desktop-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(work / "data")
    project_through_desktop_entry(out, work)
    drop_highlight(out, work)


if __name__ == "__main__":
    main()
