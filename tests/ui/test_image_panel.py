"""The Image panel with the real diffusers plugin on a tiny Stable Diffusion pipeline: the model
note and Import model…, inputs that follow the plugin's slots, previews, the results strip,
zoom and pan, the mask brush and inpainting, and dropping an image."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import io

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QWheelEvent

from studio.core.services import build_core_services
from studio.plugin_api import Panel
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.project_session import ProjectSession
from studio.ui.panels.image import ImagePanel
from tests.fixtures.tiny_models import tiny_sd_dir  # noqa: F401 (fixture)
from tests.plugins.plugin_factory import write_folder_plugin

DIFFUSERS = "studio.image-diffusers"

STYLE_PLUGIN = """
from studio.plugin_api import *

class Plugin(ModelPlugin):
    inputs = (InputSlot(role="init", label="Content image", kind=AssetKind.IMAGE),
              InputSlot(role="style", label="Style image", kind=AssetKind.IMAGE))

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset(kind=AssetKind.IMAGE, data=b"", media_type=""),))
"""


@pytest.fixture
def panel(qtbot, services, session, runners, tiny_sd_dir):
    widget = ImagePanel(services, session, runners[Panel.IMAGE])
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.refresh_plugins()
    widget.show()
    assert widget.select_plugin(DIFFUSERS)
    widget.run_form.editors["steps"].put(2)
    widget.run_form.editors["seed"].put(5)
    return widget


def run(qtbot, panel, timeout=30_000):
    with qtbot.waitSignal(panel.runner.finished, timeout=timeout) as done:
        panel.run_button.click()
    return done.args[1]


def write_png(path, size=(64, 64), colour=(30, 120, 200)):
    Image.new("RGB", size, colour).save(path)
    return path


def drag(qtbot, canvas, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton):
    qtbot.mousePress(canvas, button, pos=start)
    for step in range(1, 5):
        point = start + (end - start) * step / 4
        qtbot.mouseMove(canvas, point)
    qtbot.mouseRelease(canvas, button, pos=end)


def test_without_a_model_the_panel_says_to_import_one(qtbot, panel, tiny_sd_dir):
    assert panel.model_note.isVisible()
    assert "import a model folder" in panel.model_note_label.text()
    assert panel.import_button.text() == "Import model…"
    panel.run_button.click()
    assert "No model is imported" in panel.error_banner.message
    assert panel.session.store.count_assets() == 0
    panel.set_model(str(tiny_sd_dir))
    assert not panel.model_note.isVisible()


def test_inputs_follow_the_plugins_declared_slots(qtbot, panel):
    assert panel.init_input.isVisible()
    assert panel.mask_tools.isVisible() and not panel.style_input.isVisible()
    assert set(panel.file_inputs()) == {"init", "mask"}
    assert panel.select_plugin("studio-test.gradient")  # declares no inputs
    assert panel.init_input.isVisible()
    assert not panel.mask_tools.isVisible() and not panel.style_input.isVisible()
    assert set(panel.file_inputs()) == {"init"}
    assert not panel.model_note.isVisible()


def test_a_plugin_with_a_style_slot_gets_a_style_image_field(qtbot, tmp_path, monkeypatch):
    write_folder_plugin(tmp_path / "plugins", "styler", code=STYLE_PLUGIN, panels=["image"])
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    services = build_core_services()
    services.registry.discover()
    session = ProjectSession(services.paths.data_dir)
    runner = PanelJobRunner(services.executor, "image")
    panel = ImagePanel(services, session, runner)
    qtbot.addWidget(panel)
    try:
        panel.refresh_plugins()
        panel.show()
        assert panel.select_plugin("styler")
        assert panel.style_input.isVisible() and not panel.mask_tools.isVisible()
        assert panel.init_input.label.text().startswith("Content image")
        assert set(panel.file_inputs()) == {"init", "style"}
        assert panel.select_plugin(DIFFUSERS)
        assert not panel.style_input.isVisible() and panel.mask_tools.isVisible()
    finally:
        runner.shutdown()
        session.close()


def test_text_to_image_shows_previews_then_the_result_in_the_strip(qtbot, panel, tiny_sd_dir):
    panel.set_model(str(tiny_sd_dir))
    panel.prompt.setPlainText("a lighthouse")
    panel.run_form.editors["steps"].put(3)
    panel.run_form.editors["variations"].put(2)
    previews = []
    panel.runner.preview.connect(lambda job, data, kind: previews.append(kind))
    ids = run(qtbot, panel)
    assert len(ids) == 2
    assert previews and set(previews) == {"image/png"}
    assert panel.canvas.image().size().width() == 64
    assert "seed 6" in panel.caption.text()  # the last of the batch: seeds 5 and 6
    assert panel.recent_asset_ids() == [ids[1], ids[0]]
    panel._recent_clicked(panel.recent.item(1))
    assert "seed 5" in panel.caption.text()
    first = panel.session.store.read_blob(ids[0])
    shown = panel.canvas.image()
    assert (shown.width(), shown.height()) == Image.open(io.BytesIO(first)).size


def test_zoom_and_pan(qtbot, panel, tmp_path):
    panel.open_init_file(write_png(tmp_path / "init.png", size=(128, 96)))
    canvas = panel.canvas
    fitted = canvas.zoom()
    assert fitted > 1 and panel.zoom_label.text() == f"{fitted * 100:.0f}%"
    centre = QPointF(canvas.width() / 2, canvas.height() / 2)
    wheel = QWheelEvent(
        centre, canvas.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 240),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    canvas.wheelEvent(wheel)
    assert canvas.zoom() == pytest.approx(fitted * 1.44)
    before = canvas.image_rect().topLeft()
    drag(qtbot, canvas, QPoint(300, 300), QPoint(340, 320))
    after = canvas.image_rect().topLeft()
    assert (after.x() - before.x(), after.y() - before.y()) == pytest.approx((40, 20), abs=1)
    panel.actual_button.click()
    assert canvas.zoom() == 1.0
    panel.fit_button.click()
    assert canvas.zoom() == pytest.approx(fitted)


def test_the_mask_brush_paints_erases_and_inpaints(qtbot, panel, tiny_sd_dir, tmp_path):
    panel.set_model(str(tiny_sd_dir))
    panel.prompt.setPlainText("a boat")
    panel.run_form.editors["strength"].put(1.0)
    init = write_png(tmp_path / "init.png")
    panel.paint_button.click()
    assert not panel.paint_button.isChecked()
    assert "init image first" in panel.error_banner.message
    assert panel.open_init_file(init)
    panel.paint_button.click()
    assert panel.paint_button.isChecked() and panel.canvas.painting
    canvas = panel.canvas
    panel.brush_size.setValue(8)
    rect = canvas.image_rect()

    def at(x, y):  # image pixel to widget point
        return QPoint(round(rect.x() + x * canvas.zoom()), round(rect.y() + y * canvas.zoom()))

    drag(qtbot, canvas, at(10, 32), at(54, 32))
    assert canvas.has_mask() and panel.clear_mask_button.isEnabled()
    mask = Image.open(io.BytesIO(canvas.mask_png()))
    assert mask.size == (64, 64) and mask.mode == "L"
    assert mask.getpixel((32, 32)) == 255 and mask.getpixel((32, 5)) == 0
    panel.eraser_button.click()
    drag(qtbot, canvas, at(28, 32), at(36, 32))
    assert Image.open(io.BytesIO(canvas.mask_png())).getpixel((32, 32)) == 0
    assert canvas.has_mask()
    panel.eraser_button.click()

    (asset_id,) = run(qtbot, panel)
    assert not panel.paint_button.isChecked()  # the result is shown, not the mask
    recipe = panel.session.asset(asset_id).recipe
    roles = {link.role: link.asset_id for link in recipe.inputs}
    assert set(roles) == {"init", "mask"} and recipe.details["mode"] == "inpainting"
    mask_asset = Image.open(io.BytesIO(panel.session.store.read_blob(roles["mask"])))
    assert mask_asset.size == (64, 64) and mask_asset.getpixel((12, 32)) == 255

    panel.canvas.clear_mask()
    assert not canvas.has_mask()
    (plain_id,) = run(qtbot, panel)
    assert panel.session.asset(plain_id).recipe.details["mode"] == "image-to-image"

    # Double-clicking the inpainted result brings its settings and its mask back.
    item = panel.recent.item(panel.recent_asset_ids().index(asset_id))
    panel._recent_double_clicked(item)
    assert panel.canvas.has_mask()
    assert Image.open(io.BytesIO(canvas.mask_png())).getpixel((12, 32)) == 255


def test_a_new_init_image_of_another_size_clears_the_mask(qtbot, panel, tmp_path):
    panel.open_init_file(write_png(tmp_path / "a.png"))
    panel.paint_button.click()
    panel.canvas.stroke(QPointF(10, 10), QPointF(20, 20))
    assert panel.canvas.has_mask()
    panel.open_init_file(write_png(tmp_path / "b.png", size=(48, 48)))
    assert not panel.canvas.has_mask() and panel.canvas.mask_size().width() == 48


def test_use_as_init_image(qtbot, panel, tiny_sd_dir):
    panel.set_model(str(tiny_sd_dir))
    (asset_id,) = run(qtbot, panel)
    panel.use_as_init_button.click()
    assert panel.init_input.asset_id == asset_id
    (second,) = run(qtbot, panel)
    recipe = panel.session.asset(second).recipe
    assert [(link.role, link.asset_id) for link in recipe.inputs] == [("init", asset_id)]


def drop(panel, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    panel.dropEvent(event)


def test_dropping_an_image_makes_it_the_init_image(qtbot, panel, tmp_path):
    image = write_png(tmp_path / "dropped.png", size=(80, 48))
    drop(panel, image)
    assert panel.init_input.path == image
    assert panel.canvas.image().width() == 80
    assert "Init image · 80×48" in panel.caption.text()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    drop(panel, bad)
    assert "broken.png cannot be imported" in panel.error_banner.message
    assert panel.init_input.path == image
    assert panel.session.store.count_assets() == 0


def test_cancel_during_generation_keeps_nothing(qtbot, panel, tiny_sd_dir):
    panel.set_model(str(tiny_sd_dir))
    panel.run_form.editors["steps"].put(40)
    panel.run_form.editors["preview_every"].put(1)

    def on_progress(job_id, fraction, message, eta):
        if "step 1 of" in message:
            panel.cancel()

    panel.runner.progress.connect(on_progress)
    with qtbot.waitSignal(panel.runner.cancelled, timeout=30_000) as cancelled:
        panel.run_button.click()
    assert cancelled.args[1] == ()
    assert panel.progress.label.text() == "Cancelled"
    assert panel.session.store.count_assets() == 0
    assert panel.recent.count() == 0
