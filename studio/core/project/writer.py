"""The single writer of a project: one thread, one connection, a queue of write operations.

Every change to a project, from the window and the command line alike, is a function of an
SQLite connection submitted here. The writer runs them one after another, each in its own
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if the function raises), and
hands back the result through a :class:`~concurrent.futures.Future`. Callers on the GUI thread
can attach a done-callback instead of waiting.

The connection switches the file to WAL with the first change, so readers on their own
connections never wait for the writer; a project opened and closed without a change is left
exactly as it was, byte for byte. On close after changes the writer checkpoints and switches the
file back to the rollback journal, which removes the ``-wal`` and ``-shm`` files: a closed
project is a single file that opens read-only even from a read-only folder.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from studio.core.project.errors import ProjectClosedError

log = logging.getLogger(__name__)

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], T]

_STOP = object()


class ProjectWriter:
    """Owns the only read-write connection to one project file."""

    def __init__(
        self,
        path: Path,
        *,
        prepare: Callable[[sqlite3.Connection], None] | None = None,
        synchronous: str = "FULL",
        before_first_change: Callable[[], None] | None = None,
    ) -> None:
        """Open ``path`` (which must exist) on a new writer thread.

        ``prepare`` runs first on the writer's connection, before WAL is switched on and with
        foreign keys off (for checks and schema migrations, in its own transaction). Errors
        while opening are raised here.
        """
        self.path = path
        self._prepare = prepare
        self._before_first_change = before_first_change
        """Runs once, before the first change touches the file; what it raises refuses that
        change (and the next, until it passes): the store's check that the file is whole."""
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._wal = False  # switched on with the first change
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._main, args=(ready,), name=f"project-writer {path.name}", daemon=True
        )
        self._thread.start()
        ready.result()

    def submit(self, operation: Operation[T], *, transaction: bool = True) -> Future[T]:
        """Queue ``operation(connection)``; its result or exception arrives in the future.

        With ``transaction`` (the default) it runs inside ``BEGIN IMMEDIATE`` / ``COMMIT``;
        without, it runs bare (for statements such as ``VACUUM INTO`` that refuse one).
        """
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise ProjectClosedError(f"The project {self.path.name} is closed.")
            self._queue.put((future, operation, transaction))
        return future

    def run(self, operation: Operation[T], *, transaction: bool = True) -> T:
        """Submit ``operation`` and wait for it; returns its result or raises its error."""
        return self.submit(operation, transaction=transaction).result()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Finish the queued operations, leave a single file behind, and stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()

    def _main(self, ready: Future[None]) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            with self._lock:
                self._closed = True
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            while (item := self._queue.get()) is not _STOP:
                self._run_one(conn, *item)
        finally:
            self._finish(conn)

    def _connect(self) -> sqlite3.Connection:
        uri = f"{self.path.absolute().as_uri()}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
        try:
            if self._prepare is not None:
                self._prepare(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            # A file left in WAL mode (after a crash) is in WAL already: tidied up at close.
            self._wal = conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _ensure_wal(self, conn: sqlite3.Connection) -> None:
        if not self._wal:
            self._wal = True
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                log.warning("%s: journal mode is %s, not WAL", self.path, mode)

    def _run_one(
        self, conn: sqlite3.Connection, future: Future, operation: Operation, transaction: bool
    ) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            if self._before_first_change is not None:
                self._before_first_change()  # raises: nothing is written, not even the WAL
                self._before_first_change = None
            self._ensure_wal(conn)
            if transaction:
                conn.execute("BEGIN IMMEDIATE")
            result = operation(conn)
            if transaction:
                conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            future.set_exception(exc)
        else:
            future.set_result(result)

    def _finish(self, conn: sqlite3.Connection) -> None:
        if not self._wal:
            conn.close()  # nothing was changed: the file stays exactly as it was
            return
        try:
            conn.execute("PRAGMA optimize")
            # Pages left free (a document's earlier texts, purged assets) go back to the file
            # system; a project file opened without auto_vacuum ignores this.
            conn.executescript("PRAGMA incremental_vacuum;")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            # Fails while another process still reads the file; the last one to close cleans up.
            conn.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.Error as exc:
            log.info("%s: left in WAL mode at close (%s)", self.path, exc)
        finally:
            conn.close()
