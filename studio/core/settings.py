"""Preferences that the window and the command line share, in one JSON file.

The file is ``<data dir>/settings.json``. A damaged or foreign file never stops Studio and is
never overwritten behind the user's back: Studio starts with defaults, says why, and keeps the
file until the user saves new preferences (the old file is then kept as ``.bak``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from studio.core.device import Devices, resolve_device
from studio.core.errors import UserError
from studio.plugin_api import Panel

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1


class Theme(StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


def physical_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


@dataclass(frozen=True)
class Settings:
    """The preferences.

    Attributes:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        memory_budget_gb: how much memory loaded models may use together; 0 means half of
            this machine's memory.
        theme: light, dark, or the system's.
        projects_dir: where new projects are saved by default; empty means the data directory.
        isolate_models: run each panel's models in a process of its own, so model code never
            stalls the window (and unloading frees memory for certain).
        warm_up_models: when a panel opens (or its plugin changes), load its selected model
            in the background, so the first Run starts at once (needs ``isolate_models``).
        panel_devices: a device for a panel's jobs (``"image": "cuda:1"``), in place of
            ``device``; a panel not listed uses ``device``.
        unload_idle_minutes: unload a loaded model nobody used for this many minutes; 0 keeps
            models loaded until the budget needs the room.
    """

    device: str = "auto"
    memory_budget_gb: float = 0.0
    theme: Theme = Theme.SYSTEM
    projects_dir: str = ""
    isolate_models: bool = True
    warm_up_models: bool = True
    panel_devices: dict[str, str] = field(default_factory=dict, hash=False)
    unload_idle_minutes: int = 0

    def validated(self) -> Settings:
        """Raise :class:`UserError` for a value that cannot work (unknown device, bad budget)."""
        resolve_device(self.device, Devices(cuda_count=99, mps=True))  # syntax only
        if not 0 <= self.memory_budget_gb <= 100_000:
            raise UserError("The memory budget must be between 0 (automatic) and 100000 GB.")
        if not isinstance(self.panel_devices, dict):
            raise UserError("panel_devices must map panels to devices")
        for panel, device in self.panel_devices.items():
            if panel not in {p.value for p in Panel}:
                raise UserError(f"panel_devices names '{panel}', which is no panel")
            resolve_device(device, Devices(cuda_count=99, mps=True))
        minutes = self.unload_idle_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 10_080:
            raise UserError("unload_idle_minutes must be a whole number from 0 (never) to 10080.")
        Theme(self.theme)
        return self

    def device_for(self, panel: Panel | str) -> str:
        """The device setting for a panel's jobs: its own, else the global one."""
        return self.panel_devices.get(str(panel)) or self.device

    @property
    def memory_budget_bytes(self) -> int:
        if self.memory_budget_gb > 0:
            return int(self.memory_budget_gb * 2**30)
        return physical_memory_bytes() // 2


class SettingsFile:
    """Loads and saves :class:`Settings`; remembers why a file could not be read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem = ""

    def load(self) -> Settings:
        self.problem = ""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Settings()
        except (OSError, ValueError) as exc:
            return self._defaults_because(f"it cannot be read ({exc})")
        if not isinstance(data, dict):
            return self._defaults_because("it is not a JSON object")
        known = {f.name for f in fields(Settings)}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        try:
            settings = Settings(**values)
            settings = replace(settings, theme=Theme(settings.theme))
            if isinstance(settings.memory_budget_gb, bool) or not isinstance(
                settings.memory_budget_gb, int | float
            ):
                raise UserError("memory_budget_gb must be a number")
            if not isinstance(settings.isolate_models, bool):
                raise UserError("isolate_models must be true or false")
            if not isinstance(settings.warm_up_models, bool):
                raise UserError("warm_up_models must be true or false")
            return settings.validated()
        except (UserError, ValueError, TypeError) as exc:
            return self._defaults_because(f"a value is invalid ({exc})")

    def _defaults_because(self, reason: str) -> Settings:
        self.problem = f"The settings file {self.path} was not used: {reason}. Defaults apply."
        log.warning(self.problem)
        return Settings()

    def save(self, settings: Settings) -> None:
        settings.validated()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.problem and self.path.exists():
            self.path.replace(self.path.with_suffix(".json.bak"))
        data = {"version": SETTINGS_VERSION, **asdict(settings), "theme": str(settings.theme)}
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)
        self.problem = ""
