"""The plugin registry: one discovery path for built-in, installed and folder plugins.

Discovery reads manifests only; nothing of a plugin is imported until its class is needed
(:meth:`PluginRegistry.plugin_class`). A plugin that cannot work is kept in the list, disabled,
with the reason a person needs to fix it; the rest of the app carries on.

Sources, in order of precedence when two plugins claim the same id:
1. entry points of group ``studio.plugins`` from the ``studio`` distribution (built-in),
2. entry points of other installed distributions (packages),
3. plugin folders: the user plugin folder, then ``STUDIO_PLUGIN_PATH``.
An entry point's value is the import name of the package holding ``studio-plugin.toml``.

A plugin the user switched off (``studio plugins disable ID``; listed in the state file, see
:func:`read_switched_off`) is listed as disabled with that reason. A plugin Studio installed
(:mod:`studio.core.plugin_install`) has an install record in its folder
(:data:`INSTALL_RECORD`); the Python packages installed for it alone, in its private folder,
count as met for it (its own model process has them on its path: :mod:`studio.core.plugin_sandbox`).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import json
import logging
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from studio.core.requirements import unmet_requirement
from studio.core.system_libraries import library_available
from studio.plugin_api import (
    API_VERSION,
    ENTRY_POINT_GROUP,
    MANIFEST_NAME,
    MIN_API_VERSION,
    Manifest,
    ManifestError,
    ModelPlugin,
    ModelSpec,
    Panel,
    read_manifest,
)
from studio.plugin_api.entry import EntryError, import_entry

log = logging.getLogger(__name__)

STUDIO_DISTRIBUTION = "studio"

INSTALL_RECORD = ".studio-install.json"
"""The install record in the folder of a plugin Studio installed (what it added, from where)."""

PACKAGES_DIR = "plugin-packages"
"""``<data dir>/plugin-packages/<id>``: the Python packages installed for one plugin only."""

STATE_FILE = "state.json"
"""``<data dir>/plugins/state.json``: the plugins the user switched off."""


def switched_off_reason(plugin_id: str) -> str:
    return (
        f"switched off (Plugins > Manage Plugins… > Enable, or 'studio plugins enable {plugin_id}')"
    )


def read_switched_off(state_file: Path | None) -> frozenset[str]:
    """The ids the user switched off; a missing or unreadable file switches nothing off."""
    if state_file is None:
        return frozenset()
    try:
        data = json.loads(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return frozenset()
    except (OSError, ValueError):
        log.warning("plugin state %s cannot be read; every plugin counts as on", state_file)
        return frozenset()
    ids = data.get("switched_off") if isinstance(data, dict) else None
    if not isinstance(ids, list):
        log.warning("plugin state %s has no 'switched_off' list; ignored", state_file)
        return frozenset()
    return frozenset(i for i in ids if isinstance(i, str))


def read_install_record(folder: Path) -> dict | None:
    """The install record of a plugin folder Studio installed, or None."""
    try:
        data = json.loads((folder / INSTALL_RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        log.warning("install record in %s cannot be read", folder)
        return None
    return data if isinstance(data, dict) else None


def private_packages(folder: Path, record: dict | None = None) -> Path | None:
    """The private package folder of an installed plugin (``<data dir>/plugin-packages/<id>``,
    the data dir being the plugin folder's grandparent), or None when it has none."""
    record = read_install_record(folder) if record is None else record
    if not record or not isinstance(record.get("packages"), str):
        return None
    parts = Path(record["packages"]).parts
    if len(parts) != 2 or parts[0] != PACKAGES_DIR or parts[1] in ("..", "."):
        log.warning("install record in %s names packages %r; ignored", folder, record["packages"])
        return None
    packages = folder.parent.parent / PACKAGES_DIR / parts[1]
    return packages if packages.is_dir() else None


class PluginSource(StrEnum):
    BUILTIN = "builtin"
    PACKAGE = "package"
    FOLDER = "folder"


class PluginUnavailable(Exception):
    """A plugin that is unknown or disabled was asked for; the message says why."""


@dataclass(frozen=True, kw_only=True)
class PluginRecord:
    """What the registry knows about one plugin, enabled or not.

    Attributes:
        id: the manifest id, or a stand-in (folder or entry point name) if the manifest is broken.
        source: where it was found.
        location: the manifest's path, or where the plugin should have been.
        manifest: the parsed manifest; None when it could not be read.
        reason: why the plugin is disabled; empty when enabled.
        switched_off: the user switched it off (the reason says so).
        packages: the private package folder of a plugin Studio installed, if it has one.
    """

    id: str
    source: PluginSource
    location: str
    manifest: Manifest | None = None
    reason: str = ""
    switched_off: bool = False
    packages: Path | None = None

    @property
    def enabled(self) -> bool:
        return not self.reason

    @property
    def panels(self) -> tuple[Panel, ...]:
        return self.manifest.panels if self.manifest else ()

    @property
    def version(self) -> str:
        return self.manifest.version if self.manifest else ""

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest else self.id

    @property
    def folder(self) -> Path | None:
        """The folder holding the manifest (put on ``sys.path`` for folder plugins)."""
        return Path(self.location).parent if self.location.endswith(MANIFEST_NAME) else None


def _package_dir(dotted: str) -> Path | None:
    """Locate a package's folder without executing it (find_spec of a top-level name)."""
    top, *rest = dotted.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *rest)


