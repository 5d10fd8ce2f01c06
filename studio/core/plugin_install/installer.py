"""The installer: review, install, discard, uninstall, switch on and off (see the package).

Layout in the data dir: the plugin in ``plugins/<id>/`` (with its install record), its private
packages in ``plugin-packages/<id>/``, the switched-off ids in ``plugins/state.json``, and while
a review is open its staging folder in ``.plugin-staging/``. Everything an install writes is
built in the staging folder first; it then goes into place by renames (an older version moves
aside first, and comes back if anything fails).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement

from studio.core.errors import UserError
from studio.core.paths import Paths
from studio.core.plugin_install.archive import Limits, tree_size
from studio.core.plugin_install.pip import Pip
from studio.core.plugin_install.requirements import install_packages, resolve
from studio.core.plugin_install.review import InstalledPlugin, InstallReview, Requirement
from studio.core.plugin_install.sources import PLUGIN_TREE, prepare
from studio.core.plugin_install.state import (
    INSTALL_RECORD,
    PACKAGES_DIR,
    RECORD_FORMAT,
    STATE_FILE,
    read_install_record,
    read_switched_off,
    recorded_files,
    set_switched_off,
    tree_files,
    write_json,
)
from studio.core.registry import PluginRegistry, PluginSource, PluginUnavailable

log = logging.getLogger(__name__)

__all__ = ["InstallReview", "InstalledPlugin", "PluginInstaller", "Progress", "Requirement"]

Progress = Callable[[float | None, str], None]
"""fraction done (None: unknown) and what is happening, for a progress line or bar"""

STAGING_DIR = ".plugin-staging"

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


def _quiet(fraction: float | None, message: str) -> None:
    pass


def _prune_empty(folder: Path) -> None:
    """Remove ``folder`` and the folders under it that hold nothing (after byte code)."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for cache in sorted(folder.rglob("__pycache__"), reverse=True):
        if cache.is_dir() and not cache.is_symlink():
            shutil.rmtree(cache, ignore_errors=True)
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()


