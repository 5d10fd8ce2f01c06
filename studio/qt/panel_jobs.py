"""A panel's job queue and worker thread, turning a plugin's events into Qt signals.

One :class:`PanelJobRunner` per panel. Prepared jobs (:class:`~studio.core.pipeline.PreparedJob`)
go into its queue, alone or as a batch (a :class:`JobSource` that makes them one at a time);
its worker thread runs them one after the other on the panel's executor
(:class:`~studio.core.executor.Executor`, which also waits for the device, so two panels never
oversubscribe the CPU). The runner lives in the GUI thread and all its public signals are
emitted there, so widgets can connect anything to them.

Streaming is batched: text pieces, previews and progress are collected in the worker and
delivered at most every :data:`STREAM_INTERVAL_MS` milliseconds, whatever the model's speed
(the first of a burst at once, so the first words or audio show without delay). Each delivery
repaints part of the window, and on a small machine the GUI's work is taken from the CPU the
model is using.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from studio.core.errors import UserError
from studio.core.executor import Executor
from studio.core.jobs import JobCancelled, JobEvent, JobOutcome, Started, Waiting, readable_error
from studio.core.pipeline import (
    CommittedResult,
    JobSource,
    PreparedJob,
    ResultSink,
    execute_prepared,
    run_source,
)
from studio.plugin_api import Cancelled, CancelToken, Partial, Progress

log = logging.getLogger(__name__)

STREAM_INTERVAL_MS = 50


@dataclass
class _Stream:
    """What the worker collected since the GUI last took it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    text: list[str] = field(default_factory=list)
    preview: Partial | None = None
    progress: Progress | None = None
    pending: bool = False


@dataclass(frozen=True)
class _Entry:
    """One item of the queue: a job with its sink, or a batch."""

    entry_id: str
    cancel: CancelToken
    job: tuple[PreparedJob, ResultSink] | None = None
    source: JobSource | None = None


