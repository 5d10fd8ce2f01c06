"""The model process: builds its own executor and runs the jobs its parent sends.

Messages from the parent: ``("prepare", plugin_id, warm_up)`` (import the plugin's libraries;
then, if ``warm_up`` is ``(load_options, device)``, load that model into the cache),
``("run", job)``, ``("asset_id", id)`` or ``("sink_error", text)`` in answer to an asset, and
``("stop",)``. Messages to the parent: ``("event", event)``, ``("asset", produced)``, then one
of ``("done",)``, ``("cancelled",)``, ``("user_error", text)`` or ``("error", text)``. Only
plain, picklable data crosses.
"""

from __future__ import annotations

import logging
import os
from multiprocessing.connection import Connection
from typing import Any

from studio.core.device import detect_devices
from studio.core.errors import UserError
from studio.core.hashing import HashCache
from studio.core.jobs import Job, JobCancelled, JobEvent, JobExecutor, ProducedAsset, readable_error
from studio.core.logs import configure_logging, enable_crash_stacks
from studio.core.model_cache import ModelCache
from studio.core.offline import enforce_offline
from studio.core.paths import Paths
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
        conn.send(("event", event))

    def sink(produced: ProducedAsset) -> str:
        conn.send(("asset", produced))
        answer = conn.recv()
        if answer[0] != "asset_id":
            raise _SinkRefused(answer[1])
        return answer[1]

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if message[0] == "stop":
            executor.cache.unload_all()
            return
        if message[0] == "prepare":
            _, plugin_id, warm_up = message
            try:
                executor.plugin_instance(plugin_id).prepare()
            except Exception:
                log.warning("preparing %s failed", plugin_id, exc_info=True)
                continue
            if warm_up is not None:
                load_options, device = warm_up
                executor.preload(plugin_id, load_options, device, CancelToken(cancel_event))
            continue
        if message[0] != "run":
            continue
        job: Job = message[1]
        token = CancelToken(cancel_event)
        try:
            executor.execute(job, token, send_event, sink)
        except JobCancelled:
            conn.send(("cancelled",))
        except UserError as exc:
            conn.send(("user_error", str(exc)))
        except _SinkRefused as exc:
            conn.send(("error", str(exc)))
        except Exception as exc:
            log.exception("job %s (%s) failed in the model process", job.job_id, job.plugin_id)
            conn.send(("error", readable_error(exc)))
        else:
            conn.send(("done",))
