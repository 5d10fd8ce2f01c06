"""The plugin installer's steps off the GUI thread, for the Plugins dialog.

Reviewing a plugin unpacks an archive and asks pip about its requirements (a package name is
downloaded first); installing runs pip once for each missing requirement. Either can take
seconds or minutes, so :class:`PluginInstalls` runs every step of
:class:`~studio.core.plugin_install.PluginInstaller` on one worker thread of its own, in the
order asked, and says what happened through signals emitted in the GUI thread (slots, lambdas
and tests alike run there). After a step that changes the plugins (install, uninstall, enable,
disable) it reads the plugin manifests again on the worker thread, so that the registry knows
the change before :attr:`PluginInstalls.changed` is emitted.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from PySide6.QtCore import QObject, Signal, Slot

from studio.core.errors import UserError
from studio.core.plugin_install import InstalledPlugin, InstallReview, PluginInstaller
from studio.core.registry import PluginRegistry

log = logging.getLogger(__name__)

UNKNOWN = -1.0
"""The fraction :attr:`PluginInstalls.progressed` carries when the step cannot say how far it
is (a download of unknown size, pip resolving)."""


class Step(StrEnum):
    REVIEW = "review"
    INSTALL = "install"
    DISCARD = "discard"
    UNINSTALL = "uninstall"
    ENABLE = "enable"
    DISABLE = "disable"


CHANGES = frozenset({Step.INSTALL, Step.UNINSTALL, Step.ENABLE, Step.DISABLE})
"""Steps after which the plugins are not what they were."""

_DOING = {
    Step.REVIEW: "Reviewing",
    Step.INSTALL: "Installing",
    Step.DISCARD: "Cleaning up after the review of",
    Step.UNINSTALL: "Uninstalling",
    Step.ENABLE: "Switching on",
    Step.DISABLE: "Switching off",
}


@dataclass(frozen=True, eq=False)
class _Task:
    step: Step
    subject: str  # what it is about, for sentences: a source, a plugin id or name
    call: Callable[[], object]


def failure_sentence(step: Step, subject: str, exc: BaseException) -> str:
    """What went wrong, as one sentence for the dialog (the traceback of a bug goes to the
    log)."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{_DOING[step]} {subject} failed: {what}{where}."
    return (
        f"{_DOING[step]} {subject} failed unexpectedly ({type(exc).__name__}: {exc}); "
        "the log has the details."
    )


