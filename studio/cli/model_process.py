"""Where the command line runs its jobs: a model process, as the window does."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def job_executor(services: Any, name: str) -> Iterator[Any]:
    """What runs the command's jobs: a model process of its own, as in the window (so a crash
    in native code is one sentence and exit code 1, never a bare 134 or 139), unless the
    preferences keep models in Studio's own process. Ended when the block ends."""
    if not services.settings.isolate_models:
        yield services.executor
        return
    from studio.core.process_host import model_process_executor

    executor = model_process_executor(services, name)
    try:
        yield executor
    finally:
        executor.shutdown()
