"""The installer's API (see the package docstring). Implementation to be filled in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.core.paths import Paths
from studio.plugin_api.manifest import Manifest

Progress = Callable[[float | None, str], None]
"""fraction done (None: unknown) and what is happening, for a progress line or bar"""


@dataclass(frozen=True)
class Requirement:
    """One Python requirement of a plugin, and what installing it would do."""

    text: str  # as the manifest or wheel says: "pyfiglet>=1.0"
    state: str  # "met" (Studio's environment has it), "install" (goes to the private folder),
    # or "conflict" (cannot be met without changing Studio's packages)
    version: str = ""  # the version met, or the one that would be installed
    why: str = ""  # for a conflict: one sentence


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

    @property
    def conflicts(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.state == "conflict")

    @property
    def to_install(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.state == "install")

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


class PluginInstaller:
    """Review, install, uninstall, enable and disable third-party plugins."""

    def __init__(self, paths: Paths, *, pip_args: tuple[str, ...] = ()) -> None:
        """``pip_args``: extra arguments for every pip call (tests: ``--no-index
        --find-links DIR``)."""
        self.paths = paths
        self.pip_args = pip_args

    def review(self, source: str | Path, progress: Progress | None = None) -> InstallReview:
        """Unpack and read ``source``; a problem (hostile archive, bad manifest, incompatible
        API version, unknown package) is a UserError and leaves nothing behind."""
        raise NotImplementedError

    def install(self, review: InstallReview, progress: Progress | None = None) -> InstalledPlugin:
        """Install what ``review`` showed (a conflict is a UserError); all or nothing."""
        raise NotImplementedError

    def discard(self, review: InstallReview) -> None:
        """The user said no: remove the staging folder."""
        raise NotImplementedError

    def uninstall(self, plugin_id: str) -> None:
        """Remove exactly what the install added (a plugin Studio did not install is a
        UserError that says where it lives)."""
        raise NotImplementedError

    def set_enabled(self, plugin_id: str, enabled: bool) -> None:
        """Keep the plugin but switch it off or on (persisted across restarts)."""
        raise NotImplementedError

    def installed(self) -> list[InstalledPlugin]:
        raise NotImplementedError
