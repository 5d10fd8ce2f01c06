"""The device scheduler: one run per device by default, first come first served, cancellable."""

from __future__ import annotations

import threading
import time

import pytest

from studio.core.scheduler import DeviceScheduler
from studio.plugin_api import Cancelled, CancelToken


def test_runs_on_one_device_take_turns_in_arrival_order():
    scheduler = DeviceScheduler(cpu_threads=2)
    order, lock = [], threading.Lock()
    holder = threading.Event()

    def run(name, delay):
        time.sleep(delay)
        with scheduler.slot("cpu") as threads:
            with lock:
                order.append((name, scheduler.running("cpu"), threads))
            holder.wait(2) if name == "first" else time.sleep(0.01)

    threads = [
        threading.Thread(target=run, args=(name, delay))
        for name, delay in [("first", 0), ("second", 0.05), ("third", 0.1), ("fourth", 0.15)]
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    assert scheduler.waiting("cpu") == 3
    holder.set()
    for thread in threads:
        thread.join(5)
    assert order == [(n, 1, 2) for n in ("first", "second", "third", "fourth")]


def test_devices_are_independent_and_slots_configurable():
    scheduler = DeviceScheduler(slots={"cpu": 2}, cpu_threads=8)
    with scheduler.slot("cpu") as a, scheduler.slot("cpu") as b, scheduler.slot("cuda:0"):
        assert (a, b) == (4, 4)
        assert scheduler.running("cpu") == 2 and scheduler.running("cuda:0") == 1


def test_waiting_reports_position_and_can_be_cancelled():
    scheduler = DeviceScheduler()
    cancel, positions = CancelToken(), []
    outcome = []

    def waiter():
        try:
            with scheduler.slot("cpu", cancel, positions.append):
                outcome.append("ran")
        except Cancelled:
            outcome.append("cancelled")

    with scheduler.slot("cpu"):
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.2)
        cancel.cancel()
        thread.join(2)
    assert positions == [1]
    assert outcome == ["cancelled"]
    assert scheduler.waiting("cpu") == 0
    with scheduler.slot("cpu"):  # the cancelled ticket left no trace in the queue
        pass


def test_a_failing_run_frees_its_slot():
    scheduler = DeviceScheduler()
    with pytest.raises(RuntimeError), scheduler.slot("cpu"):
        raise RuntimeError("boom")
    assert scheduler.running("cpu") == 0