class _Worker(QThread):
    """Takes entries from the queue and runs them; talks to the runner only through signals."""

    event = Signal(str, object)  # entry id, JobEvent
    stream_ready = Signal(str)  # entry id: text or a preview waits in the stream buffer
    finished_job = Signal(str, object)  # entry id, tuple of asset ids
    failed_job = Signal(str, str)  # entry id, readable message
    cancelled_job = Signal(str, object)  # entry id, tuple of kept asset ids
    forced_job = Signal(str)  # entry id: its model process was ended to stop it
    asset_saved_job = Signal(str, str)  # entry id, asset id: one result committed mid-job

    def __init__(self, executor: Executor, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.executor = executor
        self.entries: queue.Queue[_Entry | None] = queue.Queue()
        self.streams: dict[str, _Stream] = {}
        self.lock = threading.Lock()
        self.untaken: set[str] = set()
        """Ids of entries in the queue not yet taken (guarded by ``lock``): one that
        :meth:`PanelJobRunner.cancel_job` removes from it is dropped when its turn comes."""

    def run(self) -> None:
        threading.current_thread().name = self.objectName()
        while True:
            entry = self.entries.get()
            if entry is None:
                return
            with self.lock:
                dropped = entry.entry_id not in self.untaken
                self.untaken.discard(entry.entry_id)
            if dropped:  # cancelled while queued: reported then, nothing more to say
                self._close(entry)
                continue
            self.streams.setdefault(entry.entry_id, _Stream())
            if entry.cancel.cancelled:
                self._close(entry)
                self.cancelled_job.emit(entry.entry_id, ())
            elif entry.job is not None:
                self._run_one(entry, *entry.job)
            else:
                self._run_batch(entry)

    @staticmethod
    def _close(entry: _Entry) -> None:
        if entry.job is not None:
            entry.job[0].close()  # its input files for the plugin go

    def _execute(self, entry: _Entry, prepared: PreparedJob, sink: ResultSink) -> JobOutcome:
        stream = self.streams.setdefault(entry.entry_id, _Stream())
        sink.add_listener(partial(self._announce, entry.entry_id))
        return execute_prepared(
            self.executor,
            prepared,
            sink,
            entry.cancel,
            partial(self._on_event, entry.entry_id, stream),
        )

    def _announce(self, entry_id: str, committed: CommittedResult) -> None:
        if committed.asset_id:
            self.asset_saved_job.emit(entry_id, committed.asset_id)

    def _run_one(self, entry: _Entry, prepared: PreparedJob, sink: ResultSink) -> None:
        try:
            outcome = self._execute(entry, prepared, sink)
        except Exception as exc:
            self._report_error(entry.entry_id, exc, prepared)
        else:
            self.finished_job.emit(entry.entry_id, outcome.asset_ids)

    def _report_error(
        self, entry_id: str, error: BaseException, prepared: PreparedJob | None = None
    ) -> None:
        if isinstance(error, JobCancelled):
            if error.forced:
                self.forced_job.emit(entry_id)
            self.cancelled_job.emit(entry_id, error.asset_ids)
        elif isinstance(error, Cancelled):
            self.cancelled_job.emit(entry_id, ())
        else:
            if not isinstance(error, UserError) and prepared is not None:
                log.error(
                    "job %s (%s) failed", prepared.job_id, prepared.job.plugin_id, exc_info=error
                )
            self.failed_job.emit(entry_id, readable_error(error))

    def _run_batch(self, entry: _Entry) -> None:
        assert entry.source is not None
        try:
            kept = run_source(
                entry.source,
                lambda prepared, sink: self._execute(entry, prepared, sink),
                entry.cancel,
            )
        except Exception as exc:
            log.exception("the batch %s failed", entry.entry_id)
            self.failed_job.emit(entry.entry_id, readable_error(exc))
            return
        if entry.cancel.cancelled:
            self.cancelled_job.emit(entry.entry_id, kept)
        else:
            self.finished_job.emit(entry.entry_id, kept)

    def _on_event(self, entry_id: str, stream: _Stream, event: JobEvent) -> None:
        if isinstance(event, Partial | Progress):
            with stream.lock:
                if isinstance(event, Progress):
                    stream.progress = event  # the latest is the one worth showing
                else:
                    if event.text:
                        stream.text.append(event.text)
                    if event.data:
                        stream.preview = event
                notify = not stream.pending
                stream.pending = True
            if notify:
                self.stream_ready.emit(entry_id)
        else:
            self.event.emit(entry_id, event)


class PanelJobRunner(QObject):
    """The job queue of one panel. Lives in the GUI thread; its signals arrive there too.

    Signals (all with the job's id first; a batch has one id for all its jobs):
        submitted(job_id, what): just before ``queued``: the :class:`PreparedJob`, or the
            batch's :class:`JobSource` (for a list of jobs: what each one is).
        queued(job_id): accepted into the queue.
        waiting(job_id, position): waiting for the device (another panel is running).
        started(job_id): running (the model is loaded now if it was not).
        progress(job_id, fraction or None, message, eta seconds or None)
        text(job_id, text): newly streamed text, batched.
        preview(job_id, data, media_type): the latest preview, batched.
        asset_saved(job_id, asset_id): one result was committed (a batch saves several).
        finished(job_id, asset ids)
        failed(job_id, message)
        cancelled(job_id, kept asset ids)
        stopped_by_force(job_id): just before ``cancelled``, when the job did not stop when
            asked and its model process was ended to stop it.
    """

    submitted = Signal(str, object)
    queued = Signal(str)
    waiting = Signal(str, int)
    started = Signal(str)
    progress = Signal(str, object, str, object)
    text = Signal(str, str)
    preview = Signal(str, bytes, str)
    asset_saved = Signal(str, str)
    finished = Signal(str, object)
    failed = Signal(str, str)
    cancelled = Signal(str, object)
    stopped_by_force = Signal(str)

    def __init__(self, executor: Executor, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tokens: dict[str, CancelToken] = {}
        self._started_at: dict[str, float] = {}
        self._order: list[str] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush_streams)
        self._last_flush = float("-inf")  # monotonic seconds of the last delivery
        self.executor = executor
        self._worker = _Worker(executor, f"jobs-{name}")
        self._worker.event.connect(self._on_event)
        self._worker.stream_ready.connect(self._on_stream_ready)
        self._worker.finished_job.connect(self._on_finished)
        self._worker.failed_job.connect(self._on_failed)
        self._worker.cancelled_job.connect(self._on_cancelled)
        self._worker.forced_job.connect(self.stopped_by_force)
        self._worker.asset_saved_job.connect(self._on_asset_saved)
        self._worker.start()

    # the queue ---------------------------------------------------------------------------

    def submit(self, prepared: PreparedJob, sink: ResultSink) -> str:
        """Queue a prepared job whose results go to ``sink``; returns its id. A refused input
        file fails the job with its own message (and nothing is committed)."""
        return self._put(prepared.job_id, job=(prepared, sink))

    def submit_batch(self, batch_id: str, source: JobSource) -> str:
        """Queue a batch: its jobs run one after the other under ``batch_id``, with one
        cancel; returns the id."""
        return self._put(batch_id, source=source)

    def _put(
        self,
        entry_id: str,
        job: tuple[PreparedJob, ResultSink] | None = None,
        source: JobSource | None = None,
    ) -> str:
        token = CancelToken()
        self._tokens[entry_id] = token
        self._order.append(entry_id)
        with self._worker.lock:
            self._worker.untaken.add(entry_id)
        self.submitted.emit(entry_id, job[0] if job is not None else source)
        self._worker.entries.put(_Entry(entry_id, token, job, source))
        self.queued.emit(entry_id)
        return entry_id

    def cancel(self, job_id: str | None = None) -> None:
        """Cancel one job, or (without an id) every job of this panel, running or queued."""
        for jid in [job_id] if job_id else list(self._order):
            token = self._tokens.get(jid)
            if token is not None:
                token.cancel()

    def cancel_job(self, job_id: str) -> bool:
        """Cancel one job (or batch) by its id. One still queued is dropped from the queue: its
        ``cancelled`` comes now, without waiting for the jobs ahead of it. One running (or
        waiting for the device) is asked to stop; its ``cancelled`` comes once it has, with
        what it kept. False when no job of that id is queued or running here."""
        token = self._tokens.get(job_id)
        if token is None:
            return False
        token.cancel()
        with self._worker.lock:
            dropped = job_id in self._worker.untaken
            self._worker.untaken.discard(job_id)
        if dropped:
            self._on_cancelled(job_id, ())
        return True

    @property
    def active_jobs(self) -> list[str]:
        """Ids of jobs queued or running, oldest first."""
        return list(self._order)

    @property
    def busy(self) -> bool:
        return bool(self._order)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything and stop the worker thread; True if it stopped in time."""
        self.cancel()
        self._worker.entries.put(None)
        return self._worker.wait(timeout_ms)

    # from the worker (queued into the GUI thread) ----------------------------------------

    @Slot(str, object)
    def _on_event(self, job_id: str, event: JobEvent) -> None:
        if isinstance(event, Waiting):
            self.waiting.emit(job_id, event.position)
        elif isinstance(event, Started):
            self._started_at.setdefault(job_id, time.monotonic())
            self.started.emit(job_id)

    def _eta(self, job_id: str, fraction: float | None) -> float | None:
        start = self._started_at.get(job_id)
        if start is None or not fraction or fraction >= 1.0:
            return None
        elapsed = time.monotonic() - start
        return elapsed * (1.0 - fraction) / fraction if elapsed > 0.5 else None

    @Slot(str)
    def _on_stream_ready(self, job_id: str) -> None:
        if self._timer.isActive():
            return
        since = (time.monotonic() - self._last_flush) * 1000
        if since >= STREAM_INTERVAL_MS:
            self._flush_streams()  # the first of a burst: at once
        else:
            self._timer.start(max(1, round(STREAM_INTERVAL_MS - since)))

    @Slot()
    def _flush_streams(self) -> None:
        self._last_flush = time.monotonic()
        for job_id, stream in list(self._worker.streams.items()):
            with stream.lock:
                text = "".join(stream.text)
                preview, progress = stream.preview, stream.progress
                stream.text.clear()
                stream.preview = stream.progress = None
                stream.pending = False
            if text:
                self.text.emit(job_id, text)
            if preview is not None:
                self.preview.emit(job_id, preview.data, preview.media_type)
            if progress is not None:
                self.progress.emit(
                    job_id,
                    progress.fraction,
                    progress.message,
                    self._eta(job_id, progress.fraction),
                )

    @Slot(str, str)
    def _on_asset_saved(self, job_id: str, asset_id: str) -> None:
        self._flush_streams()  # text streamed before this result belongs to it
        self.asset_saved.emit(job_id, asset_id)

    def _end(self, job_id: str) -> None:
        self._flush_streams()
        self._worker.streams.pop(job_id, None)
        self._tokens.pop(job_id, None)
        self._started_at.pop(job_id, None)
        if job_id in self._order:
            self._order.remove(job_id)

    @Slot(str, object)
    def _on_finished(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._end(job_id)
        self.finished.emit(job_id, asset_ids)

    @Slot(str, str)
    def _on_failed(self, job_id: str, message: str) -> None:
        self._end(job_id)
        self.failed.emit(job_id, message)

    @Slot(str, object)
    def _on_cancelled(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._end(job_id)
        self.cancelled.emit(job_id, asset_ids)
