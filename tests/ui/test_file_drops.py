"""Files dropped on panels: taken with a highlight saying what happens, refused with a reason,
and projects or model files left to the window."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from studio.app import build_app
from studio.core.project.store import ProjectStore
from studio.plugin_api import Panel


def drag(widget, paths, *, drop=True):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = widget.rect().center()
    enter = QDragEnterEvent(
        point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    QApplication.sendEvent(widget, enter)
    state = (enter.isAccepted(), widget.drop_overlay.isVisible(), widget.drop_overlay.message)
    accepted = None
    if drop:
        event = QDropEvent(
            QPointF(QPoint(point)),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier(0),
        )
        QApplication.sendEvent(widget, event)
        accepted = event.isAccepted()
    return state, accepted


@pytest.fixture
def studio(qtbot, services):
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    app.window.resize(1200, 800)
    app.window.show()
    qtbot.waitUntil(
        lambda: app.window.panels[Panel.WRITING].current_plugin_id() is not None, timeout=10_000
    )
    yield app
    app.shutdown()


def test_a_text_file_onto_writing_is_highlighted_then_opened(qtbot, studio, tmp_path):
    story = tmp_path / "story.md"
    story.write_text("# Chapter one\n\nIt was a dark night.")
    writing = studio.window.panels[Panel.WRITING]
    (entered, shown, message), dropped = drag(writing, [story])
    assert entered and shown and message == "Drop to use story.md in the Writing panel"
    assert dropped and "It was a dark night." in writing.document.toPlainText()
    assert not writing.drop_overlay.isVisible()


def test_what_a_panel_cannot_use_is_refused_with_a_reason(qtbot, studio, tmp_path):
    sound = tmp_path / "song.wav"
    sound.write_bytes(b"RIFF0000WAVE")
    writing = studio.window.panels[Panel.WRITING]
    before = writing.document.toPlainText()
    (_, shown, message), dropped = drag(writing, [sound])
    assert shown and message == "The Writing panel cannot use song.wav."
    assert not dropped
    assert writing.document.toPlainText() == before
    assert writing.error_banner.isVisible()


def test_a_project_dropped_on_a_panel_is_opened_by_the_window(qtbot, studio, tmp_path):
    project = tmp_path / "elsewhere.studio"
    ProjectStore.create(project).close()
    writing = studio.window.panels[Panel.WRITING]
    (entered, _, _), _ = drag(writing, [project], drop=False)
    assert entered  # the window took the drag the panel left
    assert studio.window.drop_overlay.isVisible()
    assert studio.window.drop_overlay.message == "Drop to open the project elsewhere.studio"
    assert studio.window.take_drop([project])
    assert studio.window.session.path == project


def test_a_model_folder_dropped_on_a_panel_goes_to_the_window(qtbot, studio, tmp_path):
    folder = tmp_path / "lm"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    image = studio.window.panels[Panel.IMAGE]
    (entered, shown, _), _ = drag(image, [folder], drop=False)
    assert entered and not shown
    assert "Writing panel" in studio.window.drop_overlay.message