class PluginInstalls(QObject):
    """Runs the installer's steps on a worker thread, one at a time, in the order asked.

    Signals (all emitted in the thread this object lives in, the GUI thread):
        started(step, subject): a step began.
        progressed(fraction, message): how far the running step is (fraction from 0 to 1, or
            :data:`UNKNOWN`) and what it is doing.
        reviewed(review): an :class:`~studio.core.plugin_install.InstallReview`.
        installed(plugin): an :class:`~studio.core.plugin_install.InstalledPlugin`.
        changed(sentence): the plugins changed (installed, uninstalled, switched on or off);
            the registry has read the manifests again; the sentence says what was done.
        failed(step, sentence): a step failed; nothing else changed.
        busy_changed(busy): whether a step is running or waiting.
    """

    started = Signal(str, str)
    progressed = Signal(float, str)
    reviewed = Signal(object)
    installed = Signal(object)
    changed = Signal(str)
    failed = Signal(str, str)
    busy_changed = Signal(bool)

    _progress = Signal(float, str)
    _began = Signal(object)
    _ended = Signal(object, bool, object)  # task, ok, result or exception

    def __init__(
        self, installer: PluginInstaller, registry: PluginRegistry, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.installer = installer
        self.registry = registry
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._asked: list[Step] = []  # asked and not yet ended, in order (GUI thread only)
        self._running: Step | None = None
        self._thread: threading.Thread | None = None
        self._progress.connect(self._on_progress)
        self._began.connect(self._on_began)
        self._ended.connect(self._on_ended)

    # what the dialog asks ---------------------------------------------------------------------

    def review(self, source: str) -> None:
        """Unpack and read ``source`` (a folder, a .zip, a wheel or a package name)."""
        self._ask(Step.REVIEW, source, lambda: self.installer.review(source, self._report))

    def install(self, review: InstallReview) -> None:
        self._ask(
            Step.INSTALL,
            review.manifest.name,
            lambda: self.installer.install(review, self._report),
        )

    def discard(self, review: InstallReview) -> None:
        """The user said no to ``review``: its staging folder goes (nothing is emitted but a
        failure)."""
        self._ask(Step.DISCARD, review.manifest.name, lambda: self.installer.discard(review))

    def uninstall(self, plugin_id: str, name: str = "") -> None:
        """Remove what installing ``plugin_id`` added (``name``: how sentences call it)."""
        self._ask(Step.UNINSTALL, name or plugin_id, lambda: self.installer.uninstall(plugin_id))

    def set_enabled(self, plugin_id: str, enabled: bool, name: str = "") -> None:
        step = Step.ENABLE if enabled else Step.DISABLE
        self._ask(step, name or plugin_id, lambda: self.installer.set_enabled(plugin_id, enabled))

    @property
    def busy(self) -> bool:
        return bool(self._asked)

    @property
    def running(self) -> Step | None:
        """The step running now, if any."""
        return self._running

    @property
    def installing(self) -> bool:
        """Whether an install or uninstall is running or waiting: stopping the process now
        could leave it half done."""
        return any(step in (Step.INSTALL, Step.UNINSTALL) for step in self._asked)

    def wait(self, timeout: float | None = None) -> bool:
        """Let the worker finish what it was asked and end (quit); True when it did."""
        if self._thread is None:
            return True
        self._tasks.put(None)
        self._thread.join(timeout)
        done = not self._thread.is_alive()
        if done:
            self._thread = None
        return done

    # the worker -------------------------------------------------------------------------------

    def _ask(self, step: Step, subject: str, call: Callable[[], object]) -> None:
        self._asked.append(step)
        if len(self._asked) == 1:
            self.busy_changed.emit(True)
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="plugin-installs", daemon=True)
            self._thread.start()
        self._tasks.put(_Task(step, subject, call))

    def _report(self, fraction: float | None, message: str) -> None:
        """The installer's progress callback (worker thread)."""
        self._progress.emit(UNKNOWN if fraction is None else float(fraction), message)

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            self._began.emit(task)
            try:
                result = task.call()
                if task.step in CHANGES:
                    self.registry.discover()  # manifests only: no plugin code runs
            except Exception as exc:  # said in the dialog; a bug's traceback goes to the log
                if not isinstance(exc, UserError | OSError):
                    log.error("%s %s failed", task.step.value, task.subject, exc_info=exc)
                self._ended.emit(task, False, exc)
            else:
                self._ended.emit(task, True, result)

    # back in the GUI thread -------------------------------------------------------------------

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progressed.emit(fraction, message)

    @Slot(object)
    def _on_began(self, task: _Task) -> None:
        self._running = task.step
        self.started.emit(task.step.value, task.subject)

    @Slot(object, bool, object)
    def _on_ended(self, task: _Task, ok: bool, result: object) -> None:
        self._running = None
        self._asked.remove(task.step)
        if not ok:
            assert isinstance(result, BaseException)
            self.failed.emit(task.step.value, failure_sentence(task.step, task.subject, result))
        elif task.step is Step.REVIEW:
            self.reviewed.emit(result)
        elif task.step is Step.INSTALL:
            assert isinstance(result, InstalledPlugin)
            self.installed.emit(result)
            self.changed.emit(f"Installed {task.subject} {result.version}.")
        elif task.step is Step.UNINSTALL:
            self.changed.emit(f"Uninstalled {task.subject}.")
        elif task.step in (Step.ENABLE, Step.DISABLE):
            state = "on" if task.step is Step.ENABLE else "off"
            self.changed.emit(f"Switched {task.subject} {state}.")
        if not self._asked:
            self.busy_changed.emit(False)
