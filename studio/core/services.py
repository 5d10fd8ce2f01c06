"""The Qt-free services every front end needs, built in one place.

The window's composition root (:mod:`studio.app`) and the command line both start here, so the
two see the same data directory, plugins and settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from studio.core.paths import Paths
from studio.core.registry import PluginRegistry


@dataclass
class CoreServices:
    paths: Paths
    registry: PluginRegistry


def build_core_services(environ: Mapping[str, str] | None = None) -> CoreServices:
    paths = Paths.from_environment(environ)
    registry = PluginRegistry(plugin_dirs=paths.plugin_dirs)
    return CoreServices(paths=paths, registry=registry)
