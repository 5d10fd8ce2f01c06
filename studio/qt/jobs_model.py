"""Every job of every panel as one Qt table, for the window's Jobs view.

:class:`JobsModel` watches each panel's :class:`~studio.qt.panel_jobs.PanelJobRunner` and keeps
one row per job (a caption batch is one row): which panel and plugin, what it was asked (the
start of the prompt, or the input files), its state from queued to done, failed or cancelled,
its progress and time left, when it started and ended, the assets it made and, when it failed,
why.

A row keeps the :class:`~studio.core.pipeline.Draft` its job was prepared from (rebuilt from the
:class:`~studio.core.pipeline.PreparedJob`, which holds no draft), so a failed or cancelled job
can run again as it was (the same options and seed, the same input files and assets); not the
prepared job itself, whose checked input files may hold their bytes. Ended rows beyond
:data:`MAX_ENDED` go, oldest first, so a long session does not grow it for ever.

Everything happens in the GUI thread: runners emit their signals there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
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

from studio.core.durations import format_duration
from studio.core.jobs import Waiting, new_job_id
from studio.core.pipeline import Draft, JobSource, PreparedJob, request_values
from studio.core.recipe import RecipeInput
from studio.core.registry import PluginRegistry
from studio.plugin_api import Panel
from studio.qt.panel_jobs import PanelJobRunner

_ROOT = QModelIndex()

MAX_ENDED = 500
"""Ended jobs kept in the list; older ones go (the assets they made stay in the project)."""

SUMMARY_LENGTH = 60
SUMMARY_FIELDS = ("instruction", "prompt", "text", "question")
"""The request fields that say what a job was asked, the most telling first (Writing's
instruction before the document it is about)."""

PANEL_NAMES: dict[Panel, str] = {
    Panel.WRITING: "Writing",
    Panel.IMAGE: "Image",
    Panel.VOICE: "Voice",
    Panel.CAPTIONING: "Captioning",
}


class JobState(StrEnum):
    QUEUED = "queued"
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (JobState.QUEUED, JobState.WAITING, JobState.RUNNING)


class Column(IntEnum):
    PANEL = 0
    JOB = 1
    STATE = 2
    PROGRESS = 3
    TIME_LEFT = 4
    STARTED = 5
    ENDED = 6
    RESULT = 7


HEADERS: dict[Column, str] = {
    Column.PANEL: "Panel",
    Column.JOB: "Job",
    Column.STATE: "State",
    Column.PROGRESS: "Progress",
    Column.TIME_LEFT: "Time left",
    Column.STARTED: "Started",
    Column.ENDED: "Ended",
    Column.RESULT: "Result",
}

FRACTION_ROLE = Qt.ItemDataRole.UserRole + 1
"""The progress column's fraction (0..1), or None while it is not known."""
STATE_ROLE = Qt.ItemDataRole.UserRole + 2
"""The row's :class:`JobState`, in every column."""


@dataclass
class JobRow:
    """One job as the Jobs view shows it."""

    job_id: str
    panel: Panel
    runner: PanelJobRunner
    plugin_id: str
    plugin_name: str
    summary: str
    draft: Draft | None
    """What the job was prepared from (None for a batch): to run it again."""
    batch: bool = False
    state: JobState = JobState.QUEUED
    position: int = 0
    fraction: float | None = None
    message: str = ""
    eta: float | None = None
    queued_at: datetime = field(default_factory=datetime.now)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    asset_ids: tuple[str, ...] = ()
    error: str = ""
    forced: bool = False
    cancelling: bool = False
    """Asked to stop and not stopped yet."""

    @property
    def title(self) -> str:
        """The plugin and what it was asked: ``Echo: a red square``."""
        return f"{self.plugin_name}: {self.summary}" if self.summary else self.plugin_name

    @property
    def state_words(self) -> str:
        """The state in full: ``Waiting for the device (next in line: 1)``."""
        if self.state is JobState.WAITING and not self.cancelling:
            return Waiting(self.position).words
        return self.short_state

    @property
    def short_state(self) -> str:
        """The state in a table cell: ``Waiting (next in line)``."""
        if self.cancelling and self.state.active:
            return "Cancelling…"
        if self.state is JobState.WAITING:
            if self.position <= 0:
                return "Waiting for CPU cores"
            return (
                "Waiting (next in line)"
                if self.position == 1
                else (f"Waiting ({self.position} in line)")
            )
        if self.state is JobState.CANCELLED and self.forced:
            return "Cancelled (stopped by force)"
        return self.state.value.capitalize()

    @property
    def progress_words(self) -> str:
        if self.state is JobState.RUNNING:
            message = self.message or "Working…"
            return message if self.fraction is None else f"{self.fraction * 100:.0f}% · {message}"
        if self.state is JobState.DONE:
            return "100%"
        return ""

    @property
    def result_words(self) -> str:
        count = len(self.asset_ids)
        assets = f"{count} asset{'s' if count != 1 else ''}"
        if self.state is JobState.DONE:
            return assets
        if self.state is JobState.FAILED:
            return self.error.splitlines()[0] if self.error else "Failed"
        if self.state is JobState.CANCELLED and count:
            return f"{assets} kept"
        return ""

    def rerun_target(self) -> tuple[str, Any] | None:
        """How to run this job again: ``("asset", id)`` (a finished job: its last asset's
        recipe), ``("draft", draft)`` (a failed or cancelled one: its draft again, under a new
        job id), or None (still active, or a batch)."""
        if self.state.active or self.batch:
            return None
        if self.state is JobState.DONE and self.asset_ids:
            return "asset", self.asset_ids[-1]
        if self.draft is not None:
            return "draft", dataclasses.replace(self.draft, job_id=new_job_id())
        return None


