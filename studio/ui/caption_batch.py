"""The batch part of the Captioning panel: a list of images, where captions go, and a table of
results that can be edited.

Rows come from folders (listed on a thread, names only), files and project assets. "Caption
all" runs the panel's plugin with the panel's options on every waiting row, one job per image,
on a thread of its own (:class:`~studio.qt.caption_batch.BatchController`); the table shows each
image's status, caption and note (why a file was skipped); the bar shows the rate and the time
left. Stop drops the image in progress and keeps every finished caption. Edited captions are
kept with "Save edits": a new caption asset (linked to the same image) and, for files, the
sidecar file rewritten.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.core.caption_batch import (
    DEFAULT_SIDECAR_EXTENSION,
    SidecarMode,
    SidecarSettings,
    save_edited_caption,
    write_sidecar,
)
from studio.core.durations import format_duration
from studio.core.errors import UserError
from studio.core.recent_folders import RecentFolders
from studio.qt.caption_batch import (
    BatchController,
    BatchProgress,
    BatchRow,
    BatchTableModel,
    FolderLister,
    RowState,
)
from studio.qt.project_session import ProjectSession
from studio.ui.file_dialogs import choose_files, choose_folder


class BatchBox(QWidget):
    """List, options, progress and results of a caption batch.

    Signals:
        start_requested(): the user pressed "Caption all" (the panel builds the settings).
        message(text): a problem to show in the panel's error banner.
        row_activated(row): a row was double-clicked (the panel shows its image and caption).
    """

    start_requested = Signal()
    message = Signal(str)
    row_activated = Signal(int)

    def __init__(
        self,
        session: ProjectSession,
        parent: QWidget | None = None,
        recent_folders: RecentFolders | None = None,
    ) -> None:
        super().__init__(parent)
        self._recent = recent_folders
        self.setObjectName("caption-batch")
        self.session = session
        self.model = BatchTableModel(self)
        self.lister = FolderLister(self)
        self.controller = BatchController(self)
        self.lister.listed.connect(self._on_listed)
        self.lister.done.connect(self._on_listing_done)
        self.controller.item_started.connect(self._on_item_started)
        self.controller.item_finished.connect(self._on_item_finished)
        self.controller.progress.connect(self._on_progress)
        self.controller.finished.connect(self._on_finished)
        self.controller.failed.connect(self.message)
        self.model.caption_edited.connect(self._update_buttons)

        self.add_folder_button = QPushButton("Add Folder…")
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.add_files_button = QPushButton("Add Images…")
        self.add_files_button.clicked.connect(self._choose_files)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Empty the list (captions already kept stay in the project)")
        self.clear_button.clicked.connect(self.clear)
        self.start_button = QPushButton("Caption All")
        self.start_button.setObjectName("caption-all")
        self.start_button.setToolTip(
            "Caption every waiting image with the plugin and options above"
        )
        self.start_button.clicked.connect(self.start_requested)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop-batch")
        self.stop_button.setToolTip("Stop after dropping the image in progress; finished ones stay")
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for button in (self.add_folder_button, self.add_files_button, self.clear_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.start_button)

        self.store_check = QCheckBox("Keep in project")
        self.store_check.setChecked(True)
        self.store_check.setToolTip(
            "Store each caption as a project asset linked to its image (the image is imported)"
        )
        self.sidecar_check = QCheckBox("Write sidecar files")
        self.sidecar_check.setToolTip("Write photo.txt next to photo.png (files only)")
        self.sidecar_extension = QLineEdit(DEFAULT_SIDECAR_EXTENSION)
        self.sidecar_extension.setMaximumWidth(80)
        self.sidecar_extension.setToolTip("The sidecar's extension (.txt, .caption…)")
        self.sidecar_mode = QComboBox()
        for mode, label in (
            (SidecarMode.OVERWRITE, "overwrite"),
            (SidecarMode.APPEND, "append"),
            (SidecarMode.SKIP, "skip existing"),
        ):
            self.sidecar_mode.addItem(label, mode.value)
        self.sidecar_mode.setToolTip("What to do when the sidecar file exists already")
        self.sidecar_check.toggled.connect(self._update_buttons)
        self.store_check.toggled.connect(self._update_buttons)
        where = QHBoxLayout()
        where.addWidget(self.store_check)
        where.addWidget(self.sidecar_check)
        where.addWidget(self.sidecar_extension)
        where.addWidget(self.sidecar_mode)
        where.addStretch(1)

        self.status = QLabel("Drop images or folders here, or add them.")
        self.status.setObjectName("batch-status")

        self.table = QTableView()
        self.table.setObjectName("batch-table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(BatchTableModel.IMAGE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(BatchTableModel.STATUS, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(BatchTableModel.CAPTION, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(BatchTableModel.NOTE, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(BatchTableModel.IMAGE, 140)
        self.table.setColumnWidth(BatchTableModel.STATUS, 80)
        self.table.setColumnWidth(BatchTableModel.NOTE, 160)
        self.table.activated.connect(lambda index: self.row_activated.emit(index.row()))

        self.save_edits_button = QPushButton("Save Edits")
        self.save_edits_button.setToolTip(
            "Keep edited captions: a new caption asset each, and the sidecar file rewritten"
        )
        self.save_edits_button.clicked.connect(self.save_edits)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.save_edits_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addLayout(where)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self._update_buttons()

    # the list ------------------------------------------------------------------------------------

    def add_paths(self, paths: list[Path]) -> None:
        """Add files and folders (folders listed on a thread)."""
        if self.lister.busy:
            self.message.emit("Still listing the previous folder; try again in a moment.")
            return
        self.status.setText("Listing…")
        self.lister.list(paths)
        self._update_buttons()

    def add_assets(self, asset_ids: list[str]) -> None:
        rows = []
        for asset_id in asset_ids:
            try:
                title = self.session.asset(asset_id).title
            except Exception:
                title = ""
            rows.append(BatchRow(asset_id=asset_id, name=title or asset_id[-8:]))
        self.model.add_rows(rows)
        self._show_counts()
        self._update_buttons()

    def clear(self) -> None:
        if self.controller.running:
            return
        self.lister.stop()
        self.model.clear()
        self._show_counts()
        self._update_buttons()

    def _choose_folder(self) -> None:
        folder = choose_folder(
            self, self._recent, "caption-batch", "Caption the images in a folder"
        )
        if folder is not None:
            self.add_paths([folder])

    def _choose_files(self) -> None:
        files = choose_files(
            self,
            self._recent,
            "caption-batch",
            "Caption images",
            "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)",
        )
        if files:
            self.add_paths(files)

    @Slot(list)
    def _on_listed(self, rows: list[BatchRow]) -> None:
        self.model.add_rows(rows)
        self.status.setText(f"Listing… {len(self.model.rows):,} images")

    @Slot(int, str)
    def _on_listing_done(self, count: int, error: str) -> None:
        if error:
            self.message.emit(error)
        self._show_counts()
        self._update_buttons()

    # running ----------------------------------------------------------------------------------

    def sidecar_settings(self) -> SidecarSettings | None:
        if not self.sidecar_check.isChecked():
            return None
        return SidecarSettings(
            extension=self.sidecar_extension.text(),
            mode=SidecarMode(self.sidecar_mode.currentData()),
        )

    def stop(self) -> None:
        if self.controller.running:
            self.controller.cancel()
            self.status.setText("Stopping after the current image…")

    @Slot(int)
    def _on_item_started(self, row: int) -> None:
        self.model.mark_running(row)

    @Slot(object)
    def _on_item_finished(self, outcome) -> None:
        self.model.apply(outcome)

    @Slot(object)
    def _on_progress(self, progress: BatchProgress) -> None:
        parts = [f"{progress.finished:,} of {progress.total:,}"]
        if progress.skipped:
            parts.append(f"{progress.skipped} skipped")
        if progress.failed:
            parts.append(f"{progress.failed} failed")
        if progress.per_second > 0:
            parts.append(f"{progress.per_second:.2f} images/s")
        if progress.eta_seconds is not None and progress.finished < progress.total:
            parts.append(f"{format_duration(progress.eta_seconds)} left")
        self.status.setText(" · ".join(parts))

    @Slot(object)
    def _on_finished(self, summary) -> None:
        self.model.reset_running()
        self._show_counts(stopped=summary.cancelled)
        self._update_buttons()

    def began(self) -> None:
        """The panel started the controller."""
        self.status.setText("Starting (the model loads first)…")
        self._update_buttons()

    def _show_counts(self, stopped: bool = False) -> None:
        counts = self.model.counts()
        total = len(self.model.rows)
        if not total:
            self.status.setText("Drop images or folders here, or add them.")
            return
        parts = [f"{total:,} images"]
        for state in (RowState.DONE, RowState.SKIPPED, RowState.FAILED, RowState.CANCELLED):
            if counts[state]:
                parts.append(f"{counts[state]:,} {state.value}")
        waiting = counts[RowState.WAITING]
        if waiting and waiting != total:
            parts.append(f"{waiting:,} waiting")
        self.status.setText(("Stopped: " if stopped else "") + " · ".join(parts))

    @Slot()
    def _update_buttons(self) -> None:
        running = self.controller.running
        listing = self.lister.busy
        has_pending = bool(self.model.pending())
        self.start_button.setEnabled(not running and not listing and has_pending)
        self.stop_button.setEnabled(running)
        self.clear_button.setEnabled(not running and bool(self.model.rows))
        for widget in (
            self.store_check,
            self.sidecar_check,
            self.sidecar_extension,
            self.sidecar_mode,
            self.add_folder_button,
            self.add_files_button,
        ):
            widget.setEnabled(not running)
        sidecars = self.sidecar_check.isChecked()
        self.sidecar_extension.setEnabled(sidecars and not running)
        self.sidecar_mode.setEnabled(sidecars and not running)
        self.save_edits_button.setEnabled(not running and bool(self.model.edited_rows()))

    # edits ------------------------------------------------------------------------------------

    def save_edits(self) -> None:
        """Keep edited captions: new caption assets, and rewritten sidecars for files."""
        sidecar = None
        try:
            settings = self.sidecar_settings()
            if settings is not None:
                sidecar = SidecarSettings(extension=settings.extension, mode=SidecarMode.OVERWRITE)
        except UserError as exc:
            self.message.emit(str(exc))
            return
        saved = 0
        for number in self.model.edited_rows():
            row = self.model.rows[number]
            try:
                if row.caption_asset_id:
                    row.caption_asset_id = save_edited_caption(
                        self.session.store, row.caption_asset_id, row.caption
                    )
                    self.session.asset_added.emit(row.caption_asset_id)
                if row.path is not None and (sidecar is not None or row.sidecar is not None):
                    ext = sidecar.extension if sidecar else row.sidecar.suffix  # type: ignore[union-attr]
                    row.sidecar, _ = write_sidecar(
                        row.path, row.caption, SidecarSettings(extension=ext)
                    )
            except (UserError, OSError) as exc:
                self.message.emit(f"{row.label}: {exc}")
                continue
            row.edited = False
            saved += 1
            self.model.dataChanged.emit(
                self.model.index(number, 0), self.model.index(number, BatchTableModel.NOTE)
            )
        self.status.setText(f"Saved {saved} edited caption{'s' if saved != 1 else ''}.")
        self._update_buttons()

    def shutdown(self) -> None:
        """Stop listing folders and the running batch (the panel's queue ends it)."""
        self.lister.stop()
        self.controller.cancel()
        self.lister.wait(5)
