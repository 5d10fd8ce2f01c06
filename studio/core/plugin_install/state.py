"""What the installer keeps: each installed plugin's record, and the switched-off plugins.

- ``<data dir>/plugins/<id>/.studio-install.json`` (:data:`INSTALL_RECORD`): where the plugin
  came from, its version, when, its requirements, its private package folder and every file the
  install added (paths relative to the data dir). Uninstall removes exactly those.
- ``<data dir>/plugins/state.json`` (:data:`STATE_FILE`): ``{"switched_off": [ids]}``, read by
  :class:`~studio.core.registry.PluginRegistry`; removed when nothing is switched off.

Both are written to a temporary file first and renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from studio.core.registry import (
    INSTALL_RECORD,
    PACKAGES_DIR,
    STATE_FILE,
    read_install_record,
    read_switched_off,
)

RECORD_FORMAT = 1

__all__ = [
    "INSTALL_RECORD",
    "PACKAGES_DIR",
    "RECORD_FORMAT",
    "STATE_FILE",
    "read_install_record",
    "read_switched_off",
    "recorded_files",
    "set_switched_off",
    "tree_files",
    "write_json",
]


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file beside it, then renamed)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, ensure_ascii=False)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_switched_off(plugins_dir: Path, plugin_id: str, off: bool) -> bool:
    """Switch ``plugin_id`` off or on; True when that changed anything."""
    state_file = plugins_dir / STATE_FILE
    ids = set(read_switched_off(state_file))
    if (plugin_id in ids) == off:
        return False
    ids = ids | {plugin_id} if off else ids - {plugin_id}
    if ids:
        plugins_dir.mkdir(parents=True, exist_ok=True)
        write_json(state_file, {"switched_off": sorted(ids)})
    else:
        state_file.unlink(missing_ok=True)
    return True


def tree_files(data_dir: Path, folder: Path) -> list[str]:
    """Every file under ``folder``, relative to ``data_dir`` (POSIX form), sorted."""
    return sorted(
        path.relative_to(data_dir).as_posix()
        for path in folder.rglob("*")
        if path.is_file() or path.is_symlink()
    )


def recorded_files(data_dir: Path, plugin_id: str, record: dict[str, Any]) -> list[Path]:
    """The files a record lists, each checked to lie in that plugin's own two folders (a
    damaged or edited record never makes uninstall remove anything else)."""
    allowed = (("plugins", plugin_id), (PACKAGES_DIR, plugin_id))
    files = record.get("files", [])
    paths = []
    for name in files if isinstance(files, list) else []:
        if not isinstance(name, str):
            continue
        parts = Path(name).parts
        if len(parts) < 3 or tuple(parts[:2]) not in allowed or ".." in parts:
            continue
        if Path(name).is_absolute():
            continue
        paths.append(data_dir.joinpath(*parts))
    return paths
