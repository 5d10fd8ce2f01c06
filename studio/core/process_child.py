"""The model process: builds its own executor and runs the jobs its parent sends.

The messages, both ways, are the frozen dataclasses of :mod:`studio.core.process_messages`:
the parent sends :class:`PreparePlugin` (import a plugin's libraries, and warm a model up;
answered by :class:`Prepared`), :class:`RunJob`, :class:`AssetStored` or :class:`AssetRefused`
in answer to each result, :class:`UnloadModel` and :class:`Stop`; the child answers a job with
:class:`EventMessage` and :class:`AssetReady`, then one of :class:`JobDone`,
:class:`JobCancelledMessage`, :class:`JobRefused`, :class:`JobError`. Before each load it asks the
window's budget for room (:class:`RoomFor`), and it reports each model it loads, uses and
unloads.
The jobs it gets are checked already (:meth:`JobExecutor.check`, in the parent): they run as
they are.
The process of a third-party plugin is confined first (:mod:`studio.core.plugin_sandbox`: its
private packages on the path; the network blocked unless its manifest declares it) and runs
that plugin only; the built-ins' process runs no third-party plugin.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from studio.core.cpu_lease import CpuLease, lease_folder
from studio.core.device import detect_devices
from studio.core.errors import UserError
from studio.core.hashing import HashCache
from studio.core.jobs import JobCancelled, JobEvent, JobExecutor, ProducedAsset, readable_error
from studio.core.logs import configure_logging, enable_crash_stacks
from studio.core.model_cache import ModelCache
from studio.core.offline import enforce_offline
from studio.core.paths import Paths
from studio.core.plugin_sandbox import Confinement, confine_model_process, refusal
from studio.core.process_messages import (
    AssetReady,
    AssetRefused,
    AssetStored,
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
from studio.core.registry import PluginRegistry
from studio.core.safety.consent import ConsentStore
from studio.core.scheduler import DeviceScheduler
from studio.core.services import new_job_executor
from studio.plugin_api import Cancelled, CancelToken

log = logging.getLogger("studio.models")


class _SinkRefused(Exception):
    pass


class ParentLink:
    """The child's end of the pipe. Only the child's main thread uses it. A question (an asset
    to commit, room for a model) waits for its answer; anything else the parent sends meanwhile
    (an unload asked for while a warm-up loads) is kept for the main loop."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._kept: deque[Any] = deque()

    def send(self, message: Any) -> None:
        self.conn.send(message)

    def ask(self, message: Any, *answers: type) -> Any:
        self.conn.send(message)
        while True:
            reply = self.conn.recv()
            if isinstance(reply, answers):
                return reply
            self._kept.append(reply)

    def next(self) -> Any:
        return self._kept.popleft() if self._kept else self.conn.recv()


class BudgetReports:
    """The model cache's reports (:class:`~studio.core.model_cache.CacheReports`), sent to the
    window, which owns the one budget of all its processes."""

    def __init__(self, link: ParentLink) -> None:
        self.link = link

    def before_load(
        self, key: str, label: str, estimate: int, optional: bool = False
    ) -> list[str] | None:
        answer = self._ask(RoomFor(key, label, estimate, optional))
        return None if answer.refused else list(answer.unload)

    def loaded(self, key: str, label: str, size: int, optional: bool = False) -> list[str]:
        return list(self._ask(ModelLoaded(key, label, size, optional)).unload)

    def _ask(self, message: Any) -> RoomMade:
        try:
            return self.link.ask(message, RoomMade)
        except (EOFError, OSError):
            return RoomMade()

    def load_failed(self, key: str) -> None:
        self._send(ModelLoadFailed(key))

    def used(self, key: str) -> None:
        self._send(ModelUsed(key))

    def unloaded(self, key: str) -> None:
        self._send(ModelUnloaded(key))

    def _send(self, message: Any) -> None:
        with contextlib.suppress(OSError):
            self.link.send(message)


def build_child_executor(
    config: Any, reports: BudgetReports | None = None, registry: PluginRegistry | None = None
) -> JobExecutor:
    paths = Paths(data_dir=config.data_dir)
    paths = Paths(
        data_dir=config.data_dir,
        extra_plugin_dirs=tuple(d for d in config.plugin_dirs if d != paths.plugins_dir),
    )
    return new_job_executor(
        paths,
        registry or PluginRegistry(plugin_dirs=config.plugin_dirs),
        # The window's budget decides (asked before each load); alone, no limit of its own.
        ModelCache(sys.maxsize, reports),
        DeviceScheduler(lease=CpuLease(lease_folder(paths.data_dir))),
        detect_devices(),
        ConsentStore.in_data_dir(paths),
        HashCache.in_data_dir(paths),
    )