class PluginInstaller:
    """Review, install, uninstall, enable and disable third-party plugins."""

    def __init__(
        self, paths: Paths, *, pip_args: tuple[str, ...] = (), limits: Limits | None = None
    ) -> None:
        """``pip_args``: extra arguments for every pip call (tests: ``--no-index
        --find-links DIR``). ``limits``: how much a plugin may unpack to (files, bytes)."""
        self.paths = paths
        self.pip_args = tuple(pip_args)
        self.limits = limits or Limits()

    # where things are ----------------------------------------------------------------------

    @property
    def plugins_dir(self) -> Path:
        return self.paths.plugins_dir

    @property
    def packages_dir(self) -> Path:
        return self.paths.data_dir / PACKAGES_DIR

    @property
    def state_file(self) -> Path:
        return self.plugins_dir / STATE_FILE

    def _pip(self) -> Pip:
        return Pip(self.pip_args)

    def _registry(self) -> PluginRegistry:
        """A fresh look at every plugin (what is on disk now)."""
        return PluginRegistry(plugin_dirs=self.paths.plugin_dirs, state_file=self.state_file)

    def _new_staging(self) -> Path:
        root = self.paths.data_dir / STAGING_DIR
        root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="review-", dir=root))

    def _remove_staging(self, staging: Path | None) -> None:
        if staging is None:
            return
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging.parent.rmdir()  # the staging root, when no other review is open

    # review --------------------------------------------------------------------------------

    def review(self, source: str | Path, progress: Progress | None = None) -> InstallReview:
        """Unpack and read ``source``; a problem (hostile archive, bad manifest, incompatible
        API version, unknown package) is a UserError and leaves nothing behind."""
        progress = progress or _quiet
        staging = self._new_staging()
        try:
            prepared = prepare(source, staging, self._pip(), self.limits, progress)
            replaces = self._replaces(prepared.manifest.id)
            progress(None, "Checking its requirements against Studio's packages…")
            requirements = resolve(prepared.requires, self._pip(), staging)
            files, size = tree_size(staging / PLUGIN_TREE)
        except BaseException:
            self._remove_staging(staging)
            raise
        return InstallReview(
            source=prepared.source,
            manifest=prepared.manifest,
            author=prepared.author,
            requirements=requirements,
            files=files,
            size=size,
            replaces=replaces,
            staging=staging,
            kind=prepared.kind,
            requires=prepared.requires,
        )

    def _replaces(self, plugin_id: str) -> str:
        """The version installed under ``plugin_id`` now (""), or a UserError when the id
        belongs to a plugin Studio did not install."""
        if plugin_id == STATE_FILE:
            raise UserError(f"The id '{plugin_id}' is the name of Studio's own plugin state file.")
        folder = self.plugins_dir / plugin_id
        record = read_install_record(folder)
        if record is not None:
            return str(record.get("version", ""))
        if folder.exists():
            raise UserError(
                f"{folder} already holds a plugin Studio did not install; move it away first."
            )
        try:
            other = self._registry().get(plugin_id)
        except PluginUnavailable:
            return ""
        raise UserError(
            f"The id '{plugin_id}' is already used by the {other.source.value} plugin at "
            f"{other.location}; a second plugin with that id cannot be installed."
        )

    def discard(self, review: InstallReview) -> None:
        """The user said no: remove the staging folder."""
        staging = review.staging
        if staging is not None and staging.parent == self.paths.data_dir / STAGING_DIR:
            self._remove_staging(staging)

    # install -------------------------------------------------------------------------------

    def install(self, review: InstallReview, progress: Progress | None = None) -> InstalledPlugin:
        """Install what ``review`` showed (a conflict is a UserError); all or nothing."""
        progress = progress or _quiet
        manifest = review.manifest
        if review.conflicts:
            first = review.conflicts[0]
            raise UserError(
                f"{manifest.name} cannot be installed: {first.text}: {first.why}; nothing was "
                "installed."
            )
        staging = review.staging
        tree = staging / PLUGIN_TREE if staging is not None else None
        if tree is None or not tree.is_dir():
            raise UserError("This review was installed or discarded already; review it again.")
        plugin_id = manifest.id
        created: list[str] = []
        try:
            replaces = self._replaces(plugin_id)
            packages_tree = staging / "packages"
            if review.to_install:
                names = ", ".join(f"{_name(r.text)} {r.version}" for r in review.to_install)
                progress(0.2, f"Installing {names} for {manifest.name} alone…")
                install_packages(review.requirements, packages_tree, self._pip())
            progress(0.8, f"Putting {manifest.name} in place…")
            created = [
                name
                for name, folder in (
                    ("plugins", self.plugins_dir),
                    (PACKAGES_DIR, self.packages_dir),
                )
                if not folder.exists() and (name == "plugins" or packages_tree.is_dir())
            ]
            old_record = read_install_record(self.plugins_dir / plugin_id) or {}
            inherited = old_record.get("created_folders", [])  # an upgrade made them first
            inherited = [n for n in inherited if n in ("plugins", PACKAGES_DIR)]
            files = [f"plugins/{plugin_id}/{name}" for name in _relative_files(tree)]
            if packages_tree.is_dir():
                files += [f"{PACKAGES_DIR}/{plugin_id}/{n}" for n in _relative_files(packages_tree)]
            files = list(dict.fromkeys([*files, f"plugins/{plugin_id}/{INSTALL_RECORD}"]))
            record = {
                "format": RECORD_FORMAT,
                "id": plugin_id,
                "name": manifest.name,
                "version": manifest.version,
                "source": review.source,
                "kind": review.kind,
                "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "requires": list(review.requires),
                "installed_packages": [
                    {"name": r.text, "version": r.version} for r in review.to_install
                ],
                "replaced": replaces,
                "created_folders": sorted({*created, *inherited}),
                "files": files,
            }
            if packages_tree.is_dir():
                record["packages"] = f"{PACKAGES_DIR}/{plugin_id}"
            write_json(tree / INSTALL_RECORD, record)
            self._put_in_place(
                staging, tree, packages_tree if packages_tree.is_dir() else None, plugin_id
            )
        except BaseException:
            aside = staging / "replaced"
            if aside.is_dir() and any(aside.iterdir()):  # the old version could not go back
                log.error("the replaced version of %s is kept in %s", plugin_id, aside)
            else:
                self._remove_staging(staging)
            for name in created:  # folders this attempt created, when empty again
                with contextlib.suppress(OSError):
                    (self.paths.data_dir / name).rmdir()
            raise
        self._remove_staging(staging)
        importlib.invalidate_caches()
        progress(1.0, f"Installed {manifest.name} {manifest.version}.")
        return self._installed(self.plugins_dir / plugin_id)

    def _put_in_place(
        self, staging: Path, tree: Path, packages_tree: Path | None, plugin_id: str
    ) -> None:
        """Move the new plugin (and its packages) into place; an older version moves aside
        first and comes back if any step fails."""
        target = self.plugins_dir / plugin_id
        packages_target = self.paths.plugin_packages_dir(plugin_id)
        aside = staging / "replaced"
        aside.mkdir()
        moved: list[tuple[Path, Path]] = []

        def move(source: Path, destination: Path) -> None:
            os.rename(source, destination)
            moved.append((source, destination))

        try:
            self.plugins_dir.mkdir(parents=True, exist_ok=True)
            if packages_target.exists():
                move(packages_target, aside / "packages")
            if target.exists():
                move(target, aside / "plugin")
            if packages_tree is not None:
                self.packages_dir.mkdir(parents=True, exist_ok=True)
                move(packages_tree, packages_target)
            move(tree, target)
        except BaseException:
            for source, destination in reversed(moved):
                with contextlib.suppress(OSError):
                    os.rename(destination, source)
            raise

    # uninstall, switch on and off, list ----------------------------------------------------

    def _check_id(self, plugin_id: str) -> None:
        if not _ID.match(plugin_id):
            raise UserError(f"'{plugin_id}' is not a plugin id (see 'studio plugins list').")

    def get(self, plugin_id: str) -> InstalledPlugin:
        """The plugin Studio installed under ``plugin_id``; otherwise a UserError that says
        why it cannot be uninstalled (unknown, built in, or installed by other means)."""
        self._check_id(plugin_id)
        folder = self.plugins_dir / plugin_id
        if read_install_record(folder) is not None:
            return self._installed(folder)
        try:
            other = self._registry().get(plugin_id)
        except PluginUnavailable:
            raise UserError(
                f"No plugin with the id '{plugin_id}' is installed (see 'studio plugins list')."
            ) from None
        if other.source is PluginSource.BUILTIN:
            raise UserError(
                f"'{plugin_id}' is built into Studio and cannot be uninstalled; "
                f"'studio plugins disable {plugin_id}' switches it off."
            )
        raise UserError(
            f"'{plugin_id}' was not installed by Studio: it is the {other.source.value} "
            f"plugin at {other.location}; remove it there."
        )

    def uninstall(self, plugin_id: str) -> None:
        """Remove exactly what the install added (a plugin Studio did not install is a
        UserError that says where it lives)."""
        folder = self.get(plugin_id).folder
        record = read_install_record(folder) or {}
        files = recorded_files(self.paths.data_dir, plugin_id, record)
        set_switched_off(self.plugins_dir, plugin_id, False)
        own_record = folder / INSTALL_RECORD
        for path in sorted(files, key=lambda p: p == own_record):  # the record last
            if path.is_symlink() or path.is_file():
                path.unlink()
        own_record.unlink(missing_ok=True)
        _prune_empty(folder)
        _prune_empty(self.paths.plugin_packages_dir(plugin_id))
        created = record.get("created_folders", [])
        for name in ("plugins", PACKAGES_DIR):
            if isinstance(created, list) and name in created:
                with contextlib.suppress(OSError):
                    (self.paths.data_dir / name).rmdir()
        importlib.invalidate_caches()

    def set_enabled(self, plugin_id: str, enabled: bool) -> bool:
        """Keep the plugin but switch it off or on (persisted across restarts); True when
        that changed anything."""
        self._check_id(plugin_id)
        if enabled and plugin_id in read_switched_off(self.state_file):
            return set_switched_off(self.plugins_dir, plugin_id, False)
        try:
            self._registry().get(plugin_id)
        except PluginUnavailable:
            raise UserError(
                f"No plugin with the id '{plugin_id}' is installed (see 'studio plugins list')."
            ) from None
        return set_switched_off(self.plugins_dir, plugin_id, not enabled)

    def installed(self) -> list[InstalledPlugin]:
        if not self.plugins_dir.is_dir():
            return []
        return [
            self._installed(folder)
            for folder in sorted(self.plugins_dir.iterdir())
            if folder.is_dir() and (folder / INSTALL_RECORD).is_file()
        ]

    def _installed(self, folder: Path) -> InstalledPlugin:
        record = read_install_record(folder) or {}
        plugin_id = str(record.get("id", folder.name))
        packages = self.paths.plugin_packages_dir(plugin_id) if record.get("packages") else None
        return InstalledPlugin(
            id=plugin_id,
            version=str(record.get("version", "")),
            folder=folder,
            packages=packages,
            enabled=plugin_id not in read_switched_off(self.state_file),
            source=str(record.get("source", "")),
            installed_at=str(record.get("installed_at", "")),
        )


def _name(requirement: str) -> str:
    try:
        return PackagingRequirement(requirement).name
    except InvalidRequirement:
        return requirement


def _relative_files(folder: Path) -> list[str]:
    return tree_files(folder, folder)
