"""GUI heartbeat while plugins import, load and generate, through the real panel job runners.

A 10 ms timer on the GUI thread records how late each tick fires. A timer drops missed ticks,
so a long freeze shows only in the max.

    QT_QPA_PLATFORM=offscreen python bench/bench_heartbeat.py [--layers 6 --width 512 --tokens 200]

One panel, one job (modes ``thread`` and ``process``, both run when no mode is given, each in a
fresh process): the bench plugin (bench/plugins/heartbeat_writer) imports torch and
transformers in its load(), builds a random GPT-2 and streams tokens through the real job
runner and Qt signals; ``thread`` runs it on the panel's worker thread, ``process`` in the
panel's model process (the default). Lateness is grouped by the phase the job reports (import,
load, generate). Goals: p99 < 50 ms and max < 200 ms in every phase.

Two panels at once (mode ``two-panels``, run only when asked):

    QT_QPA_PLATFORM=offscreen python bench/bench_heartbeat.py --mode two-panels --tokens 400

Two panel job runners, each with its own model-process executor as the window builds them
(``studio.app.panel_executors``). Panel A (Writing, bench/plugins/heartbeat_writer) loads its
random GPT-2 with a first one-token job, then streams ``--tokens`` tokens. Once its first
words arrive (and ``--b-delay`` later), panel B (Voice, bench/plugins/heartbeat_voice) is
warmed up the way a panel does when it opens (``executor.prepare_plugin(id, load_options,
"cpu")`` on the GUI thread): its model process starts, imports torch and transformers, and
loads a random GPT-2 (``--b-layers``, ``--b-width``). ``--b-start job`` submits a first job on
B's runner instead, which waits for the window's CPU slot while A streams (so it shows that
no overlap happens that way). Both plugins note each step with the system-wide monotonic
clock in a file; the ticks are grouped by what A and B were doing then, and the timeline says
how long B's start, import and load overlapped A's streaming. B's load holds the
cross-process CPU lease: it waits while A's job holds every core. Goal during the overlap
(A streams while B starts, imports or loads): p99 < 4 ms and max < 10 ms.
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
WRITER = "bench.heartbeat-writer"
VOICE = "bench.heartbeat-voice"
EVENTS_ENV = "STUDIO_BENCH_EVENTS"

TWO_PANEL_GOAL_P99_MS = 4.0
TWO_PANEL_GOAL_MAX_MS = 10.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stats_row(label: str, values: list[float]) -> str:
    """Ticks, the seconds they span, p50, p99 and max lateness, in one line."""
    if not values:
        return f"{label:50} {0:6d} {0:7.2f}       -       -       -"
    seconds = sum(0.010 + late / 1000 for late in values)
    return (
        f"{label:50} {len(values):6d} {seconds:7.2f} {statistics.median(values):7.2f} "
        f"{percentile(values, 0.99):7.2f} {max(values):7.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--mode", choices=("thread", "process", "two-panels"))
    two = parser.add_argument_group("two-panels")
    two.add_argument("--b-layers", type=int, default=6, help="depth of panel B's model")
    two.add_argument("--b-width", type=int, default=512, help="hidden size of panel B's model")
    two.add_argument(
        "--b-start",
        choices=("warm-up", "job"),
        default="warm-up",
        help="how panel B starts: the panel's warm-up (prepare_plugin), or a first job",
    )
    two.add_argument(
        "--b-delay", type=float, default=0.5, help="seconds after A's first words that B starts"
    )
    two.add_argument("--timeout", type=float, default=600.0, help="give up after this many s")
    args = parser.parse_args()
    if args.tokens > 1020:
        parser.error("--tokens: at most 1020 (the bench GPT-2 has 1024 positions)")
    if args.mode is None:
        for mode in ("thread", "process"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--mode", mode], check=True)
        return

    data_dir = tempfile.mkdtemp(prefix="studio-bench-")
    os.environ["STUDIO_DATA_DIR"] = data_dir
    os.environ["STUDIO_PLUGIN_PATH"] = str(BENCH_PLUGINS)
    events_file = Path(data_dir) / "bench-events.txt"
    os.environ[EVENTS_ENV] = str(events_file)  # the model processes get this environment
    if args.mode == "two-panels":
        sys.exit(two_panels(args, Path(data_dir), events_file))
    one_panel(args, Path(data_dir))


def make_heartbeat():
    """A 10 ms timer on the GUI thread noting (time, lateness in ms, phase) for each tick."""
    from PySide6.QtCore import QObject, QTimer, Slot

    class Heartbeat(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.phase = "idle"
            self.samples: list[tuple[float, float, str]] = []
            self.last = time.monotonic_ns()
            self.timer = QTimer(self)
            self.timer.setInterval(10)
            self.timer.timeout.connect(self.tick)

        def start(self) -> None:
            self.last = time.monotonic_ns()
            self.timer.start()

        @Slot()
        def tick(self) -> None:
            now = time.monotonic_ns()
            late = max(0.0, (now - self.last) / 1e6 - 10.0)
            self.last = now
            self.samples.append((now / 1e9, late, self.phase))

        def by_phase(self, phase: str) -> list[float]:
            return [late for _, late, p in self.samples if p == phase]

        @Slot(str, object, str, object)
        def on_progress(self, job_id, fraction, message, eta) -> None:
            if message.startswith("phase:"):
                self.phase = message.removeprefix("phase:")

    return Heartbeat()


# one panel: thread or process ----------------------------------------------------------------


def one_panel(args: argparse.Namespace, data_dir: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from studio.app import panel_executors
    from studio.core.pipeline import Draft
    from studio.core.services import build_core_services
    from studio.core.settings import Settings
    from studio.plugin_api import Panel
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession

    app = QApplication(sys.argv[:1])
    services = build_core_services()
    services.settings = Settings(isolate_models=args.mode == "process")
    executor = panel_executors(services, [Panel.WRITING])[Panel.WRITING]
    session = ProjectSession(data_dir)
    runner = PanelJobRunner(executor, "writing")

    beat = make_heartbeat()
    runner.progress.connect(beat.on_progress)
    runner.finished.connect(lambda *_: app.quit())

    def failed(job_id: str, message: str) -> None:
        print("job failed:", message)
        app.quit()

    runner.failed.connect(failed)
    beat.start()
    draft = Draft(
        plugin_id=WRITER,
        panel=Panel.WRITING,
        fields={"prompt": "x"},
        load_options={"layers": args.layers, "width": args.width},
        run_options={"tokens": args.tokens},
    )
    started = time.monotonic()
    prepared = services.pipeline.run_ready(draft, session.store)
    runner.submit(prepared, prepared.sink(session.store, [session.announce]))
    app.exec()
    elapsed = time.monotonic() - started
    beat.timer.stop()
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
        values = beat.by_phase(phase)
        if not values:
            continue
        print(
            f"{phase:10} {len(values):6d} {statistics.median(values):7.1f} "
            f"{percentile(values, 0.99):7.1f} {max(values):7.1f}"
        )


# two panels: A streams while B's model process starts, imports torch and loads -----------------


def read_events(path: Path) -> list[tuple[float, str, str, str]]:
    """(monotonic time, plugin id, event, detail) for each step the bench plugins noted."""
    events = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split(maxsplit=3)
            if len(parts) >= 3:
                events.append((float(parts[0]), parts[1], parts[2], " ".join(parts[3:])))
    return events


def first(events, plugin: str, name: str, after: float = float("-inf")):
    """The first event ``name`` of ``plugin`` at or after ``after``: (time, detail) or None."""
    for t, p, e, detail in events:
        if p == plugin and e == name and t >= after:
            return t, detail
    return None


def overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float:
    if a is None or b is None:
        return 0.0
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def two_panels(args: argparse.Namespace, data_dir: Path, events_file: Path) -> int:
    from PySide6.QtCore import QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from studio.app import panel_executors
    from studio.core.pipeline import Draft
    from studio.core.services import build_core_services
    from studio.core.settings import Settings
    from studio.plugin_api import Panel
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession

    app = QApplication(sys.argv[:1])
    services = build_core_services()
    services.settings = Settings(isolate_models=True)  # the default: models in their processes
    executors = panel_executors(services, [Panel.WRITING, Panel.VOICE])
    if getattr(services.scheduler, "lease", None) is not None:
        services.scheduler.lease.start()  # as the window does
    session = ProjectSession(data_dir)
    runner_a = PanelJobRunner(executors[Panel.WRITING], Panel.WRITING.value)
    runner_b = PanelJobRunner(executors[Panel.VOICE], Panel.VOICE.value)
    a_load = {"layers": args.layers, "width": args.width}
    b_load = {"layers": args.b_layers, "width": args.b_width}
    beat = make_heartbeat()

    def submit(runner: PanelJobRunner, draft: Draft) -> str:
        prepared = services.pipeline.run_ready(draft, session.store)
        return runner.submit(prepared, prepared.sink(session.store, [session.announce]))

    def writing(tokens: int) -> Draft:
        return Draft(
            plugin_id=WRITER,
            panel=Panel.WRITING,
            fields={"prompt": "x"},
            load_options=a_load,
            run_options={"tokens": tokens},
            device="cpu",
        )

    class Bench(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.marks: dict[str, float] = {}
            self.error = ""
            self.warm_id = self.stream_id = self.b_id = ""
            self.a_done = self.b_done = False
            self.poll = QTimer(self)
            self.poll.setInterval(100)
            self.poll.timeout.connect(self.check_b)
            runner_a.finished.connect(self.a_finished)
            runner_a.text.connect(self.a_text)
            runner_a.failed.connect(self.failed)
            runner_b.finished.connect(self.b_finished)
            runner_b.failed.connect(self.failed)

        def mark(self, name: str) -> None:
            self.marks.setdefault(name, time.monotonic())

        def begin(self) -> None:
            self.mark("a-warm-submitted")
            self.warm_id = submit(runner_a, writing(1))  # import + load A's model, 1 token

        @Slot(str, object)
        def a_finished(self, job_id: str, asset_ids) -> None:
            if job_id == self.warm_id:
                self.mark("a-loaded")
                beat.samples.clear()  # measure from the streaming job on
                self.mark("a-stream-submitted")
                self.stream_id = submit(runner_a, writing(args.tokens))
            elif job_id == self.stream_id:
                self.mark("a-stream-finished")
                self.a_done = True
                self.maybe_done()

        @Slot(str, str)
        def a_text(self, job_id: str, text: str) -> None:
            if job_id == self.stream_id and "a-first-words" not in self.marks:
                self.mark("a-first-words")
                QTimer.singleShot(round(args.b_delay * 1000), self.start_b)

        def start_b(self) -> None:
            self.mark("b-asked")
            if args.b_start == "warm-up":  # what a panel does when it opens
                runner_b.executor.prepare_plugin(VOICE, b_load, "cpu")
                self.mark("b-prepare-returned")
                self.poll.start()
            else:
                self.b_id = submit(
                    runner_b,
                    Draft(
                        plugin_id=VOICE,
                        panel=Panel.VOICE,
                        fields={"text": "x"},
                        load_options=b_load,
                        device="cpu",
                    ),
                )
                self.mark("b-submitted")

        @Slot()
        def check_b(self) -> None:
            events = read_events(events_file)
            processes = getattr(runner_b.executor, "_processes", {}).values()
            warming = any(getattr(p, "warming", False) for p in processes)
            prepared = processes and not warming and first(events, VOICE, "import-end")
            if prepared:  # a warm-up that found no free core skips its load (CPU lease)
                self.mark("b-warm-up-ended")
            if first(events, VOICE, "load-end") or first(events, VOICE, "load-failed") or prepared:
                self.poll.stop()
                self.b_done = True
                self.maybe_done()

        @Slot(str, object)
        def b_finished(self, job_id: str, asset_ids) -> None:
            if job_id == self.b_id:
                self.mark("b-finished")
                self.b_done = True
                self.maybe_done()

        @Slot(str, str)
        def failed(self, job_id: str, message: str) -> None:
            self.error = f"job {job_id} failed: {message}"
            app.quit()

        def timed_out(self) -> None:
            self.error = f"timed out after {args.timeout:.0f} s"
            app.quit()

        def maybe_done(self) -> None:
            if self.a_done and self.b_done:
                self.mark("done")
                app.quit()

    bench = Bench()
    QTimer.singleShot(round(args.timeout * 1000), bench.timed_out)
    beat.start()
    bench.begin()
    app.exec()
    beat.timer.stop()
    samples = list(beat.samples)
    for runner in (runner_a, runner_b):
        runner.shutdown()
    for executor in executors.values():
        executor.shutdown()
    session.close()
    events = read_events(events_file)
    if bench.error:
        print(bench.error)
        return 1
    return report_two_panels(args, bench.marks, events, samples)


def report_two_panels(args, marks: dict[str, float], events, samples) -> int:
    t0 = marks["a-stream-submitted"]
    gen_start = first(events, WRITER, "generate-start", t0)
    gen_end = first(events, WRITER, "generate-end", t0)
    b_asked = marks["b-asked"]
    steps = [first(events, VOICE, name) for name in ("import-start", "import-end")]
    steps += [first(events, VOICE, name) for name in ("load-start", "load-end")]
    if args.b_start == "warm-up" and steps[2] is None and steps[1] is not None:
        # A warm-up that finds every core taken skips its load (it never queues before
        # real work): B's process started and imported, and then stood aside.
        print("B's warm-up skipped its load: A's job held every core (CPU lease)")
        skipped = (steps[1][0], "", "", "")
        steps[2] = steps[3] = skipped
    if gen_start is None or gen_end is None or any(step is None for step in steps):
        print("missing steps in", os.environ[EVENTS_ENV], "(a plugin failed? see the log)")
        for event in events:
            print("  ", event)
        return 1
    a = (gen_start[0], gen_end[0])
    import0, import1, load0, load1 = (step[0] for step in steps)
    # B's steps one after the other: (name, start, end, B's process works then)
    phases: list[tuple[str, float, float, bool]] = []
    if args.b_start == "job":  # the job waits for the window's CPU slot (A's job holds it)
        slot = min(import0, max(b_asked, marks.get("a-stream-finished", b_asked)))
        phases.append(("B waits for the window's CPU slot", b_asked, slot, False))
        phases.append(("B's process starts (+ waits for a core)", slot, import0, True))
    else:
        phases.append(("B's model process starts", b_asked, import0, True))
    phases.append(("B imports torch + transformers", import0, import1, True))
    phases.append(("B waits for a core (CPU lease)", import1, load0, False))
    phases.append(("B loads its model", load0, load1, True))

    def phase_at(t: float) -> str | None:
        for name, start, end, _ in phases:
            if start <= t < end:
                return name
        return None

    active = {name for name, _, _, works in phases if works}
    rows: dict[str, list[float]] = {}
    overlapping: list[float] = []
    for t, late, _ in samples:
        streaming = a[0] <= t <= a[1]
        b_phase = phase_at(t)
        if streaming and b_phase:
            label = f"A streams + {b_phase}"
            if b_phase in active:
                overlapping.append(late)
        elif streaming:
            label = "A streams alone"
        elif b_phase:
            label = f"A done + {b_phase}"
        else:
            label = "neither (A's job starts or ends)"
        rows.setdefault(label, []).append(late)

    print(
        f"\n== mode two-panels: A (Writing) streams {args.tokens} tokens from a loaded model "
        f"while B (Voice) starts by {args.b_start}; models in separate processes"
    )
    print(
        f"A: GPT-2 {args.layers} x {args.width}, streamed {gen_end[1]}, "
        f"{args.tokens / max(1e-9, a[1] - a[0]):.1f} tokens/s; "
        f"B: GPT-2 {args.b_layers} x {args.b_width}, loaded with {steps[3][1]}"
    )
    print("\ntimeline, s from A's streaming job submitted (monotonic clock of every process):")

    def at(t: float) -> str:
        return f"{t - t0:7.2f}"

    print(f"  {'A streams (first to last token)':46} {at(a[0])} .. {at(a[1])}")
    if "b-prepare-returned" in marks:
        took = (marks["b-prepare-returned"] - b_asked) * 1000
        after = [late for t, late, _ in samples if t >= marks["b-prepare-returned"]][:1]
        print(
            f"  {'B warm-up asked (prepare_plugin, GUI thread)':46} {at(b_asked)}"
            f"            returned in {took:.1f} ms"
            + (f" (the next tick: {after[0]:.1f} ms late)" if after else "")
        )
    else:
        print(f"  {'B first job submitted':46} {at(b_asked)}")
    whole = 0.0
    for name, start, end, works in phases:
        shared = overlap(a, (start, end))
        whole += shared if works else 0.0
        print(f"  {name:46} {at(start)} .. {at(end)}  overlaps A's stream {shared:5.2f} s")
    imported = overlap(a, (import0, import1))
    loaded = overlap(a, (load0, load1))
    print(
        f"overlap: {'yes' if whole > 0 else 'NO'}: B's process started, imported or loaded "
        f"during {whole:.2f} s of A's {a[1] - a[0]:.2f} s stream "
        f"(import {imported:.2f} s of {import1 - import0:.2f}, "
        f"load {loaded:.2f} s of {load1 - load0:.2f})"
    )
    if a[1] < load1:
        if args.b_start == "job" and phases[0][2] >= a[1] - 0.05:
            why = "B's job waited for the window's CPU slot until A's job ended"
        elif import1 >= a[1]:
            why = "B had not finished importing yet (a longer stream, --tokens, covers more)"
        elif load0 >= a[1] and load0 - import1 > 0.05:
            why = "B's load waited for the cores A's job held (CPU lease) until it ended"
        else:
            why = "B's load only partly overlapped it (a longer stream, --tokens, covers more)"
        print(f"  A's stream ended before B's load did: {why}")

    header = f"{'GUI heartbeat lateness':50} {'ticks':>6} {'s':>7} {'p50 ms':>7} {'p99 ms':>7}"
    print(f"\n{header} {'max ms':>7}")
    order = [f"A streams + {name}" for name, *_ in phases] + ["A streams alone"]
    order += [f"A done + {name}" for name, *_ in phases] + ["neither (A's job starts or ends)"]
    for label in order:
        if label in rows:
            print(stats_row(label, rows[label]))
    print(stats_row("OVERLAP: A streams + B starts/imports/loads", overlapping))
    if not overlapping:
        print("no tick in the overlap: no verdict")
        return 1
    p99, worst = percentile(overlapping, 0.99), max(overlapping)
    met = p99 < TWO_PANEL_GOAL_P99_MS and worst < TWO_PANEL_GOAL_MAX_MS
    print(
        f"goal during the overlap: p99 < {TWO_PANEL_GOAL_P99_MS:g} ms, max < "
        f"{TWO_PANEL_GOAL_MAX_MS:g} ms -> p99 {p99:.2f} ms, max {worst:.2f} ms: "
        + ("MET" if met else "NOT MET")
    )
    return 0


if __name__ == "__main__":
    main()
