"""One Studio window per data directory: a second launch hands its project to the first.

The first launch listens on a local socket (``QLocalServer``: a Unix socket on Linux and macOS,
a named pipe on Windows) named after the user and the data directory. A later launch connects,
sends one JSON line (``{"open": "/abs/path.studio"}`` or ``{"activate": true}``), waits for the
answer ``ok`` and exits; the running window opens the project and comes to the front. A socket
left behind by a crashed Studio is detected (nobody answers) and replaced.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_MS = 1500
ANSWER_MS = 5000


def server_name(data_dir: Path) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    key = f"{user}:{Path(data_dir).resolve()}".encode()
    return f"studio-{hashlib.sha256(key).hexdigest()[:16]}"


def message_for(project: Path | None) -> dict:
    return {"open": str(Path(project).resolve())} if project is not None else {"activate": True}


def send_to_running(name: str, message: dict) -> bool:
    """Deliver ``message`` to a running Studio; False if none is listening."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return False
    socket.write((json.dumps(message) + "\n").encode())
    socket.flush()
    if socket.bytesToWrite() and not socket.waitForBytesWritten(CONNECT_MS):
        socket.abort()
        return False
    answered = socket.waitForReadyRead(ANSWER_MS) and bytes(socket.readAll()).startswith(b"ok")
    socket.disconnectFromServer()
    return answered


class InstanceServer(QObject):
    """Listens for later launches; emits what they ask for."""

    open_requested = Signal(str)
    activate_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        # A socket file left by a Studio that crashed: nobody answers on it, so replace it.
        QLocalServer.removeServer(self.name)
        return self.server.listen(self.name)

    def close(self) -> None:
        self.server.close()

    @Slot()
    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))
            if socket.bytesAvailable():  # arrived before the connections were made
                self._read(socket)

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll())
        if len(data) > 64 * 1024:
            socket.abort()  # not one of ours
            return
        if b"\n" not in data:
            self._buffers[socket] = data
            return
        line = data.split(b"\n", 1)[0]
        self._buffers[socket] = b""
        try:
            message = json.loads(line)
        except ValueError:
            socket.write(b"error\n")
            return
        socket.write(b"ok\n")
        socket.flush()
        if isinstance(message, dict) and isinstance(message.get("open"), str):
            self.open_requested.emit(message["open"])
        else:
            self.activate_requested.emit()
