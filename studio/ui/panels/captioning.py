"""The Captioning panel: describe, read and question images, one at a time or thousands.

- **One image**: drop an image (or pick one, or "Caption This" on an image asset), optionally
  type a question, and Run. The caption appears in an editable box; Save Edit keeps an edited
  caption as a new caption asset linked to the same image. The tags and text lines the
  embedded describer found are listed under it.
- **A batch**: drop several images or folders on the panel (or Add Folder… / Add Images…, or
  select several image assets and "Caption This"), choose where captions go (the project and/or
  sidecar files), and Caption All. See :mod:`studio.ui.caption_batch`.

Every caption is a caption asset whose recipe names the image it describes (lineage).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QImageReader, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.caption_batch import IMAGE_SUFFIXES, BatchSettings, save_edited_caption
from studio.core.errors import UserError
from studio.core.pipeline import Draft
from studio.core.project.assets import Asset
from studio.plugin_api import AssetKind, ModelSpec, Panel
from studio.qt.asset_drag import local_paths
from studio.qt.caption_batch import BatchProgress
from studio.ui.caption_batch import BatchBox
from studio.ui.panels.base import PanelWidget
from studio.ui.widgets import FileInput

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"
PREVIEW_PIXELS = 1024


class CaptionImageView(QLabel):
    """The image being captioned, scaled to fit; decoded at most at preview size."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("caption-image")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 160)
        self.setStyleSheet("#caption-image { background: palette(base); }")
        self._image = QImage()
        self.show_hint()

    def show_hint(self) -> None:
        self._image = QImage()
        self.clear()
        self.setText("Drop an image here\n(several images or a folder: a batch)")

    def set_path(self, path: Path) -> None:
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > PREVIEW_PIXELS:
            reader.setScaledSize(size.scaled(QSize(PREVIEW_PIXELS, PREVIEW_PIXELS),
                                             Qt.AspectRatioMode.KeepAspectRatio))  # fmt: skip
        self.set_image(reader.read())

    def set_image(self, image: QImage) -> None:
        self._image = image
        if image.isNull():
            self.clear()
            self.setText("(no preview)")
            return
        self._rescale()

    def image(self) -> QImage:
        return self._image

    def _rescale(self) -> None:
        if self._image.isNull():
            return
        self.setPixmap(
            QPixmap.fromImage(self._image).scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()


class CaptioningPanel(PanelWidget):
    panel = Panel.CAPTIONING

    def request_title(self) -> str:
        return "Image"

    def output_title(self) -> str:
        return "Caption"

    def request_stretch(self) -> int:
        return 2

    # the request area -------------------------------------------------------------------------

    def build_request_area(self, layout: QVBoxLayout) -> None:
        self.setAcceptDrops(True)
        self.caption_asset_id: str | None = None
        self._shown_caption = ""
        self._input_asset_id: str | None = None
        self.image_input = FileInput("Image", IMAGE_FILTER, self.model, "image")
        self.image_input.changed.connect(self._show_input)
        self.preview = CaptionImageView()
        self.question = QLineEdit()
        self.question.setObjectName("question")
        self.question.setPlaceholderText("Ask about the image (empty: describe it)")
        self.question.setClearButtonEnabled(True)
        layout.addWidget(self.image_input)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.question)
        self.bind_text("question", self.question)

    def _show_input(self) -> None:
        self._input_asset_id = None
        if self.image_input.path is not None:
            self.preview.set_path(self.image_input.path)
        elif self.image_input.asset_id is not None:
            data = self.session.store.read_blob(self.image_input.asset_id)
            self.preview.set_image(QImage.fromData(data))
        else:
            self.preview.show_hint()

    def file_inputs(self) -> dict[str, FileInput]:
        return {"image": self.image_input}

    def takes_text_assets(self) -> str:
        return "the question"

    def take_text_asset(self, asset: Asset, text: str) -> bool:
        """A text, caption or document dragged onto the panel is the question to ask (its
        lines joined: the question is one line)."""
        self.question.setText(" ".join(text.split()))
        self.question.setFocus()
        return True

    def build_draft(self) -> Draft:
        draft = super().build_draft()
        question = draft.fields.get("question")
        if question is not None:
            draft = dataclasses.replace(
                draft, fields={**draft.fields, "question": question.strip()}
            )
        # The image of this job, when it is an asset already (a file becomes one with its
        # caption: imported_input): its caption needs no new preview of it.
        image = next((link for link in draft.assets if link.role == "image"), None)
        self._input_asset_id = image.asset_id if image is not None else None
        return draft

    def plugin_selected(self, spec: ModelSpec | None) -> None:
        slot = spec.input_slot("image") if spec is not None else None
        self.image_input.setToolTip(slot.description if slot is not None else "")

    # the output area --------------------------------------------------------------------------

    def build_output_area(self, layout: QVBoxLayout) -> None:
        single = QWidget()
        single_layout = QVBoxLayout(single)
        single_layout.setContentsMargins(0, 0, 0, 0)
        self.output = QPlainTextEdit()
        self.output.setObjectName("output")
        self.output.setPlaceholderText("The caption appears here; you can edit it.")
        self.output.textChanged.connect(self._update_edit_button)
        self.found = QLabel()
        self.found.setObjectName("caption-details")
        self.found.setWordWrap(True)
        self.found.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.found.setStyleSheet("color: palette(mid);")
        self.save_edit_button = QPushButton("Save Edit")
        self.save_edit_button.setObjectName("save-edit")
        self.save_edit_button.setToolTip("Keep the edited caption as a new caption asset")
        self.save_edit_button.clicked.connect(self.save_edit)
        self.save_edit_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.found, 1)
        row.addWidget(self.save_edit_button, 0, Qt.AlignmentFlag.AlignTop)
        single_layout.addWidget(self.output, 1)
        single_layout.addLayout(row)

        self._batch_shown = False  # the running batch has put its count on the progress bar
        self.batch = BatchBox(self.session, recent_folders=self.services.recent_folders)
        self.batch.start_requested.connect(self.start_batch)
        self.batch.message.connect(self.model.show_error)
        self.batch.row_activated.connect(self._show_row)
        self.batch.controller.finished.connect(self._batch_finished)
        self.batch.controller.progress.connect(self._on_batch_progress)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(single)
        splitter.addWidget(self.batch)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout.addWidget(splitter)

    def clear_output(self) -> None:
        self.caption_asset_id = None
        self._shown_caption = ""
        self.output.clear()
        self.found.clear()

    def show_text(self, text: str) -> None:
        self.output.insertPlainText(text)

    def show_asset(self, asset: Asset, data: bytes) -> None:
        if asset.kind is AssetKind.IMAGE:
            self.image_input.set_asset(asset.id)
            return
        text = data.decode("utf-8", errors="replace")
        self.caption_asset_id = asset.id
        self._shown_caption = text
        self.output.setPlainText(text)
        self.found.setText(describe_details(asset))
        image = next((i for i in asset.recipe.inputs if i.role == "image"), None)
        shown = (self.image_input.asset_id, self._input_asset_id, self.imported_input("image"))
        if image is not None and image.asset_id not in shown:
            try:
                self.session.asset(image.asset_id)
            except Exception:
                return  # the image is gone from the project
            self.image_input.set_asset(image.asset_id)
        self._update_edit_button()

    @Slot()
    def _update_edit_button(self) -> None:
        changed = self.output.toPlainText() != self._shown_caption
        self.save_edit_button.setEnabled(self.caption_asset_id is not None and changed)

    @Slot()
    def save_edit(self) -> None:
        if self.caption_asset_id is None:
            return
        try:
            new_id = save_edited_caption(
                self.session.store, self.caption_asset_id, self.output.toPlainText()
            )
        except UserError as exc:
            self.model.show_error(str(exc))
            return
        self.session.asset_added.emit(new_id)
        self.caption_asset_id = new_id
        self._shown_caption = self.output.toPlainText()
        self._update_edit_button()
        self.model.set_status(f"Edited caption saved to {self.session.display_name}")

    # one image or many ------------------------------------------------------------------------

    def caption_assets(self, asset_ids: list[str]) -> None:
        """ "Caption This" from the asset browser: one image runs now, several make a batch."""
        if not asset_ids:
            return
        if len(asset_ids) == 1:
            self.image_input.set_asset(asset_ids[0])
            self.run()
            return
        self.batch.add_assets(asset_ids)
        self.start_batch()

    def asset_drop_answer(self, dragged) -> tuple[bool, str]:
        images = [k for k in dragged.kinds if k == AssetKind.IMAGE.value]
        if len(dragged.asset_ids) > 1 and len(images) == len(dragged.asset_ids):
            return True, f"Drop to add {len(images)} images to the batch"
        return super().asset_drop_answer(dragged)

    def take_assets(self, dragged) -> bool:
        accepted, _ = self.asset_drop_answer(dragged)
        if accepted and len(dragged.asset_ids) > 1:
            self.batch.add_assets(list(dragged.asset_ids))  # Caption All starts them
            return True
        return super().take_assets(dragged)

    def add_paths(self, paths: list[Path]) -> None:
        """Dropped or opened files: one image goes to the image field, more make a batch."""
        if len(paths) == 1 and paths[0].is_file():
            self.image_input.set_path(paths[0])
            return
        self.batch.add_paths(paths)

    @Slot()
    def start_batch(self) -> None:
        model = self.model
        model.clear_error()
        plugin_id = model.plugin_id
        if plugin_id is None:
            model.show_error("Choose a plugin first.")
            return
        try:
            settings = BatchSettings(
                plugin_id=plugin_id,
                load_options=dict(model.load_options),
                run_options=dict(model.run_options),
                question=model.fields.get("question", "").strip(),
                device=self.services.settings.device_for(Panel.CAPTIONING),
                store_assets=self.batch.store_check.isChecked(),
                sidecar=self.batch.sidecar_settings(),
                details={"batch": True},
            )
            items = self.batch.model.pending()
            if not items:
                raise UserError("Add images or folders to caption first.")
            self.batch.controller.start(
                self.runner,
                self.services.pipeline,
                self.session.store,
                settings,
                items,
                listeners=[self.session.announce],
            )
        except UserError as exc:
            model.show_error(str(exc))
            return
        self.batch.began()
        self._batch_shown = False
        self.cancel_button.setEnabled(True)  # the panel's Cancel stops the batch too

    @Slot(str)
    def _on_started(self, job_id: str) -> None:
        if job_id != self.batch.controller.batch_id or not self._batch_shown:
            super()._on_started(job_id)  # a batch's: only until its first image is counted

    @Slot(str, object, str, object)
    def _on_progress(self, job_id: str, fraction: Any, message: str, eta: Any) -> None:
        if job_id != self.batch.controller.batch_id:  # a batch shows its own progress
            super()._on_progress(job_id, fraction, message, eta)

    @Slot(object)
    def _on_batch_progress(self, progress: BatchProgress) -> None:
        """One progress for a batch, on the panel's bar: images done of all, and time left."""
        self._batch_shown = True
        self.progress.update_progress(
            progress.finished / max(progress.total, 1),
            f"Captioning: {progress.finished:,} of {progress.total:,} images",
            progress.eta_seconds if progress.finished < progress.total else None,
        )

    @Slot(object)
    def _batch_finished(self, summary) -> None:
        last = next((o for o in reversed(summary.outcomes) if o.asset_id), None)
        if last is not None and last.asset_id:
            self.open_asset(last.asset_id, restore_settings=False)

    @Slot(int)
    def _show_row(self, number: int) -> None:
        row = self.batch.model.rows[number]
        if row.caption_asset_id:
            self.open_asset(row.caption_asset_id, restore_settings=False)
            return
        if row.path is not None:
            self.image_input.set_path(row.path)
        elif row.asset_id is not None:
            self.image_input.set_asset(row.asset_id)
        self.clear_output()
        self.output.setPlainText(row.caption or row.message)

    # drops --------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        paths = local_paths(event.mimeData())
        if paths and all(p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES for p in paths):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def shutdown(self) -> None:
        self.batch.shutdown()


def describe_details(asset: Asset) -> str:
    """What the caption's details say beyond the text: tags with scores, text lines found."""
    details = asset.recipe.details
    parts = []
    tags = details.get("tags")
    if isinstance(tags, Sequence) and not isinstance(tags, str):
        shown = [
            f"{tag['label']} {float(tag.get('score', 0)):.2f}"
            for tag in tags
            if isinstance(tag, Mapping) and "label" in tag
        ]
        if shown:
            parts.append("Tags: " + " · ".join(shown))
    lines = details.get("text_lines")
    if isinstance(lines, Sequence) and not isinstance(lines, str) and lines:
        parts.append("Text found: " + " / ".join(str(line) for line in lines))
    if details.get("edited_by_hand"):
        parts.append("Edited by hand.")
    return "\n".join(parts)
