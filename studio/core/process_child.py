"""The model process: builds its own executor and runs the jobs its parent sends.

The messages, both ways, are the frozen dataclasses of :mod:`studio.core.process_messages`:
the parent sends :class:`PreparePlugin` (import a plugin's libraries, and warm a model up),
:class:`RunJob`, :class:`AssetStored` or :class:`AssetRefused` in answer to each result, and
:class:`Stop`; the child answers a job with :class:`EventMessage` and :class:`AssetReady`, then
one of :class:`JobDone`, :class:`JobCancelledMessage`, :class:`JobRefused`, :class:`JobError`.
The jobs it gets are checked already (:meth:`JobExecutor.check`, in the parent): they run as
they are.
"""

from __future__ import annotations

import logging
import os
from multiprocessing.connection import Connection
from typing import Any

from studio.core.device import detect_devices
from studio.core.errors import UserError
from studio.core.hashing import HashCache
from studio.core.jobs import JobCancelled, JobEvent, JobExecutor, ProducedAsset, readable_error
from studio.core.logs import configure_logging, enable_crash_stacks
from studio.core.model_cache import ModelCache
from studio.core.offline import enforce_offline
from studio.core.paths import Paths
from studio.core.process_messages import (
    AssetReady,
    AssetStored,
    EventMessage,
    JobCancelledMessage,
    JobDone,
    JobError,
    JobRefused,
    PreparePlugin,
    RunJob,
    Stop,
)
from studio.core.registry import PluginRegistry
from studio.core.safety.consent import ConsentStore
from studio.core.scheduler import DeviceScheduler
from studio.core.services import new_job_executor
from studio.plugin_api import CancelToken

log = logging.getLogger("studio.models")


class _SinkRefused(Exception):
    pass


def build_child_executor(config: Any) -> JobExecutor:
    paths = Paths(data_dir=config.data_dir)
    paths = Paths(
        data_dir=config.data_dir,
        extra_plugin_dirs=tuple(d for d in config.plugin_dirs if d != paths.plugins_dir),
    )
    return new_job_executor(
        paths,
        PluginRegistry(plugin_dirs=config.plugin_dirs),
        ModelCache(config.budget_bytes),
        DeviceScheduler(),
        detect_devices(),
        ConsentStore.in_data_dir(paths),
        HashCache.in_data_dir(paths),
    )


def child_main(conn: Connection, cancel_event: Any, config: Any) -> None:
    """Entry point of the model process (spawned, so nothing is inherited but ``config``)."""
    os.environ.update(config.environ)
    enforce_offline()
    paths = Paths(data_dir=config.data_dir)
    configure_logging(paths)
    enable_crash_stacks(paths)
    executor = build_child_executor(config)

    def send_event(event: JobEvent) -> None:
        conn.send(EventMessage(event))

    def sink(produced: ProducedAsset) -> str:
        conn.send(AssetReady(produced))
        answer = conn.recv()
        if not isinstance(answer, AssetStored):
            raise _SinkRefused(answer.message)
        return answer.asset_id

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if isinstance(message, Stop):
            executor.cache.unload_all()
            return
        if isinstance(message, PreparePlugin):
            try:
                executor.plugin_instance(message.plugin_id).prepare()
            except Exception:
                log.warning("preparing %s failed", message.plugin_id, exc_info=True)
                continue
            if message.load_options is not None:
                executor.preload(
                    message.plugin_id,
                    message.load_options,
                    message.device,
                    CancelToken(cancel_event),
                )
            continue
        if not isinstance(message, RunJob):
            continue
        job = message.job
        token = CancelToken(cancel_event)
        try:
            executor.execute(job, token, send_event, sink)
        except JobCancelled:
            conn.send(JobCancelledMessage())
        except UserError as exc:
            conn.send(JobRefused(str(exc)))
        except _SinkRefused as exc:
            conn.send(JobError(str(exc)))
        except Exception as exc:
            log.exception("job %s (%s) failed in the model process", job.job_id, job.plugin_id)
            conn.send(JobError(readable_error(exc)))
        else:
            conn.send(JobDone())
