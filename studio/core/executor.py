"""What runs jobs: the :class:`Executor` protocol, and the executor a panel uses.

Two implementations: :class:`~studio.core.jobs.JobExecutor` runs a job in this process;
:class:`~studio.core.process_host.ProcessExecutor` runs it in a model process of its own.
:class:`PanelExecutor` picks one of them for each job, as the preferences say at that moment
("run models in a separate process"), so a change applies to the next job without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from studio.core.jobs import AssetSink, Job, JobEvent, JobExecutor, JobOutcome
from studio.plugin_api import CancelToken

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs checked jobs and commits their results through a sink."""

    def check(self, job: Job) -> Job:
        """The job with its options validated and completed (raises ``UserError``)."""
        ...

    def execute(
        self,
        job: Job,
        cancel: CancelToken,
        on_event: Callable[[JobEvent], None] = ...,
        sink: AssetSink | None = None,
    ) -> JobOutcome:
        """Run the job to its end; raises ``JobCancelled``, ``UserError`` or the failure."""
        ...

    def prepare_plugin(
        self, plugin_id: str, load_options: Mapping[str, Any] | None = None, device: str = "auto"
    ) -> None:
        """Get ready for a first run (import the plugin's libraries, maybe load the model)."""
        ...

    @property
    def child_pid(self) -> int | None:
        """The model process running the jobs, if any."""
        ...

    @property
    def child_pids(self) -> list[int]:
        """Every model process running its jobs."""
        ...

    def shutdown(self) -> None:
        """Stop: unload the models, end the model process."""
        ...


class PanelExecutor:
    """A panel's executor: its model processes, or this process, as the preference says when
    each job starts (``isolated()``). Built-in plugins share the panel's model process; each
    third-party plugin (``third_party(plugin_id)``) gets one of its own, so its libraries and
    its crashes never reach the built-ins. A model process starts on first use and ends when
    the preference turns it off (its memory goes back) or at shutdown."""

    def __init__(
        self,
        local: JobExecutor,
        isolated: Callable[[], bool],
        start_process: Callable[[str], Executor],
        *,
        name: str = "models",
        third_party: Callable[[str], bool] = lambda plugin_id: False,
    ) -> None:
        self.local = local
        self.name = name
        self._isolated = isolated
        self._start_process = start_process
        self._third_party = third_party
        self._processes: dict[str, Executor] = {}
        self._lock = threading.Lock()  # the panel's worker thread and the GUI thread ask

    def process_name(self, plugin_id: str) -> str:
        """The model process a plugin's jobs run in: the panel's, or the plugin's own."""
        try:
            own = self._third_party(plugin_id)
        except Exception:  # unknown plugin: the job's check says so
            own = False
        return f"{self.name}-{plugin_id}" if own else self.name

    def current(self, plugin_id: str = "") -> Executor:
        """The executor the next job of ``plugin_id`` runs on. A third-party plugin always
        runs in a process of its own, whatever the preference: only there are its private
        packages on the path and its network blocked (:mod:`studio.core.plugin_sandbox`)."""
        ending: list[Executor] = []
        name = self.process_name(plugin_id) if plugin_id else self.name
        with self._lock:
            if self._isolated() or name != self.name:
                if name not in self._processes:
                    self._processes[name] = self._start_process(name)
                return self._processes[name]
            shared = self._processes.pop(self.name, None)
            ending = [shared] if shared is not None else []
        if ending:
            log.info("models run in this process now: the panel's model process ends")
        for process in ending:
            process.shutdown()
        return self.local

    def check(self, job: Job) -> Job:
        return self.local.check(job)

    def execute(
        self,
        job: Job,
        cancel: CancelToken,
        on_event: Callable[[JobEvent], None] = lambda event: None,
        sink: AssetSink | None = None,
    ) -> JobOutcome:
        return self.current(job.plugin_id).execute(job, cancel, on_event, sink)

    def prepare_plugin(
        self, plugin_id: str, load_options: Mapping[str, Any] | None = None, device: str = "auto"
    ) -> None:
        self.current(plugin_id).prepare_plugin(plugin_id, load_options, device)

    @property
    def child_pid(self) -> int | None:
        """The panel's own model process (the built-ins'), or else any of its processes."""
        with self._lock:
            main = self._processes.get(self.name)
            pids = [main.child_pid] if main is not None else []
            pids += [p.child_pid for p in self._processes.values() if p is not main]
        return next((pid for pid in pids if pid is not None), None)

    @property
    def child_pids(self) -> list[int]:
        """Every running model process of the panel."""
        with self._lock:
            processes = list(self._processes.values())
        return [pid for pid in (p.child_pid for p in processes) if pid is not None]

    def shutdown(self) -> None:
        with self._lock:
            processes, self._processes = list(self._processes.values()), {}
        for process in processes:
            process.shutdown()
