"""What a first-time user ran into, tried through the real widgets: a stale error after a plugin
switch, Stable Diffusion words on style transfer, two option folds in Writing, a cut model name,
styles without pictures, file dialogs that forget their folder, a seed that would not open."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QScrollArea, QToolButton

from studio.plugin_api import Panel
from studio.plugin_api.sample_media import write_sample_png
from studio.ui.panels.image import ImagePanel
from studio.ui.panels.writing import INSTRUCT, WritingPanel


def shown(qtbot, cls, services, session, runners, width=1280, height=760):
    panel = cls(services, session, runners[cls.panel])
    qtbot.addWidget(panel)
    panel.refresh_plugins()
    panel.resize(width, height)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def visible_words(panel) -> str:
    texts = [w.text() for w in panel.findChildren(QLabel) if w.isVisibleTo(panel)]
    texts += [w.text() for w in panel.findChildren(QPushButton) if w.isVisibleTo(panel)]
    return "\n".join([*texts, panel.canvas.placeholder]).lower()


def test_an_error_of_one_plugin_goes_when_another_is_picked(qtbot, services, session, runners):
    panel = shown(qtbot, ImagePanel, services, session, runners)
    assert panel.select_plugin("studio.image-diffusers")
    panel.prompt.setPlainText("a lighthouse")
    panel.run()
    assert panel.error_banner.isVisible()
    assert panel.error_banner.message.startswith("No model is imported")
    assert panel.select_plugin("studio.image-style")
    assert not panel.error_banner.isVisible() and panel.model.error == ""


def test_style_transfer_speaks_of_its_own_inputs(qtbot, services, session, runners, tmp_path):
    panel = shown(qtbot, ImagePanel, services, session, runners)
    assert panel.select_plugin("studio.image-style")
    words = visible_words(panel)
    assert "init image" not in words
    assert not panel.prompt.isVisibleTo(panel) and not panel.negative.isVisibleTo(panel)
    assert panel.request_box.title() == "Picture"
    assert panel.use_as_init_button.text() == "Use as image"
    # Its picture fields sit at the top: the request area does not take the free height.
    qtbot.waitUntil(lambda: panel.request_box.height() < 150, timeout=2000)
    panel.init_input.set_path(write_sample_png(tmp_path / "harbour.png", 32, 24))
    assert panel.caption.text().startswith("Image ·")
    # back on Stable Diffusion, its own words come back
    assert panel.select_plugin("studio.image-diffusers")
    assert panel.use_as_init_button.text() == "Use as init image"
    assert panel.request_box.title() == "Prompt"


def test_every_built_in_style_shows_its_picture(qtbot, services, session, runners):
    panel = shown(qtbot, ImagePanel, services, session, runners)
    assert panel.select_plugin("studio.image-style")
    combo = panel.run_form.editors["style"].widget
    with_icons = [
        combo.itemText(i)
        for i in range(combo.count())
        if combo.itemData(i)
        and Path(combo.itemData(i)).is_file()
        and not combo.itemIcon(i).isNull()
    ]
    assert len(with_icons) == 26 and with_icons[0].startswith("0 ·")
    assert combo.view().iconSize().width() >= 40


def test_writing_has_one_fold_and_one_reset_and_room_in_instruct_mode(
    qtbot, services, session, runners
):
    panel = shown(qtbot, WritingPanel, services, session, runners)
    assert panel.select_plugin("studio.writer-llamacpp")
    panel.mode.setCurrentIndex(panel.mode.findData(INSTRUCT))
    qtbot.wait(50)
    folds = [
        b
        for b in panel.findChildren(QToolButton)
        if b.text() == "Advanced options" and b.isVisibleTo(panel)
    ]
    resets = [
        b
        for b in panel.findChildren(QPushButton)
        if b.text() == "Reset to defaults" and b.isVisibleTo(panel)
    ]
    assert len(folds) == 1 and len(resets) == 1
    scroll = panel.findChild(QScrollArea, "panel-controls")
    assert not scroll.horizontalScrollBar().isVisible()
    # The options are laid out at their full height, not squeezed into a sliver.
    assert panel.options_box.height() >= panel.options_box.minimumSizeHint().height()
    # The model's name is not cut.
    combo = panel.load_form.editors["model"].widget.combo
    name = combo.currentText()
    assert name.startswith("Gemma 3 270M")
    assert combo.lineEdit().width() >= combo.fontMetrics().horizontalAdvance(name)
    # One reset puts both load and run options back.
    panel.run_form.editors["temperature"].put(1.5)
    resets[0].click()
    assert panel.run_form.values() == {} and panel.model.run_options == {}


def test_file_dialogs_open_where_they_were_last_used(
    qtbot, services, session, runners, tmp_path, monkeypatch
):
    panel = shown(qtbot, ImagePanel, services, session, runners)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    picture = write_sample_png(pictures / "start.png", 16, 16)
    asked: list[str] = []

    def get_open_file_name(parent, caption, folder, file_filter):
        asked.append(folder)
        return str(picture), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", get_open_file_name)
    panel.init_input._browse()
    panel.init_input._browse()
    assert asked[0] in ("", str(Path.home())) and asked[1] == str(pictures)
    assert panel.init_input.path == picture
    # Another purpose has its own folder; the memory outlives the panel.
    panel.import_model_file()
    assert asked[2] in ("", str(Path.home()))
    assert services.recent_folders.folder("input-init") == pictures


def test_opening_a_result_with_a_large_seed_restores_it(qtbot, services, session, runners):
    panel = shown(qtbot, ImagePanel, services, session, runners)
    panel.prompt.setPlainText("a field")
    panel.model.set_options(run={"seed": 2**32 - 3, "width": 16, "height": 16})
    with qtbot.waitSignal(runners[Panel.IMAGE].finished, timeout=10_000) as finished:
        panel.run()
    (asset_id,) = finished.args[1]
    panel.model.set_options(run={})
    panel.open_asset(asset_id)
    assert panel.run_form.values()["seed"] == 2**32 - 3
