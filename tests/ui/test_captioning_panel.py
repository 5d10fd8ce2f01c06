"""The Captioning panel: the default plugin, one image with an edit, batches from folders and
assets (corrupt files listed, stop midway, sidecars, table edits), "Caption This", and a folder
of 10,000 files listed without freezing the window."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QElapsedTimer, QMimeData, QObject, QPointF, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDropEvent

from studio.core.services import build_core_services
from studio.plugin_api import AssetKind, Panel
from studio.plugin_api.sample_media import write_sample_png
from studio.qt.caption_batch import BatchTableModel, RowState
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.project_session import ProjectSession
from studio.ui.panels.captioning import CaptioningPanel
from tests.plugins.plugin_factory import manifest_text, write_folder_plugin

DESCRIBE = "studio-test.describe"
SLOW_CODE = """
from studio.plugin_api import *

class Plugin(ModelPlugin):
    inputs = (InputSlot(role="image", label="Image", kind=AssetKind.IMAGE, required=True),)

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        image = request.input("image")
        yield Progress(fraction=0.5, message="looking")
        if ctx.cancel.wait(0.25):
            raise Cancelled()
        text = f"slow caption of {image.path.name}"
        yield Result(assets=(GeneratedAsset.from_text(text, kind=AssetKind.CAPTION,
                                                      input_roles=("image",)),))
