"""Where the command line runs its jobs: a model process, as the window does."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def job_executor(services: Any, name: str) -> Iterator[Any]:
    """What runs the command's jobs: a model process of its own, as in the window (so a crash
    in native code is one sentence and exit code 1, never a bare 134 or 139), unless the
    preferences keep models in Studio's own process: the same executor a panel has
    (:meth:`CoreServices.panel_executor`). Ended when the block ends."""
    executor = services.panel_executor(name)
    try:
        yield executor
    finally:
        executor.shutdown()
