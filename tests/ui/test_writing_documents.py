"""The Writing panel's documents: saved as they are typed, listed, renamed, duplicated,
deleted with undo, reopened where they were, walked back through their revisions, imported
and exported; accepted generations are revisions that record them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from studio.app import build_app
from studio.core.project import ProjectStore
from studio.core.project.documents import RevisionOrigin
from studio.core.recipe import RecipeOrigin
from studio.plugin_api import AssetKind, Panel
from studio.ui.document_editor import write_text_file
from studio.ui.panels.writing import WritingPanel


@pytest.fixture
def panel(qtbot, services, session, runners):
    widget = WritingPanel(services, session, runners[Panel.WRITING])
    qtbot.addWidget(widget)
    widget.refresh_plugins()
    widget.resize(1000, 700)
    widget.show()
    return widget


def saved_text(panel) -> str | None:
    document = panel.documents.document_id
    return None if document is None else panel.session.store.read_blob(document).decode()


def type_into(qtbot, panel, text: str) -> None:
    panel.document.setFocus()
    qtbot.keyClicks(panel.document, text)


def run(qtbot, panel):
    with qtbot.waitSignal(panel.runner.finished, timeout=10_000) as done:
        panel.run_button.click()
    return done.args[1]


def test_typing_is_saved_within_a_second_as_a_document(qtbot, panel):
    assert panel.documents.document_id is None  # nothing written: no document yet
    type_into(qtbot, panel, "It was a dark and stormy night.")
    qtbot.waitUntil(lambda: saved_text(panel) == "It was a dark and stormy night.", timeout=2000)
    store = panel.session.store
    (document,) = store.documents()
    assert (
        document.kind is AssetKind.DOCUMENT and document.title == "It was a dark and stormy night."
    )
    assert document.recipe.origin is RecipeOrigin.WRITTEN
    assert panel.session.path is not None  # the untitled project has its file now
    qtbot.waitUntil(lambda: panel.counts.text().endswith("Saved"), timeout=2000)
    assert panel.document_bar.picker.currentText() == "It was a dark and stormy night."


def test_new_rename_duplicate_switch_and_delete_with_undo(qtbot, panel):
    type_into(qtbot, panel, "First page")
    panel.document_bar.new_document()
    second = panel.documents.document_id
    assert panel.document.toPlainText() == ""
    type_into(qtbot, panel, "Second page")
    panel.documents.rename_open("Chapter Two")
    panel.documents.flush()
    store = panel.session.store
    titles = {a.title: a.id for a in store.documents()}
    assert set(titles) == {"First page", "Chapter Two"} and titles["Chapter Two"] == second
    first = titles["First page"]
    picker = panel.document_bar.picker
    assert [picker.itemText(i) for i in range(picker.count())] == ["Chapter Two", "First page"]

    picker.setCurrentIndex(picker.findData(first))
    picker.activated.emit(picker.currentIndex())
    assert panel.documents.document_id == first and panel.document.toPlainText() == "First page"

    panel.document_bar.duplicate()
    copy = panel.documents.document_id
    assert copy not in (first, second) and panel.document.toPlainText() == "First page"
    assert store.get_asset(copy).title == "First page (copy)"
    assert [link.input_id for link in store.inputs_of(copy)] == [first]

    panel.document_bar.delete()
    assert store.get_asset(copy).deleted
    assert panel.documents.document_id in (first, second)  # another document opened
    panel.session.undo_stack.undo()
    assert not store.get_asset(copy).deleted
    assert copy in [picker.itemData(i) for i in range(picker.count())]


def test_a_document_comes_back_where_it_was_after_a_restart(qtbot, services):
    text = "\n".join(f"Line {n} of the story." for n in range(300))
    first = build_app(services=services)
    qtbot.addWidget(first.window)
    writing = first.window.panels[Panel.WRITING]
    writing.open_text(text)
    cursor = writing.document.textCursor()
    cursor.setPosition(text.index("Line 150"))
    cursor.setPosition(text.index("Line 150") + 4, QTextCursor.MoveMode.KeepAnchor)
    writing.document.setTextCursor(cursor)
    first.window.show()
    writing.document.verticalScrollBar().setValue(140)
    scroll = writing.document.verticalScrollBar().value()
    assert scroll > 0
    first.window.close()
    first.shutdown()  # quit: the editor's text is saved before the project closes
    project = first.session.path
    assert project is not None and project.is_file()

    again = build_app(services=services)  # the same data directory: the last project opens
    qtbot.addWidget(again.window)
    try:
        again.window.show()
        writing = again.window.panels[Panel.WRITING]
        assert again.session.path == project
        assert writing.document.toPlainText() == text
        cursor = writing.document.textCursor()
        assert (cursor.anchor(), cursor.position()) == (
            text.index("Line 150"),
            text.index("Line 150") + 4,
        )
        qtbot.waitUntil(lambda: writing.document.verticalScrollBar().value() == scroll)
        assert "Reopened" in again.window.statusBar().currentMessage()
    finally:
        again.shutdown()


def test_save_as_right_after_typing_keeps_the_last_words(qtbot, panel, tmp_path):
    type_into(qtbot, panel, "Words typed a moment ago")
    target = tmp_path / "saved.studio"
    panel.session.save_as(target)  # before the autosave's timer: it is saved first
    assert panel.session.path == target
    with ProjectStore.open(target, read_only=True) as copy:
        (document,) = copy.documents()
        assert copy.open_document(document.id).text == "Words typed a moment ago"
    type_into(qtbot, panel, ", and more")  # the same document goes on in the new file
    panel.documents.flush()
    assert saved_text(panel) == "Words typed a moment ago, and more"


def test_accepting_records_the_generation_and_pending_text_is_never_saved(qtbot, panel):
    panel.open_text("Once upon a time.")
    panel.documents.flush()
    document = panel.documents.document_id
    (generated,) = run(qtbot, panel)
    panel.documents.flush()
    store = panel.session.store
    assert saved_text(panel) == "Once upon a time."  # the suggestion is not the writer's yet
    recipe = store.get_asset(generated).recipe
    assert [(i.asset_id, i.role) for i in recipe.inputs] == [(document, "source")]
    assert recipe.details["document_revision"] == panel.documents.revision
    panel.accept_pending()
    assert saved_text(panel) == "Once upon a time.Once upon a time."
    head = store.document_revisions(document)[0]
    assert (head.origin, head.source_asset_id) == (RevisionOrigin.GENERATION, generated)
    assert list(head.details["at"]) == [17, 34]
    (use,) = store.document_uses(generated)
    assert (use.document_id, use.revision) == (document, head.number)
    # Discarding keeps the generation as an asset.
    (second,) = run(qtbot, panel)
    panel.discard_pending()
    assert store.get_asset(second).kind is AssetKind.TEXT and not store.get_asset(second).deleted
    assert saved_text(panel) == "Once upon a time.Once upon a time."


def test_undo_after_reopening_walks_the_revisions(qtbot, services, session, runners, tmp_path):
    path = tmp_path / "history.studio"
    with ProjectStore.create(path) as store:
        document = store.create_document("one").asset.id
        store.save_document(document, "one two", origin=RevisionOrigin.RESTORE)
        store.save_document(document, "one two three", origin=RevisionOrigin.RESTORE)
        store.store_document_view(document, store.open_document(document).view, opened=True)
    session.open(path)
    widget = WritingPanel(services, session, runners[Panel.WRITING])
    qtbot.addWidget(widget)
    widget.show()
    assert widget.document.toPlainText() == "one two three"
    widget.document.setFocus()
    qtbot.keyClick(widget.document, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert widget.document.toPlainText() == "one two"
    qtbot.keyClick(widget.document, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert widget.document.toPlainText() == "one"
    qtbot.keyClick(widget.document, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert widget.document.toPlainText() == "one"  # the first revision: nothing before it
    assert "first revision" in widget.progress.label.text()
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(widget.document, Qt.Key.Key_Z, redo)
    assert widget.document.toPlainText() == "one two"
    widget.documents.flush()
    # What the walk shows is what is stored, and nothing of the history was lost.
    assert session.store.open_document(document).text == "one two"
    texts = [session.store.document_text_at(document, n) for n in (1, 2, 3)]
    assert texts == ["one", "one two", "one two three"]
    # Typing ends the walk; Undo undoes the typing first.
    qtbot.keyClicks(widget.document, "!")
    qtbot.keyClick(widget.document, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert widget.document.toPlainText() == "one two"


def test_restoring_a_revision_from_the_history(qtbot, panel):
    store = panel.session.store
    document = store.create_document("first version").asset.id
    store.save_document(document, "second version", origin=RevisionOrigin.RESTORE)
    panel.documents.open_document(document)
    assert panel.document.toPlainText() == "second version"
    dialog = panel.document_bar.show_history()
    assert dialog is not None and dialog.list.count() == 2
    dialog.list.setCurrentRow(1)
    assert dialog.preview.toPlainText() == "first version"
    assert "words against now" in dialog.summary.text() or "the same" in dialog.summary.text()
    dialog.restore_button.click()
    assert panel.document.toPlainText() == "first version"
    head = store.document_revisions(document)[0]
    assert head.origin is RevisionOrigin.RESTORE and head.details["revision"] == 1
    assert saved_text(panel) == "first version"


def test_a_dropped_markdown_file_becomes_a_document_and_exports_as_markdown(qtbot, panel, tmp_path):
    source = tmp_path / "notes.md"
    source.write_text("# Notes\nCafé ☕\n", encoding="utf-8")
    assert panel.open_file(source)
    store = panel.session.store
    document = store.get_asset(panel.documents.document_id)
    assert document.kind is AssetKind.DOCUMENT and document.title == "notes"
    assert document.recipe.origin is RecipeOrigin.IMPORTED
    assert store.document_revisions(document.id)[0].origin is RevisionOrigin.IMPORT
    assert panel.document.toPlainText() == "# Notes\nCafé ☕\n"
    target = tmp_path / "out.md"
    write_text_file(target, panel._snapshot().text)
    assert target.read_text(encoding="utf-8") == "# Notes\nCafé ☕\n"


def test_a_read_only_project_shows_its_documents_without_editing(
    qtbot, services, runners, tmp_path
):
    path = tmp_path / "locked.studio"
    with ProjectStore.create(path) as store:
        document = store.create_document("Look, do not touch.").asset.id
        store.store_document_view(document, store.open_document(document).view, opened=True)
    from studio.qt.project_session import ProjectSession

    session = ProjectSession(services.paths.data_dir)
    path.chmod(0o444)
    try:
        session.open(path)
        widget = WritingPanel(services, session, runners[Panel.WRITING])
        qtbot.addWidget(widget)
        widget.show()
        assert widget.document.toPlainText() == "Look, do not touch."
        assert widget.document.isReadOnly()
        assert "read-only" in widget.error_banner.label.text()
        assert not widget.document_bar.new_action.isEnabled()
    finally:
        session.close()
        path.chmod(0o644)


def test_emoji_do_not_shift_the_saved_cursor(qtbot, panel):
    panel.open_text("😀😀 smile")
    cursor = panel.document.textCursor()
    cursor.setPosition(4)  # Qt counts each emoji as two positions
    panel.document.setTextCursor(cursor)
    assert panel._snapshot().view.cursor == 2


def test_exported_project_writes_documents_as_markdown(qtbot, panel, tmp_path):
    from studio.core.media.export import export_assets

    panel.open_text("# A title\n\nBody.")
    panel.documents.flush()
    files = export_assets(panel.session.store, tmp_path / "out")
    (exported,) = [f for f in files if f.path.suffix == ".md"]
    assert exported.path.read_text(encoding="utf-8") == "# A title\n\nBody."
    assert Path(exported.sidecar).is_file()


def test_documents_in_the_asset_browser_open_in_writing_and_go_to_voice(qtbot, services):
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    try:
        window = app.window
        writing = window.panels[Panel.WRITING]
        writing.open_text("A page to read aloud.")
        writing.documents.flush()
        first = writing.documents.document_id
        writing.document_bar.new_document()
        assert writing.documents.document_id != first
        browser = window.browser
        browser.kind_filter.setCurrentIndex(browser.kind_filter.findText("Documents"))
        qtbot.waitUntil(lambda: browser.model.rowCount() == 2)
        row = next(r for r in range(browser.model.rowCount()) if browser.model.asset(r).id == first)
        browser.view.setCurrentIndex(browser.model.index(row))
        menu = browser.context_menu()
        assert "Send to Voice" in [a.text() for a in menu.actions()]
        browser.open_current()
        assert window.tabs.currentWidget() is writing
        assert writing.documents.document_id == first
        assert writing.document.toPlainText() == "A page to read aloud."
        browser.speak_action.trigger()
        voice = window.panels[Panel.VOICE]
        assert window.tabs.currentWidget() is voice
        assert voice.text.toPlainText() == "A page to read aloud."
        assert voice.source_asset_id == first
    finally:
        app.shutdown()


def test_a_document_that_cannot_be_saved_is_never_replaced(qtbot, panel, monkeypatch, tmp_path):
    from concurrent.futures import Future

    from studio.core.errors import UserError

    other = panel.session.store.create_document("Another document").asset.id
    panel.open_text("Words the disk refused")
    panel.documents.flush()

    def refuse(*args, **kwargs):
        future: Future = Future()
        future.set_exception(OSError(28, "No space left on device"))
        return future

    monkeypatch.setattr(panel.session.store, "save_document_async", refuse)
    type_into(qtbot, panel, " and more")
    assert not panel.documents.flush()
    assert "No space left on device" in panel.counts.text()
    with pytest.raises(UserError, match="could not be saved"):
        panel.documents.open_document(other)
    elsewhere = tmp_path / "other.studio"
    ProjectStore.create(elsewhere).close()
    with pytest.raises(UserError, match="stays open"):
        panel.session.open(elsewhere)
    assert panel.document.toPlainText() == "Words the disk refused and more"
    monkeypatch.undo()  # the disk has room again: the next save stores everything
    assert panel.documents.flush()
    assert saved_text(panel) == "Words the disk refused and more"


def test_opening_a_document_changes_nothing_in_it(qtbot, panel, tmp_path):
    store = panel.session.store
    spaced = store.create_document("non\u00a0breaking\u2028line and 😀").asset.id
    plain = store.create_document("plain").asset.id
    panel.documents.open_document(spaced)
    panel.documents.open_document(plain)
    assert len(store.document_revisions(spaced)) == 1  # no revision without typing
    assert store.open_document(spaced).text == "non\u00a0breaking\u2028line and 😀"
    windows = tmp_path / "windows.txt"
    windows.write_bytes(b"first line\r\nsecond line\r\n")
    panel.open_file(windows)
    imported = panel.documents.document_id
    assert store.open_document(imported).text == "first line\nsecond line\n"
    panel.documents.open_document(plain)
    assert len(store.document_revisions(imported)) == 1


def test_another_project_with_the_same_document_is_opened_not_kept(qtbot, panel, tmp_path):
    panel.open_text("the first words")
    panel.documents.flush()
    copy = tmp_path / "copy.studio"
    panel.session.store.save_copy(copy)  # the same document id, the text as it is now
    panel.open_text("the first words, and later words")
    panel.documents.flush()
    panel.session.open(copy)
    assert panel.document.toPlainText() == "the first words"
    assert saved_text(panel) == "the first words"


def test_the_history_restores_only_into_the_document_it_shows(qtbot, panel):
    store = panel.session.store
    first = store.create_document("A one").asset.id
    store.save_document(first, "A two", origin=RevisionOrigin.RESTORE)
    second = store.create_document("B one").asset.id
    store.save_document(second, "B two", origin=RevisionOrigin.RESTORE)
    panel.documents.open_document(first)
    dialog = panel.document_bar.show_history()
    assert dialog.isModal() or dialog.windowModality() != Qt.WindowModality.NonModal
    dialog.list.setCurrentRow(1)
    panel.documents.open_document(second)  # (a modal dialog keeps users from doing this)
    dialog.restore_button.click()
    assert store.open_document(second).text == "B two"
    assert store.open_document(first).text == "A two"


def test_a_second_walk_through_the_history_keeps_the_first_walks_revision(
    qtbot, services, session, runners, tmp_path
):
    path = tmp_path / "walks.studio"
    with ProjectStore.create(path) as store:
        document = store.create_document("v1").asset.id
        for text in ("v2", "v3"):
            store.save_document(document, text, origin=RevisionOrigin.RESTORE)
        store.store_document_view(document, store.open_document(document).view, opened=True)
    session.open(path)
    widget = WritingPanel(services, session, runners[Panel.WRITING])
    qtbot.addWidget(widget)
    widget.show()
    other = session.store.create_document("elsewhere").asset.id
    assert widget.documents.step_back()  # shows v2, saved as an undo revision (4)
    widget.documents.open_document(other)  # the walk ends without typing
    widget.documents.open_document(document)
    assert widget.documents.step_back()  # a new walk from revision 4: shows revision 3 (v3)
    assert widget.document.toPlainText() == "v3"
    widget.documents.flush()
    assert widget.documents.step_forward()  # back to where this walk began
    assert widget.document.toPlainText() == "v2"
    widget.documents.flush()
    assert session.store.document_text_at(document, 4) == "v2"


def test_a_moved_cursor_is_kept_without_an_edit(qtbot, panel):
    store = panel.session.store
    first = store.create_document("one two three four").asset.id
    second = store.create_document("another").asset.id
    panel.documents.open_document(first)
    cursor = panel.document.textCursor()
    cursor.setPosition(8)
    panel.document.setTextCursor(cursor)
    panel.documents.open_document(second)  # leaving it keeps where the cursor was
    assert store.open_document(first).view.cursor == 8
    assert len(store.document_revisions(first)) == 1
