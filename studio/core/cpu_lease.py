"""One CPU for every Studio process on the machine: a lease of compute threads.

Two CPU-bound jobs that each take every core both crawl (llama.cpp on 2 cores with one other busy
process: 1.4 tokens/s at 2 threads against 23.6 at 1). The window's panels take turns through
their own scheduler, but a command-line run, ``studio serve`` or a second window are other
processes. So every job (and every warm-up load) on the CPU holds a lease: one lock file per
core in the data directory, locked with ``flock``. A job waits until one core is free and then
takes as many free cores as make sense now:

- never more than are free (the other Studio jobs hold the rest),
- not the cores other programs keep busy: the busy CPU time of the last second, less what the
  Studio processes themselves used (each registers its pid in the lease folder),
- only its share when other Studio jobs are waiting for cores.

The kernel drops a lock when its process ends, so a crash or a kill never leaves a core taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from studio.plugin_api import Cancelled, CancelToken

log = logging.getLogger(__name__)

WAIT_POLL_SECONDS = 0.05
SAMPLE_SECONDS = 0.25
"""How often the load probe reads the CPU counters."""
WINDOW_SECONDS = 1.0
"""The load a job's thread count follows: the busy CPU time of about the last second."""
BUSY_CORE = 0.4
"""A program keeping at least this much of a core busy counts as taking that core."""


