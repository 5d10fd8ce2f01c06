"""AssetListModel: pages, previews made off the GUI thread, filters, and following the session."""

from __future__ import annotations

import io
import shutil
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QObject, QSize, Qt, QThread, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QListView

from studio.core.project import ProjectStore
from studio.plugin_api.kinds import AssetKind
from studio.qt.asset_model import (
    AssetListModel,
    AssetRole,
    first_line,
    make_preview,
)
from studio.qt.project_session import ProjectSession
from tests.core.fixtures.media_samples import audio_bytes, png_bytes
from tests.qt.asset_samples import add, new_asset, shared_many

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
    """An empty project file, open in the session."""
    ProjectStore.create(tmp_path / "small.studio").close()
    session.open(tmp_path / "small.studio")
    return session.store


def make_model(qtbot, session: ProjectSession, **options) -> AssetListModel:
    model = AssetListModel(session, **options)
    qtbot.waitUntil(lambda: not model.fetching, timeout=5000)
    return model


def titles(model: AssetListModel) -> list[str]:
    return [model.index(row).data() for row in range(model.rowCount())]


def test_a_large_project_loads_one_page_and_more_on_demand(qtbot, session, many_path):
    session.open(many_path)
    model = make_model(qtbot, session, page_size=200)
    assert model.rowCount() == 200 and model.total == MANY
    assert model.canFetchMore()
    model.fetchMore()
    qtbot.waitUntil(lambda: model.rowCount() == 400, timeout=5000)
    newest = [asset.id for asset in session.store.list_assets(limit=400)]
    assert [model.index(row).data(AssetRole.ID) for row in range(400)] == newest
    assert model.previews.made == 0  # nobody painted a row, so no preview was made
    model.shutdown()


def test_a_view_gets_previews_only_for_the_rows_it_shows(qtbot, session, many_path):
    session.open(many_path)
    model = make_model(qtbot, session, page_size=200)
    view = QListView()
    qtbot.addWidget(view)
    view.setUniformItemSizes(True)
    view.setIconSize(QSize(32, 32))
    view.resize(300, 300)
    view.setModel(model)
    view.show()
    qtbot.waitExposed(view)
    for _ in range(3):  # scroll to the end three times: three more pages
        rows = model.rowCount()
        view.scrollToBottom()
        qtbot.waitUntil(lambda rows=rows: model.rowCount() > rows, timeout=5000)
    qtbot.waitUntil(lambda: model.previews.made > 0, timeout=5000)
    qtbot.wait(100)
    assert model.rowCount() == 800  # of 10,000
    visible = view.viewport().height() // view.sizeHintForRow(0) + 1
    # Rows seen at the top and at each scroll stop (previews are shared by equal contents).
    assert model.previews.made <= 5 * visible
    model.shutdown()


def test_previews_of_every_kind(qtbot, session, project):
    add(project, AssetKind.TEXT, b"\n\n  Once   upon a time\nsecond line")
    add(project, AssetKind.CAPTION, b"a red square")
    add(project, AssetKind.AUDIO, audio_bytes("FLAC", frames=16000 * 42))
    add(project, AssetKind.IMAGE, png_bytes(300, 150))
    model = make_model(qtbot, session, thumbnail_size=64)
    assert model.rowCount() == 4
    # Until the previews are made: the kind's icon and no second line.
    assert model.index(0).data(AssetRole.SUBTITLE) == ""
    icon = model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QPixmap) and icon.size() == QSize(64, 64)
    for row in range(4):
        model.index(row).data(AssetRole.SUBTITLE)  # as a view painting each row would
    qtbot.waitUntil(lambda: model.previews.made == 4, timeout=5000)
    subtitles = [model.index(row).data(AssetRole.SUBTITLE) for row in range(4)]
    assert subtitles == ["300×150", "0:42", "a red square", "Once upon a time"]
    thumbnail = model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert thumbnail.size() == QSize(64, 32)  # shape kept, longest side the thumbnail size
    assert model.index(0).data(AssetRole.KIND) == "image"
    assert "Image" in model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    model.shutdown()


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_make_preview_of_unusual_images():
    grey16 = Image.fromarray(np.full((40, 60), 40000, dtype="uint16"))  # a 16-bit PNG
    preview = make_preview(AssetKind.IMAGE, encoded(grey16, "PNG"), 32)
    assert preview.subtitle == "60×40" and preview.image.size() == QSize(32, 21)
    assert preview.image.pixelColor(1, 1).name() == "#9c9c9c"  # 40000 / 256 = 156
    photo = Image.new("RGB", (400, 200), "red")
    exif = photo.getexif()
    exif[0x0112] = 6  # taken with the phone on its side: shown turned by 90°
    preview = make_preview(AssetKind.IMAGE, encoded(photo, "JPEG", exif=exif.tobytes()), 64)
    assert preview.subtitle == "200×400" and preview.image.size() == QSize(32, 64)


