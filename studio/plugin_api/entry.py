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
    return plugin_class
