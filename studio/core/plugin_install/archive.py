"""Unpack a zip (or wheel) and copy a folder into the staging folder, refusing what is hostile.

Refused, each with one sentence: absolute paths, ``..`` components and backslashes in entry
names; links of any kind in an archive, and in a folder any link that points outside it (or at
a folder); device files, pipes and sockets; more than :attr:`Limits.files` entries; more than
:attr:`Limits.bytes` bytes in all. Sizes an archive declares are not trusted: bytes are counted
as they are written and the copy stops at the limit (a zip bomb stops there). Files are created
exclusively (``O_EXCL``), so nothing is written through an existing path. The caller removes the
staging folder when anything is refused.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from studio.core.durations import format_size
from studio.core.errors import UserError

MAX_FILES = 10_000
MAX_BYTES = 1_000_000_000  # 1 GB
CHUNK = 1 << 20

SKIPPED_FOLDERS = frozenset({"__pycache__", ".git", ".hg", ".svn"})
"""Folders a plugin folder may hold that are never copied (byte code, version control)."""

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    """How much one plugin may unpack to."""

    files: int = MAX_FILES
    bytes: int = MAX_BYTES


class _Budget:
    """Counts files and bytes against the limits."""

    def __init__(self, limits: Limits, what: str) -> None:
        self.limits = limits
        self.what = what
        self.files = 0
        self.bytes = 0

    def add_file(self) -> None:
        self.files += 1
        if self.files > self.limits.files:
            raise UserError(
                f"{self.what} holds more than {self.limits.files:,} files and folders; Studio "
                "refuses it."
            )

    def add_bytes(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.limits.bytes:
            raise UserError(
                f"{self.what} holds more than {format_size(self.limits.bytes)}; Studio refuses it "
                "(a zip bomb, or far too big for a plugin)."
            )


def _copy_stream(source, target: Path, budget: _Budget) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            budget.add_bytes(len(chunk))
            out.write(chunk)


def entry_parts(name: str, what: str) -> tuple[str, ...]:
    """The path components of an archive entry name; a hostile name is a UserError."""
    if "\x00" in name or "\\" in name:
        raise UserError(f"{what} has an entry with a backslash or NUL in its name ({name!r}).")
    if name.startswith("/") or _DRIVE.match(name):
        raise UserError(f"{what} has an entry with an absolute path ({name}); Studio refuses it.")
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if ".." in parts:
        raise UserError(
            f"{what} has an entry that climbs out of its folder ({name}); Studio refuses it."
        )
    return parts


def extract_zip(archive: Path, dest: Path, limits: Limits, what: str) -> None:
    """Unpack ``archive`` into the empty folder ``dest``, checking every entry first."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > limits.files:
                raise UserError(
                    f"{what} holds {len(infos):,} entries, more than {limits.files:,}; "
                    "Studio refuses it."
                )
            planned: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
            for info in infos:
                parts = entry_parts(info.filename, what)
                mode = info.external_attr >> 16
                kind = stat.S_IFMT(mode)
                if kind == stat.S_IFLNK:
                    raise UserError(
                        f"{what} holds a link ({info.filename}); Studio refuses links in archives."
                    )
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    raise UserError(
                        f"{what} holds a device file, pipe or socket ({info.filename}); Studio "
                        "refuses it."
                    )
                if parts:
                    planned.append((info, parts))
            if sum(info.file_size for info, _ in planned) > limits.bytes:
                raise UserError(
                    f"{what} holds more than {format_size(limits.bytes)}; Studio refuses it "
                    "(a zip bomb, or far too big for a plugin)."
                )
            budget = _Budget(limits, what)
            root = dest.resolve()
            for info, parts in planned:
                target = dest.joinpath(*parts)
                if not target.resolve().is_relative_to(root):  # belt and braces
                    raise UserError(f"{what} has an entry outside its folder ({info.filename}).")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                budget.add_file()
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():
                    raise UserError(f"{what} holds {info.filename} twice; Studio refuses it.")
                with zf.open(info) as source:
                    _copy_stream(source, target, budget)
    except zipfile.BadZipFile as exc:
        raise UserError(f"{what} is not a readable zip archive ({exc}).") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, unknown compression
        raise UserError(f"{what} cannot be unpacked ({exc}).") from None
    except OSError as exc:
        raise UserError(f"{what} cannot be unpacked ({exc.strerror or exc}).") from None


def copy_tree(
    source: Path,
    dest: Path,
    limits: Limits,
    what: str,
    *,
    leave_out: Callable[[str], bool] = lambda name: False,
) -> None:
    """Copy the folder ``source`` to ``dest`` (created), as plain files and folders.

    A link to a file inside ``source`` is copied as that file; a link pointing outside it, or
    at a folder, is refused, as are device files, pipes and sockets. Byte code and version
    control folders (:data:`SKIPPED_FOLDERS`) are left out, and the entries of ``source``
    itself whose name ``leave_out`` says.
    """
    budget = _Budget(limits, what)
    root = source.resolve()

    def copy(folder: Path, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=False)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise UserError(f"{folder} cannot be read ({exc.strerror or exc}).") from None
        for entry in entries:
            if folder == source and leave_out(entry.name):
                continue
            path = Path(entry.path)
            shown = path.relative_to(source)
            if entry.is_symlink():
                real = path.resolve()
                if not real.is_relative_to(root):
                    raise UserError(
                        f"{what} holds a link that points outside it ({shown} -> {real}); "
                        "Studio refuses it."
                    )
                if real.is_dir():
                    raise UserError(
                        f"{what} holds a link to a folder ({shown}); Studio refuses it."
                    )
                if not real.is_file():
                    raise UserError(f"{what} holds a broken link ({shown}); Studio refuses it.")
                budget.add_file()
                with open(real, "rb") as stream:
                    _copy_stream(stream, target / entry.name, budget)
                continue
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                if entry.name not in SKIPPED_FOLDERS:
                    budget.add_file()  # an entry too: a million empty folders is no plugin
                    copy(path, target / entry.name)
            elif stat.S_ISREG(mode):
                budget.add_file()
                with open(path, "rb") as stream:
                    _copy_stream(stream, target / entry.name, budget)
                shutil.copymode(path, target / entry.name)
            else:
                raise UserError(
                    f"{what} holds a device file, pipe or socket ({shown}); Studio refuses it."
                )

    try:
        copy(source, dest)
    except OSError as exc:
        raise UserError(f"{what} cannot be copied ({exc.strerror or exc}).") from None


def tree_size(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``."""
    files = size = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            files += 1
            size += path.stat().st_size
    return files, size