def test_make_preview_handles_broken_content():
    assert make_preview(AssetKind.IMAGE, b"not an image", 64).subtitle == "unreadable image"
    assert make_preview(AssetKind.AUDIO, b"not a sound", 64).subtitle == "unreadable sound"
    assert first_line(b"   \n\n") == ""
    assert first_line(("word " * 100).encode()).endswith("…")


def test_kind_filter_and_search_read_again(qtbot, session, project):
    add(project, AssetKind.TEXT, b"The quick brown fox", title="Story")
    add(project, AssetKind.CAPTION, b"a fox in a forest", title="Caption one")
    add(project, AssetKind.IMAGE, png_bytes(), title="Forest", request={"prompt": "dusk"})
    model = make_model(qtbot, session)
    model.set_filter(kind=AssetKind.IMAGE)
    qtbot.waitUntil(lambda: not model.fetching)
    assert titles(model) == ["Forest"] and model.total == 1
    model.set_filter(search="fox")  # the content of texts and captions
    qtbot.waitUntil(lambda: not model.fetching)
    assert titles(model) == ["Caption one", "Story"] and model.total == 2
    model.set_filter(search="DUSK")  # the prompt, case-insensitively
    qtbot.waitUntil(lambda: not model.fetching)
    assert titles(model) == ["Forest"]
    model.set_filter(kind=AssetKind.TEXT, search="forest")
    qtbot.waitUntil(lambda: not model.fetching)
    assert titles(model) == []
    model.shutdown()


class InsertWatcher(QObject):
    """Notes the thread in which the model announces new rows."""

    def __init__(self, model: AssetListModel) -> None:
        super().__init__()
        self.threads: list[QThread] = []
        model.rowsInserted.connect(self.on_rows_inserted)

    @Slot()
    def on_rows_inserted(self) -> None:
        self.threads.append(QThread.currentThread())


def test_an_asset_committed_by_a_worker_appears_at_the_top(qtbot, session, project):
    add(project, AssetKind.TEXT, b"old", title="old")
    model = make_model(qtbot, session)
    model.set_filter(kind=AssetKind.TEXT)
    qtbot.waitUntil(lambda: not model.fetching)
    watcher = InsertWatcher(model)

    def job() -> None:  # what a panel's job does through the session's sink
        for kind in (AssetKind.IMAGE, AssetKind.TEXT):
            data = png_bytes() if kind is AssetKind.IMAGE else b"new words"
            asset = add(project, kind, data, title=f"new {kind.value}")
            session.asset_added.emit(asset.id)

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: model.rowCount() == 2)
    assert titles(model) == ["new text", "old"]  # the image does not pass the filter
    assert watcher.threads == [QThread.currentThread()]  # the GUI thread
    model.shutdown()


