"""GUI heartbeat while a plugin imports, loads and generates on a panel's worker thread.

A 10 ms timer on the GUI thread records how late each tick fires; lateness is grouped by the
phase the job reports (import, load, generate). A timer drops missed ticks, so a long freeze
shows only in the max. Goals: p99 < 50 ms and max < 200 ms in every phase.

    QT_QPA_PLATFORM=offscreen python bench/bench_heartbeat.py [--layers 6 --width 512 --tokens 200]

Both ways of running models are measured, each in a fresh process: ``thread`` (the plugin runs
on the panel's worker thread) and ``process`` (the panel's model process, the default).
The bench plugin (bench/plugins/heartbeat_writer) imports torch and transformers in its load(),
builds a random GPT-2 and streams tokens through the real job runner and Qt signals.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BENCH_PLUGINS = Path(__file__).resolve().parent / "plugins"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--mode", choices=("thread", "process"))
    args = parser.parse_args()
    if args.mode is None:
        for mode in ("thread", "process"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--mode", mode], check=True)
        return

    data_dir = tempfile.mkdtemp(prefix="studio-bench-")
    os.environ["STUDIO_DATA_DIR"] = data_dir
    os.environ["STUDIO_PLUGIN_PATH"] = str(BENCH_PLUGINS)
    from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from studio.app import panel_executors
    from studio.core.jobs import Job
    from studio.core.services import build_core_services
    from studio.core.settings import Settings
    from studio.plugin_api import Panel, TextRequest
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession

    app = QApplication(sys.argv[:1])
    services = build_core_services()
    services.settings = Settings(isolate_models=args.mode == "process")
    executor = panel_executors(services, [Panel.WRITING])[Panel.WRITING]
    session = ProjectSession(Path(data_dir))
    runner = PanelJobRunner(executor, "writing")

    class Heartbeat(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.phase = "idle"
            self.samples: dict[str, list[float]] = {}
            self.clock = QElapsedTimer()
            self.clock.start()
            self.last = self.clock.nsecsElapsed()
            self.timer = QTimer(self)
            self.timer.setInterval(10)
            self.timer.timeout.connect(self.tick)

        @Slot()
        def tick(self) -> None:
            now = self.clock.nsecsElapsed()
            late = max(0.0, (now - self.last) / 1e6 - 10.0)
            self.last = now
            self.samples.setdefault(self.phase, []).append(late)

        @Slot(str, object, str, object)
        def on_progress(self, job_id, fraction, message, eta) -> None:
            if message.startswith("phase:"):
                self.phase = message.removeprefix("phase:")

        @Slot(str, object)
        def on_finished(self, *_):
            app.quit()

        @Slot(str, str)
        def on_failed(self, job_id, message):
            print("job failed:", message)
            app.quit()

    beat = Heartbeat()
    runner.progress.connect(beat.on_progress)
    runner.finished.connect(beat.on_finished)
    runner.failed.connect(beat.on_failed)
    beat.timer.start()
    job = Job(
        plugin_id="bench.heartbeat-writer",
        panel=Panel.WRITING,
        request=TextRequest(prompt="x"),
        load_options={"layers": args.layers, "width": args.width},
        run_options={"tokens": args.tokens},
    )
    started = time.monotonic()
    runner.submit(job, session.sink())
    app.exec()
    elapsed = time.monotonic() - started
    runner.shutdown()
    executor.shutdown()
    session.close()
    where = "a model process" if args.mode == "process" else "the panel's worker thread"
    print(f"\n== mode {args.mode}: the plugin runs in {where}")
    print(
        f"job: import + load + generate {args.tokens} tokens in {elapsed:.1f} s "
        f"(GPT-2 {args.layers} layers x {args.width}, random weights)"
    )
    print(
        f"{'phase':10} {'ticks':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        "   goals p99 < 50, max < 200"
    )
    for phase in ("import", "load", "generate"):
        values = beat.samples.get(phase, [])
        if not values:
            continue
        print(
            f"{phase:10} {len(values):6d} {statistics.median(values):7.1f} "
            f"{percentile(values, 0.99):7.1f} {max(values):7.1f}"
        )


if __name__ == "__main__":
    main()
