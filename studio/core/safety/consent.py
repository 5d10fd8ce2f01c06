"""The user's consents to run code from model files, kept by content hash and revocable.

Two things can run code from a model: fully unpickling a weights file, and
``trust_remote_code`` for a model folder. Either happens only after the user consented for that
exact content:

- a file is known by the SHA-256 of its bytes, so a renamed or moved copy keeps its consent
  and a changed file needs consent again;
- a folder is known by a hash over its Python and JSON files (their relative paths and
  contents; see :func:`folder_code_hash`), so changed code or config needs consent again while
  new weights alone do not.

Consents live in ``consents.json`` in the data directory, rewritten atomically on each change.
Each records the path and time of the grant, for display only: the hash alone decides.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from studio.core.errors import UserError
from studio.core.paths import Paths

CONSENT_FILE_NAME = "consents.json"
FILE_FORMAT_VERSION = 1
FOLDER_HASH_PREFIX = b"studio-remote-code-v1\n"
CODE_FILE_SUFFIXES = (".py", ".json")

_CHUNK = 1 << 20


class ConsentKind(enum.StrEnum):
    """What the user allowed."""

    UNPICKLE = "unpickle"
    """Full unpickling of one file (by Studio's converter only)."""
    REMOTE_CODE = "remote-code"
    """``trust_remote_code`` for one model folder."""

    @property
    def description(self) -> str:
        """How to name the consent in a sentence."""
        if self is ConsentKind.UNPICKLE:
            return "full unpickling"
        return "remote code"


@dataclass(frozen=True)
class Consent:
    """One recorded consent.

    Attributes:
        kind: what was allowed.
        content_hash: the file's SHA-256, or the folder's :func:`folder_code_hash`.
        path: where the file or folder was when consent was given (for display).
        granted_at: when (UTC).
    """

    kind: ConsentKind
    content_hash: str
    path: Path
    granted_at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind.value,
            "content_hash": self.content_hash,
            "path": str(self.path),
            "granted_at": self.granted_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Consent:
        return cls(
            kind=ConsentKind(data["kind"]),
            content_hash=str(data["content_hash"]),
            path=Path(data["path"]),
            granted_at=datetime.fromisoformat(data["granted_at"]),
        )


class ConsentStore:
    """The consents in one JSON file; every call reads the file afresh, so it is never stale.

    Two processes changing consents at the very same moment may lose one of the changes (the
    file is replaced atomically, never left half-written); a lost grant only means asking again.
    """

    def __init__(self, file: Path) -> None:
        self.file = file

    @classmethod
    def in_data_dir(cls, paths: Paths) -> ConsentStore:
        """The store in Studio's data directory."""
        return cls(paths.data_dir / CONSENT_FILE_NAME)

    def grant(self, kind: ConsentKind, path: Path) -> Consent:
        """Record consent for the current content of ``path``; returns the new record.

        Raises:
            UserError: the file or folder does not exist, is the wrong kind of thing, or (for
                remote code) holds no Python or JSON files.
        """
        path = _absolute(path)
        consent = Consent(
            kind=kind,
            content_hash=content_hash(kind, path),
            path=path,
            granted_at=datetime.now(UTC),
        )
        kept = [c for c in self._read() if (c.kind, c.content_hash) != (kind, consent.content_hash)]
        self._write([*kept, consent])
        return consent

    def revoke(self, kind: ConsentKind, path: Path) -> tuple[Consent, ...]:
        """Withdraw consent for ``path``; returns the records removed (none if there were none).

        Removes the consent for the current content of ``path`` and any consent granted at
        that path, so a file that changed or disappeared since the grant can still be revoked.
        """
        path = _absolute(path)
        current_hash = None
        with contextlib.suppress(UserError):
            current_hash = content_hash(kind, path)
        consents = self._read()
        removed = tuple(
            c
            for c in consents
            if c.kind is kind and (c.content_hash == current_hash or c.path == path)
        )
        if removed:
            self._write([c for c in consents if c not in removed])
        return removed

    def is_granted(self, kind: ConsentKind, path: Path) -> bool:
        """Whether the user consented to ``kind`` for the current content of ``path``.

        A missing file or folder has no consent.
        """
        try:
            digest = content_hash(kind, _absolute(path))
        except UserError:
            return False
        return self.is_hash_granted(kind, digest)

    def is_hash_granted(self, kind: ConsentKind, digest: str) -> bool:
        """Whether the user consented to ``kind`` for content with this hash."""
        return any(c.kind is kind and c.content_hash == digest for c in self._read())

    def list(self) -> tuple[Consent, ...]:
        """All consents, oldest first."""
        return tuple(sorted(self._read(), key=lambda c: c.granted_at))

    def given_at(self, path: Path) -> tuple[Consent, ...]:
        """The consents given for what was at ``path``, oldest first: by where it was, not by
        its content (nothing is hashed, for showing them; a load checks the content)."""
        path = _absolute(path)
        return tuple(consent for consent in self.list() if consent.path == path)

    def _read(self) -> tuple[Consent, ...]:
        try:
            text = self.file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ()
        try:
            data = json.loads(text)
            if data.get("version") != FILE_FORMAT_VERSION:
                raise ValueError(f"unknown version {data.get('version')!r}")
            return tuple(Consent.from_json(item) for item in data["consents"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(
                f"The consent file {self.file} is damaged ({exc}); delete it to start over, "
                "which withdraws every consent."
            ) from exc

    def _write(self, consents: Iterable[Consent]) -> None:
        data = {"version": FILE_FORMAT_VERSION, "consents": [c.to_json() for c in consents]}
        write_text_atomically(self.file, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def content_hash(kind: ConsentKind, path: Path) -> str:
    """The hash a consent of ``kind`` for ``path`` is keyed by.

    Raises:
        UserError: ``path`` does not exist, is a folder where a file is needed (or the other
            way round), or is a folder without Python or JSON files.
    """
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if kind is ConsentKind.UNPICKLE:
        if not path.is_file():
            raise UserError(f"{path} is not a file; consent to unpickle is given for one file.")
        return _sha256_file(path)
    if not path.is_dir():
        raise UserError(
            f"{path} is not a folder; consent to run remote code is given for a model folder."
        )
    return folder_code_hash(path)


def folder_code_hash(folder: Path) -> str:
    """A hash over a model folder's Python and JSON files: what ``trust_remote_code`` runs.

    The SHA-256 of ``studio-remote-code-v1\\n`` followed by one line
    ``<relative posix path>\\0<file sha256>\\n`` per ``*.py`` and ``*.json`` file, sorted by
    path. Hidden files and folders (a part starting with ``.``) are left out: Python cannot
    import modules by such names. Symbolic links are followed (Hugging Face snapshots use them).

    Raises:
        UserError: the folder holds no Python or JSON file, so there is nothing to consent to.
    """
    files = _code_files(folder)
    if not files:
        raise UserError(
            f"{folder} holds no Python or JSON config files, so it has no remote code to allow."
        )
    digest = hashlib.sha256(FOLDER_HASH_PREFIX)
    for relative, file in files:
        digest.update(f"{relative}\0{_sha256_file(file)}\n".encode())
    return digest.hexdigest()


def _code_files(folder: Path) -> list[tuple[str, Path]]:
    found = []
    visited: set[str] = set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:  # a symbolic link loop
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        for name in names:
            if name.startswith(".") or not name.endswith(CODE_FILE_SUFFIXES):
                continue
            file = Path(root, name)
            if file.is_file():
                found.append((file.relative_to(folder).as_posix(), file))
    return sorted(found)


def _sha256_file(path: Path) -> str:
    # Streams the file; to be replaced by studio.core.hashing's cached hash of files.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


def write_text_atomically(file: Path, text: str) -> None:
    """Replace ``file`` with ``text`` so that readers see the old or the new file, never a mix."""
    file.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
