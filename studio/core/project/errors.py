"""Problems with a project file, each a :class:`UserError` with one clear sentence."""

from __future__ import annotations

from pathlib import Path

from studio.core.errors import UserError


class ProjectError(UserError):
    """Something about a project file that a person can act on."""


class ProjectOpenError(ProjectError):
    """The file cannot be opened as a project; it was not modified."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


class ProjectNotFoundError(ProjectOpenError):
    """There is no file (or only a folder) at the path."""


class NotAProjectError(ProjectOpenError):
    """The file is empty, not SQLite, or an SQLite database of another program."""


class NewerProjectError(ProjectOpenError):
    """The file was written by a newer Studio with a schema this one does not know."""


class DamagedProjectError(ProjectOpenError):
    """The file claims to be a project but its content is broken."""


DAMAGE_WORDS = ("malformed", "file is not a database", "database corrupt")
"""What SQLite's errors say when the file is damaged (not a mistake of the caller's)."""


def is_damage(exc: BaseException) -> bool:
    """Whether an SQLite error means that the project file is damaged."""
    import sqlite3

    return isinstance(exc, sqlite3.DatabaseError) and any(w in str(exc) for w in DAMAGE_WORDS)


def repair_advice(name: str) -> str:
    """What saves the work of a damaged project (the end of a sentence about it)."""
    return (
        f"File > Repair Project (or 'studio project repair {name}') saves every intact asset "
        "into a new file beside it"
    )


class DamagedRowError(ProjectError):
    """A row holds what no Studio writes (an unknown kind): the file is damaged there."""


class ForeignJournalError(ProjectOpenError):
    """A journal beside the project is not its own: SQLite would replay another file's
    pages into it."""


class ProjectExistsError(ProjectError):
    """A new project (or a copy) would replace an existing file."""


class ProjectReadOnlyError(ProjectError):
    """A change was asked of a project opened read-only."""


class ProjectClosedError(ProjectError):
    """The project was closed; open it again to use it."""


class AssetNotFoundError(ProjectError, KeyError):
    """No asset has this id in the project."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