def _machine_busy_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is counted in user already);
    # steal is busy: another machine's work kept this one's core.
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def _process_ticks(pid: int) -> int:
    """CPU ticks (user + system) ``pid`` has used, all its threads; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return 0
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[11]) + int(fields[12])
    except (IndexError, ValueError):
        return 0


class CoresBusy(Cancelled):
    """No core is free, and the job (a warm-up) does not wait for one."""


class LoadProbe:
    """How many cores programs other than Studio keep busy (a background sample every
    :data:`SAMPLE_SECONDS`, over the last :data:`WINDOW_SECONDS`). Studio's own CPU time is
    counted per process, over the processes alive at both ends of the window: one that starts
    or ends inside it changes nothing."""

    def __init__(self, studio_pids: Callable[[], list[int]], cores: int) -> None:
        self._studio_pids = studio_pids
        self._cores = cores
        self._samples: deque[_Sample] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _sample(self) -> _Sample | None:
        machine = _machine_busy_ticks()
        if machine is None:
            return None
        studio = {pid: _process_ticks(pid) for pid in self._studio_pids()}
        return _Sample(time.monotonic(), machine[0], machine[1], studio)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="studio-load-probe", daemon=True)
        first = self._sample()
        if first is not None:
            with self._lock:
                self._samples.append(first)
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(SAMPLE_SECONDS)
            sample = self._sample()
            if sample is None:
                return
            with self._lock:
                self._samples.append(sample)
                while len(self._samples) > 2 and sample.at - self._samples[1].at >= WINDOW_SECONDS:
                    self._samples.popleft()

    def other_busy_cores(self) -> float:
        """Cores kept busy by programs other than Studio over about the last second (0 when
        it cannot be told: no /proc, or no second sample yet and none taken now)."""
        self.start()
        with self._lock:
            samples = list(self._samples)
        if len(samples) < 2 or samples[-1].at - samples[0].at < SAMPLE_SECONDS / 2:
            time.sleep(SAMPLE_SECONDS / 2)
            now = self._sample()
            if now is None or not samples:
                return 0.0
            samples = [samples[0], now]
        old, new = samples[0], samples[-1]
        if new.total <= old.total:
            return 0.0
        # /proc/stat's totals cover every core: a fraction of the whole machine, in cores.
        busy = (new.busy - old.busy) / (new.total - old.total) * self._cores
        ticks_per_core = (new.total - old.total) / self._cores
        ours = sum(
            max(0, ticks - old.studio[pid])
            for pid, ticks in new.studio.items()
            if pid in old.studio
        )
        return max(0.0, busy - ours / ticks_per_core)


@dataclass(frozen=True)
class _Sample:
    at: float
    busy: int
    total: int
    studio: dict[int, int]  # CPU ticks used so far, per Studio process


class CpuLease:
    """Cross-process lease of compute threads, one lock file per core in ``folder``."""

    def __init__(self, folder: Path, cores: int | None = None) -> None:
        self.folder = folder
        self.cores = max(1, cores or os.cpu_count() or 1)
        self.probe = LoadProbe(self._studio_pids, self.cores)
        self._registered: int | None = None  # the fd of this process's pid file
        self._lock = threading.Lock()

    def start(self) -> None:
        """Count this process as Studio's and start watching the load now, so the first job
        finds a second of history (else it samples for an eighth of a second)."""
        self._register()
        self.probe.start()

    # who is Studio ----------------------------------------------------------------------------

    def _register(self) -> None:
        """Put this process's pid in the folder (locked while it lives), so the load probe
        tells Studio's own CPU time from other programs'."""
        with self._lock:
            if self._registered is not None:
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            # Locked before it has its name, so a pid file is never seen unlocked while its
            # process lives.
            temporary = self.folder / f".pid-{os.getpid()}-{threading.get_ident()}"
            fd = os.open(temporary, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(fd, fcntl.LOCK_SH)
            os.replace(temporary, self.folder / f"pid-{os.getpid()}")
            self._registered = fd

    def _studio_pids(self) -> list[int]:
        pids = []
        with contextlib.suppress(OSError):
            for entry in self.folder.iterdir():
                if entry.name.startswith("pid-") and entry.name[4:].isdigit():
                    pid = int(entry.name[4:])
                    if _held(entry):
                        pids.append(pid)
                    else:  # ended (a pid reused by another program holds no lock on it)
                        with contextlib.suppress(OSError):
                            entry.unlink()
        return pids

    # cores ------------------------------------------------------------------------------------

    def _try_core(self, index: int) -> int | None:
        fd = os.open(self.folder / f"core-{index}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def _take_free(self, most: int) -> list[int]:
        taken: list[int] = []
        for index in range(self.cores):
            if len(taken) >= most:
                break
            fd = self._try_core(index)
            if fd is not None:
                taken.append(fd)
        return taken

    def _others_waiting(self, own: Path | None) -> int:
        count = 0
        with contextlib.suppress(OSError):
            for entry in self.folder.glob("wait-*"):
                if entry == own:
                    continue
                try:
                    fd = os.open(entry, os.O_RDWR)
                except OSError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    count += 1  # its waiter holds it
                else:
                    with contextlib.suppress(OSError):
                        entry.unlink()  # left by a waiter that ended
                finally:
                    os.close(fd)
        return count

    def wanted_threads(self, free: int, others_waiting: int) -> int:
        """Threads for a job that may take up to ``free`` cores now."""
        others = self.probe.other_busy_cores()
        for_us = self.cores - int(others + (1 - BUSY_CORE))
        share = self.cores // (1 + others_waiting) if others_waiting else self.cores
        return max(1, min(free, for_us, share))

    @contextlib.contextmanager
    def hold(
        self,
        cancel: CancelToken | None = None,
        on_wait: Callable[[], None] | None = None,
        *,
        wait: bool = True,
    ) -> Iterator[int]:
        """Wait for at least one free core, take the threads this job should have now, and
        yield how many. ``on_wait()`` is called once if the job has to wait; a cancel while
        waiting raises :class:`Cancelled`. ``wait=False`` (a warm-up, which never queues
        before real work): one core, or :class:`CoresBusy` at once instead of waiting."""
        self._register()
        self.probe.start()
        held: list[int] = []
        waiting_file: Path | None = None
        waiting_fd: int | None = None
        try:
            while True:
                held = self._take_free(1)
                if held:
                    break
                if not wait:
                    raise CoresBusy()
                if waiting_fd is None:
                    waiting_file = self.folder / f"wait-{os.getpid()}-{threading.get_ident()}"
                    waiting_fd = os.open(waiting_file, os.O_CREAT | os.O_RDWR, 0o644)
                    fcntl.flock(waiting_fd, fcntl.LOCK_EX)
                    if on_wait is not None:
                        on_wait()
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                time.sleep(WAIT_POLL_SECONDS)
            # A warm-up (wait=False) loads on one core: mostly reading and copying, and it
            # must not make a real job wait for the cores it took.
            threads = 1
            if wait:
                free = 1 + self._count_free()
                threads = self.wanted_threads(free, self._others_waiting(waiting_file))
            if threads > 1:
                held += self._take_free(threads - 1)
            log.debug("CPU lease: %d of %d cores", len(held), self.cores)
            if waiting_fd is not None:
                os.close(waiting_fd)
                waiting_fd = None
                with contextlib.suppress(OSError):
                    assert waiting_file is not None
                    waiting_file.unlink()
            yield len(held)
        finally:
            for fd in held:
                os.close(fd)  # closing drops the lock
            if waiting_fd is not None:
                os.close(waiting_fd)
                with contextlib.suppress(OSError):
                    assert waiting_file is not None
                    waiting_file.unlink()

    def _count_free(self) -> int:
        free = 0
        for fd in self._take_free(self.cores):
            free += 1
            os.close(fd)
        return free

    def held_elsewhere(self) -> int:
        """Cores held by running jobs now (any Studio process): for the status line and tests."""
        return self.cores - self._count_free()


def _held(path: Path) -> bool:
    """Whether a live process holds its lock on ``path`` (an exclusive lock cannot be had)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the lock if it was had
    return False


def lease_folder(data_dir: Path) -> Path:
    return data_dir / "cpu-lease"
