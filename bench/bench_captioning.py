"""The Captioning panel on the embedded describer (RapidOCR + EfficientNet-Lite0 tags).

    QT_QPA_PLATFORM=offscreen python bench/bench_captioning.py [--rounds 5] [--images 200]

1. **Seconds per image, panel path ÷ raw library call** (interleaved rounds, one photo with a
   sign on it): the panel path is Run in the Captioning panel as the window builds it (model
   process, import of the image into the project, the job, the committed caption with its
   recipe) until the finished signal; the raw call is ``open_rgb`` + ``tags`` + ``read_text``
   on an already loaded describer in this process, with the same thread budget, each after a
   0.3 s pause (what one measurement leaves behind is not counted in the next). Goal <= 1.05.
   By default the same photo is captioned each round (after the first, the project already
   holds it); ``--fresh-images`` makes a new file each round, checked and imported in full.
2. **A batch of N small images** (generated, some with text) through "Caption All": images/s,
   the GUI heartbeat (a 10 ms timer: p50, p99, max lateness; goal p99 < 50 ms) and the memory
   (RSS) of the window's process and of the model process, sampled as the batch goes (flat:
   the last sample within a few percent of the first after warm-up).
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
PLUGIN = "studio.caption-ocr-tags"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def font_file() -> Path:
    import matplotlib

    return Path(matplotlib.__file__).parent / "mpl-data/fonts/ttf/DejaVuSans.ttf"


def photo_with_sign(path: Path) -> Path:
    """A 640×427 photo (scikit-learn's flower, if installed) with a sign drawn on it."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        import sklearn

        image = Image.open(Path(sklearn.__file__).parent / "datasets/images/flower.jpg")
        image = image.convert("RGB")
    except (ImportError, OSError):
        image = Image.new("RGB", (640, 427), (40, 120, 60))
        ImageDraw.Draw(image).ellipse((200, 80, 440, 320), fill=(250, 170, 30))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 330, 420, 410), fill="white")
    draw.text(
        (36, 346), "OPEN 24 HOURS", fill=(200, 0, 0), font=ImageFont.truetype(str(font_file()), 40)
    )
    image.save(path)
    return path


