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
    panels[Panel.WRITING].open_text("It was a bright cold day in April, and the clocks")
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
    image_diffusers_shot(studio, out)
    studio.shutdown()
    app.quit()


def image_diffusers_shot(studio, out: Path) -> None:
    """The Image panel with the diffusers plugin on a tiny random Stable Diffusion pipeline
    (built here; its pictures are coloured noise): a batch in the results strip, then the
    mask brush painting over one of them as the init image."""
    from PySide6.QtCore import QPointF

    from studio.plugin_api import Panel

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.fixtures.tiny_models import build_tiny_sd_pipeline

    model = build_tiny_sd_pipeline(Path(os.environ["STUDIO_DATA_DIR"]) / "tiny-sd")
    window = studio.window
    panel = window.panels[Panel.IMAGE]
    window.tabs.setCurrentWidget(panel)
    if not panel.select_plugin("studio.image-diffusers"):
        print("the diffusers plugin is not installed: no Image panel screenshot")
        return
    path = out / "window-image-diffusers-empty.png"
    wait(400)
    window.grab().save(str(path))
    print("saved", path)
    panel.set_model(str(model))
    panel.prompt.setPlainText("a lighthouse on a cliff at dusk, oil painting")
    panel.negative.setText("blurry, text")
    panel.run_form.editors["steps"].put(6)
    panel.run_form.editors["seed"].put(42)
    panel.run_form.editors["variations"].put(4)
    panel.run()
    for _ in range(300):  # a fresh model process imports torch and diffusers first
        wait(200)
        if not panel.runner.busy:
            break
    path = out / "window-image-diffusers-result.png"
    window.grab().save(str(path))
    print("saved", path)
    panel.use_as_init_button.click()
    panel.paint_button.click()
    panel.brush_size.setValue(10)
    canvas = panel.canvas
    for y in (22, 30, 38):
        canvas.stroke(QPointF(16, y), QPointF(48, y + 4))
    canvas._pointer = canvas.image_rect().center()
    wait(400)
    path = out / "window-image-diffusers-mask.png"
    window.grab().save(str(path))
    print("saved", path)


def main_image_diffusers() -> None:
    """Only the diffusers Image panel shots:

    xvfb-run -a -s "-screen 0 1400x900x24" python docs/screenshots/make_screenshots.py \
        --image-diffusers [OUT_DIR]
    """
    args = [a for a in sys.argv[1:] if a != "--image-diffusers"]
    out = Path(args[0]) if args else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="studio-shots-")
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app

    app = QApplication(sys.argv[:1])
    studio = build_app()
    studio.window.resize(1360, 840)
    studio.window.show()
    wait(1500)
    image_diffusers_shot(studio, out)
    studio.shutdown()
    app.quit()


if __name__ == "__main__":
    if "--image-diffusers" in sys.argv:
        main_image_diffusers()
    else:
        main()


def voice_take(out: Path | None = None) -> Path:
    """The Voice panel after a take with the embedded hibari voice (waveform and play head).

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['voice_take']()"
    """
    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="studio-shots-")
    os.environ.pop("STUDIO_PLUGIN_PATH", None)  # only the real plugins
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.plugin_api import Panel

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.show()
    window.tabs.setCurrentIndex(list(window.panels).index(Panel.VOICE))
    voice = window.panels[Panel.VOICE]
    for _ in range(100):
        wait(100)
        if voice.current_plugin_id():
            break
    voice.text.setPlainText(
        "The lighthouse keeper climbed the stairs at dusk. Far below, the sea was calm.\n\n"
        "He lit the lamp, and its beam swept slowly across the water."
    )
    done: list[str] = []
    voice.runner.finished.connect(lambda job_id, ids: done.append(job_id))
    voice.run()
    for _ in range(600):
        wait(100)
        if done:
            break
    wait(300)
    voice.seek(voice.waveform.duration * 0.37)  # show the play head inside the take
    wait(300)
    path = out / "window-voice-take.png"
    if not window.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print("saved", path)
    studio.shutdown()
    app.quit()
    return path


