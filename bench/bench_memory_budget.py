"""One memory budget across the four panels' model processes.

    python bench/bench_memory_budget.py [--jobs 100] [--fraction 0.6]

The window's four panel executors (a model process each, as the window runs them) share the one
:class:`~studio.core.model_budget.ModelBudget`. Each panel's shipped default model runs a small
job once under an unlimited budget, to learn what each model takes. Then the budget is set to
``--fraction`` of their sum (at least the largest) and ``--jobs`` jobs go round the panels
(load, switch, unload), while a thread samples the resident memory (RSS) of this process and
of every model process every 20 ms.

Printed: the models' sizes, the budget, the peak total RSS, and the overhead: the RSS of the same
processes once every model is unloaded (Python, the libraries each imported, the allocator's
arenas). The goal: peak <= budget + overhead + a job's working memory (printed beside it: the
most any process grew during a job beyond its models).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from studio.core.model_cache import process_memory_bytes  # noqa: E402
from studio.core.pipeline import Draft  # noqa: E402
from studio.core.project.store import ProjectStore  # noqa: E402
from studio.core.services import build_core_services  # noqa: E402
from studio.plugin_api import CancelToken, Panel  # noqa: E402

MB = 2**20


def picture(path: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 96), (40, 120, 60))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 76, 76), fill=(250, 170, 30))
    draw.text((10, 80), "SALE", fill="white")
    image.save(path)
    return path


def drafts(image: Path) -> dict[Panel, Draft]:
    return {
        Panel.WRITING: Draft(
            plugin_id="studio.writer-llamacpp",
            panel=Panel.WRITING,
            fields={"prompt": "Once upon a time"},
            run_options={"max_new_tokens": 8},
            device="cpu",
        ),
        Panel.VOICE: Draft(
            plugin_id="studio.voice-hibari",
            panel=Panel.VOICE,
            fields={"text": "Hello there."},
            device="cpu",
        ),
        Panel.CAPTIONING: Draft(
            plugin_id="studio.caption-ocr-tags",
            panel=Panel.CAPTIONING,
            files=(("image", image),),
            device="cpu",
        ),
        Panel.IMAGE: Draft(
            plugin_id="studio.image-style",
            panel=Panel.IMAGE,
            files=(("init", image),),
            device="cpu",
        ),
    }


class Sampler(threading.Thread):
    def __init__(self, pids, budget) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.budget = budget
        self.peak = 0
        self.peak_parts: dict[int, int] = {}
        self.peak_held: list = []
        self.stop = threading.Event()

    def total(self) -> tuple[int, dict[int, int]]:
        parts = {pid: process_memory_bytes(pid) for pid in [os.getpid(), *self.pids()]}
        return sum(parts.values()), parts

    def run(self) -> None:
        while not self.stop.wait(0.02):
            total, parts = self.total()
            if total > self.peak:
                self.peak, self.peak_parts = total, parts
                self.peak_held = self.budget.held()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--fraction", type=float, default=0.6)
    args = parser.parse_args()

    services = build_core_services()
    services.settings = dataclasses.replace(services.settings, isolate_models=True)
    executors = {panel: services.panel_executor(panel.value) for panel in Panel}
    budget = services.budget
    budget.budget_bytes = 2**50
    folder = Path(tempfile.mkdtemp(prefix="studio-budget-"))
    store = ProjectStore.open_or_create(folder / "bench.studio")
    image = picture(folder / "sign.png")
    jobs = drafts(image)

    def run(panel: Panel) -> None:
        checked = services.pipeline.check(jobs[panel], complete=True)
        prepared = services.pipeline.prepare(checked, store)
        try:
            executors[panel].execute(
                prepared.job, CancelToken(), lambda e: None, prepared.sink(store)
            )
        finally:
            prepared.close()

    def pids() -> list[int]:
        return [pid for e in executors.values() for pid in e.child_pids]

    sizes: dict[str, int] = {}
    for panel in Panel:  # each model once, nothing unloaded: what each takes
        run(panel)
    for held in budget.held():
        sizes[held.label] = held.size
    total = sum(sizes.values())
    limit = max(int(total * args.fraction), max(sizes.values()) + 1)
    print("models (size the budget counts):")
    for label, size in sizes.items():
        print(f"  {label:60} {size / MB:8.0f} MB")
    print(f"  {'sum':60} {total / MB:8.0f} MB")
    budget.budget_bytes = limit
    print(f"budget: {limit / MB:.0f} MB ({args.fraction:.0%} of the sum)")

    sampler = Sampler(pids, budget)
    sampler.start()
    order = list(Panel)
    started = time.monotonic()
    over = 0
    for index in range(args.jobs):
        run(order[index % len(order)])
        if budget.total_bytes > limit:
            over += 1
    elapsed = time.monotonic() - started
    sampler.stop.set()
    sampler.join()

    budget.budget_bytes = 0  # everything unloads: what the processes take without models
    time.sleep(1.0)
    overhead, parts = sampler.total()
    print(f"{args.jobs} jobs in {elapsed:.0f} s; budget exceeded after {over} of them")
    print(
        f"peak total RSS      {sampler.peak / MB:8.0f} MB  (processes: {len(sampler.peak_parts)})"
    )
    print(f"overhead (no model) {overhead / MB:8.0f} MB  (processes: {len(parts)})")
    print("at the peak, by process (RSS now without models -> at the peak):")
    for pid, rss in sampler.peak_parts.items():
        print(f"  pid {pid:7}  {parts.get(pid, 0) / MB:6.0f} -> {rss / MB:6.0f} MB")
    for held in sampler.peak_held:
        print(f"  held: {held.label} {held.size / MB:.0f} MB in {held.owner}")
    print(f"budget + overhead   {(limit + overhead) / MB:8.0f} MB")
    print(f"peak - (budget + overhead) = {(sampler.peak - limit - overhead) / MB:+.0f} MB")
    print(f"sum of the models + overhead (no budget) {(total + overhead) / MB:8.0f} MB")
    for executor in executors.values():
        executor.shutdown()
    store.close()


if __name__ == "__main__":
    main()
