"""The cross-process CPU lease: never more compute threads than cores across Studio processes,
fewer when other programs keep cores busy, and nothing left taken by a process that died."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.core import cpu_lease
from studio.core.cpu_lease import CoresBusy, CpuLease
from studio.core.scheduler import DeviceScheduler
from studio.plugin_api import Cancelled, CancelToken


def quiet(lease: CpuLease) -> CpuLease:
    lease.probe.other_busy_cores = lambda: 0.0  # type: ignore[method-assign]
    return lease


def test_a_lone_job_takes_every_core_and_gives_them_back(tmp_path: Path) -> None:
    lease = quiet(CpuLease(tmp_path, cores=4))
    with lease.hold() as threads:
        assert threads == 4
        assert lease.held_elsewhere() == 4
    assert lease.held_elsewhere() == 0


def test_a_second_job_gets_what_is_left_and_waits_when_nothing_is(tmp_path: Path) -> None:
    first, second = quiet(CpuLease(tmp_path, cores=4)), quiet(CpuLease(tmp_path, cores=4))
    first.probe.other_busy_cores = lambda: 0.0  # type: ignore[method-assign]
    with first.hold() as a:
        assert a == 4
        waited = threading.Event()
        got: list[int] = []

        def other() -> None:
            with second.hold(on_wait=waited.set) as b:
                got.append(b)

        thread = threading.Thread(target=other)
        thread.start()
        assert waited.wait(5)
        assert not got
    thread.join(5)
    assert got == [4]


def test_threads_leave_out_the_cores_other_programs_keep_busy(tmp_path: Path) -> None:
    lease = CpuLease(tmp_path, cores=2)
    lease.probe.other_busy_cores = lambda: 0.9  # type: ignore[method-assign]
    with lease.hold() as threads:
        assert threads == 1
    lease.probe.other_busy_cores = lambda: 0.2  # type: ignore[method-assign]
    with lease.hold() as threads:
        assert threads == 2
    lease.probe.other_busy_cores = lambda: 5.0  # type: ignore[method-assign]
    with lease.hold() as threads:
        assert threads == 1  # always at least one


def test_a_job_takes_only_its_share_while_others_wait(tmp_path: Path) -> None:
    lease = quiet(CpuLease(tmp_path, cores=4))
    assert lease.wanted_threads(free=4, others_waiting=1) == 2
    assert lease.wanted_threads(free=4, others_waiting=3) == 1
    assert lease.wanted_threads(free=3, others_waiting=0) == 3


def test_cancel_while_waiting_raises_and_holds_nothing(tmp_path: Path) -> None:
    lease = quiet(CpuLease(tmp_path, cores=1))
    event = multiprocessing.get_context("spawn").Event()
    token = CancelToken(event)
    with lease.hold():
        threading.Timer(0.2, event.set).start()
        with pytest.raises(Cancelled), lease.hold(token):
            pass
    assert lease.held_elsewhere() == 0
    assert not list(tmp_path.glob("wait-*"))


HOLDER = """
import sys, time
from pathlib import Path
from studio.core.cpu_lease import CoresBusy, CpuLease
lease = CpuLease(Path(sys.argv[1]), cores=2)
lease.probe.other_busy_cores = lambda: 0.0
with lease.hold() as threads:
    print(threads, flush=True)
    time.sleep(60)
"""


def test_another_process_holds_cores_and_a_kill_frees_them(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "2"
        lease = quiet(CpuLease(tmp_path, cores=2))
        assert lease.held_elsewhere() == 2
        holder.kill()
        holder.wait(10)
        with lease.hold() as threads:
            assert threads == 2
    finally:
        holder.kill()


def test_the_probe_tells_other_programs_from_studio(tmp_path: Path) -> None:
    """A busy loop in another program counts; the same loop in this (Studio) process does
    not."""
    if cpu_lease._machine_busy_ticks() is None:
        pytest.skip("no /proc/stat here")
    lease = CpuLease(tmp_path, cores=os.cpu_count() or 1)
    lease._register()
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.5)
        with_burner = lease.probe.other_busy_cores()
    finally:
        burner.kill()
        burner.wait()
    assert with_burner >= 0.7

    stop = time.monotonic() + 1.5
    while time.monotonic() < stop:  # this process is Studio: its CPU time is left out
        pass
    ours = lease.probe.other_busy_cores()
    assert ours < with_burner - 0.5


def test_the_scheduler_yields_the_lease_threads_and_waits_with_position_zero(
    tmp_path: Path,
) -> None:
    other = quiet(CpuLease(tmp_path, cores=2))
    scheduler = DeviceScheduler(cpu_threads=2, lease=quiet(CpuLease(tmp_path, cores=2)))
    positions: list[int] = []
    with other.hold():
        done: list[int] = []

        def run() -> None:
            with scheduler.slot("cpu", on_wait=positions.append) as threads:
                done.append(threads)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.3)
        assert not done
    thread.join(5)
    assert positions == [0]
    assert done == [2]
    with scheduler.slot("cpu", lease=False) as threads:  # a model process takes it instead
        assert threads == 2
        assert other.held_elsewhere() == 0


def test_a_warm_up_does_not_queue_for_cores(tmp_path: Path) -> None:
    lease = quiet(CpuLease(tmp_path, cores=2))
    scheduler = DeviceScheduler(cpu_threads=2, lease=quiet(CpuLease(tmp_path, cores=2)))
    with lease.hold(), pytest.raises(CoresBusy), scheduler.slot("cpu", wait=False):
        pass
    with scheduler.slot("cpu", wait=False) as threads:
        assert threads == 1  # a warm-up loads on one core


def test_a_studio_process_that_ends_inside_the_window_is_not_taken_for_another_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe counts Studio's CPU per process, over those alive at both ends."""
    from studio.core.cpu_lease import LoadProbe, _Sample

    probe = LoadProbe(lambda: [], cores=2)
    # 1 s on 2 cores (200 ticks): the machine was busy 180 ticks; Studio's process 7 used
    # 90 of them and ended before the second sample; process 8 started meanwhile (its 50
    # ticks so far were all inside the window, but it has no first sample).
    probe._samples.extend(
        [
            _Sample(0.0, 1000, 5000, {7: 400, 9: 0}),
            _Sample(1.0, 1180, 5200, {8: 50, 9: 40}),
        ]
    )
    probe._thread = object()  # type: ignore[assignment]  # no background sampling here
    # busy 1.8 cores; Studio's process 9 used 0.4 of a core: 1.4 for other programs at most
    # (process 7's lifetime ticks are not subtracted, process 8's are not added).
    assert probe.other_busy_cores() == pytest.approx(1.4)


def test_a_pid_file_whose_process_ended_is_not_studio_even_if_the_pid_lives_again(
    tmp_path: Path,
) -> None:
    lease = CpuLease(tmp_path, cores=2)
    lease._register()
    assert lease._studio_pids() == [os.getpid()]
    stale = tmp_path / f"pid-{os.getppid()}"  # a live pid (the test runner's parent)...
    stale.touch()  # ...but no Studio process holds its file: left by one that ended
    assert lease._studio_pids() == [os.getpid()]
    assert not stale.exists()
