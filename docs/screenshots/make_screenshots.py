"""Take the README's screenshots: the real window under Xvfb, one per panel.

    xvfb-run -a -s "-screen 0 1400x900x24" python docs/screenshots/make_screenshots.py [OUT_DIR]

Uses the light test plugins (labelled as such in the window) until the real panels exist, runs
one job in each panel so the output areas and the asset browser have something to show.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from studio.plugin_api.sample_media import write_sample_png
from studio.plugin_api.testing import TEST_PLUGINS_DIR


def wait(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> None:
    # Set up here, not at import: model processes import this module again when they start.
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="studio-shots-")
    os.environ["STUDIO_PLUGIN_PATH"] = str(TEST_PLUGINS_DIR)
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.plugin_api import Panel

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.show()
    wait(1500)
    panels = window.panels
    panels[Panel.WRITING].prompt.setPlainText("It was a bright cold day in April, and the clocks")
    panels[Panel.IMAGE].prompt.setPlainText("a calm sea at dawn")
    panels[Panel.IMAGE].run_form.editors["width"].put(256)
    panels[Panel.IMAGE].run_form.editors["height"].put(256)
    panels[Panel.VOICE].text.setPlainText("Hello there. This is the voice panel.")
    sample = write_sample_png(Path(os.environ["STUDIO_DATA_DIR"]) / "sample.png", 96, 64)
    panels[Panel.CAPTIONING].image_input.set_path(sample)
    for panel in (Panel.VOICE, Panel.CAPTIONING, Panel.IMAGE, Panel.WRITING):
        panels[panel].run()
        wait(1200)
    for index, panel in enumerate(panels):
        window.tabs.setCurrentIndex(index)
        wait(400)
        path = out / f"window-{panel.value}.png"
        if not window.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        print("saved", path)
    studio.shutdown()
    app.quit()


if __name__ == "__main__":
    main()
