"""Where Studio keeps its files. Tests point ``STUDIO_DATA_DIR`` at a temporary folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "STUDIO_DATA_DIR"
PLUGIN_PATH_ENV = "STUDIO_PLUGIN_PATH"


def default_data_dir(environ: Mapping[str, str]) -> Path:
    if environ.get(DATA_DIR_ENV):
        return Path(environ[DATA_DIR_ENV]).expanduser()
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "win32":
        return Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / "Studio"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Studio"
    return Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "studio"


@dataclass(frozen=True)
class Paths:
    """The data directory and the folders inside it.

    Attributes:
        data_dir: settings, logs, untitled projects, user plugins, model caches.
        extra_plugin_dirs: more plugin folders from ``STUDIO_PLUGIN_PATH`` (for developers
            and tests), searched after the user plugin folder.
    """

    data_dir: Path
    extra_plugin_dirs: tuple[Path, ...] = ()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Paths:
        environ = os.environ if environ is None else environ
        extra = tuple(
            Path(part).expanduser()
            for part in environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep)
            if part.strip()
        )
        return cls(data_dir=default_data_dir(environ), extra_plugin_dirs=extra)

    @property
    def plugins_dir(self) -> Path:
        return self.data_dir / "plugins"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "studio.log"

    @property
    def plugin_dirs(self) -> tuple[Path, ...]:
        return (self.plugins_dir, *self.extra_plugin_dirs)

    def plugin_packages_dir(self, plugin_id: str) -> Path:
        """The private packages of an installed plugin (its requirements Studio's own
        environment lacks): on the path of that plugin's model process only."""
        return self.data_dir / "plugin-packages" / plugin_id
