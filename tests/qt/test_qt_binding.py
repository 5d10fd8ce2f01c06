"""Guards against known-bad Qt binding releases (see the pin in pyproject.toml)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(str)


def test_signals_to_python_slots_keep_reference_counts():
    # PySide6 6.12.0 dropped a reference to True per delivered signal: Python 3.11 aborts
    # ("bool_dealloc") once the count reaches zero, i.e. after a few thousand signals.
    emitter, received = _Emitter(), []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True)
    for _ in range(2000):
        emitter.fired.emit("x")
    assert len(received) == 2000
    # The bug loses one reference per signal (-2000 here); unrelated code may move a few.
    assert abs(sys.getrefcount(True) - before) < 50
