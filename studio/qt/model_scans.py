"""The model library's scan off the GUI thread, for the Models view.

A scan reads headers and configs only, but the Hugging Face cache and other tools' folders can
hold hundreds of models on a slow disk: :class:`ModelScans` runs
:func:`~studio.core.model_scan.catalog.scan_machine` on a thread of its own and hands the
entries to the GUI thread through :attr:`ModelScans.scanned`. A scan asked for while one runs
is run once more after it, with what changed in between.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Qt, Signal, Slot

from studio.core.model_library import ModelLibrary
from studio.core.model_scan.catalog import LibraryEntry, scan_machine
from studio.core.registry import PluginRegistry

log = logging.getLogger(__name__)


class ModelScans(QObject):
    scanned = Signal(list)
    """The library's entries (``list[LibraryEntry]``), in the GUI thread."""
    failed = Signal(str)
    busy_changed = Signal(bool)
    # emitted on the scan thread; queued to this object's thread, which re-emits the above
    _scan_done = Signal(list)
    _scan_failed = Signal(str)
    _scan_busy = Signal(bool)

    def __init__(
        self, registry: PluginRegistry, library: ModelLibrary, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.library = library
        self.entries: list[LibraryEntry] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._scan_done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._scan_failed.connect(self.failed, Qt.ConnectionType.QueuedConnection)
        self._scan_busy.connect(self.busy_changed, Qt.ConnectionType.QueuedConnection)

    @Slot(list)
    def _deliver(self, entries: list) -> None:
        self.entries = entries
        self.scanned.emit(entries)

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None

    def scan(self) -> None:
        """Scan again (now, or right after the scan that runs)."""
        with self._lock:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="model-scan", daemon=True)
            self._thread.start()
        self.busy_changed.emit(True)  # in the GUI thread: scan() is called there

    def _run(self) -> None:
        try:
            while True:
                try:
                    entries = scan_machine(self.registry, self.library)
                except Exception as exc:  # a scan must never take the window down
                    log.exception("the model scan failed")
                    self._scan_failed.emit(f"The model folders could not be read: {exc}")
                else:
                    self._scan_done.emit(entries)
                with self._lock:
                    if not self._again:
                        self._thread = None
                        break
                    self._again = False
            self._scan_busy.emit(False)
        except RuntimeError:  # the window closed during the scan: nobody is left to tell
            log.debug("a model scan finished after its window closed")

    def wait(self, seconds: float = 30.0) -> bool:
        """Wait for the running scan (tests, shutdown); True when none runs."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(seconds)
        return not self.busy