def image_style_upscale(out: Path | None = None) -> list[Path]:
    """The Image panel with the embedded style transfer and upscaler plugins, each after a run
    on a picture drawn here (window-image-style.png, window-image-upscale.png).

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['image_style_upscale']()"
    """
    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="studio-shots-")
    os.environ.pop("STUDIO_PLUGIN_PATH", None)  # only the real plugins
    from PySide6.QtWidgets import QApplication
    from studio_image_style.thumbnails import scene, thumbnail_path

    from studio.app import build_app
    from studio.plugin_api import Panel

    data = Path(os.environ["STUDIO_DATA_DIR"])
    picture = data / "house.png"
    scene(320).crop((0, 40, 320, 280)).save(picture)
    painting = thumbnail_path(3)  # a built-in style's preview makes a bold style image
    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.show()
    window.tabs.setCurrentIndex(list(window.panels).index(Panel.IMAGE))
    panel = window.panels[Panel.IMAGE]
    saved = []
    for plugin_id, name, setup in (
        ("studio.image-style", "style", lambda: None),
        ("studio.image-upscale", "upscale", lambda: None),
    ):
        wait(500)
        if not panel.select_plugin(plugin_id):
            print(f"{plugin_id} is not available: no screenshot")
            continue
        wait(300)
        panel.init_input.set_path(picture)
        if name == "style":
            panel.style_input.set_path(painting)
        setup()
        done: list[str] = []
        panel.runner.finished.connect(lambda job_id, ids, done=done: done.append(job_id))
        panel.run()
        for _ in range(600):
            wait(100)
            if done:
                break
        wait(400)
        path = out / f"window-image-{name}.png"
        if not window.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        print("saved", path)
        saved.append(path)
    studio.shutdown()
    app.quit()
    return saved


def captioning_describer(out: Path | None = None) -> Path:
    """The Captioning panel with the embedded describer: one photo described, and a batch of a
    folder (photos that ship with matplotlib and scikit-learn, a generated sign, a broken file).

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['captioning_describer']()"
    """
    import shutil

    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    data_dir = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    os.environ.pop("STUDIO_PLUGIN_PATH", None)  # only the real plugins
    from PIL import Image, ImageDraw, ImageFont
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.plugin_api import Panel

    folder = data_dir / "holiday"
    folder.mkdir()
    photos = []
    for module, relative in (
        ("sklearn", "datasets/images/flower.jpg"),
        ("sklearn", "datasets/images/china.jpg"),
        ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    ):
        try:
            package = __import__(module)
        except ImportError:
            continue
        source = Path(package.__file__).parent / relative
        if source.is_file():
            photos.append(Path(shutil.copy(source, folder / source.name)))
    import matplotlib

    font = Path(matplotlib.__file__).parent / "mpl-data/fonts/ttf/DejaVuSans.ttf"
    sign = Image.new("RGB", (400, 140), "white")
    ImageDraw.Draw(sign).text(
        (20, 40), "OPEN 24 HOURS", fill=(200, 0, 0), font=ImageFont.truetype(str(font), 40)
    )
    sign.save(folder / "sign.png")
    (folder / "broken.jpg").write_bytes((folder / "sign.png").read_bytes()[:300])

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.show()
    window.tabs.setCurrentIndex(list(window.panels).index(Panel.CAPTIONING))
    panel = window.panels[Panel.CAPTIONING]
    for _ in range(100):
        wait(100)
        if panel.current_plugin_id():
            break
    panel.image_input.set_path(photos[0] if photos else folder / "sign.png")
    done: list[str] = []
    panel.runner.finished.connect(lambda job_id, ids: done.append(job_id))
    panel.runner.failed.connect(lambda job_id, message: done.append(message))
    panel.run()
    for _ in range(1800):  # the model process imports torch and loads both models first
        wait(100)
        if done:
            break
    finished: list[object] = []
    panel.batch.controller.finished.connect(lambda summary: finished.append(summary))
    panel.batch.add_paths([folder])
    wait(500)
    panel.batch.sidecar_check.setChecked(True)
    panel.start_batch()
    for _ in range(1800):
        wait(100)
        if finished:
            break
    wait(300)
    print("single:", done, "| batch:", panel.batch.status.text())
    if panel.error_banner.isVisible():
        print("error:", panel.error_banner.label.text())
    rows = panel.batch.model.rows
    shown = next((i for i, r in enumerate(rows) if r.path and r.path.name == "flower.jpg"), None)
    if shown is not None and rows[shown].caption_asset_id:
        panel.open_asset(rows[shown].caption_asset_id, restore_settings=False)
        panel.batch.table.selectRow(shown)
    wait(300)
    path = out / "window-captioning-describer.png"
    if not window.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print("saved", path)
    studio.shutdown()
    app.quit()
    return path


