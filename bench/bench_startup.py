"""Start-up: launch to window painted, and which heavy modules were imported by then.

Runs the real entry point (``python main.py``) in a child process several times with a probe
that reports when the main window has painted its first frame. Goal: < 1.5 s, and none of
torch, transformers, diffusers or TTS imported.

    python bench/bench_startup.py [--runs 5] [--platform offscreen|xcb]

With ``--platform xcb`` run it under ``xvfb-run -a`` for a real X11 window.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, os, sys, time
from PySide6.QtCore import QObject, QEvent, QTimer
from PySide6.QtWidgets import QApplication
import studio.app as app_module

HEAVY = ("torch", "transformers", "diffusers", "TTS")
original = app_module.build_app

class PaintWatch(QObject):
    def __init__(self, window):
        super().__init__()
        self.window = window
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and obj is self.window.centralWidget():
            report = {"painted": time.time(),
                      "heavy": [m for m in HEAVY if m in sys.modules],
                      "modules": len(sys.modules)}
            print("STARTUP " + json.dumps(report), flush=True)
            QTimer.singleShot(0, QApplication.instance().quit)
            obj.removeEventFilter(self)
        return False

def build_app(*args, **kwargs):
    studio = original(*args, **kwargs)
    watch = PaintWatch(studio.window)
    studio.window.centralWidget().installEventFilter(watch)
    studio.window._paint_watch = watch
    return studio

app_module.build_app = build_app
sys.argv = ["main.py"]
from studio.cli.main import main
sys.exit(main([], window=True))
"""


def one_run(platform: str, data_dir: str) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": platform, "STUDIO_DATA_DIR": data_dir}
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("STARTUP ")), None)
    if line is None:
        raise SystemExit(f"no start-up report:\n{done.stdout}\n{done.stderr}")
    report = json.loads(line[len("STARTUP ") :])
    report["seconds"] = report["painted"] - start
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default="offscreen")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        one_run(args.platform, data_dir)  # warm the disk cache and byte-code
        reports = [one_run(args.platform, data_dir) for _ in range(args.runs)]
    seconds = [r["seconds"] for r in reports]
    heavy = sorted({m for r in reports for m in r["heavy"]})
    print(f"platform {args.platform}, {args.runs} runs")
    print(
        f"launch to window painted: median {statistics.median(seconds):.2f} s, "
        f"max {max(seconds):.2f} s (goal < 1.5 s)"
    )
    print(f"heavy modules imported by then: {', '.join(heavy) or 'none'} (goal: none)")
    print(f"modules loaded: {reports[-1]['modules']}")


if __name__ == "__main__":
    main()
