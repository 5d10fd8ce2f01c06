"""LoRAs named by a job, found in the model library.

A run names LoRAs in its ``loras`` option (``NAME:STRENGTH; ...``) or with AUTOMATIC1111's
``<lora:NAME:STRENGTH>`` tags in the prompt. Before the job runs, :class:`LoraFinder` turns each
name into the LoRA's file: a path as it is, or a library LoRA (AUTOMATIC1111's ``Lora`` and
ComfyUI's ``loras`` folders, the user's model folders, imported files) whose name or file name
is the one given. The job then holds ``PATH:STRENGTH`` for each, and the prompt holds no tags,
so the recipe re-runs the same LoRAs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from studio.core.errors import UserError
from studio.core.model_scan.catalog import LibraryEntry, loras_for
from studio.core.model_scan.describe import describe_file
from studio.plugin_api.options import LoraUse

RESCAN_AFTER = 10.0
"""Seconds a scan of the library answers for (a job after that scans again)."""


class LoraFinder:
    """Finds LoRAs by name; ``scan`` lists the library (read again at most every few seconds,
    and at once when a name is not found)."""

    def __init__(self, scan: Callable[[], list[LibraryEntry]]) -> None:
        self._scan = scan
        self._lock = threading.Lock()
        self._loras: list[LibraryEntry] | None = None
        self._when = 0.0

    def _library(self, fresh: bool = False) -> list[LibraryEntry]:
        with self._lock:
            if fresh or self._loras is None or time.monotonic() - self._when > RESCAN_AFTER:
                self._loras = loras_for(self._scan())
                self._when = time.monotonic()
            return self._loras

    def names(self) -> list[str]:
        """The library's LoRAs, by the names a run can give."""
        return [entry.name for entry in self._library()]

    def find(self, name: str) -> Path:
        """The file of the LoRA called ``name``; a :class:`UserError` says what to do when
        there is none, or when the file is no usable LoRA."""
        given = Path(name).expanduser()
        if given.is_absolute() or given.suffix.lower() == ".safetensors":
            if given.is_file():
                return _vetted(given)
            name = given.stem  # moved since the recipe was made: found by its name again
        for fresh in (False, True):
            for entry in self._library(fresh):
                path = entry.path
                assert path is not None
                if name.casefold() in {
                    entry.name.casefold(),
                    path.stem.casefold(),
                    path.name.casefold(),
                }:
                    return path
        raise UserError(
            f"No LoRA named '{name}' is in the model library: put {Path(name).stem}.safetensors "
            "in a LoRA folder (AUTOMATIC1111's models/Lora, ComfyUI's models/loras) or add its "
            "folder in View > Models (studio models folders add DIR)."
        )

    def resolve(self, uses: Sequence[LoraUse]) -> tuple[LoraUse, ...]:
        """``uses`` with each name replaced by its file's path (a LoRA named twice is used
        once, at the strength given last)."""
        found: dict[Path, float] = {}
        for use in uses:
            found[self.find(use.name)] = use.strength
        return tuple(LoraUse(str(path), strength) for path, strength in found.items())


def _vetted(path: Path) -> Path:
    facts = describe_file(path)
    blocking = [problem.message for problem in facts.problems if problem.blocking]
    if blocking:
        raise UserError(blocking[0])
    if facts.kind != "LoRA":
        raise UserError(
            f"{path.name} is not a LoRA ({facts.format} {facts.kind}".rstrip() + "): only "
            "LoRAs in safetensors files can be applied."
        )
    return path