def _module_findable(module: str, folder: Path | None) -> bool:
    top = module.split(".")[0]
    if folder is not None and importlib.machinery.PathFinder.find_spec(top, [str(folder)]):
        return True
    return importlib.util.find_spec(top) is not None


def api_version_reason(manifest: Manifest) -> str:
    """Why this Studio cannot run a plugin written for the manifest's API version, or ""."""
    if manifest.api_version > API_VERSION:
        return (
            f"it needs plugin API {manifest.api_version}, this Studio provides {API_VERSION}; "
            "update Studio"
        )
    if manifest.api_version < MIN_API_VERSION:
        return (
            f"it was written for plugin API {manifest.api_version}, which this Studio no longer "
            "runs; update the plugin"
        )
    return ""


def _unmet(text: str, packages: Path | None) -> str | None:
    """Why requirement ``text`` is not met, in Studio's environment or (for a package Studio's
    environment does not have at all) in the plugin's private ``packages`` folder."""
    reason = unmet_requirement(text)
    if not reason or packages is None:
        return reason
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return reason
    wanted = canonicalize_name(requirement.name)
    try:
        metadata.version(requirement.name)
        return reason  # Studio's own copy is the one imported, private or not
    except metadata.PackageNotFoundError:
        pass
    for dist in metadata.distributions(path=[str(packages)]):
        if canonicalize_name(dist.metadata["Name"] or "") == wanted:
            if requirement.specifier.contains(dist.version, prereleases=True):
                return None
            return f"it needs {requirement} (installed for it: {dist.version})"
    return reason


def disabled_reason(
    manifest: Manifest,
    folder: Path | None,
    packages: Path | None = None,
    extra_requires: Sequence[str] = (),
) -> str:
    """Why a plugin with this manifest cannot run here, or "" if it can (nothing imported).

    ``packages``: the plugin's private package folder, whose packages count as met for it;
    ``extra_requires``: requirements beyond the manifest's (an installed wheel's).
    """
    reason = api_version_reason(manifest)
    if reason:
        return reason
    for requirement in dict.fromkeys((*manifest.requires, *extra_requires)):
        reason = _unmet(requirement, packages)
        if reason:
            return reason
    missing = [name for name in manifest.needs.libraries if not library_available(name)]
    if missing:
        return f"it needs the system library {', '.join(missing)} (run 'studio doctor --fix')"
    programs = [name for name in manifest.needs.programs if shutil.which(name) is None]
    if programs:
        return f"it needs the program {', '.join(programs)} (not found on PATH)"
    if not _module_findable(manifest.entry_module, folder):
        return f"its code '{manifest.entry_module}' was not found"
    return ""


def _display_order(record: PluginRecord) -> tuple[int, str]:
    panel_order = list(Panel)
    return (panel_order.index(record.panels[0]) if record.panels else -1, record.id)


