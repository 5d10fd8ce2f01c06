"""The models a user has imported (picked folders and files), listed in the model pickers.

Studio does not copy model files: the library remembers where they are, per panel, in
``<data dir>/models/library.json``. An entry whose files are gone is left out of the lists
(and dropped the next time the library is written).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from studio.plugin_api import Panel

log = logging.getLogger(__name__)

MAX_PER_PANEL = 50


@dataclass(frozen=True)
class LibraryModel:
    path: str
    panel: str
    name: str
    added: str

    @property
    def is_folder(self) -> bool:
        return Path(self.path).is_dir()

    @property
    def label(self) -> str:
        return f"{self.name} ({'folder' if self.is_folder else Path(self.path).suffix[1:]})"


class ModelLibrary:
    def __init__(self, file: Path) -> None:
        self.file = file
        self._lock = threading.Lock()

    def _data(self) -> dict:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return data
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("the model library %s is unreadable (%s); starting afresh", self.file, exc)
            return {}

    def _read(self) -> list[LibraryModel]:
        try:
            return [LibraryModel(**entry) for entry in self._data().get("models", [])]
        except (TypeError, AttributeError) as exc:
            log.warning("the model library %s is unreadable (%s); starting afresh", self.file, exc)
            return []

    def _write(self, entries: list[LibraryModel], folders: list[str] | None = None) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.file.with_name(f".{self.file.name}.{os.getpid()}.partial")
        data = {
            "version": 1,
            "models": [asdict(e) for e in entries],
            "folders": self.folders_text() if folders is None else folders,
        }
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        partial.replace(self.file)

    def folders_text(self) -> list[str]:
        folders = self._data().get("folders", [])
        return [str(f) for f in folders] if isinstance(folders, list) else []

    def folders(self) -> list[Path]:
        """The model folders the user added (the Models view scans them)."""
        return [Path(folder) for folder in self.folders_text()]

    def add_folder(self, folder: Path | str) -> Path:
        resolved = Path(folder).expanduser().resolve()
        with self._lock:
            kept = [f for f in self.folders_text() if f != str(resolved)]
            self._write(self._read(), [*kept, str(resolved)])
        return resolved

    def remove_folder(self, folder: Path | str) -> bool:
        resolved = str(Path(folder).expanduser().resolve())
        with self._lock:
            folders = self.folders_text()
            if resolved not in folders and str(folder) not in folders:
                return False
            self._write(self._read(), [f for f in folders if f not in (resolved, str(folder))])
        return True

    def all_entries(self) -> list[LibraryModel]:
        """Every imported model that still exists, most recent first."""
        return [e for e in self._read() if Path(e.path).exists()]

    def entries(self, panel: Panel) -> list[LibraryModel]:
        """The panel's imported models that still exist, most recent first."""
        return [e for e in self._read() if e.panel == panel.value and Path(e.path).exists()]

    def remember(self, path: Path | str, panel: Panel) -> LibraryModel:
        """Add (or move to the top) a model folder or file for ``panel``."""
        resolved = Path(path).expanduser().resolve()
        entry = LibraryModel(
            path=str(resolved),
            panel=panel.value,
            name=resolved.name or str(resolved),
            added=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._lock:
            others = [
                e
                for e in self._read()
                if Path(e.path).exists() and not (e.path == entry.path and e.panel == entry.panel)
            ]
            same_panel = [e for e in others if e.panel == entry.panel][: MAX_PER_PANEL - 1]
            kept = [entry, *same_panel, *(e for e in others if e.panel != entry.panel)]
            try:
                self._write(kept)
            except OSError as exc:
                log.warning("cannot write the model library %s: %s", self.file, exc)
        return entry

    def forget(self, path: Path | str, panel: Panel) -> None:
        target = str(Path(path).expanduser().resolve())
        with self._lock:
            kept = [e for e in self._read() if not (e.path == target and e.panel == panel.value)]
            self._write(kept)