def writing_documents(out: Path | None = None) -> list[Path]:
    """The Writing panel with the embedded Gemma (llama.cpp, in its model process, as users
    get it): a document typed, continued and accepted; its revision history; and the same
    document after Studio was closed and started again.

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['writing_documents']()"
    """
    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="studio-shots-")
    os.environ.pop("STUDIO_PLUGIN_PATH", None)  # only the real plugins
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.plugin_api import Panel

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.show()
    writing = window.panels[Panel.WRITING]
    for _ in range(100):
        wait(100)
        if writing.current_plugin_id():
            break

    def type_text(text: str) -> None:  # as key presses (QTest types no "\n")
        for number, line in enumerate(text.split("\n")):
            if number:
                QTest.keyClick(writing.document, Qt.Key.Key_Return)
            QTest.keyClicks(writing.document, line)

    writing.document.setFocus()
    type_text("# The keeper\n\nThe lighthouse keeper climbed the stairs at dusk. ")
    type_text("Far below, the sea was calm, and")
    wait(1500)  # saved by now
    writing.run_form.editors["max_new_tokens"].put(40)
    done: list[str] = []
    writing.runner.finished.connect(lambda job_id, ids: done.append(job_id))
    writing.run()
    for _ in range(600):
        wait(100)
        if done:
            break
    wait(300)
    paths = []
    path = out / "window-writing-gemma.png"
    window.grab().save(str(path))
    paths.append(path)
    writing.accept_pending()
    type_text("\n\nHe lit the lamp.")
    wait(1500)
    writing.document_bar.new_document()
    type_text("Notes: the keeper's name is Tomas.")
    wait(1500)
    writing.document_bar.picker.setCurrentIndex(writing.document_bar.picker.findText("The keeper"))
    writing.document_bar.picker.activated.emit(writing.document_bar.picker.currentIndex())
    wait(300)
    dialog = writing.document_bar.show_history()
    wait(500)
    path = out / "window-writing-history.png"
    dialog.grab().save(str(path))
    paths.append(path)
    dialog.close()
    window.close()
    studio.shutdown()

    again = build_app()  # the same data directory: Studio opens where it was
    again.window.resize(1360, 840)
    again.window.show()
    wait(2000)
    path = out / "window-writing-reopened.png"
    again.window.grab().save(str(path))
    paths.append(path)
    again.shutdown()
    app.quit()
    for path in paths:
        print("saved", path)
    return paths


def jobs_in_progress(out: Path | None = None) -> list[Path]:
    """The job path as a user sees it, with the shipped defaults (models in their own process):
    a voice take being made (progress, time left, the waveform growing), a caption batch on the
    Captioning panel's queue (one progress, one Cancel) and File > Import of a folder with a
    broken file (imported off the GUI thread, the refused file named).

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['jobs_in_progress']()"
    """
    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    data_dir = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    os.environ.pop("STUDIO_PLUGIN_PATH", None)  # only the real plugins
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.plugin_api import Panel

    folder = data_dir / "photos"
    folder.mkdir()
    for index in range(24):
        write_sample_png(folder / f"photo-{index:02d}.png", 160 + index, 120)
    (folder / "broken.png").write_bytes((folder / "photo-00.png").read_bytes()[:200])

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.show()
    paths: list[Path] = []

    def shot(name: str) -> None:
        path = out / name
        if not window.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        paths.append(path)

    def until(condition, seconds: float) -> None:
        for _ in range(int(seconds * 20)):
            if condition():
                return
            wait(50)

    voice = window.panels[Panel.VOICE]
    window.tabs.setCurrentIndex(list(window.panels).index(Panel.VOICE))
    until(lambda: voice.current_plugin_id() is not None, 10)
    voice.text.setPlainText(
        " ".join(
            f"Sentence {n} of the keeper's log: the wind from the west, the sea calm, the lamp lit."
            for n in range(1, 121)
        )
    )
    ended: list[str] = []
    voice.runner.finished.connect(lambda job_id, ids: ended.append(job_id))
    voice.run()
    until(lambda: (voice.waveform.has_audio and voice.progress.bar.fraction()) or ended, 60)
    wait(1500)
    shot("window-voice-speaking.png")
    until(lambda: bool(ended), 120)

    captioning = window.panels[Panel.CAPTIONING]
    window.tabs.setCurrentIndex(list(window.panels).index(Panel.CAPTIONING))
    until(lambda: captioning.current_plugin_id() is not None, 10)
    batch_done: list[object] = []
    captioning.batch.controller.finished.connect(lambda summary: batch_done.append(summary))
    captioning.batch.add_paths([folder])
    wait(500)
    captioning.start_batch()

    def some_captioned() -> bool:
        return sum(bool(r.caption_asset_id) for r in captioning.batch.model.rows) >= 4

    until(lambda: some_captioned() or bool(batch_done), 180)
    shot("window-captioning-batch-running.png")
    until(lambda: bool(batch_done), 300)

    fresh = write_sample_png(data_dir / "new-photo.png", 300, 200)
    window.import_files([*sorted(folder.glob("photo-*.png"))[:4], fresh, folder / "broken.png"])
    until(lambda: "broken.png" in window.browser.status_label.text(), 30)
    wait(500)
    shot("window-import-refused.png")
    studio.shutdown()
    app.quit()
    for path in paths:
        print("saved", path)
    return paths


