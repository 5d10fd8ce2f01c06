"""The Captioning panel's batch, without widgets: the list of images and the thread that
captions them.

- :class:`BatchTableModel` holds the rows (file or asset, status, caption, message) for a
  ``QTableView``; rows are added in chunks, so a folder of 10,000 files shows at once and
  scrolls smoothly (the view paints only the visible rows). The caption column is editable.
- :class:`FolderLister` lists folders on a thread of its own (names only; no image is opened),
  handing rows over in chunks.
- :class:`BatchController` queues a :class:`~studio.core.caption_batch.CaptionBatch` on the
  panel's own job queue (one progress, one cancel) and reports each image as it starts and
  ends, with the rate and the time left. Its signals are emitted from the queue's thread and
  arrive queued in the GUI thread.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor

from studio.core.caption_batch import (
    BatchItem,
    BatchSettings,
    BatchSummary,
    CaptionBatch,
    ItemOutcome,
    ItemStatus,
    iter_image_files,
)
from studio.core.errors import UserError
from studio.core.jobs import readable_error
from studio.core.pipeline import JobPipeline, ResultListener
from studio.core.project.store import ProjectStore

log = logging.getLogger(__name__)

LIST_CHUNK = 500


class RowState(enum.StrEnum):
    WAITING = "waiting"
    RUNNING = "captioning…"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


_STATE_FOR_STATUS = {
    ItemStatus.DONE: RowState.DONE,
    ItemStatus.SKIPPED: RowState.SKIPPED,
    ItemStatus.FAILED: RowState.FAILED,
    ItemStatus.CANCELLED: RowState.CANCELLED,
}


@dataclass
class BatchRow:
    """One image in the table."""

    path: Path | None = None
    asset_id: str | None = None
    name: str = ""
    state: RowState = RowState.WAITING
    caption: str = ""
    message: str = ""
    caption_asset_id: str | None = None
    image_asset_id: str | None = None
    sidecar: Path | None = None
    edited: bool = False

    @property
    def label(self) -> str:
        return self.name or (self.path.name if self.path else (self.asset_id or "?"))


class BatchTableModel(QAbstractTableModel):
    """Rows of a batch: Image, Status, Caption (editable), Note."""

    COLUMNS = ("Image", "Status", "Caption", "Note")
    IMAGE, STATUS, CAPTION, NOTE = range(4)
    caption_edited = Signal(int)  # row

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[BatchRow] = []

    # Qt's model interface ---------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == self.IMAGE:
                return row.label
            if column == self.STATUS:
                return row.state.value + (" (edited)" if row.edited else "")
            if column == self.CAPTION:
                return row.caption
            return row.message
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.IMAGE:
                return str(row.path) if row.path else f"project asset {row.asset_id}"
            if column in (self.CAPTION, self.NOTE):
                return (row.caption if column == self.CAPTION else row.message) or None
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS:
            if row.state in (RowState.SKIPPED, RowState.FAILED):
                return QColor("#a33")
            if row.state is RowState.DONE:
                return QColor("#2a7a2a")
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if (
            index.isValid()
            and index.column() == self.CAPTION
            and self.rows[index.row()].state is RowState.DONE
        ):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(
        self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = 2
    ) -> bool:
        if not index.isValid() or index.column() != self.CAPTION:
            return False
        if role != Qt.ItemDataRole.EditRole or not isinstance(value, str):
            return False
        row = self.rows[index.row()]
        if value == row.caption:
            return False
        row.caption = value
        row.edited = True
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), self.NOTE))
        self.caption_edited.emit(index.row())
        return True

    # the batch ----------------------------------------------------------------------------------

    def add_rows(self, rows: Sequence[BatchRow]) -> None:
        if not rows:
            return
        start = len(self.rows)
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        self.rows.extend(rows)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self.endResetModel()

    def pending(self) -> list[BatchItem]:
        """Items still to caption (waiting, cancelled or failed), with their row numbers."""
        return [
            BatchItem(index=i, path=row.path, asset_id=row.asset_id, name=row.name)
            for i, row in enumerate(self.rows)
            if row.state in (RowState.WAITING, RowState.CANCELLED, RowState.FAILED)
        ]

    def mark_running(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.rows[row].state = RowState.RUNNING
            self.rows[row].message = ""
            self._changed(row)

    def apply(self, outcome: ItemOutcome) -> None:
        row_number = outcome.item.index
        if not 0 <= row_number < len(self.rows):
            return
        row = self.rows[row_number]
        row.state = _STATE_FOR_STATUS[outcome.status]
        row.message = outcome.message
        if outcome.status is ItemStatus.DONE:
            row.caption = outcome.caption
            row.caption_asset_id = outcome.asset_id or None
            row.image_asset_id = outcome.image_asset_id
            row.sidecar = outcome.sidecar
            row.edited = False
        self._changed(row_number)

    def reset_running(self) -> None:
        """After a stop: a row still marked running was not finished."""
        for number, row in enumerate(self.rows):
            if row.state is RowState.RUNNING:
                row.state = RowState.CANCELLED
                self._changed(number)

    def counts(self) -> dict[RowState, int]:
        counts = dict.fromkeys(RowState, 0)
        for row in self.rows:
            counts[row.state] += 1
        return counts

    def edited_rows(self) -> list[int]:
        return [i for i, row in enumerate(self.rows) if row.edited]

    def _changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.NOTE))


class FolderLister(QObject):
    """Lists folders and files on its own thread; rows arrive in chunks (``listed``)."""

    listed = Signal(list)  # list[BatchRow]
    done = Signal(int, str)  # how many images, an error message or ""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def list(self, paths: Sequence[Path], *, recursive: bool = False) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._list, args=(list(paths), recursive), name="caption-lister", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, seconds: float = 5.0) -> bool:
        if self._thread is not None:
            self._thread.join(seconds)
        return not self.busy

    def _list(self, paths: list[Path], recursive: bool) -> None:
        count = 0
        chunk: list[BatchRow] = []
        error = ""
        try:
            for path in paths:
                files = iter_image_files(path, recursive=recursive) if path.is_dir() else [path]
                for file in files:
                    if self._stop.is_set():
                        break
                    chunk.append(BatchRow(path=file))
                    count += 1
                    if len(chunk) >= LIST_CHUNK:
                        self.listed.emit(chunk)
                        chunk = []
        except UserError as exc:
            error = str(exc)
        except Exception as exc:  # a folder that vanished, permissions
            log.exception("listing %s failed", paths)
            error = readable_error(exc)
        if chunk:
            self.listed.emit(chunk)
        self.done.emit(count, error)


@dataclass
class BatchProgress:
    """Where a running batch stands (``progress`` signal)."""

    finished: int
    total: int
    done: int
    skipped: int
    failed: int
    per_second: float
    eta_seconds: float | None
    current: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class BatchController(QObject):
    """Runs one batch at a time as a job source on the Captioning panel's own queue (one
    progress, one cancel: the panel's), and reports each image as it starts and ends, with the
    rate and the time left.

    Signals (queued into the GUI thread):
        item_started(row): the image of this row is being captioned.
        item_finished(ItemOutcome): one image is done, skipped, failed or cancelled.
        progress(BatchProgress)
        finished(BatchSummary): the batch ended (all done, stopped, or a problem).
        failed(message): the batch could not start or stopped on a problem.
    """

    item_started = Signal(int)
    item_finished = Signal(object)
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner: Any = None
        self._batch: CaptionBatch | None = None
        self._batch_id = ""
        self._counter = 0

    @property
    def running(self) -> bool:
        return self._batch is not None

    @property
    def batch_id(self) -> str | None:
        """The running batch's id on the panel's queue (its signals carry it), or None."""
        return self._batch_id if self._batch is not None else None

    def start(
        self,
        runner: Any,
        pipeline: JobPipeline,
        store: ProjectStore | None,
        settings: BatchSettings,
        items: Sequence[BatchItem],
        *,
        listeners: Sequence[ResultListener] = (),
    ) -> str:
        """Check the settings here (a bad option is refused at once), then queue the batch on
        ``runner`` (the panel's :class:`~studio.qt.panel_jobs.PanelJobRunner`)."""
        if self.running:
            raise UserError("A batch is running already; stop it first.")
        items = list(items)
        total = len(items)
        started = time.monotonic()
        counts = {ItemStatus.DONE: 0, ItemStatus.SKIPPED: 0, ItemStatus.FAILED: 0}

        def on_outcome(outcome: ItemOutcome) -> None:  # on the runner's thread: only emit
            if outcome.status in counts:
                counts[outcome.status] += 1
            self.item_finished.emit(outcome)
            finished = sum(counts.values())
            elapsed = time.monotonic() - started
            rate = finished / elapsed if elapsed > 0 else 0.0
            remaining = total - finished
            self.progress.emit(
                BatchProgress(
                    finished=finished,
                    total=total,
                    done=counts[ItemStatus.DONE],
                    skipped=counts[ItemStatus.SKIPPED],
                    failed=counts[ItemStatus.FAILED],
                    per_second=rate,
                    eta_seconds=remaining / rate if rate > 0 and finished >= 1 else None,
                    current=outcome.item.label,
                )
            )

        batch = CaptionBatch(
            pipeline,
            store,
            settings,
            items,
            on_outcome=on_outcome,
            on_item_started=lambda item: self.item_started.emit(item.index),
            listeners=listeners,
        )
        batch.check()
        self._counter += 1
        self._batch, self._runner = batch, runner
        self._batch_id = f"caption-batch-{id(self):x}-{self._counter}"
        for signal in (runner.finished, runner.cancelled):
            signal.connect(self._ended)
        runner.failed.connect(self._ended_on_problem)
        return runner.submit_batch(self._batch_id, batch)

    def cancel(self) -> None:
        """Stop: the image in progress is dropped, finished captions stay."""
        if self._runner is not None and self.running:
            self._runner.cancel(self._batch_id)

    @Slot(str, object)
    def _ended(self, job_id: str, asset_ids: object = ()) -> None:
        if job_id != self._batch_id or self._batch is None:
            return
        self._finish(self._batch.summary)

    @Slot(str, str)
    def _ended_on_problem(self, job_id: str, message: str) -> None:
        if job_id != self._batch_id or self._batch is None:
            return
        summary = self._batch.summary
        summary.stopped_by = summary.stopped_by or message
        self._finish(summary)

    def _finish(self, summary: BatchSummary) -> None:
        runner = self._runner
        for signal, slot in (
            (runner.finished, self._ended),
            (runner.cancelled, self._ended),
            (runner.failed, self._ended_on_problem),
        ):
            signal.disconnect(slot)
        self._batch = self._runner = None
        if summary.stopped_by:
            self.failed.emit(summary.stopped_by)
        self.finished.emit(summary)
