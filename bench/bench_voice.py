"""Voice panel benchmarks on the embedded hibari voice.

1. Speed: the panel path (Speak pressed in the Voice panel, the job in the panel's model
   process, sentence by sentence, the WAV committed to the project, the take shown) against the
   raw library call ``Hibari()(text)`` in this process, on the same 20-sentence text,
   interleaved, with a 0.3 s pause before each measurement (so what one leaves behind, such as a
   thread pool still spinning, is not counted in the next). Reported as real-time factors
   (seconds of work per second of speech; the panel's audio is counted without the pauses it
   puts between sentences, so both measure the same speech) and their ratio. Goal: panel / raw
   <= 1.05. Also the CPU seconds of the raw call, and of a panel job in the model process and
   in the window's process (on a 2-core machine the window's work is taken from the model's).
2. Time to first audio for the 20-sentence text: Speak pressed to the first preview of the take
   in the panel (after the first sentence), against the first sentence from ``Hibari.stream``.
3. The GUI heartbeat (a 10 ms timer in the window's thread) while the panel speaks.
   Goal: p99 < 50 ms.

    QT_QPA_PLATFORM=offscreen python bench/bench_voice.py [--rounds 3] [--in-thread]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SETTLE_MS = 300
PLUGIN = "studio.voice-hibari"
SENTENCES = [
    "The lighthouse stood at the end of a long stone pier.",
    "Every evening the keeper climbed its hundred and twelve steps.",
    "He carried a lamp, a notebook and a flask of strong tea.",
    "From the top he could see the whole bay and the town behind it.",
    "Fishing boats came home one by one as the light faded.",
    "Gulls settled on the railings and watched him work.",
    "He cleaned the great lens with a soft cloth.",
    "Then he wound the clockwork that turned the light.",
    "At nine o'clock exactly, he lit the wick.",
    "The beam swept across the water, slow and steady.",
    "Ships far out at sea saw it and changed their course.",
    "On stormy nights the waves broke over the lower windows.",
    "He wrote the weather in his notebook every hour.",
    "Wind from the west, rain, visibility poor.",
    "Some nights nothing happened at all.",
    "Other nights a small boat would struggle past the rocks.",
    "He never learned the names of the sailors he guided.",
    "In the morning he put out the light and walked back to town.",
    "The baker always had a warm loaf waiting for him.",
    "And every evening, he climbed the steps again.",
]
TEXT = " ".join(SENTENCES)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--in-thread", action="store_true", help="run the panel's jobs in a worker thread"
    )
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="studio-bench-voice-")
    os.environ["STUDIO_DATA_DIR"] = data_dir

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from studio.app import panel_executors
    from studio.core.services import build_core_services
    from studio.core.settings import Settings
    from studio.plugin_api import Panel
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession
    from studio.ui.panels.voice import VoicePanel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    services = build_core_services()
    if args.in_thread:
        services.settings = Settings(isolate_models=False)
    executor = panel_executors(services, [Panel.VOICE])[Panel.VOICE]
    session = ProjectSession(Path(data_dir))
    runner = PanelJobRunner(executor, "voice")
    panel = VoicePanel(services, session, runner)
    panel.refresh_plugins()
    if panel.current_plugin_id() != PLUGIN:
        raise SystemExit(f"the embedded voice {PLUGIN} was not picked first")
    panel.resize(1200, 700)
    panel.show()
    panel.open_text(TEXT)

    class Heartbeat(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.samples: list[float] = []
            self.recording = False
            self.clock = QElapsedTimer()
            self.clock.start()
            self.last = self.clock.nsecsElapsed()
            self.timer = QTimer(self)
            self.timer.setInterval(10)
            self.timer.timeout.connect(self.tick)
            self.timer.start()

        @Slot()
        def tick(self) -> None:
            now = self.clock.nsecsElapsed()
            if self.recording:
                self.samples.append(max(0.0, (now - self.last) / 1e6 - 10.0))
            self.last = now

    heartbeat = Heartbeat()

    def panel_path() -> tuple[float, float, float]:
        """(seconds, speech seconds without the inserted pauses, time to first audio)."""
        loop = QEventLoop()
        result: dict[str, float] = {}

        def preview(job_id: str, data: bytes, media_type: str) -> None:
            result.setdefault("first", time.perf_counter())

        def finished(job_id: str, asset_ids: tuple[str, ...]) -> None:
            result["end"] = time.perf_counter()
            result["asset"] = asset_ids[0]
            loop.quit()

        def failed(job_id: str, message: str) -> None:
            raise SystemExit(f"the job failed: {message}")

        runner.preview.connect(preview)
        runner.finished.connect(finished)
        runner.failed.connect(failed)
        heartbeat.last = heartbeat.clock.nsecsElapsed()
        heartbeat.recording = True
        cpu = time.process_time(), _cpu_seconds(executor.child_pid)
        start = time.perf_counter()
        panel.run()
        loop.exec()
        heartbeat.recording = False
        cpu_used.append((time.process_time() - cpu[0], _cpu_seconds(executor.child_pid) - cpu[1]))
        for signal, slot in ((runner.preview, preview), (runner.finished, finished)):
            signal.disconnect(slot)
        runner.failed.disconnect(failed)
        details = session.asset(str(result["asset"])).recipe.details
        pauses = _pause_seconds(details["sentences"])
        speech = float(details["seconds"]) - pauses
        first = result.get("first", result["end"]) - start
        return result["end"] - start, speech, first

    from hibari import Hibari

    tts = Hibari(threads=services.scheduler.threads_for("cpu"))

    raw_cpu: list[float] = []

    def raw() -> tuple[float, float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        audio = tts(TEXT)
        seconds = time.perf_counter() - start
        raw_cpu.append(time.process_time() - cpu)
        start = time.perf_counter()
        next(iter(tts.stream(TEXT)))
        first = time.perf_counter() - start
        return seconds, len(audio) / tts.sample_rate, first

    cpu_used: list[tuple[float, float]] = []
    panel_path()  # warm-up: starts the model process and loads the voice there
    raw()
    heartbeat.samples.clear()
    cpu_used.clear()
    raw_cpu.clear()

    def settle() -> None:
        """Let the event loop and the CPU settle between measurements, so what one run leaves
        behind (a repaint, a thread pool still spinning) is not counted in the next."""
        pause = QEventLoop()
        QTimer.singleShot(SETTLE_MS, pause.quit)
        pause.exec()

    panels, raws = [], []
    for _ in range(args.rounds):
        settle()
        raws.append(raw())
        settle()
        panels.append(panel_path())
    runner.shutdown()
    executor.shutdown()
    session.close()

    def rtf(run: tuple[float, float, float]) -> float:
        return run[0] / run[1]

    ratio = statistics.median(rtf(p) / rtf(r) for p, r in zip(panels, raws, strict=True))
    mode = "worker thread" if args.in_thread else "model process"
    print(f"hibari, {len(SENTENCES)} sentences, {args.rounds} interleaved rounds, {mode}:")
    for label, runs in (("raw Hibari()(text)", raws), ("panel path", panels)):
        print(
            f"  {label:19} RTF {statistics.median(rtf(r) for r in runs):.4f} "
            f"({statistics.median(r[0] for r in runs):.2f} s for "
            f"{statistics.median(r[1] for r in runs):.1f} s of speech), first audio "
            f"{statistics.median(r[2] for r in runs):.2f} s"
        )
    print(f"  panel RTF / raw RTF: {ratio:.3f} (goal <= 1.05)")
    print(
        f"  CPU seconds: raw call {statistics.median(raw_cpu):.2f}; panel job: the model "
        f"process {statistics.median(c[1] for c in cpu_used):.2f}, this process (the window) "
        f"{statistics.median(c[0] for c in cpu_used):.2f}"
    )
    beats = heartbeat.samples
    print(
        f"  GUI heartbeat while speaking: p50 {statistics.median(beats or [0]):.1f} ms, "
        f"p99 {percentile(beats, 0.99):.1f} ms, max {max(beats or [0]):.1f} ms "
        f"({len(beats)} beats; goal p99 < 50 ms)"
    )
    app.quit()


def _cpu_seconds(pid: int | None) -> float:
    """User and system CPU seconds a process has used (0 when there is none)."""
    if pid is None:
        return time.process_time()  # the job runs in this process
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pause_seconds(sentences: int) -> float:
    from studio.plugin_api.speech import SENTENCE_PAUSE_S

    # The bench text is one paragraph: a sentence pause between each pair of sentences.
    return max(0, sentences - 1) * SENTENCE_PAUSE_S


if __name__ == "__main__":
    main()
