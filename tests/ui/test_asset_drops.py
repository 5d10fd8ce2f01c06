"""Assets dragged from the asset browser onto panels: used with lineage, or refused clearly."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from studio.core.project.documents import RevisionOrigin
from studio.core.recipe import Recipe, RecipeOrigin
from studio.plugin_api import AssetKind, Panel
from studio.qt.asset_drag import asset_mime_data
from studio.ui.panels.captioning import CaptioningPanel
from studio.ui.panels.image import ImagePanel
from studio.ui.panels.voice import VoicePanel
from studio.ui.panels.writing import WritingPanel
from tests.core.fixtures.media_samples import png_bytes


def make(panel_class, services, session, runners, qtbot):
    widget = panel_class(services, session, runners[panel_class.panel])
    qtbot.addWidget(widget)
    widget.refresh_plugins()
    widget.resize(900, 600)
    widget.show()
    return widget


def add(session, kind, data, media_type, title):
    return session.store.add_asset(
        kind=kind,
        data=data,
        media_type=media_type,
        recipe=Recipe(origin=RecipeOrigin.IMPORTED),
        title=title,
    )


def drag_assets(widget, session, assets):
    mime = asset_mime_data(
        str(session.path or ""),
        [a.id for a in assets],
        [str(a.kind) for a in assets],
        [a.title for a in assets],
    )
    point = widget.rect().center()
    enter = QDragEnterEvent(
        point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    QApplication.sendEvent(widget, enter)
    overlay = (widget.drop_overlay.isVisible(), widget.drop_overlay.accepting)
    message = widget.drop_overlay.message
    drop = QDropEvent(
        QPointF(QPoint(point)),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier(0),
    )
    QApplication.sendEvent(widget, drop)
    return overlay, message, drop.isAccepted()


@pytest.fixture
def picture(session):
    return add(session, AssetKind.IMAGE, png_bytes(40, 30), "image/png", "picture")


@pytest.fixture
def caption(session):
    return add(session, AssetKind.CAPTION, b"a red square on white", "text/plain", "caption")


def test_an_image_onto_captioning_becomes_the_image_to_caption(
    qtbot, services, session, runners, picture
):
    panel = make(CaptioningPanel, services, session, runners, qtbot)
    (shown, accepting), message, dropped = drag_assets(panel, session, [picture])
    assert shown and accepting and "Drop to use it as" in message
    assert dropped
    assert panel.file_inputs()["image"].asset_id == picture.id


def test_an_image_onto_image_becomes_the_init_image(qtbot, services, session, runners, picture):
    panel = make(ImagePanel, services, session, runners, qtbot)
    _, _, dropped = drag_assets(panel, session, [picture])
    assert dropped and panel.file_inputs()["init"].asset_id == picture.id


def test_a_caption_onto_writing_goes_in_at_the_cursor_as_a_revision(
    qtbot, services, session, runners, caption
):
    panel = make(WritingPanel, services, session, runners, qtbot)
    panel.open_text("Seen: ")
    (_, accepting), message, dropped = drag_assets(panel, session, [caption])
    assert accepting and message == "Drop to insert the caption at the cursor"
    assert dropped and panel.document.toPlainText() == "Seen: a red square on white"
    document = panel.documents.document_id
    head = session.store.document_revisions(document)[0]
    assert (head.origin, head.source_asset_id) == (RevisionOrigin.INSERT, caption.id)
    assert session.store.document_text_at(document, head.number - 1) == "Seen: "
    # A document dragged onto the panel opens.
    other = session.store.create_document("Another page").asset
    (_, accepting), message, dropped = drag_assets(panel, session, [other])
    assert accepting and message == "Drop to open the document" and dropped
    assert panel.documents.document_id == other.id
    assert panel.document.toPlainText() == "Another page"


def test_a_document_onto_captioning_is_the_question(qtbot, services, session, runners):
    document = session.store.create_document("What colour\nis the square?").asset
    panel = make(CaptioningPanel, services, session, runners, qtbot)
    (_, accepting), message, dropped = drag_assets(panel, session, [document])
    assert accepting and message == "Drop to use the document as the question"
    assert dropped and panel.question.text() == "What colour is the square?"


def test_a_text_onto_voice_becomes_the_text_to_speak(qtbot, services, session, runners, caption):
    panel = make(VoicePanel, services, session, runners, qtbot)
    _, _, dropped = drag_assets(panel, session, [caption])
    assert dropped and panel.text.toPlainText() == "a red square on white"
    sources = [link.asset_id for link in panel.build_draft().assets if link.role == "source"]
    assert sources == [caption.id]


def test_what_a_panel_cannot_use_is_refused_with_a_reason(
    qtbot, services, session, runners, caption, picture
):
    image = make(ImagePanel, services, session, runners, qtbot)
    (shown, accepting), message, dropped = drag_assets(image, session, [caption])
    assert shown and not accepting and not dropped
    assert message == "The Image panel cannot use a caption."
    assert image.file_inputs()["init"].asset_id is None
    writing = make(WritingPanel, services, session, runners, qtbot)
    (_, accepting), message, dropped = drag_assets(writing, session, [picture])
    assert not accepting and not dropped and "cannot use an image" in message
    assert not writing.drop_overlay.isVisible()


def test_assets_of_another_project_are_refused(qtbot, services, session, runners, picture):
    panel = make(CaptioningPanel, services, session, runners, qtbot)
    mime = asset_mime_data("/elsewhere/other.studio", [picture.id], ["image"], ["x"])
    from studio.qt.asset_drag import dragged_assets

    accepted, message = panel.asset_drop_answer(dragged_assets(mime))
    assert not accepted and message == "These assets belong to another project."
    assert Panel.CAPTIONING is panel.panel


def test_several_images_onto_captioning_join_the_batch(qtbot, services, session, runners):
    from tests.core.fixtures.media_samples import png_bytes as picture_bytes

    pictures = [
        add(session, AssetKind.IMAGE, picture_bytes(20 + i, 20), "image/png", f"p{i}")
        for i in range(3)
    ]
    panel = make(CaptioningPanel, services, session, runners, qtbot)
    (_, accepting), message, dropped = drag_assets(panel, session, pictures)
    assert accepting and message == "Drop to add 3 images to the batch"
    assert dropped and panel.batch.model.rowCount() == 3
    assert panel.image_input.asset_id is None
