"""Objects to pickle in the safe-loading tests: canaries that must never run, and benign
classes that make torch's weights-only loader refuse a checkpoint.

Importable by the converter's child process too (it unpickles with the app's ``sys.path``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class Canary:
    """Unpickling it creates ``marker``: a stand-in for any code a malicious pickle runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def record_pid(marker: str) -> None:
    """Write the current process id to ``marker``."""
    Path(marker).write_text(str(os.getpid()))


class PidRecorder:
    """Unpickling it writes the unpickling process's id to ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (record_pid, (str(self.marker),))


class TrainingCheckpoint(dict):
    """A dict subclass, as training frameworks save: benign, but not a plain dict."""


@dataclass
class HyperParameters:
    learning_rate: float
    epochs: int
