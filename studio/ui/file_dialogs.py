"""The one way the window asks for files and folders: each dialog opens in the folder its
purpose was last used in (:mod:`studio.core.recent_folders`), not in the home folder. Without
a :class:`RecentFolders` (``None``) a dialog opens where Qt opens it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from studio.core.recent_folders import RecentFolders


def _start(recent: RecentFolders | None, purpose: str, name: str = "", fallback: str = "") -> str:
    """Where the dialog opens: the purpose's last folder, else ``fallback`` (a folder)."""
    folder = recent.folder(purpose) if recent is not None else None
    if folder is None and fallback:
        folder = Path(fallback)
    if folder is None:
        return name
    return str(folder / name) if name else str(folder)


def choose_file(
    parent: QWidget | None,
    recent: RecentFolders | None,
    purpose: str,
    caption: str,
    file_filter: str = "",
    fallback: str = "",
) -> Path | None:
    start = _start(recent, purpose, fallback=fallback)
    path, _ = QFileDialog.getOpenFileName(parent, caption, start, file_filter)
    if not path:
        return None
    if recent is not None:
        recent.remember(purpose, Path(path))
    return Path(path)


def choose_files(
    parent: QWidget | None,
    recent: RecentFolders | None,
    purpose: str,
    caption: str,
    file_filter: str = "",
) -> list[Path]:
    paths, _ = QFileDialog.getOpenFileNames(parent, caption, _start(recent, purpose), file_filter)
    if paths and recent is not None:
        recent.remember(purpose, Path(paths[0]))
    return [Path(p) for p in paths]


def choose_folder(
    parent: QWidget | None,
    recent: RecentFolders | None,
    purpose: str,
    caption: str,
    fallback: str = "",
) -> Path | None:
    start = _start(recent, purpose, fallback=fallback)
    folder = QFileDialog.getExistingDirectory(parent, caption, start)
    if not folder:
        return None
    if recent is not None:
        recent.remember(purpose, Path(folder))
    return Path(folder)


def choose_save_file(
    parent: QWidget | None,
    recent: RecentFolders | None,
    purpose: str,
    caption: str,
    name: str,
    file_filter: str = "",
) -> Path | None:
    """Where to save: ``name`` proposed in the purpose's last folder."""
    path, _ = QFileDialog.getSaveFileName(
        parent, caption, _start(recent, purpose, name), file_filter
    )
    if not path:
        return None
    if recent is not None:
        recent.remember(purpose, Path(path))
    return Path(path)