def summary_of(request_fields: Mapping[str, Any], file_names: list[str]) -> str:
    """What a job was asked, in a few words: its instruction, prompt, text or question, else
    the names of its input files."""
    values = (request_fields.get(name) for name in SUMMARY_FIELDS)
    text = next((v for v in values if isinstance(v, str) and v.strip()), "")
    text = " ".join(text.split()) or ", ".join(file_names)
    if len(text) > SUMMARY_LENGTH:
        text = text[: SUMMARY_LENGTH - 1].rstrip() + "…"
    return text


def draft_of(prepared: PreparedJob) -> Draft:
    """The draft that prepares the same job again: the same plugin, request, options (the
    seed already chosen), device, input files and project assets, and recipe details."""
    job = prepared.job
    files = tuple((item.role, item.path) for item in prepared.files)
    file_roles = {role for role, _ in files}
    assets = tuple(
        RecipeInput(asset_id=item.asset_id, role=item.role)
        for item in job.request.inputs
        if item.asset_id and item.role not in file_roles
    )
    return Draft(
        plugin_id=job.plugin_id,
        panel=job.panel,
        fields=request_values(job.request),
        load_options=dict(job.load_options),
        run_options=dict(job.run_options),
        device=job.device,
        files=files,
        assets=assets,
        details=dict(prepared.details),
    )