LEASE_HOLDER = """
import sys, time
from pathlib import Path
from studio.core.cpu_lease import CpuLease
lease = CpuLease(Path(sys.argv[1]))
lease.probe.other_busy_cores = lambda: 0.0  # a quiet machine: it takes every core
with lease.hold() as threads:
    print("holding", threads, flush=True)
    time.sleep(float(sys.argv[2]))
"""


def memory_and_cpu(out: Path | None = None) -> list[Path]:
    """The one memory budget and the CPU lease as a user sees them, with the shipped defaults:
    the status bar and its tooltip after jobs in three panels under a budget of 0.6 GB (each
    model, its size and its model process), and the Writing panel waiting for a CPU core that
    another Studio process (a command-line run, simulated) holds.

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['memory_and_cpu']()"
    """
    import json
    import subprocess

    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    data_dir = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    os.environ.pop("STUDIO_PLUGIN_PATH", None)
    (data_dir / "settings.json").write_text(json.dumps({"memory_budget_gb": 0.6}))
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QToolTip

    from studio.app import build_app
    from studio.plugin_api import Panel

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.move(0, 0)
    window.show()
    paths: list[Path] = []

    def until(condition, seconds: float) -> None:
        for _ in range(int(seconds * 20)):
            if condition():
                return
            wait(50)

    def run_in(panel_kind: Panel, setup) -> None:
        panel = window.panels[panel_kind]
        window.tabs.setCurrentIndex(list(window.panels).index(panel_kind))
        until(lambda: panel.current_plugin_id() is not None, 20)
        setup(panel)
        ended: list[str] = []
        panel.runner.finished.connect(lambda job_id, ids: ended.append(job_id))
        panel.runner.failed.connect(lambda job_id, message: ended.append(message))
        panel.run()
        until(lambda: bool(ended), 180)

    image = write_sample_png(data_dir / "sign.png", 320, 200)

    def writing_setup(panel) -> None:
        panel.document.setPlainText("The lighthouse keeper climbed the stairs at dusk.")
        panel.run_form.editors["max_new_tokens"].put(16)

    run_in(Panel.WRITING, writing_setup)
    run_in(Panel.VOICE, lambda p: p.text.setPlainText("The lamp is lit."))
    run_in(Panel.CAPTIONING, lambda p: p.image_input.set_path(image))
    wait(2500)  # the status bar updates every 2 s
    window._update_memory()
    label = window.memory_label
    QToolTip.showText(label.mapToGlobal(QPoint(0, -10)), label.toolTip(), label)
    wait(600)
    path = out / "window-memory-budget.png"
    QGuiApplication.primaryScreen().grabWindow(0).save(str(path))
    paths.append(path)
    QToolTip.hideText()

    holder = subprocess.Popen(
        [sys.executable, "-c", LEASE_HOLDER, str(data_dir / "cpu-lease"), "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    holder.stdout.readline()
    writing = window.panels[Panel.WRITING]
    window.tabs.setCurrentIndex(list(window.panels).index(Panel.WRITING))
    writing.run()
    until(lambda: "free CPU core" in writing.progress.label.text(), 30)
    wait(500)
    path = out / "window-waiting-for-cpu.png"
    if not window.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    paths.append(path)
    holder.kill()
    studio.shutdown()
    app.quit()
    for path in paths:
        print("saved", path)
    return paths


def repair_dialogs(out: Path | None = None) -> list[Path]:
    """A damaged project opened in the window (a copy cut short, and one picture's bytes
    damaged): the offer to repair, the report with its details, and the
    repaired project open with its assets.

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['repair_dialogs']()"
    """
    import sqlite3

    from PIL import Image

    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    data_dir = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QMessageBox

    from studio.app import build_app
    from studio.core.media.importing import import_files
    from studio.core.project import ProjectStore

    folder = data_dir / "Projects"
    folder.mkdir()
    pictures = []
    for index in range(24):
        path = data_dir / f"Harbour {index + 1}.png"
        noise = Image.effect_noise((96, 96), 30 + index * 3).convert("L")
        Image.merge("RGB", (noise, noise.rotate(90), noise.rotate(180))).save(path)
        pictures.append(path)
    project = folder / "Harbour.studio"
    with ProjectStore.create(project) as store:
        import_files(store, pictures)
        store.create_document("Harbour notes\n\nThe boats came in at six.")
    conn = sqlite3.connect(project)
    victim = conn.execute("SELECT blob_sha256 FROM assets ORDER BY created_ns LIMIT 1").fetchone()
    conn.execute("UPDATE blobs SET data = zeroblob(length(data)) WHERE sha256 = ?", (victim[0],))
    conn.commit()
    conn.close()
    data = project.read_bytes()
    project.write_bytes(data[: len(data) * 3 // 4 // 4096 * 4096])  # a copy cut short

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.move(0, 0)
    window.show()
    wait(1500)
    paths: list[Path] = []

    def shoot(name: str, then: str) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(200, lambda: shoot(name, then))
            return
        for button in box.buttons():
            if button.text().replace("&", "").startswith("Show Details"):
                button.click()
        wait(400)
        path = out / name
        QGuiApplication.primaryScreen().grabWindow(0).save(str(path))
        paths.append(path)
        for button in box.buttons():
            if button.text().replace("&", "").rstrip("…") == then:
                button.click()
                return

    QTimer.singleShot(300, lambda: shoot("window-repair-offer.png", "Repair"))
    QTimer.singleShot(2500, lambda: shoot("window-repair-report.png", "Open Repaired Project"))
    window.browser_dock.show()
    window.open_project(project)
    wait(2500)
    path = out / "window-repaired-project.png"
    window.grab().save(str(path))
    paths.append(path)
    studio.shutdown()
    app.quit()
    for path in paths:
        print("saved", path)
    return paths


def faulty_and_hostile(out: Path | None = None) -> list[Path]:
    """A third-party plugin that fails on Run (its sentence in the Writing panel's banner), and
    hostile files dropped on the asset browser (refused, each with its reason in the tooltip).

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['faulty_and_hostile']()"
    """
    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    data_dir = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    plugins = data_dir / "third-party"
    (plugins / "broken_writer").mkdir(parents=True)
    (plugins / "broken_writer" / "broken_writer.py").write_text(
        "from studio.plugin_api import *\n\nclass Plugin(ModelPlugin):\n"
        "    def load(self, options, ctx):\n        return None\n\n"
        "    def run(self, loaded, request, options, ctx):\n"
        "        raise RuntimeError('the tokenizer file is missing a merges table')\n"
        "        yield\n"
    )
    (plugins / "broken_writer" / "studio-plugin.toml").write_text(
        'id = "broken-writer"\nname = "Broken writer (third party)"\nversion = "0.1.0"\n'
        'api_version = 1\npanels = ["writing"]\nlicence = "MIT"\nentry = "broken_writer:Plugin"\n'
    )
    os.environ["STUDIO_PLUGIN_PATH"] = str(plugins)
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QToolTip

    from studio.app import build_app
    from studio.plugin_api import Panel

    hostile = data_dir / "hostile"
    hostile.mkdir()
    os.mkfifo(hostile / "camera-feed.png")
    (hostile / "holiday.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (hostile / "icon.ico").write_bytes(b"\x00\x00\x01\x00" + bytes(40))
    (hostile / "empty.wav").write_bytes(b"")
    (hostile / "photos.jpg").mkdir()

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.move(0, 0)
    window.show()
    wait(2500)
    writing = window.panels[Panel.WRITING]
    writing.select_plugin("broken-writer")
    writing.open_text("The lighthouse keeper")
    writing.run()
    for _ in range(200):
        if not studio.runners[Panel.WRITING].busy and writing.error_banner.isVisible():
            break
        wait(100)
    window.browser.import_paths(sorted(hostile.iterdir()))
    wait(2500)
    label = window.browser.status_label
    QToolTip.showText(label.mapToGlobal(QPoint(0, -10)), label.toolTip(), label)
    wait(600)
    path = out / "window-faulty-plugin-and-hostile-drop.png"
    QGuiApplication.primaryScreen().grabWindow(0).save(str(path))
    studio.shutdown()
    app.quit()
    print("saved", path)
    return [path]


SIZES = ((1280, 800), (1920, 1080))


def every_panel(out: Path | None = None, sizes=SIZES, themes=("light", "dark")) -> list[Path]:
    """Every panel in each of its built-in plugins, at 1280x800 and 1920x1080, light and dark,
    with the embedded models (nothing run): what a first-time user sees before the first Run.
    Writing is also taken in "Follow an instruction" mode. Also writes one contact sheet per
    size and theme (``sheet-THEME-WxH.png``) to look at them side by side.

        xvfb-run -a -s "-screen 0 1920x1080x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['every_panel']()"
    """
    out = out or Path(__file__).resolve().parent / "panels"
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="studio-shots-")
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.core.settings import Theme
    from studio.plugin_api import Panel
    from studio.ui.theme import apply_theme

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.move(0, 0)
    window.show()
    wait(2500)
    saved: list[Path] = []
    for theme in themes:
        apply_theme(Theme(theme))
        for width, height in sizes:
            window.showNormal()
            window.resize(width, height)
            wait(400)
            shots: list[Path] = []
            for index, panel in enumerate(window.panels):
                window.tabs.setCurrentIndex(index)
                widget = window.panels[panel]
                combo = widget.plugin_combo
                states = [combo.itemData(i) for i in range(combo.count())]
                for plugin_id in states:
                    if not widget.select_plugin(plugin_id):
                        continue
                    modes = [None]
                    if panel is Panel.WRITING:
                        modes = [m for m in range(widget.mode.count())]
                    for mode in modes:
                        if mode is not None:
                            widget.mode.setCurrentIndex(mode)
                        wait(300)
                        suffix = f"-mode{mode}" if mode else ""
                        name = f"{theme}-{width}x{height}-{panel.value}-{plugin_id}{suffix}.png"
                        path = out / name
                        window.grab().save(str(path))
                        shots.append(path)
                    if panel is Panel.WRITING:
                        widget.mode.setCurrentIndex(0)
            saved += shots
            # a contact sheet: three across, each at a third of its size
            columns, scale = 3, 3
            cell_w, cell_h = width // scale, height // scale
            rows = (len(shots) + columns - 1) // columns
            sheet = QImage(cell_w * columns, cell_h * rows, QImage.Format.Format_RGB32)
            sheet.fill(Qt.GlobalColor.white)
            painter = QPainter(sheet)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            for number, path in enumerate(shots):
                x, y = number % columns * cell_w, number // columns * cell_h
                painter.drawImage(QRect(x, y, cell_w, cell_h), QImage(str(path)))
            painter.end()
            sheet.save(str(out / f"sheet-{theme}-{width}x{height}.png"))
    studio.shutdown()
    app.quit()
    print("saved", len(saved), "screenshots in", out)
    return saved


def plugins_dialog(out: Path | None = None) -> Path:
    """Plugins > Manage Plugins… with the review of the example plugin (examples/) shown: its
    manifest, what it declares it needs, and its one requirement, to install into its private
    folder from a local wheel folder (built here; nothing is downloaded).

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['plugins_dialog']()"
    """
    import shutil
    import subprocess

    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    data_dir = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    examples = Path(__file__).resolve().parents[2] / "examples"
    work = data_dir / "examples"
    font = shutil.copytree(examples / "banner-font", work / "banner-font")
    plugin = shutil.copytree(examples / "studio-plugin-banner", work / "studio-plugin-banner")
    wheels = data_dir / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(wheels), str(font)],
        check=True,
    )  # fmt: skip
    from PySide6.QtWidgets import QApplication

    from studio.core.plugin_install import PluginInstaller
    from studio.core.services import build_core_services
    from studio.ui.plugins_dialog import PluginsDialog

    app = QApplication(sys.argv[:1])
    services = build_core_services()
    offline = ("--no-index", "--find-links", str(wheels))
    installer = PluginInstaller(services.paths, pip_args=offline)
    dialog = PluginsDialog(services.registry, installer, services.recent_folders)
    dialog.show()
    wait(500)
    dialog.review_source(plugin)
    for _ in range(300):
        if dialog.review is not None or dialog.error.message:
            break
        wait(100)
    if dialog.review is None:
        raise SystemExit(f"no review: {dialog.error.message}")
    wait(400)
    path = out / "plugins-dialog.png"
    if not dialog.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    dialog.cancel_review()
    dialog.installs.wait(10)
    app.quit()
    print("saved", path)
    return path


def tutorial_voice(out: Path | None = None) -> Path:
    """The Voice panel with the tutorial's espeak-ng plugin (docs/plugins.md, section 1)
    installed from the page's own files, after a take in a British voice.

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['tutorial_voice']()"
    """
    import re

    out = out or Path(__file__).resolve().parent
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    data_dir = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    os.environ.pop("STUDIO_PLUGIN_PATH", None)
    page = (Path(__file__).resolve().parents[1] / "plugins.md").read_text(encoding="utf-8")
    files = re.findall(r"<!-- file: (espeak-voice/[\w.-]+) -->\n```\w+\n(.*?)```", page, re.S)
    for name, text in files:
        (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / name).write_text(text, encoding="utf-8")
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.core.plugin_install import PluginInstaller
    from studio.core.services import build_core_services
    from studio.plugin_api import Panel

    installer = PluginInstaller(build_core_services().paths)
    installer.install(installer.review(data_dir / "espeak-voice"))
    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.show()
    window.tabs.setCurrentIndex(list(window.panels).index(Panel.VOICE))
    voice = window.panels[Panel.VOICE]
    wait(1500)
    if not voice.select_plugin("tutorial.espeak"):
        raise SystemExit("the tutorial plugin is not in the Voice panel")
    wait(500)
    voice.text.setPlainText(
        "The lighthouse keeper climbed the stairs at dusk. Far below, the sea was calm."
    )
    voice.run_form.editors["voice"].put("en-gb")
    done: list[str] = []
    voice.runner.finished.connect(lambda job_id, ids: done.append(job_id))
    voice.run()
    for _ in range(300):
        wait(100)
        if done:
            break
    wait(500)
    voice.seek(voice.waveform.duration * 0.4)
    wait(300)
    path = out / "window-voice-tutorial-plugin.png"
    if not window.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print("saved", path)
    studio.shutdown()
    app.quit()
    return path


def _fake_model_home(home: Path) -> None:
    """Other tools' model folders with a few real headers, stubs and pickles (nothing big is
    copied: the GGUFs link to the embedded Gemma, assembled by the writer plugin)."""
    import json
    import os
    import pickle

    import numpy as np
    from safetensors.numpy import save_file

    from studio.builtin_support.packaged_models import GEMMA_3_270M, assemble_packaged_file

    gemma = assemble_packaged_file(GEMMA_3_270M, home / ".gemma-cache")
    sd = {
        "model.diffusion_model.input_blocks.0.0.weight": np.zeros((320, 4, 3, 3), np.float16),
        "cond_stage_model.transformer.text_model.final_layer_norm.weight": np.zeros(
            768, np.float16
        ),
    }
    lora = {"lora_unet_mid.lora_down.weight": np.zeros((8, 320), np.float16),
            "lora_unet_mid.lora_up.weight": np.zeros((320, 8), np.float16)}  # fmt: skip
    a1111 = home / "stable-diffusion-webui" / "models"
    for folder, name, tensors in (
        ("Stable-diffusion", "dreamshaper_8.safetensors", sd),
        ("Lora", "ink-sketch.safetensors", lora),
    ):
        (a1111 / folder).mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(a1111 / folder / name), metadata={"modelspec.license": "openrail"})

    class Payload:  # written, never loaded: what a hostile checkpoint carries
        def __reduce__(self):
            return (os.system, ("echo owned",))

    (a1111 / "Stable-diffusion" / "free-model.ckpt").write_bytes(pickle.dumps(Payload()))
    comfy = home / "ComfyUI" / "models" / "checkpoints"
    comfy.mkdir(parents=True)
    (comfy / "sdxl-base.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:"
        + "ab" * 32
        + "\nsize 6938078334\n"
    )
    import gguf

    lm = home / ".lmstudio" / "models" / "lmstudio-community" / "tokenizer-test-GGUF"
    lm.mkdir(parents=True)
    writer = gguf.GGUFWriter(str(lm / "ggml-vocab-llama.gguf"), "llama")
    writer.add_token_list(["<s>", "</s>", "a"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    ollama = home / ".ollama" / "models"
    digest = "ab" * 32
    (ollama / "blobs").mkdir(parents=True)
    (ollama / "blobs" / f"sha256-{digest}").symlink_to(gemma)
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "gemma3" / "270m"
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"}
    manifest.write_text(json.dumps({"layers": [layer]}))


def _home_full_of_models() -> tuple[Path, Path]:
    """A fresh data folder and a home folder where other tools left models (the environment
    points there, for this process and the model processes it starts)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    data_dir = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    home = data_dir / "home"
    os.environ["HOME"] = str(home)
    for name in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "TTS_HOME", "XDG_DATA_HOME"):
        os.environ.pop(name, None)
    os.environ.pop("STUDIO_PLUGIN_PATH", None)
    _fake_model_home(home)
    return data_dir, home


def models_view(out: Path | None = None) -> list[Path]:
    """View > Models over a home folder where AUTOMATIC1111, ComfyUI, LM Studio and Ollama
    left models (one a Git LFS stub, one a hostile pickle), then its Loaded tab after a take
    with the embedded voice.

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['models_view']()"
    """
    out = out or Path(__file__).resolve().parent
    data_dir, _home = _home_full_of_models()
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.plugin_api import Panel

    app = QApplication(sys.argv[:1])
    studio = build_app()
    window = studio.window
    window.resize(1360, 840)
    window.show()
    wait(1500)
    voice = window.panels[Panel.VOICE]
    voice.text.setPlainText("Hello there. The models view lists what is loaded.")
    done: list[str] = []
    voice.runner.finished.connect(lambda job_id, ids: done.append(job_id))
    voice.run()
    view = window.show_models()
    view.scans.wait(60)
    for _ in range(300):
        wait(100)
        if done and view.scans.entries:
            break
    wait(500)
    view.select(
        str(data_dir / "home" / "ComfyUI" / "models" / "checkpoints" / "sdxl-base.safetensors")
    )
    wait(300)
    paths = [out / "models-view-library.png", out / "models-view-loaded.png"]
    if not view.grab().save(str(paths[0])):
        raise SystemExit(f"could not write {paths[0]}")
    view.tabs.setCurrentIndex(1)
    view.refresh_loaded()
    wait(500)
    if not view.grab().save(str(paths[1])):
        raise SystemExit(f"could not write {paths[1]}")
    for path in paths:
        print("saved", path)
    studio.shutdown()
    app.quit()
    return paths


def image_library_lora(out: Path | None = None) -> list[Path]:
    """The Image panel's model picker listing the models other tools left (grouped by where
    they are), then a take with a tiny random Stable Diffusion pipeline (from the user's own
    model folder) and a LoRA picked from the library at 0.8.

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['image_library_lora']()"
    """
    out = out or Path(__file__).resolve().parent
    _data_dir, home = _home_full_of_models()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.fixtures.tiny_models import build_tiny_sd_lora, build_tiny_sd_pipeline

    own = home / "my-models"
    sd = build_tiny_sd_pipeline(own / "tiny-sd-random")
    build_tiny_sd_lora(sd, home / "stable-diffusion-webui" / "models" / "Lora" / "ink.safetensors")
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.plugin_api import Panel

    app = QApplication(sys.argv[:1])
    studio = build_app()
    studio.services.model_library.add_folder(own)
    window = studio.window
    window.resize(1360, 840)
    window.show()
    wait(1500)
    panel = window.panels[Panel.IMAGE]
    window.tabs.setCurrentWidget(panel)
    panel.select_plugin("studio.image-diffusers")
    window.model_scans.wait(60)
    wait(500)
    picker = panel.options.model_picker
    picker.set_value(str(sd))
    loras = panel.options.lora_editor
    loras.add("ink", 0.8)
    panel.prompt.setPlainText("a lighthouse on a cliff at dusk, oil painting")
    panel.run_form.editors["steps"].put(6)
    panel.run_form.editors["seed"].put(42)
    picker.combo.showPopup()
    wait(500)
    paths = [out / "window-image-model-picker.png", out / "window-image-lora.png"]
    QGuiApplication.primaryScreen().grabWindow(0).save(str(paths[0]))
    picker.combo.hidePopup()
    panel.run()
    for _ in range(300):  # a fresh model process imports torch and diffusers first
        wait(200)
        if not panel.runner.busy:
            break
    wait(500)
    if not window.grab().save(str(paths[1])):
        raise SystemExit(f"could not write {paths[1]}")
    for path in paths:
        print("saved", path)
    studio.shutdown()
    app.quit()


def image_settings_restore(out: Path | None = None) -> Path:
    """A JPEG made by AUTOMATIC1111 (settings in its EXIF UserComment, a sampler Studio lacks)
    dropped on the Image panel: the settings restored, the closest sampler named, and the
    model it names chosen from the library by name and hash.

        xvfb-run -a -s "-screen 0 1400x900x24" python -c "import runpy; \\
            runpy.run_path('docs/screenshots/make_screenshots.py')['image_settings_restore']()"
    """
    out = out or Path(__file__).resolve().parent
    data_dir, home = _home_full_of_models()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from PySide6.QtWidgets import QApplication

    from studio.app import build_app
    from studio.plugin_api import Panel
    from tests.core.image_settings.builders import jpeg_with_exif, tiff, user_comment
    from tests.ui.test_file_drops import drag

    app = QApplication(sys.argv[:1])
    studio = build_app()
    checkpoint = home / "stable-diffusion-webui" / "models" / "Stable-diffusion"
    checkpoint = checkpoint / "dreamshaper_8.safetensors"
    digest = studio.services.hashes.file_sha256(checkpoint)
    text = (
        "a lighthouse on a cliff at dusk, oil painting <lora:ink-sketch:0.6>\n"
        "Negative prompt: blurry, text\n"
        "Steps: 28, Sampler: DPM++ SDE, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567, "
        f"Size: 512x768, Model hash: {digest[:10]}, Model: dreamshaper_8, Clip skip: 2, "
        "ADetailer model: face_yolov8n.pt, Version: f2.0.1v1.10.1"
    )
    picture = data_dir / "lighthouse.jpg"
    picture.write_bytes(jpeg_with_exif(tiff({}, {0x9286: (7, user_comment(text))})))
    window = studio.window
    window.resize(1360, 840)
    window.show()
    wait(1500)
    panel = window.panels[Panel.IMAGE]
    window.tabs.setCurrentWidget(panel)
    window.model_scans.wait(60)
    wait(500)
    drag(panel, [picture])  # a drag entering, then the drop, as the tests make them
    wait(800)
    path = out / "window-image-settings-from-a1111-jpeg.png"
    if not window.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print("saved", path)
    print(panel.restore_note.text())
    studio.shutdown()
    app.quit()
