"""What Studio hands a plugin besides options: cancel token, device, threads, model files, log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Cancelled(Exception):
    """Raised inside a run when its job was cancelled. Studio commits nothing more from that run:
    what it already yielded as a :class:`Result` (a batch's finished items) is kept."""


class CancelToken:
    """Set by Studio when the user cancels; checked by the plugin as often as it can.

    Map it onto the backend's own hook: a diffusers ``callback_on_step_end``, a transformers
    ``StoppingCriteria``, a check between sentences or images. Thread-safe.
    """

    def __init__(self, event: threading.Event | None = None) -> None:
        # Any object with set/is_set/wait works, e.g. a multiprocessing Event shared with the
        # process that runs the plugin.
        self._event = event if event is not None else threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the job was cancelled."""
        if self._event.is_set():
            raise Cancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking early on cancel; True if cancelled."""
        return self._event.wait(seconds)

    def on_cancel(self, callback: Callable[[], object]) -> CancelWatch:
        """Call ``callback()`` as soon as the job is cancelled, from another thread, while the
        ``with`` block runs: for work that cannot check the token itself, such as a program
        the plugin runs or a long native call with a stop function::

            process = subprocess.Popen([...], stdout=subprocess.PIPE)
            with ctx.cancel.on_cancel(process.kill):
                output, _ = process.communicate()

        Leaving the block stops the watch; if the job was cancelled meanwhile, it raises
        :class:`Cancelled` (in place of whatever error the stopped work raised). A job
        cancelled before the block calls ``callback`` at once.
        """
        return CancelWatch(self, callback)


class CancelWatch:
    """A watch started by :meth:`CancelToken.on_cancel`; a context manager."""

    POLL_S = 0.05
    """How often the watch looks at the token (a cancel from another process sets no local
    event the watch could sleep on)."""

    def __init__(self, token: CancelToken, callback: Callable[[], object]) -> None:
        self._token = token
        self._callback = callback
        self._stop = threading.Event()
        self._called = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cancel-watch", daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            if self._token.wait(self.POLL_S):
                if not self._stop.is_set():
                    self._called.set()
                    self._callback()
                return

    def __enter__(self) -> CancelWatch:
        if self._token.cancelled:
            self._called.set()
            self._callback()
        else:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._token.cancelled:
            raise Cancelled()


@dataclass(frozen=True, kw_only=True)
class ResolvedModel:
    """The model a plugin should load, already found on disk by Studio.

    Attributes:
        id: the model id or the path the user gave; recorded in recipes.
        path: a local file or folder; None for plugins that need no model files.
        sha256: content hash of the main weights file, when known (recorded in recipes).
        licence: the model's licence, when known.
        embedded: True for the default model that ships with a package.
    """

    id: str
    path: Path | None = None
    sha256: str | None = None
    licence: str = ""
    embedded: bool = False


def _ignore_progress(fraction: float | None, message: str) -> None:
    pass


@dataclass(kw_only=True)
class LoadContext:
    """Given to :meth:`ModelPlugin.load`.

    Attributes:
        model: the resolved model files.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``, already chosen by Studio.
        threads: how many CPU threads the plugin may use (pass it to torch/onnxruntime).
            Studio decides it per job from what else runs on the machine (other Studio jobs
            in any process, other programs): set it again in ``run()`` (``RunContext.threads``)
            where the engine allows, not only at load.
        cancel: cancel token; long loads should check it.
        logger: where to log; never print.
        report_progress: call with (fraction or None, message) during long loads.
        allow_remote_code: True only when the user consented to run the code shipped with
            this model folder (after the plugin raised ``RemoteCodeRequired``); pass it on as
            ``trust_remote_code``, never ``True`` on your own.
        substitutes: pickle files the user allowed Studio to convert, mapped to the
            safetensors copies to load instead; :meth:`load_weights` applies them.
        background: True for a warm-up load nobody is watching (Studio loads the selected
            model when a panel opens, so the first Run starts at once). Skip slow one-time
            work such as converting a model by raising ``Cancelled``: the first real run does
            it, with its progress shown.
        engine_variants: for each of the plugin's engine checks that passed on this machine,
            the variant that passed (``"default"``, or a cure such as running without a
            kernel that crashes here); run the engine that way.
    """

    model: ResolvedModel
    device: str = "cpu"
    threads: int = 1
    cancel: CancelToken = field(default_factory=CancelToken)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("studio.plugin"))
    report_progress: Callable[[float | None, str], None] = _ignore_progress
    allow_remote_code: bool = False
    substitutes: dict[str, Path] = field(default_factory=dict)
    background: bool = False
    engine_variants: dict[str, str] = field(default_factory=dict)

    def load_weights(self, path: Path, map_location: Any = "cpu") -> Any:
        """Load a weights file safely (see :func:`studio.plugin_api.safe_loading.safe_torch_load`).

        A pickle file the user allowed to be converted is read from its safetensors copy; one
        that needs full unpickling without consent raises ``UnsafeWeights``, which Studio turns
        into a question to the user.
        """
        from studio.plugin_api.safe_loading import safe_torch_load

        target = self.substitutes.get(str(Path(path).resolve()), path)
        return safe_torch_load(target, map_location)


@dataclass(kw_only=True)
class RunContext:
    """Given to :meth:`ModelPlugin.run`; same meaning as in :class:`LoadContext`."""

    model: ResolvedModel
    device: str = "cpu"
    threads: int = 1
    cancel: CancelToken = field(default_factory=CancelToken)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("studio.plugin"))
