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

    def shutdown(self) -> None:
        """Stop: unload the models, end the model process."""
        ...


class PanelExecutor:
    """A panel's executor: its model process, or this process, as the preference says when
    each job starts (``isolated()``). The model process starts on first use and ends when the
    preference turns it off (its memory goes back) or at shutdown."""

    def __init__(
        self,
        local: JobExecutor,
        isolated: Callable[[], bool],
        start_process: Callable[[], Executor],
    ) -> None:
        self.local = local
        self._isolated = isolated
        self._start_process = start_process
        self._process: Executor | None = None
        self._lock = threading.Lock()  # the panel's worker thread and the GUI thread ask

    def current(self) -> Executor:
        """The executor the next job runs on."""
        ending = None
        with self._lock:
            if self._isolated():
                if self._process is None:
                    self._process = self._start_process()
                return self._process
            ending, self._process = self._process, None
        if ending is not None:
            log.info("models run in this process now: the model process ends")
            ending.shutdown()
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
        return self.current().execute(job, cancel, on_event, sink)

    def prepare_plugin(
        self, plugin_id: str, load_options: Mapping[str, Any] | None = None, device: str = "auto"
    ) -> None:
        self.current().prepare_plugin(plugin_id, load_options, device)

    @property
    def child_pid(self) -> int | None:
        return self._process.child_pid if self._process is not None else None

    def shutdown(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.shutdown()
