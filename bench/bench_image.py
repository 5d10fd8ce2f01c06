"""Image panel benchmarks with the diffusers plugin on a tiny random Stable Diffusion pipeline.

1. Seconds per step: the panel path (Image panel, model process, plugin, previews through Qt
   signals into the canvas, the PNG committed to the project) divided by a raw
   ``pipeline(...)`` call with the same settings (sampler, steps, size, guidance, seed, thread
   count), previews on (every step) and off, interleaved. Goal: <= 1.05.
2. Cancel latency: Cancel pressed in the panel after step 2 of a long run, until the panel
   hears the job was cancelled. Goal: within one step.
3. GUI heartbeat: a 10 ms timer on the GUI thread while the panel's jobs run. Goal: p99 < 50 ms.

    QT_QPA_PLATFORM=offscreen python bench/bench_image.py [--size 192] [--steps 8] [--rounds 3]

The pipeline is the tests' tiny one with a bigger random UNet (blocks 64/128, two layers each),
so a step takes well over 50 ms at 64 px on a CPU and the steps dominate a call; ``--model DIR``
measures a real folder. The raw calls run in a process of their own on a worker thread, as the
panel's model process runs the plugin: on a busy 2-core machine the same call on a process's
main thread was 2-4x slower (OpenMP), which would flatter the panel path.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLUGIN = "studio.image-diffusers"
PROMPT = "a lighthouse on a cliff at dusk"
SAMPLER = "Euler a"


def build_bench_pipeline(folder: Path) -> Path:
    """The tests' tiny pipeline with a bigger random UNet (blocks 64/128, two layers each), so
    that at 64 px a denoising step costs well over 50 ms and the steps, not the VAE decode,
    make up the time of a call."""
    import torch
    from diffusers import UNet2DConditionModel

    from tests.fixtures.tiny_models import build_tiny_sd_pipeline

    build_tiny_sd_pipeline(folder)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        block_out_channels=(64, 128),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
    )
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    return folder


def raw_worker(conn, model: str, threads: int) -> None:
    """A process of its own (like the panel's model process) that makes raw pipeline calls
    on a worker thread (like the plugin) and answers (seconds, step times)."""
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionPipeline

    torch.set_num_threads(threads)  # as the model process does when it loads
    pipe = StableDiffusionPipeline.from_pretrained(
        model, local_files_only=True, torch_dtype=torch.float32
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)

    def call(size: int, steps: int) -> tuple[float, list[float]]:
        torch.set_num_threads(threads)
        marks: list[float] = []

        def on_step(pipeline, step, timestep, kwargs):
            marks.append(time.perf_counter())
            return {}

        began = time.perf_counter()
        pipe(
            PROMPT,
            num_inference_steps=steps,
            guidance_scale=7.0,
            width=size,
            height=size,
            generator=torch.Generator("cpu").manual_seed(7),
            callback_on_step_end=on_step,
        )
        seconds = time.perf_counter() - began
        return seconds, [b - a for a, b in itertools.pairwise(marks)]

    conn.send("ready")
    while True:
        request = conn.recv()
        if request is None:
            return
        answer: list = []
        worker = threading.Thread(target=lambda a=answer, r=request: a.append(call(*r)))
        worker.start()
        worker.join()
        conn.send(answer[0])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="", help="a diffusers folder (default: tiny random)")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="studio-bench-image-")
    os.environ["STUDIO_DATA_DIR"] = data_dir
    model = args.model
    if not model:
        model = str(build_bench_pipeline(Path(data_dir) / "bench-sd"))

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from studio.app import panel_executors
    from studio.core.services import build_core_services
    from studio.plugin_api import Panel
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession
    from studio.ui.panels.image import ImagePanel

    _app = QApplication(sys.argv[:1])
    services = build_core_services()
    executor = panel_executors(services, [Panel.IMAGE])[Panel.IMAGE]
    session = ProjectSession(Path(data_dir))
    runner = PanelJobRunner(executor, "image")
    panel = ImagePanel(services, session, runner)
    panel.resize(1100, 700)
    panel.refresh_plugins()
    if not panel.select_plugin(PLUGIN):
        raise SystemExit(f"the plugin {PLUGIN} is not enabled")
    panel.show()
    panel.set_model(model)
    panel.prompt.setPlainText(PROMPT)
    base = {
        "steps": args.steps,
        "seed": 7,
        "width": args.size,
        "height": args.size,
        "scheduler": SAMPLER,
    }

    class Heartbeat(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.running = False
            self.label = "first run"
            self.samples: dict[str, list[float]] = {}
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
            if self.running:
                late = max(0.0, (now - self.last) / 1e6 - 10.0)
                self.samples.setdefault(self.label, []).append(late)
            self.last = now

    beat = Heartbeat()

    def wait_for(signal, start) -> tuple[float, tuple]:
        loop = QEventLoop()
        got: dict[str, object] = {}

        def done(*values) -> None:
            got["values"] = values
            loop.quit()

        def failed(job_id, message) -> None:
            got["failed"] = message
            loop.quit()

        signal.connect(done)
        runner.failed.connect(failed)
        beat.last = beat.clock.nsecsElapsed()
        beat.running = True
        began = time.perf_counter()
        start()
        loop.exec()
        beat.running = False
        elapsed = time.perf_counter() - began
        signal.disconnect(done)
        runner.failed.disconnect(failed)
        if "failed" in got:
            raise SystemExit(f"the job failed: {got['failed']}")
        return elapsed, got["values"]

    previews_seen = [0]
    runner.preview.connect(lambda *_: previews_seen.__setitem__(0, previews_seen[0] + 1))

    def panel_run(preview_every: int) -> float:
        panel.run_form.set_values({**base, "preview_every": preview_every})
        seconds, _ = wait_for(runner.finished, panel.run)
        return seconds

    # Raw pipeline calls in a process of their own, same settings and thread count.
    threads = services.scheduler.threads_for("cpu")
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    raw_process = context.Process(target=raw_worker, args=(there, model, threads), daemon=True)
    raw_process.start()
    here.recv()
    raw_steps: list[float] = []

    def raw() -> float:
        here.send((args.size, args.steps))
        seconds, steps = here.recv()
        raw_steps.extend(steps)
        return seconds

    print(
        f"bench SD pipeline (tiny, UNet 64/128 x2) at {args.size}x{args.size}, "
        f"{args.steps} steps, {SAMPLER}, "
        f"{threads} threads; panel path in a model process"
    )
    warm = panel_run(0)  # loads the model in the model process
    beat.label = "generating"
    raw()
    results: dict[str, list[float]] = {
        "raw": [],
        "panel, previews off": [],
        "panel, previews on": [],
    }
    for _ in range(args.rounds):
        results["raw"].append(raw())
        results["panel, previews off"].append(panel_run(0))
        results["raw"].append(raw())
        results["panel, previews on"].append(panel_run(1))
    raw_step = statistics.median(raw_steps)
    print(f"one denoising step alone (raw, between step callbacks): {raw_step * 1000:.0f} ms")
    print(f"first panel run (model process imports and loads): {warm:.1f} s")
    print("seconds per step (whole call / steps, median of interleaved rounds):")
    for label, values in results.items():
        per_step = [v / args.steps for v in values]
        print(
            f"  {label:20} {statistics.median(per_step) * 1000:7.1f} ms"
            f"  {[round(x * 1000) for x in per_step]}"
        )
    for label in ("panel, previews off", "panel, previews on"):
        ratio = statistics.median(results[label]) / statistics.median(results["raw"])
        print(f"  {label} / raw: {ratio:.3f} (goal <= 1.05)")
    print(f"  previews received by the panel: {previews_seen[0]}")

    # Cancel latency: press Cancel when step 2 is shown, until the panel hears it stopped.
    latencies = []
    beat.label = "cancelling"
    long_run = {**base, "steps": max(20, args.steps * 3), "preview_every": 1}
    for _ in range(args.rounds):
        panel.run_form.set_values(long_run)
        pressed: dict[str, float] = {}

        def on_progress(job_id, fraction, message, eta, pressed=pressed) -> None:
            if "step 2 of" in message and "at" not in pressed:
                pressed["at"] = time.perf_counter()
                panel.cancel()

        runner.progress.connect(on_progress)
        wait_for(runner.cancelled, panel.run)
        latencies.append(time.perf_counter() - pressed["at"])
        runner.progress.disconnect(on_progress)
    print(
        f"cancel latency: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms = {max(latencies) / raw_step:.2f} steps "
        f"(goal: within one step of {raw_step * 1000:.0f} ms); nothing committed: "
        f"{session.store.count_assets() == args.rounds * 2 + 1}"
    )
    print("GUI heartbeat while the panel's jobs ran (10 ms timer; goal p99 < 50 ms):")
    for label, values in beat.samples.items():
        print(
            f"  {label:12} {len(values):5d} ticks: p50 {statistics.median(values):.1f} ms, "
            f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
        )
    here.send(None)
    raw_process.join(10)
    runner.shutdown()
    executor.shutdown()
    session.close()


if __name__ == "__main__":
    main()
