"""Import the class a manifest's ``entry`` names (used by Studio and by the contract test)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from studio.plugin_api.manifest import Manifest
from studio.plugin_api.plugin import ModelPlugin


class EntryError(ImportError):
    """The entry cannot be imported or is not a ModelPlugin; the message says why."""


def import_entry(manifest: Manifest, folder: Path | None = None) -> type[ModelPlugin]:
    """Import and return the plugin class; ``folder`` is put on ``sys.path`` first if given."""
    if folder is not None and str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(manifest.entry_module)
    except Exception as exc:
        raise EntryError(
            f"importing {manifest.entry_module} failed: {type(exc).__name__}: {exc}"
        ) from exc
    plugin_class = getattr(module, manifest.entry_class, None)
    if plugin_class is None:
        raise EntryError(f"{manifest.entry_module} has no '{manifest.entry_class}'")
    if not (isinstance(plugin_class, type) and issubclass(plugin_class, ModelPlugin)):
        raise EntryError(f"{manifest.entry} is not a ModelPlugin subclass")
    problem = panel_mismatch(manifest, plugin_class)
    if problem:
        raise EntryError(problem)
    return plugin_class


def panel_mismatch(manifest: Manifest, plugin_class: type[ModelPlugin]) -> str:
    """Why a panel-typed plugin class does not fit its manifest (another panel, or neither
    ``run`` nor the panel's method written), or ""."""
    from studio.plugin_api.panel_plugins import PanelPlugin

    if not issubclass(plugin_class, PanelPlugin):
        return ""
    if manifest.panels != (plugin_class.panel,):
        listed = ", ".join(panel.value for panel in manifest.panels)
        return (
            f"{manifest.entry} is a plugin for the {plugin_class.panel.value} panel, but the "
            f"manifest's panels are: {listed}"
        )
    missing = plugin_class.missing_method()
    if missing:
        return f"{manifest.entry} must define {missing}() (or run())"
    return ""
