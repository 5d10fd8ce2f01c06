"""Marks of jobs running inside Studio's own process, so the next start knows what crashed it.

With model processes off (a preference), a crash in a model's native code ends the window
itself. Each such job leaves a small file in ``<data dir>/running-in-process/`` while it runs
and removes it when it ends, however it ends in Python; a file found at the next start is a job
that took the process down with it. Python's faulthandler has written that crash's stack into
the log (:func:`studio.core.logs.enable_crash_stacks`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER = "running-in-process"


@dataclass(frozen=True)
class CrashedJob:
    """A job that was running when Studio's process ended without cleaning up."""

    job_id: str
    plugin_id: str
    plugin_name: str
    model: str
    started: float


class CrashMarks:
    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / FOLDER

    @contextlib.contextmanager
    def running(self, job_id: str, plugin_id: str, plugin_name: str, model: str) -> Iterator[None]:
        """Mark a job as running in this process for as long as the block runs."""
        path = self.folder / f"{job_id}.json"
        facts = {
            "job_id": job_id,
            "plugin_id": plugin_id,
            "plugin_name": plugin_name,
            "model": model,
            "started": time.time(),
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(facts), encoding="utf-8")
        except OSError:
            log.warning("cannot mark job %s as running", job_id, exc_info=True)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def left_behind(self) -> list[CrashedJob]:
        """The jobs whose marks a crashed process left (read, then removed)."""
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else ():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(CrashedJob(**data))
            except (OSError, ValueError, TypeError):
                log.warning("unreadable crash mark %s", path)
            with contextlib.suppress(OSError):
                path.unlink()
        return found
