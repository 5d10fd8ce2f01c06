"""Playback of a take: QMediaPlayer and QAudioOutput behind a small, forgiving interface.

QtMultimedia is imported when the first take is loaded, not at start-up. Playback problems are
soft: a machine without a sound device (a CI runner, a remote desktop) or a media backend that
fails says so through :attr:`AudioPlayer.problem`, and the panel keeps working (the waveform,
seeking and export do not need sound).

The player is told what to do through queued calls, run by the event loop, never directly from
Python: Qt's FFmpeg backend deletes objects on its own thread, and those deletions tell our
player (a PySide object) that a connection went, which needs the GIL. A direct ``stop()`` holds
the GIL while it waits for that thread's lock: both wait forever (seen as a hung window on
Close, and a hung test, on a busy CPU). The event loop calls the player without the GIL.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from PySide6.QtCore import Q_ARG, QMetaObject, QObject, Qt, QUrl, Signal, Slot

log = logging.getLogger(__name__)

NO_DEVICE = "No sound output device was found, so playback is silent; export the take to listen."


class AudioPlayer(QObject):
    """Plays audio bytes; reports the position in seconds.

    Signals:
        position_changed(float): the play head, in seconds.
        playing_changed(bool): playback started or stopped (paused, ended).
        problem(str): playback cannot work as expected; the message says why.
    """

    position_changed = Signal(float)
    playing_changed = Signal(bool)
    problem = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._player = None
        self._output = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._count = 0
        self.duration = 0.0
        self.last_problem = ""

    def _ensure(self) -> bool:
        if self._player is not None:
            return True
        try:
            from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
        except ImportError as exc:  # pyside6-addons missing
            self._report(f"Playback is unavailable: QtMultimedia cannot be loaded ({exc}).")
            return False
        self._player = QMediaPlayer(self)
        self._output = QAudioOutput(self)
        self._player.setAudioOutput(self._output)
        self._player.positionChanged.connect(self._on_position)
        self._player.playbackStateChanged.connect(self._on_state)
        self._player.errorOccurred.connect(self._on_error)
        if not QMediaDevices.audioOutputs():
            self._report(NO_DEVICE)
        return True

    def _report(self, message: str) -> None:
        self.last_problem = message
        log.info("audio playback: %s", message)
        self.problem.emit(message)

    def load(self, data: bytes, duration: float, suffix: str = ".wav") -> None:
        """Make ``data`` the audio to play (stops what played before)."""
        self.duration = duration
        if not self._ensure():
            return
        assert self._player is not None
        self._control("stop")
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="studio-audio-")
        self._count += 1
        # A new name each time: the backend may still hold the previous file open.
        path = Path(self._folder.name) / f"take-{self._count}{suffix}"
        try:
            path.write_bytes(data)
        except OSError as exc:
            self._report(f"Playback is unavailable: the audio cannot be written ({exc}).")
            return
        for old in Path(self._folder.name).glob("take-*"):
            if old != path:
                old.unlink(missing_ok=True)
        self._control("setSource", Q_ARG(QUrl, QUrl.fromLocalFile(str(path))))
        self.position_changed.emit(0.0)

    @property
    def playing(self) -> bool:
        if self._player is None:
            return False
        from PySide6.QtMultimedia import QMediaPlayer

        return self._player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    @property
    def position(self) -> float:
        return self._player.position() / 1000 if self._player is not None else 0.0

    def play(self) -> None:
        if self._player is not None:
            self._control("play")

    def pause(self) -> None:
        self._control("pause")

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def stop(self) -> None:
        self._control("stop")

    def seek(self, seconds: float) -> None:
        seconds = max(0.0, min(seconds, self.duration))
        self._control("setPosition", Q_ARG("qint64", round(seconds * 1000)))
        self.position_changed.emit(seconds)

    def _control(self, slot: str, *args: object) -> None:
        """Call a slot of the player from the event loop (see the module's docstring)."""
        if self._player is not None:
            QMetaObject.invokeMethod(self._player, slot, Qt.ConnectionType.QueuedConnection, *args)

    def close(self) -> None:
        """Stop, let go of the take, and leave the player to be deleted by the event loop."""
        if self._player is not None:
            self._control("stop")
            self._control("setSource", Q_ARG(QUrl, QUrl()))
            self._player.deleteLater()
            if self._output is not None:
                self._output.deleteLater()
            self._player = self._output = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    @Slot("qint64")
    def _on_position(self, milliseconds: int) -> None:
        self.position_changed.emit(milliseconds / 1000)

    @Slot(object)
    def _on_state(self, state: object) -> None:
        self.playing_changed.emit(self.playing)

    @Slot(object, str)
    def _on_error(self, error: object, message: str) -> None:
        self._report(f"Playback failed: {message or error}.")
