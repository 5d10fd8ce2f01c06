"""Writing panel benchmarks on the embedded Gemma 3 270M (or any model with --model), through
the llama.cpp writer (the default) or the transformers writer (``--plugin``).

1. Launch to first token: a fresh process builds the Writing panel with its model process,
   presses Run and waits for the first streamed token, on a first launch (empty data dir: the
   GGUF is assembled from its package; the transformers writer also converts it once to a
   float32 copy) and on a second launch. Goal for the second launch: < 5 s. Showing the panel
   starts its model process, which imports the libraries and loads the selected model; Run is
   pressed at once (worst case), 5 s or 10 s later (a person typing). The GUI heartbeat (10 ms
   timer) is recorded meanwhile, split into loading (before the first token) and streaming.
   Goal: p99 < 50 ms.
2. Throughput: tokens/s of the panel path (model process, plugin, Qt signals, streaming into the
   editor) divided by the raw library call with the same settings (greedy, same prompt and
   length), interleaved in one run: llama-cpp-python's ``create_completion`` for the llama.cpp
   writer, ``model.generate`` for the transformers writer (``--also-transformers`` adds
   ``model.generate`` next to llama.cpp). Goal: >= 0.95.

    QT_QPA_PLATFORM=offscreen python bench/bench_writing.py [--tokens 64] [--rounds 3]
        [--plugin studio.writer-llamacpp|studio.writer-transformers] [--model M]

``--model`` takes a model folder or .gguf file instead of the embedded model; with a tiny model
the numbers are only a smoke test.
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROMPT = "The old lighthouse keeper climbed the stairs every evening, and"
PLUGINS = ("studio.writer-llamacpp", "studio.writer-transformers")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def panel_session(data_dir: str, model: str, tokens: int, plugin: str):
    """Build the Writing panel as the window does (model process included)."""
    os.environ["STUDIO_DATA_DIR"] = data_dir
    from PySide6.QtWidgets import QApplication

    from studio.app import panel_executors
    from studio.core.services import build_core_services
    from studio.plugin_api import Panel
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession
    from studio.ui.panels.writing import WritingPanel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    services = build_core_services()
    executor = panel_executors(services, [Panel.WRITING])[Panel.WRITING]
    session = ProjectSession(Path(data_dir))
    runner = PanelJobRunner(executor, "writing")
    panel = WritingPanel(services, session, runner)
    panel.refresh_plugins()
    if not panel.select_plugin(plugin):
        raise SystemExit(f"the plugin {plugin} is not enabled")
    panel.run_form.set_values({"max_new_tokens": tokens, "temperature": 0.0, "seed": 1})
    if model:
        panel.load_form.set_values({"model": model})
    panel.open_text(PROMPT)
    return app, services, executor, session, runner, panel


def first_token(args: argparse.Namespace) -> None:
    """Child mode: one launch, Run, first token; prints a JSON line."""
    started = time.monotonic()
    from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Slot

    app, _services, executor, session, runner, panel = panel_session(
        args.data_dir, args.model, args.tokens, args.plugin
    )

    class Watch(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.phase = "loading"
            self.samples: dict[str, list[float]] = {"loading": [], "streaming": []}
            self.first: float | None = None
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
            self.samples[self.phase].append(max(0.0, (now - self.last) / 1e6 - 10.0))
            self.last = now

        @Slot(str, str)
        def on_text(self, job_id: str, text: str) -> None:
            if self.first is None:
                self.first = time.monotonic()
                self.phase = "streaming"

        @Slot(str, object)
        def on_finished(self, *_: object) -> None:
            app.quit()

        @Slot(str, str)
        def on_failed(self, job_id: str, message: str) -> None:
            print("job failed:", message, file=sys.stderr)
            app.quit()

    watch = Watch()
    runner.text.connect(watch.on_text)
    runner.finished.connect(watch.on_finished)
    runner.failed.connect(watch.on_failed)
    panel.show()  # as in the window: showing the panel warms its model process up
    pressed = 0.0

    def press() -> None:
        nonlocal pressed
        pressed = time.monotonic()
        panel.run()

    QTimer.singleShot(int(args.delay * 1000), press)
    app.exec()
    runner.shutdown()
    executor.shutdown()
    session.close()
    report = {
        "process_to_run_s": pressed - started,
        "run_to_first_token_s": (watch.first - pressed) if watch.first else None,
        "heartbeat": {
            phase: {
                "p50": statistics.median(v or [0]),
                "p99": percentile(v, 0.99),
                "max": max(v or [0]),
            }
            for phase, v in watch.samples.items()
        },
    }
    print("REPORT " + json.dumps(report), flush=True)


def raw_llamacpp(services, plugin_id: str, model: str, tokens: int):
    """``raw()``: tokens/s of llama-cpp-python's own completion call, greedy."""
    from llama_cpp import Llama

    record = services.registry.get(plugin_id)
    plugin = services.registry.plugin_class(plugin_id)()
    path = services.executor.resolver.resolve(record.manifest, plugin, model).path
    threads = services.scheduler.threads_for("cpu")
    llama = Llama(
        model_path=str(path),
        n_ctx=8192,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )

    def raw() -> float:
        start = time.perf_counter()
        out = llama.create_completion(
            PROMPT,
            max_tokens=tokens,
            temperature=0.0,
            top_k=0,
            top_p=1.0,
            min_p=0.0,
            repeat_penalty=1.0,
        )
        return out["usage"]["completion_tokens"] / (time.perf_counter() - start)

    return raw


