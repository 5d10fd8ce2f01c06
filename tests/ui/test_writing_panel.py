"""The Writing panel: streaming at the cursor, accept/discard, variations, Instruct presets,
find, opening files and assets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QTextCursor

from studio.core.services import build_core_services
from studio.plugin_api import AssetKind, Panel
from studio.qt.panel_jobs import PanelJobRunner
from studio.ui.panels.writing import INSTRUCT, PENDING_COLOUR, WritingPanel
from tests.plugins.plugin_factory import write_folder_plugin

VARIATIONS = """
from studio.plugin_api import *

class Plugin(ModelPlugin):
    run_options = OptionSet(IntOption(name="variations", default=3, minimum=1, maximum=5,
                                      description="How many."))

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        for index in range(options["variations"]):
            ctx.cancel.raise_if_cancelled()
            yield Partial(text=f" take")
            yield Partial(text=f" {index + 1}")
            yield Progress(fraction=(index + 1) / options["variations"], message="x")
            yield Result(assets=(GeneratedAsset.from_text(f" take {index + 1}"),))
"""


@pytest.fixture
def panel(qtbot, services, session, runners):
    widget = WritingPanel(services, session, runners[Panel.WRITING])
    qtbot.addWidget(widget)
    widget.refresh_plugins()
    widget.show()
    return widget


def run(qtbot, panel):
    with qtbot.waitSignal(panel.runner.finished, timeout=10_000) as done:
        panel.run_button.click()
    return done.args[1]


def pending_text(panel) -> str:
    start, end = panel._pending
    return panel.document.toPlainText()[start:end]


def test_continue_inserts_at_the_cursor_highlighted_until_accepted(qtbot, panel):
    panel.open_text("Once upon a time. The end.")
    cursor = panel.document.textCursor()
    cursor.setPosition(len("Once upon a time."))
    panel.document.setTextCursor(cursor)
    (asset_id,) = run(qtbot, panel)
    assert panel.session.asset(asset_id).recipe.request["prompt"] == "Once upon a time."
    assert panel.document.toPlainText() == "Once upon a time.Once upon a time. The end."
    assert pending_text(panel) == "Once upon a time."
    highlighted = QTextCursor(panel.document.document())
    highlighted.setPosition(len("Once upon a time.") + 2)
    assert highlighted.charFormat().background().color() == PENDING_COLOUR
    assert panel.accept_button.isEnabled()
    panel.accept_pending()
    assert panel._pending is None
    highlighted.setPosition(len("Once upon a time.") + 2)
    assert highlighted.charFormat().background().style() == Qt.BrushStyle.NoBrush
    assert panel.document.toPlainText() == "Once upon a time.Once upon a time. The end."


def test_discard_removes_the_generated_text_and_undo_still_works(qtbot, panel):
    panel.open_text("keep this")
    run(qtbot, panel)
    panel.discard_pending()
    assert panel.document.toPlainText() == "keep this"
    assert not panel.discard_button.isEnabled()


def test_regenerate_keeps_the_earlier_result_as_a_variation(qtbot, panel):
    panel.open_text("again")
    (first,) = run(qtbot, panel)
    with qtbot.waitSignal(panel.runner.finished, timeout=10_000) as done:
        panel.regenerate_button.click()
    (second,) = done.args[1]
    assert panel.document.toPlainText() == "againagain"
    assert panel._variations == [first, second]
    assert panel.variation_label.text() == "Variation 2 of 2"
    assert panel.session.store.count_assets(kind=AssetKind.TEXT) == 2
    panel.previous_button.click()
    assert pending_text(panel) == "again"  # the first result, still there to pick


def test_variations_are_saved_one_by_one_and_can_be_picked(qtbot, tmp_path, monkeypatch, qapp):
    write_folder_plugin(tmp_path / "plugins", "takes", code=VARIATIONS)
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    services = build_core_services()
    from studio.qt.project_session import ProjectSession

    session = ProjectSession(services.paths.data_dir)
    runner = PanelJobRunner(services.executor, "writing")
    panel = WritingPanel(services, session, runner)
    qtbot.addWidget(panel)
    try:
        panel.refresh_plugins()
        assert panel.select_plugin("takes")
        panel.open_text("Scene:")
        ids = run(qtbot, panel)
        assert len(ids) == 3 and panel._variations == list(ids)
        assert pending_text(panel) == " take 1"
        assert panel.variation_label.text() == "Variation 1 of 3"
        panel.next_button.click()
        panel.next_button.click()
        assert pending_text(panel) == " take 3"
        assert not panel.next_button.isEnabled()
        panel.accept_pending()
        assert panel.document.toPlainText() == "Scene: take 3"
    finally:
        runner.shutdown()
        session.close()


def test_instruct_mode_sends_the_preset_and_records_it(qtbot, panel):
    panel.open_text("Alpha beta gamma.")
    panel.mode.setCurrentIndex(panel.mode.findData(INSTRUCT))
    panel.preset.setCurrentIndex(panel.preset.findText("Summarise"))
    assert panel.instruction.toPlainText().startswith("Summarise")
    fields = panel.build_draft().fields
    assert fields["mode"] == "instruct" and fields["prompt"] == "Alpha beta gamma."
    assert "{text}" in fields["template"]
    (asset_id,) = run(qtbot, panel)
    recipe = panel.session.asset(asset_id).recipe
    assert recipe.details["preset"] == "Summarise"
    assert recipe.request["instruction"].startswith("Summarise")
    # the answer goes after the text, on a new paragraph
    assert panel.document.toPlainText().startswith("Alpha beta gamma.\n\n")


def test_instruct_on_a_selection(qtbot, panel):
    panel.open_text("first part. second part.")
    panel.mode.setCurrentIndex(panel.mode.findData(INSTRUCT))
    cursor = panel.document.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(len("first part."), QTextCursor.MoveMode.KeepAnchor)
    panel.document.setTextCursor(cursor)
    assert panel.build_draft().fields["prompt"] == "first part."


def test_find_wraps_around(qtbot, panel):
    panel.open_text("needle one, hay, needle two")
    panel.show_find()
    panel.find_text.setText("needle")
    assert panel.find()
    assert panel.document.textCursor().selectionStart() == 0
    assert panel.find()
    assert panel.document.textCursor().selectionStart() == len("needle one, hay, ")
    assert panel.find()  # wraps to the first one
    assert panel.document.textCursor().selectionStart() == 0


def test_dropping_a_text_file_opens_it(qtbot, panel, tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Notes\nCafé ☕\n", encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    panel.dropEvent(event)
    assert panel.document.toPlainText() == "# Notes\nCafé ☕\n"


def test_a_non_text_file_is_refused_with_a_message(qtbot, panel, tmp_path):
    from studio.plugin_api.sample_media import write_sample_png

    panel.open_file(write_sample_png(tmp_path / "picture.txt"))
    assert "picture.txt" in panel.error_banner.label.text()


def test_an_opened_text_asset_becomes_a_document_that_records_it(qtbot, panel):
    panel.open_text("draft")
    (first,) = run(qtbot, panel)
    panel.accept_pending()
    draft = panel.documents.document_id
    panel.open_asset(first)
    made = panel.documents.document_id
    assert made != draft and panel.document.toPlainText() == "draft"
    store = panel.session.store
    assert [(link.role, link.input_id) for link in store.inputs_of(made)] == [("source", first)]
    (second,) = run(qtbot, panel)
    links = store.inputs_of(second)
    assert [(link.role, link.input_id) for link in links] == [("source", made)]
    assert store.get_asset(second).recipe.details["document_revision"] == 1
    panel.open_asset(first)  # the document made from it again, not a second copy
    assert panel.documents.document_id == made


def test_the_word_count_follows_the_text_once_typing_pauses(qtbot, panel):
    panel.open_text("One two three.")
    qtbot.waitUntil(lambda: panel.counts.text().startswith("3 words · 14 characters"), timeout=2000)
    for word in (" four", " five"):
        panel.document.insertPlainText(word)
    assert panel.counts.text().startswith("3 words")  # not recounted on every change
    qtbot.waitUntil(lambda: panel.counts.text().startswith("5 words"), timeout=2000)
    panel._on_progress("job", 0.5, "12 tokens · 30.0 tokens/s", None)
    assert panel.counts.text().startswith("5 words · 24 characters · 12 tokens · 30.0 tokens/s")
