"""The folder each kind of file dialog was last used in, so the next one opens there.

Per purpose ("input-init", "export-take", "import-model"...), in
``<data dir>/recent-folders.json``: choosing an init image does not move the folder that
exports open in. A folder that is gone is forgotten (the dialog opens in the home folder).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

MAX_PURPOSES = 64


class RecentFolders:
    def __init__(self, file: Path) -> None:
        self.file = file
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s is unreadable (%s); starting afresh", self.file, exc)
            return {}
        folders = data.get("folders") if isinstance(data, dict) else None
        if not isinstance(folders, dict):
            return {}
        return {k: v for k, v in folders.items() if isinstance(k, str) and isinstance(v, str)}

    def folder(self, purpose: str) -> Path | None:
        """Where the dialog for ``purpose`` was last used, if that folder still exists."""
        with self._lock:
            value = self._read().get(purpose)
        if value and Path(value).is_dir():
            return Path(value)
        return None

    def remember(self, purpose: str, chosen: Path) -> None:
        """A file or folder was chosen: its folder is where the next dialog opens."""
        folder = chosen if chosen.is_dir() else chosen.parent
        with self._lock:
            folders = self._read()
            folders.pop(purpose, None)
            folders[purpose] = str(folder.resolve())
            while len(folders) > MAX_PURPOSES:
                folders.pop(next(iter(folders)))
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                partial = self.file.with_name(f".{self.file.name}.{os.getpid()}.partial")
                partial.write_text(json.dumps({"folders": folders}, indent=2) + "\n", "utf-8")
                os.replace(partial, self.file)
            except OSError as exc:  # a read-only data folder: dialogs open at home
                log.warning("cannot remember the folder for %s: %s", purpose, exc)