def raw_transformers(services, model: str, tokens: int):
    """``raw()``: tokens/s of ``model.generate`` on the transformers plugin's model, greedy."""
    import torch
    from studio_writer_transformers.loading import float32_copy_dir, load_model_and_tokenizer

    plugin_id = "studio.writer-transformers"
    record = services.registry.get(plugin_id)
    plugin = services.registry.plugin_class(plugin_id)()
    resolved = services.executor.resolver.resolve(record.manifest, plugin, model)
    path = resolved.path
    if path is not None and path.suffix == ".gguf":
        path = float32_copy_dir(path, resolved.sha256 or "")
    torch.set_num_threads(services.scheduler.threads_for("cpu"))
    model_, tokenizer = load_model_and_tokenizer(path, "float32", "cpu")
    inputs = tokenizer(PROMPT, return_tensors="pt")

    def raw() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            out = model_.generate(
                **inputs,
                max_new_tokens=tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        made = out.shape[1] - inputs["input_ids"].shape[1]
        return made / (time.perf_counter() - start)

    return raw


def throughput(args: argparse.Namespace, data_dir: str) -> None:
    from PySide6.QtCore import QEventLoop

    _app, services, executor, session, runner, panel = panel_session(
        data_dir, args.model, args.tokens, args.plugin
    )
    raws = {}
    if args.plugin == "studio.writer-llamacpp":
        raws["raw llama.cpp"] = raw_llamacpp(services, args.plugin, args.model, args.tokens)
    if args.plugin == "studio.writer-transformers" or args.also_transformers:
        raws["raw model.generate"] = raw_transformers(services, args.model, args.tokens)

    def panel_path() -> float:
        loop = QEventLoop()
        result: dict[str, float] = {}

        def finished(job_id, asset_ids):
            asset = session.asset(asset_ids[0])
            result["tokens"] = asset.recipe.details["tokens"]
            loop.quit()

        runner.finished.connect(finished)
        start = time.perf_counter()
        panel.regenerate() if panel.accept_button.isEnabled() else panel.run()
        loop.exec()
        runner.finished.disconnect(finished)
        return result["tokens"] / (time.perf_counter() - start)

    panel_path()  # warm: loads the model in the model process
    for raw in raws.values():
        raw()
    measured: dict[str, list[float]] = {name: [] for name in raws}
    panels = []
    for _ in range(args.rounds):
        for name, raw in raws.items():
            measured[name].append(raw())
        panels.append(panel_path())
    runner.shutdown()
    executor.shutdown()
    session.close()
    print(
        f"throughput ({args.plugin}, {args.tokens} tokens, greedy, {args.rounds} interleaved "
        "rounds):"
    )
    for label, values in (*measured.items(), ("panel path", panels)):
        rounded = [round(x, 1) for x in values]
        print(f"  {label:19} {statistics.median(values):.1f} tokens/s {rounded}")
    for name, values in measured.items():
        ratio = statistics.median(p / r for p, r in zip(panels, values, strict=True))
        print(f"  panel / {name}: {ratio:.3f} (goal >= 0.95)")
    print("  (the panel time includes the job round trip)")


def launch(args: argparse.Namespace, data_dir: str, delay: float) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--data-dir",
            data_dir,
            "--tokens",
            str(args.tokens),
            "--model",
            args.model,
            "--delay",
            str(delay),
            "--plugin",
            args.plugin,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("REPORT ")), None)
    if line is None:
        raise SystemExit(f"launch failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return json.loads(line[len("REPORT ") :])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="")
    parser.add_argument("--plugin", default=PLUGINS[0], choices=PLUGINS)
    parser.add_argument(
        "--also-transformers",
        action="store_true",
        help="also time raw model.generate of the transformers plugin's model (its float32 "
        "copy must exist: run the bench once with --plugin studio.writer-transformers --keep)",
    )
    parser.add_argument(
        "--keep", help="use (and keep) this data directory, so its converted model stays"
    )
    parser.add_argument(
        "--second-only",
        action="store_true",
        help="with --keep DIR of an earlier run: measure only the second launches",
    )
    parser.add_argument("--no-throughput", action="store_true", help="skip the tokens/s comparison")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        first_token(args)
        return
    with tempfile.TemporaryDirectory(prefix="studio-bench-writing-") as temporary:
        data_dir = args.keep or temporary
        launches = [
            ("first launch, Run at once", 0.0),
            ("second launch, Run at once", 0.0),
            ("second launch, Run 5 s after the window shows", 5.0),
            ("second launch, Run 10 s after the window shows", 10.0),
        ]
        for name, delay in launches[1:] if args.second_only else launches:
            report = launch(args, data_dir, delay)
            beats = report["heartbeat"]
            print(
                f"{name}: Run to first token {report['run_to_first_token_s']:.1f} s "
                f"(process start to Run {report['process_to_run_s']:.1f} s); heartbeat p99/max "
                f"loading {beats['loading']['p99']:.1f}/{beats['loading']['max']:.1f} ms, "
                f"streaming {beats['streaming']['p99']:.1f}/{beats['streaming']['max']:.1f} ms"
            )
        if not args.no_throughput:
            throughput(args, data_dir)


if __name__ == "__main__":
    main()