class JobsModel(QAbstractTableModel):
    """The jobs of every watched runner, oldest first (see the module's docstring).

    Signals:
        job_changed(job_id): a row changed (its state, progress or result).
    """

    job_changed = Signal(str)

    def __init__(self, registry: PluginRegistry | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.registry = registry
        self._rows: list[JobRow] = []
        self._panels: dict[PanelJobRunner, Panel] = {}

    def watch(self, panel: Panel, runner: PanelJobRunner) -> None:
        """List every job submitted to ``runner`` from now on."""
        self._panels[runner] = panel
        runner.submitted.connect(self._on_submitted)
        runner.waiting.connect(self._on_waiting)
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)
        runner.cancelled.connect(self._on_cancelled)
        runner.stopped_by_force.connect(self._on_stopped_by_force)

    # rows ------------------------------------------------------------------------------------

    def job(self, row: int) -> JobRow:
        return self._rows[row]

    def find(self, job_id: str) -> JobRow | None:
        row = self.row_of(job_id)
        return None if row is None else self._rows[row]

    def row_of(self, job_id: str) -> int | None:
        for row in range(len(self._rows) - 1, -1, -1):  # the newest are the busy ones
            if self._rows[row].job_id == job_id:
                return row
        return None

    def jobs(self) -> list[JobRow]:
        return list(self._rows)

    def counts(self) -> dict[JobState, int]:
        result = dict.fromkeys(JobState, 0)
        for item in self._rows:
            result[item.state] += 1
        return result

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job: a queued one is dropped at once, a running one
        says "Cancelling…" until it has stopped. False when it is not active."""
        item = self.find(job_id)
        if item is None or not item.state.active or not item.runner.cancel_job(job_id):
            return False
        if item.state.active:  # running: it stops at its next step

            def update(row: JobRow) -> None:
                row.cancelling = True

            self._changed(job_id, update)
        return True

    def clear_ended(self) -> int:
        """Take away every job that ended (done, failed or cancelled); returns how many."""
        return self._remove(lambda item: not item.state.active)

    def _remove(self, which, limit: int | None = None) -> int:
        removed = 0
        row = 0
        while row < len(self._rows) and (limit is None or removed < limit):
            if which(self._rows[row]):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
                removed += 1
            else:
                row += 1
        return removed

    def add_job(
        self, panel: Panel, runner: PanelJobRunner, job_id: str, what: PreparedJob | JobSource
    ) -> JobRow:
        """A job was submitted to ``runner`` (a :class:`PreparedJob`, or a batch's source)."""
        if isinstance(what, PreparedJob):
            draft: Draft | None = draft_of(what)
            assert draft is not None
            plugin_id = draft.plugin_id
            names = [path.name for _, path in draft.files]
            summary = summary_of(draft.fields, names)
            batch = False
        else:
            # A caption batch tells its settings as a draft without an image.
            settings = getattr(what, "draft", None)
            first = settings() if callable(settings) else None
            plugin_id = first.plugin_id if isinstance(first, Draft) else ""
            asked = summary_of(first.fields, []) if isinstance(first, Draft) else ""
            summary = f"batch · {asked}" if asked else "batch"
            draft, batch = None, True
        item = JobRow(
            job_id=job_id,
            panel=panel,
            runner=runner,
            plugin_id=plugin_id,
            plugin_name=self._plugin_name(plugin_id),
            summary=summary,
            draft=draft,
            batch=batch,
        )
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(item)
        self.endInsertRows()
        ended = sum(1 for r in self._rows if not r.state.active)
        if ended > MAX_ENDED:
            self._remove(lambda r: not r.state.active, ended - MAX_ENDED)
        return item

    def _plugin_name(self, plugin_id: str) -> str:
        if not plugin_id:
            return "Batch"
        if self.registry is not None:
            try:
                return self.registry.get(plugin_id).name
            except Exception:  # not installed any more: its id says enough
                pass
        return plugin_id

    def _changed(self, job_id: str, update) -> None:
        row = self.row_of(job_id)
        if row is None:
            return
        update(self._rows[row])
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))
        self.job_changed.emit(job_id)

    # from the runners ------------------------------------------------------------------------

    @Slot(str, object)
    def _on_submitted(self, job_id: str, what: PreparedJob | JobSource) -> None:
        runner = self.sender()
        if isinstance(runner, PanelJobRunner) and runner in self._panels:
            self.add_job(self._panels[runner], runner, job_id, what)

    @Slot(str, int)
    def _on_waiting(self, job_id: str, position: int) -> None:
        def update(item: JobRow) -> None:
            item.state, item.position = JobState.WAITING, position

        self._changed(job_id, update)

    @Slot(str)
    def _on_started(self, job_id: str) -> None:
        def update(item: JobRow) -> None:
            item.state = JobState.RUNNING
            item.started_at = item.started_at or datetime.now()

        self._changed(job_id, update)

    @Slot(str, object, str, object)
    def _on_progress(self, job_id: str, fraction: Any, message: str, eta: Any) -> None:
        def update(item: JobRow) -> None:
            item.state = JobState.RUNNING
            item.fraction, item.message, item.eta = fraction, message, eta

        self._changed(job_id, update)

    def _end(self, job_id: str, state: JobState, asset_ids: tuple[str, ...], error: str) -> None:
        def update(item: JobRow) -> None:
            item.state, item.asset_ids, item.error = state, tuple(asset_ids), error
            item.ended_at, item.eta = datetime.now(), None
            if state is JobState.DONE:
                item.fraction = 1.0

        self._changed(job_id, update)

    @Slot(str, object)
    def _on_finished(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._end(job_id, JobState.DONE, asset_ids, "")

    @Slot(str, str)
    def _on_failed(self, job_id: str, message: str) -> None:
        self._end(job_id, JobState.FAILED, (), message)

    @Slot(str, object)
    def _on_cancelled(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._end(job_id, JobState.CANCELLED, asset_ids, "")

    @Slot(str)
    def _on_stopped_by_force(self, job_id: str) -> None:
        def update(item: JobRow) -> None:
            item.forced = True

        self._changed(job_id, update)

    # the Qt model ------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        item = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is Column.JOB:
                return f"{item.title}\n{item.job_id}"
            if column is Column.STATE:
                return item.state_words
            if column is Column.RESULT and item.error:
                return item.error
            return self._display(item, column) or None
        if role == FRACTION_ROLE:
            return item.fraction
        if role == STATE_ROLE:
            return item.state
        return None

    @staticmethod
    def _display(item: JobRow, column: Column) -> str:
        if column is Column.PANEL:
            return PANEL_NAMES.get(item.panel, str(item.panel.value))
        if column is Column.JOB:
            return item.title
        if column is Column.STATE:
            return item.short_state
        if column is Column.PROGRESS:
            return item.progress_words
        if column is Column.TIME_LEFT:
            return format_duration(item.eta) if item.eta is not None else ""
        if column is Column.STARTED:
            return _clock(item.started_at)
        if column is Column.ENDED:
            return _clock(item.ended_at)
        return item.result_words


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment is not None else ""