def test_rename_delete_and_undo_through_the_session(qtbot, session, project):
    for number in range(5):
        add(project, AssetKind.TEXT, f"text {number}".encode(), title=f"t{number}")
    model = make_model(qtbot, session)
    assert titles(model) == ["t4", "t3", "t2", "t1", "t0"]
    assert model.setData(model.index(1), "renamed")
    assert titles(model)[1] == "renamed"
    assert project.get_asset(model.index(1).data(AssetRole.ID)).title == "renamed"
    with qtbot.waitSignal(model.rename_failed):
        assert not model.setData(model.index(1), "   ")
    session.undo_stack.undo()
    assert titles(model)[1] == "t3"

    session.delete([model.index(1).data(AssetRole.ID), model.index(3).data(AssetRole.ID)])
    assert titles(model) == ["t4", "t2", "t0"]
    qtbot.waitUntil(lambda: model.total == 3)
    session.undo_stack.undo()
    assert titles(model) == ["t4", "t3", "t2", "t1", "t0"]
    qtbot.waitUntil(lambda: model.total == 5)
    session.undo_stack.redo()
    assert titles(model) == ["t4", "t2", "t0"]
    model.shutdown()


def test_undoing_a_large_deletion_brings_every_row_back(qtbot, session, project):
    project.add_assets(new_asset(AssetKind.TEXT, f"note {n}".encode()) for n in range(700))
    model = make_model(qtbot, session, page_size=1000)
    before = shown_ids(model)
    session.delete(before[50:650])  # more ids than one look-up query takes
    assert shown_ids(model) == before[:50] + before[650:]
    session.undo_stack.undo()
    assert shown_ids(model) == before
    model.shutdown()


def test_a_rename_out_of_the_search_removes_the_row(qtbot, session, project):
    first = add(project, AssetKind.IMAGE, png_bytes(), title="blue sky")
    add(project, AssetKind.IMAGE, png_bytes(8, 8), title="blue sea")
    model = make_model(qtbot, session)
    model.set_filter(search="blue")
    qtbot.waitUntil(lambda: not model.fetching)
    session.rename(first.id, "red sky")
    assert titles(model) == ["blue sea"]
    session.undo_stack.undo()
    assert titles(model) == ["blue sea", "blue sky"]  # back in its place, newest first
    model.shutdown()


def test_another_project_resets_the_model(qtbot, session, project):
    add(project, AssetKind.TEXT, b"words")
    model = make_model(qtbot, session)
    assert model.rowCount() == 1
    with qtbot.waitSignal(model.modelReset):
        session.new()
    qtbot.waitUntil(lambda: not model.fetching)
    assert model.rowCount() == 0 and model.total == 0
    model.shutdown()


def hold_next_pages(store: ProjectStore) -> threading.Event:
    """Make the model's worker wait before it reads any page but the first; set to go on."""
    gate = threading.Event()
    list_assets = store.list_assets

    def held_list_assets(**kwargs):
        if kwargs.get("offset"):
            assert gate.wait(5)
        return list_assets(**kwargs)

    store.list_assets = held_list_assets
    return gate


def shown_ids(model: AssetListModel) -> list[str]:
    return [model.index(row).data(AssetRole.ID) for row in range(model.rowCount())]


def test_a_deletion_while_a_page_is_read_skips_no_asset(qtbot, session, many_path, tmp_path):
    session.open(Path(shutil.copy(many_path, tmp_path)))
    model = make_model(qtbot, session, page_size=100)
    newest = [asset.id for asset in session.store.list_assets(limit=300)]
    gate = hold_next_pages(session.store)
    model.fetchMore()
    session.delete([newest[5]])  # the page being read now starts one asset later
    gate.set()
    qtbot.waitUntil(lambda: not model.fetching and model.rowCount() == 199, timeout=5000)
    assert shown_ids(model) == [i for i in newest if i != newest[5]][:199]
    model.shutdown()


