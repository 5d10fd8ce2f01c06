"""Repairing a damaged project: everything that can still be read goes into a new file beside it.

The damaged file is never changed. Repair works on a copy (with the project's own journal,
when it has one, so that committed work in a crash WAL is kept and a cut-off change is rolled
back; a journal that is not its own is left out). It reads the assets one row at a time, by
every path SQLite has to them (the table and each of its indexes), so that a broken page costs
only the rows on it; checks every content against its SHA-256; and writes what is whole into a
new project with the current schema, in one transaction, under a temporary name that becomes
the new file only once the new file passed the full integrity check.

Kept: every asset whose content is whole, with its id, title, times, trash state and recipe;
its lineage; a document's history back to the first revision that no longer rebuilds; and
content whose asset row was lost, as a recovered asset. An asset whose recipe cannot be read
keeps its content with an "imported" recipe that says so. Everything not kept, or kept only in
part, is listed in the :class:`RepairReport` with the reason.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.core.project.checks import integrity_check
from studio.core.project.errors import (
    DamagedProjectError,
    NotAProjectError,
    ProjectError,
    ProjectExistsError,
    ProjectNotFoundError,
    ProjectOpenError,
)
from studio.core.project.files import fsync_file, move_into_place
from studio.core.project.opening import (
    HEADER_SIZE,
    ROLLBACK_JOURNAL_MAGIC,
    SQLITE_MAGIC,
    check_journal,
)
from studio.core.project.salvage import RepairedItem, Salvage
from studio.core.project.schema import APPLICATION_ID
from studio.plugin_api.kinds import AssetKind

Progress = Callable[[int, int], None]
"""Called with (assets looked at, assets found) while a repair reads the damaged file; it may
raise :class:`RepairCancelled` to stop the repair (nothing is written then)."""


class RepairCancelled(ProjectError):
    """The repair was stopped before it wrote anything."""

    def __init__(self) -> None:
        super().__init__("The repair was cancelled; nothing was written.")


_DEFAULT_PAGE_SIZE = 4096


@dataclass(frozen=True, kw_only=True)
class RepairReport:
    """What a repair kept and lost.

    Attributes:
        source: the damaged file (unchanged).
        target: the new project, or None when the source had nothing to repair.
        kept: assets in the new project (those in the trash included).
        recovered: of those, contents whose asset row was lost, kept as recovered assets.
        documents: documents in the new project.
        lost: assets not kept, with the reason.
        partly_kept: assets kept without something (their recipe, older revisions, an input).
        notes: what was found about the file itself (a journal left out, unreadable rows).
    """

    source: Path
    target: Path | None
    kept: int = 0
    recovered: int = 0
    documents: int = 0
    lost: tuple[RepairedItem, ...] = ()
    partly_kept: tuple[RepairedItem, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def nothing_to_repair(self) -> bool:
        return self.target is None

    def summary(self) -> str:
        """One sentence: where the repaired project is and what it holds."""
        if self.target is None:
            return f"{self.source.name} passed its full check: there is nothing to repair."
        lost = f"; {len(self.lost)} could not be saved" if self.lost else ""
        recovered = f" ({self.recovered} recovered without their details)" if self.recovered else ""
        return (
            f"Repaired {self.source.name} into {self.target.name}: {self.kept} assets "
            f"kept{recovered}{lost}. {self.source.name} was not changed."
        )


def default_target(source: Path) -> Path:
    """``NAME (repaired).studio`` beside the damaged file, numbered if that exists."""
    for number in range(1, 1000):
        suffix = " (repaired)" if number == 1 else f" (repaired {number})"
        candidate = source.with_name(f"{source.stem}{suffix}{source.suffix}")
        if not candidate.exists():
            return candidate
    raise ProjectExistsError(f"There is no free name for a repaired copy beside {source}.")


def repair_project(
    source: Path, target: Path | None = None, *, progress: Progress | None = None
) -> RepairReport:
    """Salvage what is intact in ``source`` into a new project at ``target`` (default:
    :func:`default_target`), changing nothing in ``source``.

    Raises a :class:`~studio.core.project.errors.ProjectOpenError` with one sentence when the
    source is missing, not a Studio project, or so damaged that nothing can be read; and
    :class:`~studio.core.project.errors.ProjectExistsError` when ``target`` exists. A healthy
    project gives a report with ``nothing_to_repair`` and no new file.
    """
    source = Path(source)
    _check_source(source)
    if target is not None and Path(target).exists():
        raise ProjectExistsError(f"{target} already exists; choose another name for the repair.")
    folder = Path(target).parent if target is not None else source.parent
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{source.name}.", suffix=".repairing", dir=folder))
    except OSError as exc:
        raise ProjectOpenError(
            source, f"The repaired copy cannot be written in {folder} ({exc.strerror})."
        ) from exc
    try:
        copy, notes = _working_copy(source, work)
        salvage = Salvage(source, copy, notes, progress)
        salvage.read()
        if salvage.healthy():
            return RepairReport(source=source, target=None)
        if progress is not None:
            progress(len(salvage.rows), len(salvage.rows))  # the last chance to cancel
        made = work / "repaired.studio"
        salvage.write(made)
        report = integrity_check(made)
        if not report.ok:  # a bug of the repair itself: never hand out a damaged file
            raise RuntimeError(f"the repaired copy failed its own check: {report.summary}")
        fsync_file(made)
        final = Path(target) if target is not None else default_target(source)
        move_into_place(made, final, overwrite=False)
        return RepairReport(
            source=source,
            target=final,
            kept=len(salvage.rows) + len(salvage.recovered),
            recovered=len(salvage.recovered),
            documents=sum(1 for row in salvage.rows if row.kind is AssetKind.DOCUMENT),
            lost=tuple(salvage.lost),
            partly_kept=tuple(salvage.partly),
            notes=tuple(salvage.notes),
        )
    except (OSError, sqlite3.OperationalError) as exc:
        if isinstance(exc, sqlite3.OperationalError) and not any(
            words in str(exc) for words in ("full", "disk I/O")
        ):
            raise
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProjectOpenError(
            source,
            f"The repair of {source.name} stopped, and nothing was written: {folder} has no "
            f"room or cannot be written ({why}); a repair needs room for a copy of the project "
            "and for the repaired file.",
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_source(source: Path) -> None:
    name = source.name
    if not source.exists():
        raise ProjectNotFoundError(source, f"{source} does not exist.")
    if not source.is_file():
        raise ProjectNotFoundError(source, f"{source} is a folder, not a Studio project file.")
    try:
        with open(source, "rb") as handle:
            header = handle.read(HEADER_SIZE)
    except OSError as exc:
        raise ProjectOpenError(source, f"{name} cannot be read ({exc.strerror}).") from exc
    if len(header) < HEADER_SIZE:
        raise DamagedProjectError(
            source, f"{name} is too short to hold anything ({len(header)} bytes): nothing to save."
        )
    if int.from_bytes(header[68:72], "big", signed=True) != APPLICATION_ID:
        raise NotAProjectError(
            source, f"{name} is not marked as a Studio project, so Studio cannot repair it."
        )


def _working_copy(source: Path, work: Path) -> tuple[Path, list[str]]:
    """A copy of the file SQLite can open (header fixed where damage made it unreadable), with
    the project's own journal beside it; and notes on what was left out."""
    notes: list[str] = []
    copy = work / "damaged.studio"
    shutil.copyfile(source, copy)
    with open(copy, "r+b") as handle:
        header = bytearray(handle.read(HEADER_SIZE))
        original = bytes(header)
        raw = int.from_bytes(header[16:18], "big")
        page_size = 65536 if raw == 1 else raw
        if page_size < 512 or page_size & (page_size - 1) or page_size > 65536:
            page_size = _DEFAULT_PAGE_SIZE
            header[16:18] = page_size.to_bytes(2, "big")
        size = handle.seek(0, 2)
        pages = -(-size // page_size)
        claimed = int.from_bytes(original[28:32], "big")
        if original[24:28] == original[92:96] and claimed * page_size <= 4 * size + (1 << 26):
            pages = max(pages, claimed)  # a cut file: its pages up to where it ended
        if pages * page_size != size:  # what was cut off reads as zeros (as in a short read)
            handle.truncate(pages * page_size)
        header[0:16] = SQLITE_MAGIC
        header[28:32] = pages.to_bytes(4, "big")
        header[92:96] = header[24:28]  # the page count above is now the valid one
        handle.seek(0)
        handle.write(header)
    if original[0:18] != header[0:18] or size % page_size:
        notes.append("Its header was damaged or the file was cut short; both were mended.")
    try:
        check_journal(source)
    except ProjectOpenError as exc:
        notes.append(f"A journal beside it was left out: {_reason(exc)}")
    else:
        wal = source.with_name(source.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    journal = source.with_name(source.name + "-journal")
    with contextlib.suppress(OSError):
        with open(journal, "rb") as handle:
            start = handle.read(28)
        if start.startswith(ROLLBACK_JOURNAL_MAGIC):
            if int.from_bytes(start[24:28], "big") == page_size:
                shutil.copyfile(journal, copy.with_name(copy.name + "-journal"))
            else:
                notes.append(f"The journal {journal.name} is not its own and was left out.")
    return copy, notes


def _reason(exc: ProjectOpenError) -> str:
    text = str(exc)
    return text.split("(", 1)[1].split(")", 1)[0] if "(" in text else text
