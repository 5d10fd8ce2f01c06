"""SHA-256 of blobs, files and model folders, with a persistent cache for files.

Model files are large (gigabytes) and hashed for every recipe, so file hashes are cached in
the data directory, keyed by (resolved path, size, mtime_ns): a file that changes in any of
those is hashed again. The cache is an SQLite file, so several processes can share it; when it
cannot be used the hash is computed without it.

The hash of a model folder (a Hugging Face snapshot, say) is the SHA-256 of the text
``studio-folder-v1\\n`` followed by one line ``<relative posix path>\\0<file sha256>\\n`` per
model file, sorted by path. Model files are all regular files under the folder (symbolic links
followed) except hidden ones (any path part starting with ``.``, such as ``.git`` or
``.cache``) and Markdown documents (``README.md``, model cards), which do not change what the
model does.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from studio.core.paths import Paths

log = logging.getLogger(__name__)

FOLDER_HASH_PREFIX = b"studio-folder-v1\n"
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's content (not cached)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def model_files(folder: Path) -> list[Path]:
    """The files of a model folder that its hash covers, sorted by relative path."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        for name in files:
            path = Path(root, name)
            if name.startswith(".") or name.lower().endswith(".md") or not path.is_file():
                continue
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


class HashCache:
    """File and folder hashes, cached by (path, size, mtime_ns) in an SQLite file."""

    def __init__(self, cache_file: Path) -> None:
        self.cache_file = cache_file

    @classmethod
    def in_data_dir(cls, paths: Paths) -> HashCache:
        """The cache that lives in Studio's data directory."""
        return cls(paths.data_dir / "cache" / "file-hashes.sqlite")

    def file_sha256(self, path: Path) -> str:
        """The SHA-256 of a file, from the cache when the file has not changed."""
        resolved = Path(path).resolve(strict=True)
        stat = resolved.stat()
        key = (str(resolved), stat.st_size, stat.st_mtime_ns)
        with self._connection() as conn:
            if conn is not None:
                row = conn.execute(
                    "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
                    key,
                ).fetchone()
                if row:
                    return row[0]
        digest = sha256_file(resolved)
        with self._connection() as conn:
            if conn is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, sha256) "
                    "VALUES (?, ?, ?, ?)",
                    (*key, digest),
                )
        return digest

    def cached_file_sha256(self, path: Path) -> str:
        """The SHA-256 of a file when the cache has it for the file as it is now; "" when it
        would have to be read (for callers that must not wait, such as the window)."""
        try:
            resolved = Path(path).resolve(strict=True)
            stat = resolved.stat()
        except OSError:
            return ""
        with self._connection() as conn:
            if conn is not None:
                row = conn.execute(
                    "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
                    (str(resolved), stat.st_size, stat.st_mtime_ns),
                ).fetchone()
                if row:
                    return row[0]
        return ""

    def folder_sha256(self, folder: Path) -> str:
        """The hash of a model folder (see the module documentation for the definition)."""
        folder = Path(folder)
        files = model_files(folder)
        if not files:
            raise FileNotFoundError(f"{folder} holds no model files")
        digest = hashlib.sha256(FOLDER_HASH_PREFIX)
        for path in files:
            line = f"{path.relative_to(folder).as_posix()}\0{self.file_sha256(path)}\n"
            digest.update(line.encode("utf-8"))
        return digest.hexdigest()

    def model_sha256(self, path: Path) -> str:
        """The hash of a model given as a single file or a folder."""
        return self.folder_sha256(path) if Path(path).is_dir() else self.file_sha256(path)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection | None]:
        # A broken or locked cache must never stop a job: hash without it and say so in the log.
        conn = None
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.cache_file, timeout=5.0, isolation_level=None)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS file_hashes (path TEXT PRIMARY KEY, "
                "size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            log.warning("hash cache %s unavailable: %s", self.cache_file, exc)
            if conn is not None:
                conn.close()
            yield None
            return
        try:
            yield conn
        except sqlite3.Error as exc:
            log.warning("hash cache %s failed: %s", self.cache_file, exc)
        finally:
            conn.close()
