"""Run a panel's plugins in a child process: the window never waits on a model's GIL.

Importing torch in a worker thread stalls every Python slot of the GUI for 0.4-0.6 s (the import
holds the GIL; bench/bench_heartbeat.py measures it), and model code in Python loops does the
same in smaller pieces. A :class:`ProcessExecutor` is an executor
(:class:`~studio.core.executor.Executor`) like :class:`~studio.core.jobs.JobExecutor`, but runs
the job in a child process of its own: checked jobs go in, events come out, as the frozen
messages of :mod:`studio.core.process_messages`
(DESIGN.md: a transport change, not an API change). The parent keeps what must be shared:
checking the job, the device scheduler, the asset sink that commits to the project (so every
write still goes through the project's single writer), and the one memory budget
(:class:`~studio.core.model_budget.ModelBudget`) the child asks before each load and tells of
each model it loads and unloads. A reader thread takes everything the child says: job messages
go to the job's thread, budget messages are answered at once (also during a warm-up, when no
job runs). A crash of a native library ends only the child; the next job starts a new one.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from studio.core.device import resolve_device
from studio.core.errors import UserError
from studio.core.jobs import (
    AssetSink,
    Job,
    JobCancelled,
    JobEvent,
    JobExecutor,
    JobFailed,
    JobOutcome,
    Waiting,
)
from studio.core.model_budget import ModelBudget
from studio.core.plugin_sandbox import hosted_plugin
from studio.core.process_messages import (
    AssetReady,
    AssetRefused,
    AssetStored,
    BudgetMessage,
    EventMessage,
    JobCancelledMessage,
    JobDone,
    JobError,
    JobRefused,
    ModelKept,
    ModelLoaded,
    ModelLoadFailed,
    ModelUnloaded,
    ModelUsed,
    Prepared,
    PreparePlugin,
    RoomFor,
    RoomMade,
    RunJob,
    Stop,
    UnloadModel,
)
from studio.plugin_api import CancelToken

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05

FORCE_CANCEL_AFTER_S = 5.0
"""How long a cancelled job may take to stop by itself before its model process is ended (a
plugin that never looks at its cancel token would otherwise hold the device, and Quit, forever)."""

UNLOAD_WAIT_S = 30.0
"""How long the budget waits for an idle model process to unload a model it asked for."""

STOP_WAIT_S = 2.0
"""How long :meth:`ProcessExecutor.shutdown` waits for a running job to stop when asked, before
ending the model process (Quit returns within a few seconds whatever the plugin does)."""


@dataclass(frozen=True)
class ChildConfig:
    """What the child needs to build its own executor (plain data, sent at spawn)."""

    data_dir: Path
    plugin_dirs: tuple[Path, ...]
    environ: dict[str, str]
    plugin_id: str = ""
    """The one third-party plugin the process runs, confined to what its manifest declares
    (:mod:`studio.core.plugin_sandbox`); "" for the built-ins' process. Set at each start."""


class ModelProcessCrashed(JobFailed):
    """The model process ended in the middle of a job (a crash in native code, or killed)."""


CRASHES_BEFORE_REFUSING = 2
"""A model the process crashed on this many times is not run again in this session."""


def exit_description(code: int | None) -> str:
    """How a process ended, in words ("SIGSEGV, a crash in native code")."""
    import signal

    if code is None:
        return "no exit code"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT"):
            return f"{name}, a crash in native code"
        return f"ended by {name}"
    return f"exit code {code}"


class _Ended:
    """Put in the inbox by the reader thread when the child's end of the pipe closed."""