PARENT_WATCH_S = 0.5


def _end_with_parent() -> None:
    """End this process when the one that started it is gone (killed with SIGKILL, it could not
    say so): a job busy in a plugin's code never reads the closed pipe, and would run on,
    holding memory and CPU cores, for ever. A watching thread sees the parent change (the
    process is handed to init or a subreaper) and ends the process at once."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_WATCH_S)
        log.warning("the process that started this model process is gone; ending")
        os._exit(EXIT_PARENT_GONE)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


EXIT_PARENT_GONE = 3


def child_main(conn: Connection, cancel_event: Any, config: Any) -> None:
    """Entry point of the model process (spawned, so nothing is inherited but ``config``)."""
    os.environ.update(config.environ)
    enforce_offline()
    paths = Paths(data_dir=config.data_dir)
    configure_logging(paths)
    enable_crash_stacks(paths)
    os.set_inheritable(conn.fileno(), False)  # a program a plugin starts must not keep it
    registry = PluginRegistry(plugin_dirs=config.plugin_dirs)
    # A third-party plugin's process: its private packages, and no network unless its manifest
    # declares it; before any thread starts (a user namespace needs a single thread) and before
    # anything of the plugin is imported.
    confinement = confine_model_process(config.plugin_id, registry, paths)
    _end_with_parent()
    link = ParentLink(conn)
    executor = build_child_executor(config, BudgetReports(link), registry)
    if executor.scheduler.lease is not None:
        executor.scheduler.lease.start()

    def send_event(event: JobEvent) -> None:
        link.send(EventMessage(event))

    def sink(produced: ProducedAsset) -> str:
        answer = link.ask(AssetReady(produced), AssetStored, AssetRefused)
        if not isinstance(answer, AssetStored):
            raise _SinkRefused(answer.message)
        return answer.asset_id

    while True:
        try:
            message = link.next()
        except (EOFError, OSError):
            return  # the parent went away
        if isinstance(message, Stop):
            executor.cache.unload_all()
            return
        if isinstance(message, UnloadModel):
            had = executor.cache.has(message.key)
            if not executor.cache.unload(message.key):
                link.send(ModelKept(message.key))
            elif not had:  # gone already: say so (an unload the cache reports itself)
                link.send(ModelUnloaded(message.key))
            continue
        if isinstance(message, PreparePlugin):
            wrong = refusal(confinement, executor.registry, message.plugin_id)
            if wrong:
                log.warning("not preparing: %s", wrong)
            else:
                _prepare(executor, message, cancel_event)
            link.send(Prepared())
            continue
        if not isinstance(message, RunJob):
            continue
        job = message.job
        wrong = refusal(confinement, executor.registry, job.plugin_id)
        if wrong:
            log.error("job %s refused: %s", job.job_id, wrong)
            link.send(JobError(wrong))
            continue
        token = CancelToken(cancel_event)
        _blocked(confinement)  # what a warm-up tried is not this job's error
        try:
            executor.execute(job, token, send_event, sink)
        except (JobCancelled, Cancelled):  # also cancelled while waiting for CPU cores
            link.send(JobCancelledMessage())
        except UserError as exc:
            link.send(JobRefused(str(exc)))
        except _SinkRefused as exc:
            link.send(JobError(str(exc)))
        except Exception as exc:
            log.exception("job %s (%s) failed in the model process", job.job_id, job.plugin_id)
            # A network use the plugin was refused is the reason, whatever the plugin or its
            # libraries made of the PermissionError (urllib wraps it, others retry or log it).
            link.send(JobError(_blocked(confinement) or readable_error(exc)))
        else:
            _blocked(confinement)
            link.send(JobDone())


def _blocked(confinement: Confinement | None) -> str:
    return confinement.take_blocked() if confinement is not None else ""


def _prepare(executor: JobExecutor, message: PreparePlugin, cancel_event: Any) -> None:
    try:
        executor.plugin_instance(message.plugin_id).prepare()
    except Exception:
        log.warning("preparing %s failed", message.plugin_id, exc_info=True)
        return
    if message.load_options is not None:
        executor.preload(
            message.plugin_id, message.load_options, message.device, CancelToken(cancel_event)
        )
