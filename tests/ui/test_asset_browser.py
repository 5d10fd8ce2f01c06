"""The asset browser: a large project, filters, keys, the context menu, recipes, drops."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QLineEdit

from studio.core.project import ProjectStore
from studio.plugin_api.kinds import AssetKind
from studio.qt.asset_model import AssetRole
from studio.qt.project_session import ProjectSession
from studio.ui.asset_browser import AssetBrowser
from tests.core.fixtures.media_samples import png_bytes
from tests.qt.asset_samples import add, shared_many

MANY = 10_000


@pytest.fixture(scope="module")
def many_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_many(tmp_path_factory, MANY)  # opened, never changed


@pytest.fixture
def session(studio_data_dir: Path):
    opened = ProjectSession(studio_data_dir)
    yield opened
    opened.close()


@pytest.fixture
def project(session: ProjectSession, tmp_path: Path) -> ProjectStore:
    ProjectStore.create(tmp_path / "small.studio").close()
    session.open(tmp_path / "small.studio")
    return session.store


def show_browser(qtbot, session: ProjectSession) -> AssetBrowser:
    browser = AssetBrowser(session, search_delay_ms=20)
    qtbot.addWidget(browser)
    browser.resize(320, 480)
    browser.show()
    qtbot.waitExposed(browser)
    qtbot.waitUntil(lambda: not browser.model.fetching, timeout=5000)
    return browser


def select_rows(browser: AssetBrowser, *rows: int) -> None:
    view, model = browser.view, browser.model
    view.setCurrentIndex(model.index(rows[0]))
    for row in rows[1:]:
        view.selectionModel().select(model.index(row), view.selectionModel().SelectionFlag.Select)
    view.setFocus()


def titles(browser: AssetBrowser) -> list[str]:
    return [browser.model.index(row).data() for row in range(browser.model.rowCount())]


def test_ten_thousand_assets_scroll_without_loading_them_all(qtbot, session, many_path):
    session.open(many_path)
    started = time.perf_counter()
    browser = show_browser(qtbot, session)
    shown_after = time.perf_counter() - started
    model, bar = browser.model, browser.view.verticalScrollBar()
    assert model.rowCount() == 200 and model.total == MANY
    assert browser.status_label.text() == "10,000 assets"
    assert shown_after < 2.0  # about 0.05 s here
    for pages in range(2, 6):  # drag the scroll bar to the end: one more page each time
        bar.setValue(bar.maximum())
        qtbot.waitUntil(lambda pages=pages: model.rowCount() == 200 * pages, timeout=5000)
    qtbot.wait(200)
    assert model.rowCount() == 1000 and model.canFetchMore()
    # Previews were made for the rows on screen at the top and at each stop, not for the
    # 1,000 rows loaded (and certainly not for 10,000).
    visible = browser.view.viewport().height() // browser.view.sizeHintForRow(0) + 1
    assert 0 < model.previews.made <= 5 * visible
    browser.shutdown()


def test_kind_filter_and_debounced_search(qtbot, session, project):
    add(project, AssetKind.TEXT, b"The quick brown fox", title="Story")
    add(project, AssetKind.CAPTION, b"a fox in a forest", title="Caption one")
    add(project, AssetKind.IMAGE, png_bytes(), title="Forest at dusk")
    browser = show_browser(qtbot, session)
    labels = [browser.kind_filter.itemText(i) for i in range(browser.kind_filter.count())]
    assert labels == ["All", "Text", "Images", "Audio", "Captions", "Documents"]
    browser.kind_filter.setCurrentIndex(browser.kind_filter.findText("Images"))
    qtbot.waitUntil(lambda: titles(browser) == ["Forest at dusk"])
    assert browser.status_label.text() == "1 matching asset"
    browser.kind_filter.setCurrentIndex(browser.kind_filter.findText("All"))
    qtbot.keyClicks(browser.search_box, "fox")  # one search once the typing pauses
    qtbot.waitUntil(lambda: titles(browser) == ["Caption one", "Story"])
    browser.kind_filter.setCurrentIndex(browser.kind_filter.findText("Captions"))
    qtbot.waitUntil(lambda: titles(browser) == ["Caption one"])
    browser.shutdown()


def test_delete_keys_and_undo(qtbot, session, project):
    for number in range(4):
        add(project, AssetKind.TEXT, f"text {number}".encode(), title=f"t{number}")
    browser = show_browser(qtbot, session)
    select_rows(browser, 0, 2)
    assert browser.selected_ids() == [browser.model.index(r).data(AssetRole.ID) for r in (0, 2)]
    qtbot.keyClick(browser.view, Qt.Key.Key_Delete)
    assert titles(browser) == ["t2", "t0"]
    assert "Deleted 2 assets" in browser.status_label.text()
    assert browser.view.currentIndex().row() == 0
    session.undo_stack.undo()
    assert titles(browser) == ["t3", "t2", "t1", "t0"]
    browser.shutdown()


def test_rename_in_place_with_f2_and_undo(qtbot, session, project):
    add(project, AssetKind.TEXT, b"words", title="old title")
    browser = show_browser(qtbot, session)
    select_rows(browser, 0)
    qtbot.keyClick(browser.view, Qt.Key.Key_F2)
    assert browser.view.state() == QAbstractItemView.State.EditingState
    editor = browser.view.viewport().findChild(QLineEdit)
    assert editor.text() == "old title"
    editor.selectAll()
    qtbot.keyClicks(editor, "new title")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: titles(browser) == ["new title"])
    assert session.store.list_assets()[0].title == "new title"
    session.undo_stack.undo()
    assert titles(browser) == ["old title"]
    browser.shutdown()


def test_open_with_enter_and_double_click(qtbot, session, project):
    first = add(project, AssetKind.TEXT, b"one")
    second = add(project, AssetKind.TEXT, b"two")
    browser = show_browser(qtbot, session)
    select_rows(browser, 1)
    with qtbot.waitSignal(browser.open_requested) as opened:
        qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    assert opened.args == [first.id]
    centre = browser.view.visualRect(browser.model.index(0)).center()
    with qtbot.waitSignal(browser.open_requested) as opened:
        # QTest's double click is only the second click: the view wants the press before it.
        qtbot.mouseClick(browser.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(browser.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert opened.args == [second.id]
    browser.shutdown()


def test_show_recipe_with_lineage(qtbot, session, project):
    source = add(project, AssetKind.IMAGE, png_bytes(), title="source image")
    gone = add(project, AssetKind.IMAGE, png_bytes(4, 4), title="purged later")
    made = add(
        project,
        AssetKind.CAPTION,
        b"a red square",
        title="described",
        inputs=((source.id, "image"), (gone.id, "reference")),
        request={"question": "what is it?"},
    )
    project.delete_asset(gone.id)
    project.purge_deleted()
    browser = show_browser(qtbot, session)
    dialog = browser.show_recipe(made.id)
    assert dialog.windowTitle() == "Recipe of “described”" and dialog.isVisible()
    assert dialog.recipe_view.isReadOnly()
    assert dialog.recipe_view.toPlainText() == made.recipe.to_json_text(indent=2)
    assert '"question": "what is it?"' in dialog.json_text
    dialog.copy_json()
    assert QGuiApplication.clipboard().text() == dialog.json_text
    rows = [(row.role, row.asset_id, row.title) for row in dialog.input_rows]
    assert rows == [("image", source.id, "source image"), ("reference", gone.id, "")]
    assert "not in this project any more" in dialog.input_rows[1].label.text()
    assert dialog.rows("Request") == [("Question", "what is it?")]
    # The browser was given no plugin registry: the plugin is named by its id.
    assert "Made by test-caption 1.0" in dialog.summary.text()
    dialog.close()
    browser.shutdown()


def test_an_unreadable_recipe_is_shown_as_stored(qtbot, session, project):
    asset = add(project, AssetKind.TEXT, b"words")
    conn = sqlite3.connect(project.path)
    conn.execute(
        """UPDATE assets SET recipe = '{"origin": "generated"}' WHERE id = ?""", (asset.id,)
    )
    conn.commit()
    conn.close()
    browser = show_browser(qtbot, session)
    select_rows(browser, 0)
    assert not browser.rerun_action.isEnabled()
    dialog = browser.show_current_recipe()
    assert "cannot be read" in dialog.summary.text()
    assert dialog.recipe_view.isVisible()  # all there is to show: not folded away
    assert not dialog.rerun_button.isVisible()
    assert json.loads(dialog.recipe_view.toPlainText()) == {"origin": "generated"}
    dialog.close()
    browser.shutdown()


def write_file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_rerun_is_for_generated_assets_only(qtbot, session, project, tmp_path):
    generated = add(project, AssetKind.IMAGE, png_bytes(), title="generated")
    browser = show_browser(qtbot, session)
    browser.import_paths([write_file(tmp_path, "photo.png", png_bytes(5, 5))]).result()
    qtbot.waitUntil(lambda: titles(browser) == ["photo", "generated"])
    select_rows(browser, 0)
    assert not browser.rerun_action.isEnabled()
    assert browser.show_recipe_action.isEnabled()
    select_rows(browser, 1)
    assert browser.rerun_action.isEnabled()
    with qtbot.waitSignal(browser.rerun_requested) as rerun:
        browser.rerun_action.trigger()
    assert rerun.args == [generated.id]
    browser.shutdown()


def test_dropped_files_are_imported_and_refusals_shown(qtbot, session, project, tmp_path):
    browser = show_browser(qtbot, session)
    good = write_file(tmp_path, "square.png", png_bytes())
    bad = write_file(tmp_path, "paper.pdf", b"%PDF-1.7 not media")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(good)), QUrl.fromLocalFile(str(bad))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    browser.dropEvent(drop)
    assert drop.isAccepted()
    assert browser.status_label.text() == "Importing 2 files…"  # on a thread, not the GUI's
    with qtbot.waitSignal(session.files_imported):
        pass
    qtbot.waitUntil(lambda: browser.status_label.text().startswith("Imported 1 file."))
    qtbot.waitUntil(lambda: titles(browser) == ["square"])
    assert "paper.pdf" in browser.status_label.text()
    browser.import_paths([good])  # the same content again: nothing new, and it says so
    qtbot.waitUntil(lambda: "in the project already" in browser.status_label.text())
    assert browser.status_label.text() == ("1 file was in the project already (the same content).")
    assert titles(browser) == ["square"]
    browser.shutdown()


def test_context_menu_follows_the_selection_and_read_only_projects(qtbot, session, tmp_path):
    path = tmp_path / "locked.studio"
    with ProjectStore.create(path) as store:
        add(store, AssetKind.TEXT, b"one")
        add(store, AssetKind.TEXT, b"two")
    session.open(path)
    browser = show_browser(qtbot, session)
    menu = browser.context_menu()
    assert [a.text() for a in menu.actions() if a.text()] == [
        "Open",
        "Show Recipe…",
        "Re-run Recipe",
        "Rename",
        "Delete",
    ]
    assert not any(a.isEnabled() for a in menu.actions() if a.text())  # nothing selected
    select_rows(browser, 0, 1)
    assert browser.delete_action.isEnabled() and browser.rename_action.isEnabled()
    session.store.close()  # let go of the file before it becomes read-only
    path.chmod(0o444)
    try:
        session.open(path)
        assert session.store.read_only
        qtbot.waitUntil(lambda: browser.model.rowCount() == 2)
        select_rows(browser, 0)
        assert browser.open_action.isEnabled() and not browser.delete_action.isEnabled()
        assert not browser.rename_action.isEnabled()
        qtbot.keyClick(browser.view, Qt.Key.Key_Delete)
        assert browser.model.rowCount() == 2
    finally:
        path.chmod(0o644)
    browser.shutdown()


def test_a_long_title_keeps_its_end_on_a_second_line(qtbot):
    from PySide6.QtGui import QFont, QFontMetrics

    from studio.ui.asset_browser import title_lines

    metrics = QFontMetrics(QFont())
    width = metrics.horizontalAdvance("Blue and red cubist style ·")
    title = "Blue and red cubist style · harbour photo.png · re-run"
    first, second = title_lines(title, metrics, width)
    assert first == "Blue and red cubist style ·"
    assert second.endswith("re-run") and metrics.horizontalAdvance(second) <= width
    assert title_lines("Short", metrics, width) == ["Short"]
