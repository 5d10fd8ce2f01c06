"""The model an image names, found in the model library by name and hash.

Tools write the checkpoint's name and a hash of its file:

- AUTOMATIC1111 (and Forge, Fooocus): ``Model hash``, the first 10 hex digits of the file's
  SHA-256 (older versions wrote 8 hex digits of the SHA-256 of the 64 KiB that start at 1 MiB);
- InvokeAI 2.3 and SwarmUI: the whole SHA-256;
- ComfyUI: the name only.

A file whose name matches is checked against the hash when there is one; when no name
matches, the library's checkpoints are hashed (the full SHA-256 is cached per file by the hash
cache, so a library is read once) and compared. NovelAI's hash names its own service's model and
is not looked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from studio.core.model_scan.catalog import LibraryEntry
from studio.plugin_api import GenerationSettings, Panel, SettingsDialect

OLD_HASH_OFFSET = 1 << 20
OLD_HASH_SPAN = 64 << 10
CHECKPOINT_KINDS = frozenset({"checkpoint", "pipeline", "diffusion model", ""})


def a1111_old_hash(path: Path) -> str:
    """AUTOMATIC1111's old 8-hex "model hash": the SHA-256 of the 64 KiB at 1 MiB."""
    with open(path, "rb") as file:
        file.seek(OLD_HASH_OFFSET)
        return hashlib.sha256(file.read(OLD_HASH_SPAN)).hexdigest()[:8]


@dataclass(frozen=True)
class ModelMatch:
    """Where the image's model is, and how it was recognised ("name and hash", "hash",
    "name")."""

    path: Path
    how: str


def model_file_stem(name: str) -> str:
    """A model's file name without its folders and weight suffix: ``sub\\x.safetensors`` is
    ``x``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".safetensors", ".ckpt", ".pt", ".bin", ".sft"):
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def _checkpoints(entries: Iterable[LibraryEntry]) -> list[LibraryEntry]:
    return [
        entry
        for entry in entries
        if entry.facts is not None
        and entry.usable
        and Panel.IMAGE in entry.panels
        and entry.facts.kind in CHECKPOINT_KINDS
    ]


def hash_matches(path: Path, wanted: str, sha256: Callable[[Path], str]) -> bool | None:
    """Whether ``path``'s hash is ``wanted`` in any of the tools' forms; None when ``sha256``
    does not know the file's hash (a caller that must not wait for it)."""
    wanted = wanted.strip().lower().removeprefix("0x")
    if not wanted or path.is_dir():
        return False
    try:
        if len(wanted) == 8 and a1111_old_hash(path) == wanted:
            return True
        full = sha256(path)
    except OSError:
        return False
    if not full:
        return None
    return len(wanted) >= 8 and full.startswith(wanted)


def find_model(
    settings: GenerationSettings,
    entries: Iterable[LibraryEntry],
    sha256: Callable[[Path], str],
) -> ModelMatch | None:
    """The library's model for ``settings`` (``sha256``: a file's full SHA-256, cached)."""
    if settings.dialect is SettingsDialect.NOVELAI:
        return None
    candidates = _checkpoints(entries)
    name = model_file_stem(settings.model_name).casefold()
    wanted = settings.model_hash
    named = [
        entry
        for entry in candidates
        if name
        and entry.path is not None
        and name
        in {model_file_stem(entry.path.name).casefold(), model_file_stem(entry.name).casefold()}
    ]
    unchecked = None
    for entry in named:
        assert entry.path is not None
        if not wanted:
            return ModelMatch(entry.path, "name")
        state = hash_matches(entry.path, wanted, sha256)
        if state:
            return ModelMatch(entry.path, "name and hash")
        if state is None and unchecked is None:
            unchecked = entry.path
    if wanted:
        for entry in candidates:
            assert entry.path is not None
            if entry not in named and hash_matches(entry.path, wanted, sha256):
                return ModelMatch(entry.path, "hash")
    if unchecked is not None:
        return ModelMatch(unchecked, "name; its hash is not checked yet")
    if named and named[0].path is not None:
        return ModelMatch(named[0].path, "name, though its hash differs")
    return None
