"""Read connections of a project: a small pool, so any thread can read while the writer writes.

Each reader connection is read-only and belongs to one borrower at a time. Closing the pool
waits for borrowed connections to come back, because the writer can only turn the file back
into a single file once every other connection is closed.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator

from studio.core.project.errors import ProjectClosedError


def casefold(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).casefold()


def add_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions that project queries use (only in queries, never in the schema)."""
    conn.create_function("studio_casefold", 1, casefold, deterministic=True)


class ReaderPool:
    """Hands out read connections made by ``connect``, at most ``size`` at once."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], size: int = 4) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[sqlite3.Connection] = []
        self._borrowed = 0
        self._closed = False
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a connection for the duration of the ``with`` block."""
        conn = self._borrow()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.rollback()
            self._give_back(conn)

    def close(self, timeout: float = 10.0) -> None:
        """Close every connection, waiting up to ``timeout`` seconds for borrowed ones."""
        with self._changed:
            self._closed = True
            self._changed.wait_for(lambda: self._borrowed == 0, timeout)
            for conn in self._idle:
                conn.close()
            self._idle.clear()

    def _borrow(self) -> sqlite3.Connection:
        with self._changed:
            while True:
                if self._closed:
                    raise ProjectClosedError("The project is closed.")
                if self._idle:
                    conn = self._idle.pop()
                    break
                if self._borrowed < self._size:
                    conn = None
                    break
                self._changed.wait()
            self._borrowed += 1
        if conn is None:
            try:
                conn = self._connect()
            except BaseException:
                with self._changed:
                    self._borrowed -= 1
                    self._changed.notify_all()
                raise
        return conn

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._changed:
            self._borrowed -= 1
            if self._closed:
                conn.close()
            else:
                self._idle.append(conn)
            self._changed.notify_all()