def test_an_asset_committed_while_a_page_is_read_is_shown_once(qtbot, session, many_path, tmp_path):
    session.open(Path(shutil.copy(many_path, tmp_path)))
    model = make_model(qtbot, session, page_size=100)
    gate = hold_next_pages(session.store)
    model.fetchMore()
    # Committed before the page is read, announced after it arrived (as a job's sink does).
    new = add(session.store, AssetKind.TEXT, b"brand new", title="brand new")
    gate.set()
    qtbot.waitUntil(lambda: not model.fetching and model.rowCount() >= 199, timeout=5000)
    session.asset_added.emit(new.id)
    shown = shown_ids(model)
    assert shown[0] == new.id and len(shown) == 200
    assert shown == [asset.id for asset in session.store.list_assets(limit=200)]
    model.shutdown()


def test_a_failed_read_is_reported_and_a_closed_project_is_waited_out(qtbot, session, project):
    for number in range(3):
        add(project, AssetKind.TEXT, f"text {number}".encode())
    model = make_model(qtbot, session, page_size=2)
    gate = hold_next_pages(project)
    model.fetchMore()
    project.close()  # as when another project replaces it, before project_changed arrives
    gate.set()
    qtbot.waitUntil(lambda: not model.fetching)
    assert model.rowCount() == 2 and model.canFetchMore()  # nothing lost, nothing failed

    def broken_list_assets(**kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    session.store.list_assets = broken_list_assets
    with qtbot.waitSignal(model.query_failed):
        model.reload()
    assert model.rowCount() == 0 and not model.canFetchMore()
    model.shutdown()


def test_after_shutdown_the_model_stays_quiet(qtbot, session, project):
    add(project, AssetKind.IMAGE, png_bytes())
    model = make_model(qtbot, session)
    model.shutdown()
    model.reload()  # ignored
    assert model.index(0).data(AssetRole.SUBTITLE) == ""  # no preview is made any more
    qtbot.wait(50)
    assert model.previews.made == 0


def test_dragged_assets_carry_their_ids_kinds_and_project(qtbot, session, project):
    from PySide6.QtCore import QMimeData

    from studio.qt.asset_drag import ASSET_MIME_TYPE, dragged_assets

    add(project, AssetKind.CAPTION, b"a red square")
    add(project, AssetKind.IMAGE, png_bytes(30, 20))
    model = make_model(qtbot, session)
    assert model.flags(model.index(0)) & Qt.ItemFlag.ItemIsDragEnabled
    mime = model.mimeData([model.index(0), model.index(1), model.index(1)])
    dragged = dragged_assets(mime)
    assert dragged.project == str(session.path)
    assert dragged.asset_ids == tuple(model.index(r).data(AssetRole.ID) for r in (0, 1))
    assert dragged.kinds == ("image", "caption")
    assert model.mimeTypes() == [ASSET_MIME_TYPE]
    broken = QMimeData()
    broken.setData(ASSET_MIME_TYPE, b"{not json")
    assert dragged_assets(broken) is None
    assert dragged_assets(QMimeData()) is None
    model.shutdown()


def test_an_asset_added_while_the_first_page_is_read_is_shown(qtbot, session, project, monkeypatch):
    """The first page can be read just before a new asset is committed; the asset must not
    be lost between that page and the notice of the new asset."""
    from studio.qt import asset_model

    read = threading.Event()
    release = threading.Event()
    original = asset_model._load_page_in_worker

    def slow_page(*args):
        store = args[2]
        assets = store.list_assets(limit=10)  # read before the commit below
        read.set()
        release.wait(5)
        relay, generation = args[0], args[1]
        relay.page_loaded.emit(generation, asset_model._Page(assets, len(assets)))

    monkeypatch.setattr(asset_model, "_load_page_in_worker", slow_page)
    model = AssetListModel(session)
    assert read.wait(5)
    asset = add(project, AssetKind.TEXT, b"new words", "added meanwhile")
    session.asset_added.emit(asset.id)
    monkeypatch.setattr(asset_model, "_load_page_in_worker", original)
    release.set()
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    assert titles(model) == ["added meanwhile"]
