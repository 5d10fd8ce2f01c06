"""The per-device scheduler: which runs may overlap, and how many threads each gets.

Each panel has its own worker thread, so panels stay responsive, but two CPU-bound runs at once
oversubscribe the cores and both crawl (DESIGN.md: 15.8 → 1.2-2.4 tokens/s on 2 cores). By
default each device runs one job at a time; the others wait in first-come, first-served order
and can be cancelled while they wait. On the CPU a run also holds the cross-process lease
(:mod:`studio.core.cpu_lease`), which decides its threads with every other Studio process and
program on the machine in view.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from studio.core.cpu_lease import CoresBusy, CpuLease
from studio.plugin_api import Cancelled, CancelToken

WAIT_POLL_SECONDS = 0.05


class DeviceScheduler:
    """Hands out run slots per device (``cpu``, ``cuda:0``, ``mps``), first come first served."""

    def __init__(
        self,
        slots: Mapping[str, int] | None = None,
        cpu_threads: int | None = None,
        lease: CpuLease | None = None,
    ):
        self._slots = dict(slots or {})
        self.cpu_threads = max(1, cpu_threads or os.cpu_count() or 1)
        self.lease = lease
        self._condition = threading.Condition()
        self._waiting: dict[str, deque[object]] = {}
        self._running: dict[str, int] = {}

    def slots_for(self, device: str) -> int:
        return max(1, self._slots.get(device, 1))

    def threads_for(self, device: str) -> int:
        """CPU threads for one run: the cores shared by the runs the device allows at once."""
        if device == "cpu":
            return max(1, self.cpu_threads // self.slots_for("cpu"))
        return max(1, min(4, self.cpu_threads))

    def running(self, device: str) -> int:
        with self._condition:
            return self._running.get(device, 0)

    def waiting(self, device: str) -> int:
        with self._condition:
            return len(self._waiting.get(device, ()))

    @contextmanager
    def slot(
        self,
        device: str,
        cancel: CancelToken | None = None,
        on_wait: Callable[[int], None] | None = None,
        *,
        lease: bool = True,
        wait: bool = True,
    ) -> Iterator[int]:
        """Wait for a run slot on ``device``; yields the thread budget for the run.

        ``on_wait(position)`` is called once if the run has to wait (position 1 = next), and
        with position 0 if it then waits for cores another Studio process holds. ``lease``:
        also hold the cross-process CPU lease (False where a model process runs the job and
        takes the lease itself). Raises :class:`Cancelled` if ``cancel`` is set while waiting;
        with ``wait=False`` (a warm-up), :class:`CoresBusy` at once where it would wait.
        """
        ticket = object()
        with self._condition:
            queue = self._waiting.setdefault(device, deque())
            queue.append(ticket)
            told = False
            while not (
                queue[0] is ticket and self._running.get(device, 0) < self.slots_for(device)
            ):
                if not wait or (cancel is not None and cancel.cancelled):
                    queue.remove(ticket)
                    self._condition.notify_all()
                    raise Cancelled() if wait else CoresBusy()
                if on_wait is not None and not told:
                    told = True
                    position = list(queue).index(ticket) + 1
                    self._condition.release()
                    try:
                        on_wait(position)
                    finally:
                        self._condition.acquire()
                    continue
                self._condition.wait(WAIT_POLL_SECONDS)
            queue.popleft()
            self._running[device] = self._running.get(device, 0) + 1
            self._condition.notify_all()
        try:
            if device == "cpu" and lease and self.lease is not None:
                told_lease = (lambda: on_wait(0)) if on_wait is not None else None
                with self.lease.hold(cancel, told_lease, wait=wait) as threads:
                    yield min(threads, self.threads_for(device))
            else:
                yield self.threads_for(device)
        finally:
            with self._condition:
                self._running[device] -= 1
                self._condition.notify_all()
