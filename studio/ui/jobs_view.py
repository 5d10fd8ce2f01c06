"""The Jobs view: every queued, running and finished job of every panel.

A non-modal window over :class:`~studio.qt.jobs_model.JobsModel` (View > Jobs, Ctrl+J, or a
click on the status bar's job count): a table with each job's panel, plugin and request, state,
progress, time left, start and end, and result; below it the selected job's details, a failed
job's error in full. Cancel stops the selected queued or running jobs (a queued one leaves the
queue at once); Re-run runs the selected ended jobs again (a finished one by its last asset's
recipe, a failed or cancelled one as it was asked); Clear Finished takes the ended ones off
the list. Double-clicking a finished job shows its last asset in its panel.

The view asks the window to open and re-run through its signals; it holds no panels.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.qt.jobs_model import (
    FRACTION_ROLE,
    PANEL_NAMES,
    STATE_ROLE,
    Column,
    JobRow,
    JobsModel,
    JobState,
)

COLUMN_WIDTHS: dict[Column, int] = {
    Column.PANEL: 80,
    Column.STATE: 160,
    Column.PROGRESS: 210,
    Column.TIME_LEFT: 70,
    Column.STARTED: 70,
    Column.ENDED: 70,
    Column.RESULT: 190,
}
"""Starting widths in pixels; the Job column takes the rest."""


class JobsLabel(QLabel):
    """The status bar's job count; a click on it opens the Jobs view."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Show every job (View > Jobs, Ctrl+J)")

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.clicked.emit()
            event.accept()
            return
        super().mouseReleaseEvent(event)


