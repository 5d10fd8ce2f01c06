"""A panel's job queue and worker thread, turning a plugin's events into Qt signals.

One :class:`PanelJobRunner` per panel. Jobs go into its queue; its worker thread runs them one
after the other through the shared :class:`~studio.core.jobs.JobExecutor` (which also waits for
the device, so two panels never oversubscribe the CPU). The runner lives in the GUI thread and
all its public signals are emitted there, so widgets can connect anything to them.

Streaming is batched: text pieces and previews are collected in the worker and delivered at
most every :data:`STREAM_INTERVAL_MS` milliseconds, whatever the model's speed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from studio.core.input_import import InputImport
from studio.core.jobs import (
    AssetSink,
    Job,
    JobCancelled,
    JobEvent,
    JobExecutor,
    Started,
    Waiting,
    readable_error,
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
    pending: bool = False


class _NotifyingSink:
    """Commits through the real sink, then says so (from the worker thread)."""

    def __init__(self, sink: AssetSink, notify) -> None:
        self.sink = sink
        self.notify = notify

    def __call__(self, produced) -> str:
        asset_id = self.sink(produced)
        self.notify(asset_id)
        return asset_id


class _Worker(QThread):
    """Takes jobs from the queue and runs them; talks to the runner only through signals."""

    event = Signal(str, object)  # job id, JobEvent
    stream_ready = Signal(str)  # job id: text or a preview waits in the stream buffer
    finished_job = Signal(str, object)  # job id, tuple of asset ids
    failed_job = Signal(str, str)  # job id, readable message
    cancelled_job = Signal(str, object)  # job id, tuple of kept asset ids
    asset_saved_job = Signal(str, str)  # job id, asset id: one result committed mid-job

    def __init__(self, executor: JobExecutor, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.executor = executor
        self.jobs: queue.Queue[
            tuple[Job, CancelToken, AssetSink | None, InputImport | None] | None
        ] = queue.Queue()
        self.streams: dict[str, _Stream] = {}

    def run(self) -> None:
        threading.current_thread().name = self.objectName()
        while True:
            item = self.jobs.get()
            if item is None:
                return
            job, cancel, sink, inputs = item
            stream = self.streams.setdefault(job.job_id, _Stream())
            if cancel.cancelled:
                self.cancelled_job.emit(job.job_id, ())
                continue
            real_sink = sink or self.executor.sink
            if real_sink is not None:
                if inputs is not None:
                    real_sink = inputs.sink(real_sink)
                real_sink = _NotifyingSink(
                    real_sink, partial(self.asset_saved_job.emit, job.job_id)
                )
            if inputs is not None:
                inputs.when_refused(cancel.cancel)  # a refused input stops the job at once
            try:
                outcome = self.executor.execute(
                    job, cancel, partial(self._on_event, job, stream), real_sink
                )
            except Exception as exc:
                # An input refused by its import explains the end better than the plugin can
                # (and nothing was committed: results wait for the import).
                refused = inputs.error() if inputs is not None else None
                if refused is not None:
                    self.failed_job.emit(job.job_id, refused)
                elif isinstance(exc, JobCancelled):
                    self.cancelled_job.emit(job.job_id, exc.asset_ids)
                elif isinstance(exc, Cancelled):
                    self.cancelled_job.emit(job.job_id, ())
                else:
                    log.exception("job %s (%s) failed", job.job_id, job.plugin_id)
                    self.failed_job.emit(job.job_id, readable_error(exc))
            else:
                refused = inputs.error() if inputs is not None else None
                if refused is not None:
                    self.failed_job.emit(job.job_id, refused)
                else:
                    self.finished_job.emit(job.job_id, outcome.asset_ids)

    def _on_event(self, job: Job, stream: _Stream, event: JobEvent) -> None:
        if isinstance(event, Partial):
            with stream.lock:
                if event.text:
                    stream.text.append(event.text)
                if event.data:
                    stream.preview = event
                notify = not stream.pending
                stream.pending = True
            if notify:
                self.stream_ready.emit(job.job_id)
        else:
            self.event.emit(job.job_id, event)


class PanelJobRunner(QObject):
    """The job queue of one panel. Lives in the GUI thread; its signals arrive there too.

    Signals (all with the job id first):
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
    """

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

    def __init__(self, executor: JobExecutor, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tokens: dict[str, CancelToken] = {}
        self._started_at: dict[str, float] = {}
        self._order: list[str] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush_streams)
        self.executor = executor
        self._worker = _Worker(executor, f"jobs-{name}")
        self._worker.event.connect(self._on_event)
        self._worker.stream_ready.connect(self._on_stream_ready)
        self._worker.finished_job.connect(self._on_finished)
        self._worker.failed_job.connect(self._on_failed)
        self._worker.cancelled_job.connect(self._on_cancelled)
        self._worker.asset_saved_job.connect(self._on_asset_saved)
        self._worker.start()

    # the queue ---------------------------------------------------------------------------

    def submit(
        self, job: Job, sink: AssetSink | None = None, inputs: InputImport | None = None
    ) -> str:
        """Queue a job whose assets go to ``sink`` (default: the executor's); returns its id.
        ``inputs``: the job's input files on their way into the project; results are committed
        only after they are, and a refused input fails the job with its own message."""
        token = CancelToken()
        self._tokens[job.job_id] = token
        self._order.append(job.job_id)
        self._worker.jobs.put((job, token, sink, inputs))
        self.queued.emit(job.job_id)
        return job.job_id

    def cancel(self, job_id: str | None = None) -> None:
        """Cancel one job, or (without an id) every job of this panel, running or queued."""
        for jid in [job_id] if job_id else list(self._order):
            token = self._tokens.get(jid)
            if token is not None:
                token.cancel()

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
        self._worker.jobs.put(None)
        return self._worker.wait(timeout_ms)

    # from the worker (queued into the GUI thread) ----------------------------------------

    @Slot(str, object)
    def _on_event(self, job_id: str, event: JobEvent) -> None:
        if isinstance(event, Waiting):
            self.waiting.emit(job_id, event.position)
        elif isinstance(event, Started):
            self._started_at[job_id] = time.monotonic()
            self.started.emit(job_id)
        elif isinstance(event, Progress):
            self.progress.emit(
                job_id, event.fraction, event.message, self._eta(job_id, event.fraction)
            )

    def _eta(self, job_id: str, fraction: float | None) -> float | None:
        start = self._started_at.get(job_id)
        if start is None or not fraction or fraction >= 1.0:
            return None
        elapsed = time.monotonic() - start
        return elapsed * (1.0 - fraction) / fraction if elapsed > 0.5 else None

    @Slot(str)
    def _on_stream_ready(self, job_id: str) -> None:
        if not self._timer.isActive():
            self._timer.start(STREAM_INTERVAL_MS)

    @Slot()
    def _flush_streams(self) -> None:
        for job_id, stream in list(self._worker.streams.items()):
            with stream.lock:
                text = "".join(stream.text)
                preview = stream.preview
                stream.text.clear()
                stream.preview = None
                stream.pending = False
            if text:
                self.text.emit(job_id, text)
            if preview is not None:
                self.preview.emit(job_id, preview.data, preview.media_type)

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
