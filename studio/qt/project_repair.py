"""A project repair running off the GUI thread, with progress and cancel (see
:mod:`studio.core.project.repair`)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.core.durations import format_duration
from studio.core.project.repair import RepairCancelled, repair_project


class RepairRun(QObject):
    """One repair of ``source`` on a thread of its own.

    Signals:
        progressed(done, total, text): assets looked at, of how many, and a line to show
            ("Reading asset 12 of 340, about 0:41 left").
        finished(result): a :class:`~studio.core.project.repair.RepairReport`, or the
            exception that stopped the repair (a ``UserError`` says why in one sentence).
    """

    progressed = Signal(int, int, str)
    finished = Signal(object)

    def __init__(self, source: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = Path(source)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._main, name="project-repair", daemon=True)
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def cancel(self) -> None:
        """Stop at the next asset; nothing is written then."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _progress(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise RepairCancelled()
        elapsed = time.monotonic() - self._started
        text = f"Reading asset {done} of {total}"
        if done and elapsed > 1.0 and done < total:
            text += f", about {format_duration(elapsed / done * (total - done))} left"
        self.progressed.emit(done, total, text)

    def _main(self) -> None:
        try:
            result: object = repair_project(self.source, progress=self._progress)
        except Exception as exc:  # handed to the window, which says what went wrong
            result = exc
        self.finished.emit(result)