def small_images(folder: Path, count: int, size: int) -> list[Path]:
    """Generated pictures: shapes on coloured ground, every third with a word on it."""
    import random

    from PIL import Image, ImageDraw, ImageFont

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    font = ImageFont.truetype(str(font_file()), max(12, size // 6))
    words = ("SALE", "EXIT", "CAFE", "STOP", "OPEN", "BAR")
    paths = []
    for index in range(count):
        ground = tuple(rng.randrange(256) for _ in range(3))
        image = Image.new("RGB", (size, size * 3 // 4), ground)
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x, y = rng.randrange(size), rng.randrange(size * 3 // 4)
            r = rng.randrange(8, size // 3)
            draw.ellipse(
                (x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3))
            )
        if index % 3 == 0:
            draw.rectangle((4, 4, size - 4, size // 3), fill="white")
            draw.text((8, 6), words[index % len(words)], fill="black", font=font)
        path = folder / f"img-{index:04d}.png"
        image.save(path)
        paths.append(path)
    return paths


def build_panel(data_dir: str):
    """The Captioning panel as the window builds it (a model process for the panel)."""
    os.environ["STUDIO_DATA_DIR"] = data_dir
    os.environ.pop("STUDIO_PLUGIN_PATH", None)
    from PySide6.QtWidgets import QApplication

    from studio.app import panel_executors
    from studio.core.services import build_core_services
    from studio.plugin_api import Panel
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession
    from studio.ui.panels.captioning import CaptioningPanel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    services = build_core_services()
    services.registry.discover()
    executor = panel_executors(services, [Panel.CAPTIONING])[Panel.CAPTIONING]
    session = ProjectSession(Path(data_dir))
    runner = PanelJobRunner(executor, "captioning")
    panel = CaptioningPanel(services, session, runner)
    panel.refresh_plugins()
    if not panel.select_plugin(PLUGIN):
        raise SystemExit(f"the plugin {PLUGIN} is not enabled")
    panel.show()
    return app, services, executor, session, runner, panel


def use_text_detail(panel, detail: str) -> None:
    panel.run_form.set_values({"text_detail": detail})


def per_image(args: argparse.Namespace, data_dir: str) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    _app, services, executor, session, runner, panel = build_panel(data_dir)
    use_text_detail(panel, args.text_detail)
    photo = photo_with_sign(Path(data_dir) / "photo.png")
    from studio_caption_ocr_tags.describer import load_describer, row_texts

    from studio.plugin_api.images import open_rgb

    threads = services.scheduler.threads_for("cpu")
    describer = load_describer(threads=threads)
    plugin_class = services.registry.plugin_class(PLUGIN)
    options = plugin_class.run_options.validate(panel.run_form.values())

    current = {"photo": photo}

    def next_photo(index: int) -> None:
        """With --fresh-images, a new file each round (one pixel changed), so the panel's
        import checks it in full instead of finding it in the project already."""
        if not args.fresh_images:
            return
        from PIL import Image

        image = Image.open(photo).convert("RGB")
        image.putpixel((0, 0), (index % 256, (index * 7) % 256, 3))
        current["photo"] = Path(data_dir) / f"photo-{index}.png"
        image.save(current["photo"])

    def raw() -> float:
        start = time.perf_counter()
        rgb = open_rgb(current["photo"])
        tags = describer.tags(rgb, options["tags"], options["min_score"])
        lines = describer.read_text(rgb, options["min_text_score"], options["text_detail"])
        assert tags is not None and row_texts(lines)
        return time.perf_counter() - start

    def panel_path() -> float:
        loop = QEventLoop()
        result: dict[str, str] = {}

        def finished(job_id, asset_ids):
            result["caption"] = session.store.read_blob(asset_ids[0]).decode()
            loop.quit()

        def failed(job_id, message):
            result["error"] = message
            loop.quit()

        runner.finished.connect(finished)
        runner.failed.connect(failed)
        panel.image_input.set_path(current["photo"])
        start = time.perf_counter()
        panel.run()
        loop.exec()
        seconds = time.perf_counter() - start
        runner.finished.disconnect(finished)
        runner.failed.disconnect(failed)
        if "error" in result:
            raise SystemExit(result["error"])
        return seconds

    warm_start = time.perf_counter()
    panel_path()  # warm: the model process imports torch and loads both models
    warm = time.perf_counter() - warm_start
    raw()

    def settle() -> None:
        """Let the event loop and the CPU settle between measurements, so what one run leaves
        behind (a repaint, a thread pool still spinning) is not counted in the next."""
        pause = QEventLoop()
        QTimer.singleShot(SETTLE_MS, pause.quit)
        pause.exec()

    raws, panels = [], []
    for index in range(args.rounds):
        next_photo(index)
        settle()
        raws.append(raw())
        settle()
        panels.append(panel_path())
    caption = session.store.read_blob(session.store.list_assets(limit=1)[0].id).decode()
    runner.shutdown()
    executor.shutdown()
    session.close()
    ratio = statistics.median(p / r for p, r in zip(panels, raws, strict=True))
    print(
        f"per image ({args.rounds} interleaved rounds, {threads} threads, 640×427 photo, "
        f"text search {args.text_detail}, "
        f"{'a new image file each round' if args.fresh_images else 'the same image each round'}):"
    )
    print(f"  first Run (model process start, imports, load): {warm:.1f} s")
    for label, values in (("raw library call", raws), ("panel path", panels)):
        rounded = [round(x, 3) for x in values]
        print(f"  {label:17} {statistics.median(values):.3f} s/image {rounded}")
    print(f"  panel / raw: {ratio:.3f} (goal <= 1.05)")
    print(f"  caption: {caption}")


def batch(args: argparse.Namespace, data_dir: str) -> None:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Slot

    from studio.core.model_cache import process_memory_bytes

    app, _services, executor, session, runner, panel = build_panel(data_dir)
    use_text_detail(panel, args.text_detail)
    folder = Path(data_dir) / "small"
    small_images(folder, args.images, args.size)

    # Warm up once (imports and model load), so the batch measures captioning.
    warm_image = small_images(Path(data_dir) / "warm", 1, args.size)[0]
    loop = QEventLoop()
    runner.finished.connect(loop.quit)
    runner.failed.connect(loop.quit)
    panel.image_input.set_path(warm_image)
    panel.run()
    loop.exec()

    class Heartbeat(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.late: list[float] = []
            self.at: list[float] = []  # seconds since the heartbeat began, per tick
            self.clock = QElapsedTimer()
            self.clock.start()
            self.last = self.clock.nsecsElapsed()
            self.timer = QTimer(self)
            self.timer.setInterval(10)
            self.timer.timeout.connect(self.tick)
            self.memory: list[tuple[int, int, int]] = []

        @Slot()
        def tick(self) -> None:
            now = self.clock.nsecsElapsed()
            self.late.append(max(0.0, (now - self.last) / 1e6 - 10.0))
            self.at.append(now / 1e9)
            self.last = now

        @Slot(object)
        def on_progress(self, progress) -> None:
            if progress.finished % max(1, args.images // 10) == 0:
                child = getattr(executor, "child_pid", None)
                self.memory.append(
                    (
                        progress.finished,
                        process_memory_bytes(),
                        process_memory_bytes(child) if child else 0,
                    )
                )

    class Waiter(QObject):
        """Receives the batch's end in the GUI thread (the controller emits from its own)."""

        def __init__(self) -> None:
            super().__init__()
            self.loop = QEventLoop()
            self.summaries: list[object] = []

        @Slot(object)
        def finished(self, summary) -> None:
            self.summaries.append(summary)
            self.loop.quit()

    beat = Heartbeat()
    panel.batch.controller.progress.connect(beat.on_progress)
    waiter = Waiter()
    panel.batch.controller.finished.connect(waiter.finished)
    listed = QEventLoop()
    panel.batch.lister.done.connect(listed.quit)
    panel.batch.add_paths([folder])
    listed.exec()
    panel.batch.sidecar_check.setChecked(True)
    beat.timer.start()
    start = time.perf_counter()
    panel.start_batch()
    waiter.loop.exec()
    seconds = time.perf_counter() - start
    beat.timer.stop()
    summary = waiter.summaries[0]
    runner.shutdown()
    executor.shutdown()
    session.close()
    del app
    print(
        f"batch of {args.images} images of {args.size}×{args.size * 3 // 4} px (Caption All, "
        f"text search {args.text_detail}):"
    )
    print(
        f"  {summary.done} done, {summary.skipped} skipped, {summary.failed} failed in "
        f"{seconds:.1f} s: {summary.done / seconds:.2f} images/s"
    )
    late = beat.late
    print(
        f"  GUI heartbeat lateness: p50 {percentile(late, 0.5):.1f} ms, "
        f"p99 {percentile(late, 0.99):.1f} ms, max {max(late):.1f} ms "
        f"({len(late)} ticks; goal p99 < 50 ms)"
    )
    worst = max(range(len(late)), key=late.__getitem__)
    print(f"  the longest stall ended {beat.at[worst]:.1f} s after the heartbeat started")
    print("  memory (RSS) as the batch went: images done: window MB / model process MB")
    for finished_count, window_rss, child_rss in beat.memory:
        print(f"    {finished_count:5d}: {window_rss / 2**20:7.1f} / {child_rss / 2**20:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--part", choices=("per-image", "batch", "both"), default="both")
    parser.add_argument(
        "--fresh-images",
        action="store_true",
        help="per image: a new image file each round (the panel checks and imports it in full; "
        "by default the same photo is run again, which the project already holds)",
    )
    parser.add_argument(
        "--text-detail",
        choices=("fine", "fast"),
        default="fine",
        help="the describer's text search (fine: enlarged, the default; fast: as it is)",
    )
    args = parser.parse_args()
    if args.part == "both":  # each part in a fresh process, so memory is its own
        import subprocess

        for part in ("per-image", "batch"):
            rest = [a for a in sys.argv[1:] if not a.startswith("--part")]
            subprocess.run([sys.executable, __file__, *rest, "--part", part], check=True)
        return
    if args.part == "per-image":
        per_image(args, tempfile.mkdtemp(prefix="studio-bench-"))
    else:
        batch(args, tempfile.mkdtemp(prefix="studio-bench-"))


if __name__ == "__main__":
    main()
