"""Writing project files whole or not at all: a new file appears under its name only when it
is complete (made under a temporary name beside it, synced, then linked into place), and never
replaces a file that is there unless asked to."""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

from studio.core.project.errors import ProjectExistsError
from studio.core.project.schema import create_schema


def temporary_beside(target: Path, purpose: str) -> Path:
    """A hidden name beside ``target`` for a file being made (``.NAME.XXXX.purpose``)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.{purpose}")


def create_project_file(path: Path) -> None:
    """Create an empty project at ``path`` atomically; refuses to replace a file."""
    if path.exists():
        raise ProjectExistsError(f"{path} already exists.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_beside(path, "creating")
    try:
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the first table
            conn.execute("BEGIN")
            create_schema(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
        fsync_file(temporary)
        move_into_place(temporary, path, overwrite=False)
    finally:
        temporary.unlink(missing_ok=True)


def fsync_file(path: Path) -> None:
    """Make the file's content durable before it gets its name."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def move_into_place(source: Path, target: Path, *, overwrite: bool) -> None:
    """Give ``source`` the name ``target``; without ``overwrite``, never replace a file there."""
    if overwrite:
        os.replace(source, target)
        return
    try:
        # A hard link fails if the target exists, so a file that appeared meanwhile survives.
        os.link(source, target)
    except FileExistsError as exc:
        raise ProjectExistsError(f"{target} already exists.") from exc
    except OSError:  # file systems without hard links
        if target.exists():
            raise ProjectExistsError(f"{target} already exists.") from None
        os.replace(source, target)