class PluginRegistry:
    """Discovers plugins and hands out their classes and specs. Thread-safe."""

    def __init__(
        self,
        *,
        plugin_dirs: Sequence[Path] = (),
        entry_point_group: str | None = ENTRY_POINT_GROUP,
        builtin_distribution: str = STUDIO_DISTRIBUTION,
        state_file: Path | None = None,
    ) -> None:
        """``state_file``: where the user's switched-off plugins are kept (None: none are)."""
        self._state_file = state_file
        self._plugin_dirs = tuple(plugin_dirs)
        self._group = entry_point_group
        self._builtin_distribution = builtin_distribution
        self._lock = threading.RLock()
        self._records: dict[str, PluginRecord] = {}
        self._classes: dict[str, type[ModelPlugin]] = {}
        self._discovered = False

    # discovery -----------------------------------------------------------------------------

    def discover(self) -> list[PluginRecord]:
        """(Re)read all manifests. Imports no plugin code."""
        found = [*self._from_entry_points(), *self._from_folders()]
        switched_off = read_switched_off(self._state_file)
        found = [
            replace(record, reason=switched_off_reason(record.id), switched_off=True)
            if record.id in switched_off
            else record
            for record in found
        ]
        records: dict[str, PluginRecord] = {}
        for record in found:
            if record.id in records:
                first = records[record.id]
                record = replace(
                    record,
                    id=f"{record.id}@{record.location}",
                    reason=f"another plugin already uses the id '{first.id}' ({first.location})",
                )
            records[record.id] = record
        with self._lock:
            self._records = records
            self._classes = {k: v for k, v in self._classes.items() if k in records}
            self._discovered = True
        for record in records.values():
            if not record.enabled:
                log.info("plugin %s disabled: %s", record.id, record.reason)
        return list(records.values())

    def _record(self, manifest_path: Path, source: PluginSource, fallback_id: str) -> PluginRecord:
        try:
            manifest = read_manifest(manifest_path)
        except ManifestError as exc:
            return PluginRecord(
                id=fallback_id,
                source=source,
                location=str(manifest_path),
                reason=f"its manifest is invalid: {exc}",
            )
        folder = manifest_path.parent if source is PluginSource.FOLDER else None
        install = read_install_record(folder) if folder is not None else None
        packages = private_packages(folder, install) if folder is not None and install else None
        extra = install.get("requires", []) if install else []
        extra = [r for r in extra if isinstance(r, str)] if isinstance(extra, list) else []
        return PluginRecord(
            id=manifest.id,
            source=source,
            location=str(manifest_path),
            manifest=manifest,
            reason=disabled_reason(manifest, folder, packages, extra),
            packages=packages,
        )

    def _from_entry_points(self) -> Iterable[PluginRecord]:
        if not self._group:
            return
        for entry_point in sorted(metadata.entry_points(group=self._group), key=lambda e: e.name):
            dist_name = entry_point.dist.name if entry_point.dist else ""
            source = (
                PluginSource.BUILTIN
                if dist_name == self._builtin_distribution
                else PluginSource.PACKAGE
            )
            where = f"entry point '{entry_point.name}' of {dist_name or 'unknown package'}"
            if ":" in entry_point.value:
                yield PluginRecord(
                    id=entry_point.name,
                    source=source,
                    location=where,
                    reason="its entry point must name the package holding studio-plugin.toml",
                )
                continue
            package = _package_dir(entry_point.value)
            if package is None or not (package / MANIFEST_NAME).is_file():
                yield PluginRecord(
                    id=entry_point.name,
                    source=source,
                    location=where,
                    reason=f"no {MANIFEST_NAME} found in package '{entry_point.value}'",
                )
                continue
            yield self._record(package / MANIFEST_NAME, source, entry_point.name)

    def _from_folders(self) -> Iterable[PluginRecord]:
        for plugin_dir in self._plugin_dirs:
            if not plugin_dir.is_dir():
                continue
            candidates = (
                [plugin_dir]
                if (plugin_dir / MANIFEST_NAME).is_file()
                else sorted(child for child in plugin_dir.iterdir() if child.is_dir())
            )
            for folder in candidates:
                manifest_path = folder / MANIFEST_NAME
                if manifest_path.is_file():
                    yield self._record(manifest_path, PluginSource.FOLDER, folder.name)

    # queries -------------------------------------------------------------------------------

    def _ensure_discovered(self) -> None:
        if not self._discovered:
            self.discover()

    def records(self) -> list[PluginRecord]:
        self._ensure_discovered()
        with self._lock:
            return sorted(self._records.values(), key=_display_order)

    def get(self, plugin_id: str) -> PluginRecord:
        self._ensure_discovered()
        with self._lock:
            record = self._records.get(plugin_id)
        if record is None:
            raise PluginUnavailable(f"No plugin with the id '{plugin_id}' is installed.")
        return record

    def enabled_for_panel(self, panel: Panel) -> list[PluginRecord]:
        return [r for r in self.records() if r.enabled and panel in r.panels]

    def plugin_class(self, plugin_id: str) -> type[ModelPlugin]:
        """Import the plugin's code (once). A failure disables the plugin with the reason."""
        record = self.get(plugin_id)
        if not record.enabled:
            raise PluginUnavailable(f"The plugin '{plugin_id}' is disabled: {record.reason}.")
        with self._lock:
            cached = self._classes.get(plugin_id)
            if cached is not None:
                return cached
            assert record.manifest is not None
            folder = record.folder if record.source is PluginSource.FOLDER else None
            try:
                plugin_class = import_entry(record.manifest, folder)
            except EntryError as exc:
                log.warning("plugin %s failed to import", plugin_id, exc_info=True)
                self._records[plugin_id] = replace(record, reason=f"its code failed to load: {exc}")
                raise PluginUnavailable(
                    f"The plugin '{plugin_id}' is disabled: its code failed to load: {exc}."
                ) from exc
            self._classes[plugin_id] = plugin_class
            return plugin_class

    def spec(self, plugin_id: str) -> ModelSpec:
        plugin_class = self.plugin_class(plugin_id)
        manifest = self.get(plugin_id).manifest
        assert manifest is not None
        return ModelSpec.build(manifest, plugin_class)

    def verify(self) -> list[PluginRecord]:
        """Import every enabled plugin's code so that import errors show in the list."""
        for record in self.records():
            if record.enabled:
                with contextlib.suppress(PluginUnavailable):
                    self.plugin_class(record.id)
        return self.records()