class ProcessExecutor:
    """Runs jobs like :class:`JobExecutor`, but inside one child process (started on first use)."""

    def __init__(
        self,
        local: JobExecutor,
        config: ChildConfig,
        name: str,
        budget: ModelBudget | None = None,
    ) -> None:
        self.local = local
        self.config = config
        self.name = name
        self.budget = budget
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()  # one job (or unload) at a time
        self._send_lock = threading.Lock()  # the job's thread and the reader both answer
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._owner = name  # the child's name in the budget (with its pid once started)
        self._warming = 0  # PreparePlugin messages the child has not answered yet
        self._starts = 0
        self._state_lock = threading.Lock()  # _warming, _unload_answers, _owner: reader vs rest
        self._unload_answers: dict[str, tuple[threading.Event, list[bool]]] = {}
        self._cancel = self._context.Event()
        self._crashes: dict[tuple[str, str], int] = {}
        self._stopping = threading.Event()  # shutdown: a running job gets STOP_WAIT_S, no more

    # the Executor protocol ------------------------------------------------------------------

    def check(self, job: Job) -> Job:
        return self.local.check(job)

    def execute(
        self,
        job: Job,
        cancel: CancelToken,
        on_event: Callable[[JobEvent], None] = lambda event: None,
        sink: AssetSink | None = None,
    ) -> JobOutcome:
        sink = sink or self.local.sink
        if sink is None:
            raise RuntimeError("no asset sink: nothing could keep the results")
        # Checked once, here in the parent (the pipeline has done it already): the seed the
        # recipe records is the one the child uses, and the child does not check again.
        job = self.local.check(job)
        crash_key = (job.plugin_id, repr(sorted(job.load_options.items())))
        if self._crashes.get(crash_key, 0) >= CRASHES_BEFORE_REFUSING:
            raise ModelProcessCrashed(self._crashed_twice(job))
        device = resolve_device(job.device, self.local.devices)
        scheduler = self.local.scheduler
        # The window's turn for the device; the model process takes the CPU lease itself.
        waiting = lambda pos: on_event(Waiting(pos))  # noqa: E731
        with self._lock, scheduler.slot(device, cancel, waiting, lease=False):
            self._ensure_child(job.plugin_id)
            inbox = self._inbox
            self._cancel.clear()
            self._send(RunJob(job))
            try:
                return self._follow(job, inbox, cancel, on_event, sink)
            except ModelProcessCrashed:
                self._crashes[crash_key] = self._crashes.get(crash_key, 0) + 1
                if self._crashes[crash_key] >= CRASHES_BEFORE_REFUSING:
                    raise ModelProcessCrashed(self._crashed_twice(job)) from None
                raise

    def _crashed_twice(self, job: Job) -> str:
        """Why a job is refused after its model crashed the process twice, and what else to
        use (the panel's next plugin that works here)."""
        from studio.core.panel_defaults import alternative

        registry = self.local.registry
        name = registry.get(job.plugin_id).name
        other = None
        if self.local.engine_checks is not None:
            other = alternative(registry, self.local.engine_checks, job.panel, job.plugin_id)
        advice = f"use {other.name} instead" if other else "choose another model"
        return (
            f"{name} crashed the model process twice with this model, so it is not started "
            f"into the same crash again: {advice} (the log has the crash's stack)."
        )

    # the child -------------------------------------------------------------------------------

    def _ensure_child(self, plugin_id: str) -> multiprocessing.connection.Connection:
        """The model process for ``plugin_id``: it runs the built-ins, or one third-party plugin
        (confined to what its manifest declares), never both; a running one for the other kind
        is ended first (the panel's executor never mixes them: this keeps it so)."""
        hosted = hosted_plugin(self.local.registry, plugin_id)
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            if hosted == self.config.plugin_id:
                return self._conn
            log.info(
                "model process %s ran %s; '%s' needs another: starting a new one",
                self.name,
                f"'{self.config.plugin_id}'" if self.config.plugin_id else "built-ins",
                plugin_id,
            )
            process = self._process
            self._forget_child()
            process.join(5)
        from studio.core.process_child import child_main

        self.config = replace(self.config, plugin_id=hosted)
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=child_main,
            args=(child_end, self._cancel, self.config),
            name=f"studio-models-{self.name}",
            daemon=True,
        )
        process.start()
        child_end.close()
        self._process, self._conn = process, parent_end
        self._inbox = queue.Queue()
        self._starts += 1
        owner = f"model process '{self.name}' (pid {process.pid})"
        if self._starts > 1:
            owner = f"model process '{self.name}' #{self._starts} (pid {process.pid})"
        self._owner = owner
        self._warming = 0
        if self.budget is not None:
            # Asks this child only: after a restart, the new one has its own entry.
            self.budget.add_owner(
                owner, lambda key: self.unload_model(key) if self._owner == owner else True
            )
        threading.Thread(
            target=self._read,
            args=(parent_end, process, self._inbox, owner),
            name=f"studio-models-{self.name}-reader",
            daemon=True,
        ).start()
        log.info("started model process %s (pid %s)", process.name, process.pid)
        return parent_end

    def _send(self, message: Any) -> None:
        with self._send_lock:
            if self._conn is None:
                raise BrokenPipeError("the model process is not running")
            self._conn.send(message)

    def _read(
        self,
        conn: multiprocessing.connection.Connection,
        process: multiprocessing.process.BaseProcess,
        inbox: queue.Queue[Any],
        owner: str,
    ) -> None:
        """The reader thread of one child: job messages to ``inbox``, budget messages
        answered here, until the child ends (its pipe closes, or the process is gone even if
        something it started keeps the pipe open)."""
        try:
            while True:
                try:
                    ready = multiprocessing.connection.wait([conn, process.sentinel])
                    if conn not in ready:
                        break  # the process ended and said nothing more
                    message = conn.recv()
                except (EOFError, OSError):
                    break
                if isinstance(message, BudgetMessage):
                    self._on_budget_message(conn, owner, message)
                elif isinstance(message, Prepared):
                    with self._state_lock:
                        if self._owner == owner:
                            self._warming = max(0, self._warming - 1)
                else:
                    inbox.put(message)
        finally:
            inbox.put(_Ended())
            with self._state_lock:
                if self._owner == owner:
                    self._warming = 0
                    for event, _ in list(self._unload_answers.values()):
                        event.set()
            if self.budget is not None:
                self.budget.forget_owner(owner)
            with self._send_lock, contextlib.suppress(OSError):
                conn.close()

    def _on_budget_message(
        self, conn: multiprocessing.connection.Connection, owner: str, message: Any
    ) -> None:
        budget = self.budget
        if isinstance(message, RoomFor | ModelLoaded):
            unload: list[str] | None = []
            try:
                if budget is not None and isinstance(message, RoomFor):
                    unload = budget.before_load(
                        owner, message.key, message.label, message.estimate, message.optional
                    )
                elif budget is not None and isinstance(message, ModelLoaded):
                    unload = budget.loaded(
                        owner, message.key, message.label, message.size, message.optional
                    )
            except Exception:
                log.exception("the memory budget failed to answer %s", owner)
            finally:  # the child waits for this answer, whatever happened
                answer = RoomMade(refused=True) if unload is None else RoomMade(tuple(unload))
                with self._send_lock, contextlib.suppress(OSError):
                    conn.send(answer)
            return
        if budget is not None:
            if isinstance(message, ModelLoadFailed):
                budget.load_failed(owner, message.key)
            elif isinstance(message, ModelUsed):
                budget.used(owner, message.key)
            elif isinstance(message, ModelUnloaded):
                budget.unloaded(owner, message.key)
        if isinstance(message, ModelUnloaded | ModelKept):
            with self._state_lock:
                answer = self._unload_answers.get(message.key) if self._owner == owner else None
            if answer is not None:
                answer[1].append(isinstance(message, ModelUnloaded))
                answer[0].set()

    def unload_model(self, key: str) -> bool:
        """Ask the model process to unload ``key`` (for the budget): True once it has. False
        at once when a job or a warm-up runs there (the budget asks another)."""
        if self._warming or not self._lock.acquire(blocking=False):
            return False
        try:
            process = self._process
            if self._warming:
                return False
            if self._conn is None or process is None or not process.is_alive():
                return True  # the process is gone, and its models with it
            event, gone = threading.Event(), []
            with self._state_lock:
                self._unload_answers[key] = (event, gone)
            try:
                self._send(UnloadModel(key))
                if not event.wait(UNLOAD_WAIT_S):
                    return False
            except OSError:
                return True
            finally:
                with self._state_lock:
                    self._unload_answers.pop(key, None)
            return not gone or gone[0]
        finally:
            self._lock.release()

    def _follow(
        self,
        job: Job,
        inbox: queue.Queue[Any],
        cancel: CancelToken,
        on_event: Callable[[JobEvent], None],
        sink: AssetSink,
    ) -> JobOutcome:
        committed: list[str] = []
        cancelled_at: float | None = None
        while True:
            if cancel.cancelled or self._stopping.is_set():
                self._cancel.set()
                now = time.monotonic()
                cancelled_at = cancelled_at if cancelled_at is not None else now
                wait = STOP_WAIT_S if self._stopping.is_set() else FORCE_CANCEL_AFTER_S
                if now - cancelled_at >= wait:
                    self._force_stop(job, wait)
                    raise JobCancelled(tuple(committed), forced=True)
            try:
                message = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                process = self._process
                if process is not None and not process.is_alive() and inbox.empty():
                    inbox.put(_Ended())  # the reader says so too; whichever comes first
                continue
            if isinstance(message, _Ended):
                code = None
                if self._process is not None:
                    self._process.join(2)  # reap it, so its exit code is known
                    code = self._process.exitcode
                self._forget_child()
                log.error("model process %s ended during job %s: %s", self.name, job.job_id, code)
                name = self.local.registry.get(job.plugin_id).name
                raise ModelProcessCrashed(
                    f"The model process stopped unexpectedly while running {name} "
                    f"({exit_description(code)}); the next job starts a new one."
                )
            if isinstance(message, EventMessage):
                on_event(message.event)
            elif isinstance(message, AssetReady):
                try:
                    asset_id = sink(message.produced)
                except UserError as exc:  # an input refused by its complete check
                    self._answer(AssetRefused(str(exc)))
                    continue
                except Exception as exc:
                    log.exception("committing an asset failed")
                    self._answer(AssetRefused(f"The asset could not be saved: {exc}"))
                    continue
                committed.append(asset_id)
                self._answer(AssetStored(asset_id))
            elif isinstance(message, JobDone):
                return JobOutcome(job_id=job.job_id, asset_ids=tuple(committed))
            elif isinstance(message, JobCancelledMessage):
                raise JobCancelled(tuple(committed))
            elif isinstance(message, JobRefused):
                raise UserError(message.message)
            elif isinstance(message, JobError):
                raise JobFailed(message.message)

    def _answer(self, message: Any) -> None:
        with contextlib.suppress(OSError):  # a dead child is noticed by the reader
            self._send(message)

    def prepare_plugin(
        self,
        plugin_id: str,
        load_options: Mapping[str, Any] | None = None,
        device: str = "auto",
    ) -> None:
        """Start the model process now and let the plugin import its libraries there, so the
        first Run does not wait for them. With ``load_options``, also load that model into the
        process's cache (a warm-up: a Run sent meanwhile waits for it and then finds the model
        loaded; Cancel stops it). Never blocks on a running job."""
        if not self._lock.acquire(blocking=False):
            return  # a job is running: the process is warm anyway
        options = None if load_options is None else dict(load_options)
        try:
            self._cancel.clear()
            self._ensure_child(plugin_id)
            with self._state_lock:
                self._warming += 1  # until the child says Prepared
            self._send(PreparePlugin(plugin_id, options, device))
        except OSError:
            self._forget_child()
        finally:
            self._lock.release()

    def _force_stop(self, job: Job, waited: float) -> None:
        """End the model process of a job that did not stop when asked; the next job starts a
        new one (its models load again)."""
        name = self.local.registry.get(job.plugin_id).name
        log.warning(
            "%s did not stop within %.1f s of its cancel: ending the model process %s",
            name,
            waited,
            self.name,
        )
        process = self._process
        self._forget_child()  # kills it
        if process is not None:
            process.join(5)

    def _forget_child(self) -> None:
        """End the child (its reader thread sees the pipe close, tells the budget its models
        are gone, and closes the parent's end)."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        self._process = self._conn = None

    @property
    def warming(self) -> bool:
        """The child is still on a PreparePlugin (importing, or a warm-up load)."""
        return self._warming > 0

    @property
    def child_pid(self) -> int | None:
        process = self._process  # read once: another thread may forget it meanwhile
        return process.pid if process is not None and process.is_alive() else None

    @property
    def child_pids(self) -> list[int]:
        pid = self.child_pid
        return [] if pid is None else [pid]

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the model process. A running job is asked to stop and gets :data:`STOP_WAIT_S`;
        then its process is ended, so this returns within a few seconds whatever it does."""
        self._stopping.set()
        self._cancel.set()
        acquired = self._lock.acquire(timeout=STOP_WAIT_S + 2 * POLL_SECONDS + 1.0)
        try:
            if self._conn is not None and acquired:
                with contextlib.suppress(OSError):
                    self._send(Stop())
            if self._process is not None and acquired:
                self._process.join(timeout)
            self._forget_child()
        finally:
            if acquired:
                self._stopping.clear()  # started again by a later job, if any
                self._lock.release()


QUIET_LIBRARIES = {
    "TQDM_DISABLE": "1",  # every tqdm bar: transformers' and diffusers' loading, the hub's
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",  # advice such as "install torchvision", on every load
    "DIFFUSERS_VERBOSITY": "error",
}
"""What keeps model libraries from writing progress bars and advice to the terminal: a job
reports its progress as events, which the window and ``studio generate`` show in their own way.
Read by the libraries when they are imported; a value the user set is kept."""


def quiet_model_libraries(environ: MutableMapping[str, str] | None = None) -> None:
    """Set :data:`QUIET_LIBRARIES` in ``environ`` (the process's) where not set already."""
    environ = os.environ if environ is None else environ
    for name, value in QUIET_LIBRARIES.items():
        environ.setdefault(name, value)


def model_process_executor(services: Any, name: str) -> ProcessExecutor:
    """A model process (started on first use) that runs jobs for ``services``' executor: how
    the window runs each panel's jobs, and the command line its one job."""
    environ = dict(os.environ)
    quiet_model_libraries(environ)
    config = ChildConfig(
        data_dir=services.paths.data_dir,
        plugin_dirs=services.paths.plugin_dirs,
        environ=environ,
    )
    return ProcessExecutor(services.executor, config, name, services.budget)