class ProgressDelegate(QStyledItemDelegate):
    """The progress column: a small bar (while running with a known fraction, and when done)
    with the job's message beside it."""

    BAR_WIDTH = 64
    BAR_HEIGHT = 8

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        fraction = index.data(FRACTION_ROLE)
        state = index.data(STATE_ROLE)
        if fraction is None or state not in (JobState.RUNNING, JobState.DONE):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:  # the selection and the background, without the text
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect = opt.rect.adjusted(4, 0, -4, 0)
        bar_width = min(self.BAR_WIDTH, max(0, rect.width() // 2))
        bar = QRectF(
            rect.left() + 0.5,
            rect.center().y() - self.BAR_HEIGHT / 2 + 0.5,
            bar_width,
            self.BAR_HEIGHT,
        )
        palette = opt.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(bar, 3, 3)
        done = min(1.0, max(0.0, float(fraction)))
        if done > 0:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            inner = bar.adjusted(1.5, 1.5, -1.5, -1.5)
            inner.setWidth(inner.width() * done)
            painter.drawRoundedRect(inner, 2, 2)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.setPen(
            palette.color(
                QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
            )
        )
        text_rect = rect.adjusted(bar_width + 6, 0, 0, 0)
        elided = opt.fontMetrics.elidedText(text, Qt.TextElideMode.ElideRight, text_rect.width())
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided
        )
        painter.restore()


class JobsView(QDialog):
    """The Jobs window (see the module's docstring).

    Signals:
        open_asset_requested(asset_id): show this asset (a finished job's last one).
        rerun_asset_requested(asset_id): run this asset's recipe again.
        run_draft_requested(draft): prepare and run this :class:`Draft` in its panel.
    """

    open_asset_requested = Signal(str)
    rerun_asset_requested = Signal(str)
    run_draft_requested = Signal(object)

    def __init__(self, model: JobsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Jobs")
        self.setObjectName("jobs-view")
        self.setModal(False)
        self.model = model
        self.resize(1240, 540)

        self.counts = QLabel()
        self.counts.setObjectName("jobs-counts")

        self.table = QTableView()
        self.table.setObjectName("jobs-table")
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.JOB, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        for column, width in COLUMN_WIDTHS.items():
            self.table.setColumnWidth(column, width)
        self.table.activated.connect(self._activated)  # a double click, or Enter
        self.table.selectionModel().selectionChanged.connect(self._update)

        self.details = QPlainTextEdit()
        self.details.setObjectName("jobs-details")
        self.details.setReadOnly(True)
        self.details.setPlaceholderText(
            "Select a job to see its details; a failed job's error is shown here in full."
        )

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        self.cancel_button = QPushButton("&Cancel Job")
        self.cancel_button.setToolTip(
            "Stop the selected jobs: a queued job leaves the queue, a running one stops at its "
            "next step (finished results are kept)"
        )
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.rerun_button = QPushButton("&Re-run")
        self.rerun_button.setToolTip(
            "Run the selected jobs again: a finished job by its last asset's recipe, a failed "
            "or cancelled one as it was asked"
        )
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.clear_button = QPushButton("C&lear Finished")
        self.clear_button.setToolTip("Take the jobs that ended off this list (their assets stay)")
        self.clear_button.clicked.connect(self.clear_finished)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for button in (self.cancel_button, self.rerun_button, self.clear_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        for button in (self.cancel_button, self.rerun_button, self.clear_button, self.close_button):
            button.setAutoDefault(False)  # Enter opens the job, never cancels it

        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        model.dataChanged.connect(self._update)
        model.rowsInserted.connect(self._update)
        model.rowsRemoved.connect(self._update)
        model.modelReset.connect(self._update)
        self._update()

    # selection -------------------------------------------------------------------------------

    def selected_jobs(self) -> list[JobRow]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.model.job(row) for row in rows if row < self.model.rowCount()]

    def select_job(self, job_id: str) -> bool:
        row = self.model.row_of(job_id)
        if row is None:
            return False
        self.table.selectRow(row)
        return True

    def current_job(self) -> JobRow | None:
        index = self.table.currentIndex()
        if index.isValid() and self.table.selectionModel().isRowSelected(index.row()):
            return self.model.job(index.row())
        selected = self.selected_jobs()
        return selected[-1] if selected else None

    @Slot()
    def _update(self, *_: object) -> None:
        counts = self.model.counts()
        words = [
            f"{counts[state]} {state.value}"
            for state in (
                JobState.RUNNING,
                JobState.WAITING,
                JobState.QUEUED,
                JobState.DONE,
                JobState.FAILED,
                JobState.CANCELLED,
            )
            if counts[state]
        ]
        self.counts.setText(" · ".join(words) if words else "No jobs yet")
        selected = self.selected_jobs()
        self.cancel_button.setEnabled(any(job.state.active for job in selected))
        self.rerun_button.setEnabled(any(job.rerun_target() is not None for job in selected))
        self.clear_button.setEnabled(any(not job.state.active for job in self.model.jobs()))
        details = details_of(self.current_job())
        if details != self.details.toPlainText():  # kept still while other jobs move
            self.details.setPlainText(details)

    # actions ---------------------------------------------------------------------------------

    @Slot()
    def cancel_selected(self) -> int:
        """Cancel the selected queued and running jobs; returns how many were asked."""
        return sum(self.model.cancel(job.job_id) for job in self.selected_jobs())

    @Slot()
    def rerun_selected(self) -> int:
        """Run the selected ended jobs again; returns how many."""
        count = 0
        for job in self.selected_jobs():
            target = job.rerun_target()
            if target is None:
                continue
            how, what = target
            if how == "asset":
                self.rerun_asset_requested.emit(what)
            else:
                self.run_draft_requested.emit(what)
            count += 1
        return count

    @Slot()
    def clear_finished(self) -> int:
        return self.model.clear_ended()

    def open_job(self, row: int) -> bool:
        """Show a finished job's last asset; False for a job with none (yet)."""
        job = self.model.job(row)
        if job.state is not JobState.DONE or not job.asset_ids:
            return False
        self.open_asset_requested.emit(job.asset_ids[-1])
        return True

    @Slot(QModelIndex)
    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_job(index.row())


def details_of(job: JobRow | None) -> str:
    """What the details area says of a job: what it was asked and what became of it; a
    failed job's error in full."""
    if job is None:
        return ""
    panel = PANEL_NAMES.get(job.panel, job.panel.value)
    lines = [job.title, f"{panel} panel · {job.plugin_id or 'batch'} · {job.job_id}"]
    times = [f"queued {job.queued_at:%H:%M:%S}"]
    if job.started_at is not None:
        times.append(f"started {job.started_at:%H:%M:%S}")
    if job.ended_at is not None:
        times.append(f"ended {job.ended_at:%H:%M:%S}")
    lines.append(", ".join(times).capitalize())
    lines.append("")
    count = len(job.asset_ids)
    if job.state is JobState.FAILED:
        lines += ["Failed:", job.error or "(no message)"]
    elif job.state is JobState.DONE:
        made = f"Done: {count} asset{'s' if count != 1 else ''}"
        lines.append(
            f"{made} ({', '.join(job.asset_ids)}); double-click to show the last."
            if count
            else f"{made}."
        )
    elif job.state is JobState.CANCELLED:
        kept = f"; {count} finished asset{'s' if count != 1 else ''} kept" if count else ""
        lines.append(f"{job.state_words}{kept}.")
    else:
        progress = job.progress_words
        lines.append(f"{job.state_words}{f': {progress}' if progress else ''}")
    return "\n".join(lines)
