"""The plugin registry: one discovery path for built-in, installed and folder plugins.

Discovery reads manifests only; nothing of a plugin is imported until its class is needed
(:meth:`PluginRegistry.plugin_class`). A plugin that cannot work is kept in the list, disabled,
with the reason a person needs to fix it; the rest of the app carries on.

Sources, in order of precedence when two plugins claim the same id:
1. entry points of group ``studio.plugins`` from the ``studio`` distribution (built-in),
2. entry points of other installed distributions (packages),
3. plugin folders: the user plugin folder, then ``STUDIO_PLUGIN_PATH``.
An entry point's value is the import name of the package holding ``studio-plugin.toml``.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib import metadata
from pathlib import Path

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
    """

    id: str
    source: PluginSource
    location: str
    manifest: Manifest | None = None
    reason: str = ""

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


def disabled_reason(manifest: Manifest, folder: Path | None) -> str:
    """Why a plugin with this manifest cannot run here, or "" if it can (nothing imported)."""
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
    for requirement in manifest.requires:
        reason = unmet_requirement(requirement)
        if reason:
            return reason
    missing = [name for name in manifest.needs.libraries if not library_available(name)]
    if missing:
        return f"it needs the system library {', '.join(missing)} (run 'studio doctor --fix')"
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
    ) -> None:
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
        return PluginRecord(
            id=manifest.id,
            source=source,
            location=str(manifest_path),
            manifest=manifest,
            reason=disabled_reason(manifest, folder),
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