"""


class StopAfter(QObject):
    """Presses Stop after N images (a slot of a GUI-thread object: the controller emits from
    its own thread, and widgets are touched only in the GUI thread)."""

    def __init__(self, panel, count: int, button=None) -> None:
        super().__init__()
        self.panel, self.count, self.seen = panel, count, 0
        self.button = button or panel.batch.stop_button
        self.progress_shown: list[str] = []

    @Slot(object)
    def finished(self, outcome) -> None:
        self.seen += 1
        if self.seen == self.count:
            self.button.click()

    @Slot(object)
    def progress(self, batch_progress) -> None:  # after the panel's own slot
        self.progress_shown.append(self.panel.progress.label.text())


@pytest.fixture
def panel(qtbot, services, session, runners):
    widget = CaptioningPanel(services, session, runners[Panel.CAPTIONING])
    qtbot.addWidget(widget)
    widget.refresh_plugins()
    assert widget.select_plugin(DESCRIBE)
    widget.show()
    yield widget
    widget.shutdown()


def folder_of_images(folder: Path, good: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(good):
        Image.new("RGB", (16 + index, 12), (40 * index, 90, 200)).save(folder / f"img-{index}.png")
    (folder / "zero.png").write_bytes(b"")
    (folder / "words.jpg").write_text("not a jpeg")
    (folder / "cut.png").write_bytes((folder / "img-0.png").read_bytes()[:50])
    return folder


def add_and_wait(qtbot, panel, paths):
    with qtbot.waitSignal(panel.batch.lister.done, timeout=10_000):
        panel.batch.add_paths(paths)


def run_batch(qtbot, panel, timeout=20_000):
    with qtbot.waitSignal(panel.batch.controller.finished, timeout=timeout) as finished:
        panel.batch.start_button.click()
    return finished.args[0]


def states(panel) -> dict[str, str]:
    return {row.label: row.state.value for row in panel.batch.model.rows}


def test_the_embedded_describer_is_the_default_on_first_launch(qtbot, qapp):
    services = build_core_services()
    services.registry.discover()
    session = ProjectSession(services.paths.data_dir)
    runner = PanelJobRunner(services.executor, "captioning")
    widget = CaptioningPanel(services, session, runner)
    qtbot.addWidget(widget)
    try:
        widget.refresh_plugins()
        assert widget.current_plugin_id() == "studio.caption-ocr-tags"
        assert set(widget.run_form.editors) >= {"mode", "tags", "min_score"}
    finally:
        widget.shutdown()
        assert runner.shutdown(5000)
        session.close()


def test_one_image_caption_then_an_edit_kept_as_a_new_caption(qtbot, panel, tmp_path):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    panel.add_paths([photo])
    assert panel.image_input.path == photo and not panel.preview.image().isNull()
    with qtbot.waitSignal(panel.runner.finished, timeout=10_000) as finished:
        panel.run_button.click()
    (caption_id,) = finished.args[1]
    assert panel.output.toPlainText().startswith("A 40×30 image")
    caption = panel.session.asset(caption_id)
    (link,) = caption.recipe.inputs
    assert link.role == "image"
    assert panel.session.asset(link.asset_id).recipe.request["file_name"] == "photo.png"
    assert panel.image_input.path == photo  # the preview was not decoded again
    assert not panel.save_edit_button.isEnabled()
    panel.output.setPlainText("A small test card.")
    assert panel.save_edit_button.isEnabled()
    panel.save_edit_button.click()
    edited = panel.session.asset(panel.caption_asset_id)
    assert edited.id != caption_id and edited.kind is AssetKind.CAPTION
    assert panel.session.store.read_blob(edited.id) == b"A small test card."
    assert [i.asset_id for i in edited.recipe.inputs] == [link.asset_id]
    assert edited.recipe.details["edited_from"] == caption_id
    assert not panel.save_edit_button.isEnabled()


def test_a_question_goes_into_the_request(qtbot, panel, tmp_path):
    panel.image_input.set_path(write_sample_png(tmp_path / "q.png"))
    panel.question.setText("what colour?")
    with qtbot.waitSignal(panel.runner.finished, timeout=10_000) as finished:
        panel.run_button.click()
    caption = panel.session.asset(finished.args[1][0])
    assert caption.recipe.request["question"] == "what colour?"
    assert panel.output.toPlainText().startswith("I can only tell size and colour.")


def test_dropping_a_folder_makes_a_batch_with_bad_files_listed(qtbot, panel, tmp_path):
    folder = folder_of_images(tmp_path / "photos")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    drop = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    with qtbot.waitSignal(panel.batch.lister.done, timeout=10_000):
        panel.dropEvent(drop)
    assert len(panel.batch.model.rows) == 6
    panel.batch.sidecar_check.setChecked(True)
    summary = run_batch(qtbot, panel)
    assert (summary.done, summary.skipped, summary.failed) == (3, 3, 0)
    assert states(panel) == {
        "cut.png": "skipped",
        "img-0.png": "done",
        "img-1.png": "done",
        "img-2.png": "done",
        "words.jpg": "skipped",
        "zero.png": "skipped",
    }
    notes = {row.label: row.message for row in panel.batch.model.rows}
    assert notes["zero.png"] == "zero.png skipped: it is empty."
    assert "but it is not one" in notes["words.jpg"]
    assert (folder / "img-1.txt").read_text().startswith("A 17×12 image")
    counts = panel.session.store.counts_by_kind()
    assert counts[AssetKind.CAPTION] == 3 and counts[AssetKind.IMAGE] == 3
    assert "3 done" in panel.batch.status.text() and "3 skipped" in panel.batch.status.text()
    assert panel.output.toPlainText().startswith("A 18×12 image")  # the last one is shown


def test_stop_midway_keeps_finished_captions_and_can_resume(qtbot, tmp_path, monkeypatch, qapp):
    write_folder_plugin(tmp_path / "plugins", "slowcap", code=SLOW_CODE, panels=["captioning"])
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    services = build_core_services()
    services.registry.discover()
    session = ProjectSession(services.paths.data_dir)
    runner = PanelJobRunner(services.executor, "captioning")
    widget = CaptioningPanel(services, session, runner)
    qtbot.addWidget(widget)
    try:
        widget.refresh_plugins()
        assert widget.select_plugin("slowcap")
        folder = tmp_path / "photos"
        folder.mkdir()
        for index in range(6):
            write_sample_png(folder / f"p{index}.png", 8, 8)
        add_and_wait(qtbot, widget, [folder])
        widget.batch.sidecar_check.setChecked(True)
        # One cancel: the panel's Cancel button stops the batch (as the batch's Stop does).
        stopper = StopAfter(widget, 2, widget.cancel_button)
        widget.batch.controller.item_finished.connect(stopper.finished)
        summary = run_batch(qtbot, widget)
        assert summary.cancelled and summary.done in (2, 3)
        done = summary.done
        assert session.store.counts_by_kind()[AssetKind.CAPTION] == done
        assert len(list(folder.glob("*.txt"))) == done
        rows = widget.batch.model.rows
        assert [r.state for r in rows[:done]] == [RowState.DONE] * done
        # The image in progress when Stop came (if one had started) is dropped, not kept.
        assert rows[done].state in (RowState.CANCELLED, RowState.WAITING)
        assert all(r.state is RowState.WAITING for r in rows[done + 1 :])
        assert "Stopped" in widget.batch.status.text()
        # Caption All again captions only what is left.
        widget.batch.controller.item_finished.disconnect(stopper.finished)
        widget.batch.controller.progress.connect(stopper.progress)
        summary = run_batch(qtbot, widget)
        assert summary.done == 6 - done and not summary.cancelled
        # One progress: the panel's bar counts the batch's images, not each image's steps.
        left = 6 - done
        assert stopper.progress_shown[0].startswith(f"Captioning: 1 of {left} images")
        assert stopper.progress_shown[-1] == f"Captioning: {left} of {left} images · 100%"
        assert session.store.counts_by_kind()[AssetKind.CAPTION] == 6
    finally:
        widget.shutdown()
        assert runner.shutdown(5000)
        session.close()


def test_table_edits_rewrite_the_sidecar_and_keep_a_new_caption(qtbot, panel, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_sample_png(folder / "a.png")
    add_and_wait(qtbot, panel, [folder])
    panel.batch.sidecar_check.setChecked(True)
    panel.batch.sidecar_extension.setText("caption")
    run_batch(qtbot, panel)
    model = panel.batch.model
    original = model.rows[0].caption_asset_id
    index = model.index(0, BatchTableModel.CAPTION)
    assert model.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(index, "a tiny test card", Qt.ItemDataRole.EditRole)
    assert "edited" in model.data(model.index(0, BatchTableModel.STATUS))
    assert panel.batch.save_edits_button.isEnabled()
    panel.batch.save_edits_button.click()
    assert (folder / "a.caption").read_text() == "a tiny test card\n"
    new_id = model.rows[0].caption_asset_id
    assert new_id != original
    assert panel.session.store.read_blob(new_id) == b"a tiny test card"
    assert not model.rows[0].edited and not panel.batch.save_edits_button.isEnabled()


def test_caption_this_on_one_or_several_image_assets(qtbot, panel, tmp_path):
    ids = []
    for index in range(3):
        report = panel.session.import_files(
            [write_sample_png(tmp_path / f"{index}.png", 20 + index)]
        )
        ids += report.result().added
    with qtbot.waitSignal(panel.runner.finished, timeout=10_000) as finished:
        panel.caption_assets([ids[0]])
    caption = panel.session.asset(finished.args[1][0])
    assert [(i.asset_id, i.role) for i in caption.recipe.inputs] == [(ids[0], "image")]
    with qtbot.waitSignal(panel.batch.controller.finished, timeout=20_000) as done:
        panel.caption_assets(ids[1:])
    summary = done.args[0]
    assert summary.done == 2
    for outcome, source in zip(summary.outcomes, ids[1:], strict=True):
        links = panel.session.asset(outcome.asset_id).recipe.inputs
        assert [(i.asset_id, i.role) for i in links] == [(source, "image")]
    assert panel.session.store.counts_by_kind()[AssetKind.IMAGE] == 3  # none imported again


def test_the_asset_browser_offers_caption_this_for_images(qtbot, session, tmp_path):
    from studio.ui.asset_browser import AssetBrowser

    image_ids = list(session.import_files([write_sample_png(tmp_path / "x.png")]).result().added)
    text = tmp_path / "t.txt"
    text.write_text("words")
    session.import_files([text]).result()
    browser = AssetBrowser(session)
    qtbot.addWidget(browser)
    browser.show()
    qtbot.waitUntil(lambda: browser.model.rowCount() == 2, timeout=5000)
    browser.view.selectAll()
    assert browser.selected_image_ids() == image_ids
    assert browser.caption_action.isEnabled()
    assert browser.caption_action in browser.context_menu().actions()
    with qtbot.waitSignal(browser.caption_requested, timeout=2000) as requested:
        browser.caption_action.trigger()
    assert requested.args[0] == image_ids
    browser.shutdown()


def test_a_folder_of_ten_thousand_files_lists_without_freezing(qtbot, panel, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(10_000):
        (folder / f"{index:05d}.png").touch()
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(beat)
    timer.start(10)
    started = time.perf_counter()
    add_and_wait(qtbot, panel, [folder])
    seconds = time.perf_counter() - started
    timer.stop()
    assert len(panel.batch.model.rows) == 10_000
    assert panel.batch.model.rows[0].label == "00000.png"
    assert seconds < 10
    assert max(gaps, default=0) < 250, f"the window stalled for {max(gaps)} ms"
    assert "10,000 images" in panel.batch.status.text()
    assert panel.batch.start_button.isEnabled()


def test_where_captions_go_must_be_chosen(qtbot, panel, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_sample_png(folder / "a.png")
    add_and_wait(qtbot, panel, [folder])
    panel.batch.store_check.setChecked(False)
    panel.batch.start_button.click()
    assert panel.error_banner.isVisible()
    assert "Choose where the captions go" in panel.error_banner.label.text()
    panel.batch.sidecar_check.setChecked(True)
    panel.batch.sidecar_extension.setText(".png")
    panel.batch.start_button.click()
    assert "image extension" in panel.error_banner.label.text()
    assert not panel.batch.controller.running
    assert manifest_text  # the factory is shared with the slow plugin above


def test_a_truncated_image_fails_the_run_with_its_message_and_keeps_nothing(qtbot, panel, tmp_path):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo.read_bytes()[:60])  # a PNG header: checked beside the job
    panel.image_input.set_path(cut)
    with qtbot.waitSignal(panel.runner.failed, timeout=10_000) as failed:
        panel.run_button.click()
    assert "cut.png cannot be imported" in failed.args[1]
    assert "cut.png cannot be imported" in panel.error_banner.message
    assert panel.session.store.count_assets() == 0
    assert not panel.runner.busy
