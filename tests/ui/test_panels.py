"""The shared panel shape with the light test plugins: run, stream, save, cancel, errors."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt

from studio.plugin_api import AssetKind, Panel
from studio.plugin_api.sample_media import write_sample_png
from studio.qt.panel_jobs import PanelJobRunner
from studio.ui.panels.captioning import CaptioningPanel
from studio.ui.panels.image import ImagePanel
from studio.ui.panels.voice import VoicePanel
from studio.ui.panels.writing import WritingPanel


def make(panel_class, services, session, runners, qtbot):
    widget = panel_class(services, session, runners[panel_class.panel])
    qtbot.addWidget(widget)
    widget.refresh_plugins()
    widget.show()
    widget.raise_()
    widget.activateWindow()  # keyboard shortcuts reach only the active window
    qtbot.waitUntil(widget.isActiveWindow, timeout=5000)
    return widget


def wait_idle(qtbot, widget, timeout=10_000):
    qtbot.waitUntil(lambda: not widget.runner.busy, timeout=timeout)


def test_writing_runs_streams_and_saves_with_its_recipe(qtbot, services, session, runners):
    panel = make(WritingPanel, services, session, runners, qtbot)
    assert panel.current_plugin_id() == "studio-test.echo"
    assert set(panel.run_form.editors) == {"repeat", "uppercase", "delay_ms", "fail_at_step"}
    panel.open_text("the quick brown fox")
    panel.run_form.editors["repeat"].put(2)
    with qtbot.waitSignal(runners[Panel.WRITING].finished, timeout=10_000) as finished:
        qtbot.keyClick(panel.document, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    (asset_id,) = finished.args[1]
    # the continuation is inserted at the cursor, right after the text
    assert panel.document.toPlainText() == (
        "the quick brown fox" + "the quick brown fox the quick brown fox"
    )
    asset = session.asset(asset_id)
    assert asset.kind is AssetKind.TEXT
    assert asset.recipe.run_options["repeat"] == 2
    assert asset.recipe.request["prompt"] == "the quick brown fox"
    assert asset.recipe.request["mode"] == "continue"
    assert "Done: saved to" in panel.progress.label.text()
    assert session.path is not None and session.path.exists()  # untitled lives on disk now


def test_progress_shows_message_and_eta_then_cancel(qtbot, services, session, runners):
    panel = make(WritingPanel, services, session, runners, qtbot)
    panel.open_text("one two three four five six")
    panel.run_form.editors["delay_ms"].put(400)
    panel.run_button.click()
    qtbot.waitUntil(lambda: "word 2 of 6" in panel.progress.label.text(), timeout=10_000)
    assert "%" in panel.progress.label.text()
    assert panel.cancel_button.isEnabled()
    with qtbot.waitSignal(runners[Panel.WRITING].cancelled, timeout=5000):
        qtbot.keyClick(panel.document, Qt.Key.Key_Escape)
    assert panel.progress.label.text().startswith("Cancel")
    assert session.store.count_assets(kind=AssetKind.TEXT) == 0  # (the document is kept)


def test_errors_show_in_the_banner(qtbot, services, session, runners):
    panel = make(WritingPanel, services, session, runners, qtbot)
    panel.run_button.click()  # empty prompt: the plugin refuses
    qtbot.waitUntil(lambda: panel.error_banner.isVisible(), timeout=10_000)
    assert panel.error_banner.label.text() == "Type a prompt first: Echo repeats its words."
    panel.open_text("a b")
    panel.run_form.editors["fail_at_step"].put(1)
    panel.run_button.click()
    qtbot.waitUntil(lambda: "failed on purpose" in panel.error_banner.label.text(), timeout=10_000)


def test_image_panel_previews_and_records_the_init_image(
    qtbot, services, session, runners, tmp_path
):
    panel = make(ImagePanel, services, session, runners, qtbot)
    panel.prompt.setPlainText("a sunset")
    panel.init_input.set_path(write_sample_png(tmp_path / "init.png"))
    panel.run_form.editors["steps"].put(3)
    with qtbot.waitSignal(runners[Panel.IMAGE].finished, timeout=10_000) as finished:
        panel.run_button.click()
    asset = session.asset(finished.args[1][0])
    assert asset.kind is AssetKind.IMAGE
    assert [link.role for link in asset.recipe.inputs] == ["init"]
    assert not panel.view.image().isNull()
    assert "seed" in panel.caption.text()


def test_voice_and_captioning_panels_run(qtbot, services, session, runners, tmp_path):
    voice = make(VoicePanel, services, session, runners, qtbot)
    voice.text.setPlainText("Hello there. How are you?")
    with qtbot.waitSignal(runners[Panel.VOICE].finished, timeout=10_000):
        voice.run_button.click()
    assert "Hz" in voice.info.text()

    captioning = make(CaptioningPanel, services, session, runners, qtbot)
    captioning.image_input.set_path(write_sample_png(tmp_path / "c.png"))
    with qtbot.waitSignal(runners[Panel.CAPTIONING].finished, timeout=10_000) as finished:
        captioning.run_button.click()
    assert captioning.output.toPlainText().startswith("A 32×32 image")
    caption = session.asset(finished.args[1][0])
    assert caption.kind is AssetKind.CAPTION and caption.recipe.inputs[0].role == "image"


def test_bad_options_never_start_a_job(qtbot, services, session, runners, monkeypatch):
    panel = make(WritingPanel, services, session, runners, qtbot)
    panel.open_text("x")
    panel.model.set_options(run={"repeat": 1000})  # past what the spin box takes
    panel.run_button.click()
    assert "Option 'repeat': 1000 is out of range" in panel.error_banner.label.text()
    assert not runners[Panel.WRITING].busy


def test_opening_an_asset_restores_its_settings(qtbot, services, session, runners):
    panel = make(WritingPanel, services, session, runners, qtbot)
    panel.open_text("remember me")
    panel.run_form.editors["uppercase"].put(True)
    with qtbot.waitSignal(runners[Panel.WRITING].finished, timeout=10_000) as finished:
        panel.run_button.click()
    panel.accept_pending()
    panel.open_text("")
    panel.run_form.reset()
    panel.open_asset(finished.args[1][0])
    assert panel.run_form.values() == {"uppercase": True}
    assert panel.document.toPlainText() == "REMEMBER ME"  # a document made from it
    links = session.store.inputs_of(panel.documents.document_id)
    assert [link.input_id for link in links] == [finished.args[1][0]]


def test_a_panel_with_no_plugins_says_so(qtbot, services, session, runners, monkeypatch):
    monkeypatch.setattr(services.registry, "records", lambda: [])
    panel = make(WritingPanel, services, session, runners, qtbot)
    assert panel.plugin_combo.currentText() == "No plugin for this panel is installed"
    assert not panel.run_button.isEnabled()


class RecordingExecutor:
    """Stands in for a model process: records what the panel asks it to get ready."""

    def __init__(self, executor):
        self.executor = executor
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        return getattr(self.executor, name)

    def prepare_plugin(self, plugin_id, load_options=None, device="auto"):
        self.calls.append((plugin_id, load_options, device))


@pytest.mark.parametrize("warm_up", [True, False])
def test_showing_a_panel_warms_up_its_model_process(qtbot, services, session, warm_up):
    services.settings = dataclasses.replace(services.settings, warm_up_models=warm_up)
    recorder = RecordingExecutor(services.executor)
    runner = PanelJobRunner(recorder, "writing")
    panel = WritingPanel(services, session, runner)
    qtbot.addWidget(panel)
    panel.refresh_plugins()
    assert recorder.calls == []  # nothing before the panel is seen
    panel.show()
    qtbot.waitUntil(lambda: bool(recorder.calls))
    plugin_id, options, device = recorder.calls[0]
    assert plugin_id == panel.current_plugin_id()
    if warm_up:
        assert options == panel.load_form.values() and device == services.settings.device
    else:
        assert options is None
    runner.shutdown(5000)
