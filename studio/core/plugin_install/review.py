"""The installer's plain results: a review before installing, and an installed plugin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.plugin_api.manifest import Manifest


@dataclass(frozen=True)
class Requirement:
    """One Python requirement of a plugin, and what installing it would do."""

    text: str  # as the manifest or wheel says: "pyfiglet>=1.0" (a package pulled in: its name)
    state: str  # "met" (Studio's environment has it), "install" (goes to the private folder),
    # or "conflict" (cannot be met without changing Studio's packages, or not at all)
    version: str = ""  # the version met, or the one that would be installed
    why: str = ""  # for a conflict: one sentence; for a package pulled in: "needed by X"


@dataclass(frozen=True)
class InstallReview:
    """What installing would do, before anything of the plugin runs."""

    source: str  # what the user gave: a path or a package name
    manifest: Manifest
    author: str
    requirements: tuple[Requirement, ...]
    files: int  # files the plugin itself holds
    size: int  # their bytes
    replaces: str = ""  # the version already installed under this id, if any
    staging: Path | None = None  # where it was unpacked (the installer's business)
    kind: str = ""  # "folder", "zip", "wheel" or "package"
    requires: tuple[str, ...] = ()  # every requirement text (the manifest's and the wheel's)

    @property
    def conflicts(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.state == "conflict")

    @property
    def to_install(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.state == "install")

    @property
    def met(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.state == "met")

    @property
    def can_install(self) -> bool:
        return not self.conflicts


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin installed by Studio (not a built-in, not a developer's plugin folder)."""

    id: str
    version: str
    folder: Path  # <data dir>/plugins/<id>
    packages: Path | None  # <data dir>/plugin-packages/<id>, when it has private packages
    enabled: bool
    source: str  # where it was installed from
    installed_at: str = ""  # ISO 8601, UTC
