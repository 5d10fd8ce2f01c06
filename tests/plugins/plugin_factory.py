"""Write plugins to disk for discovery tests: folder plugins and fake installed packages."""

from __future__ import annotations

import textwrap
from pathlib import Path

PLUGIN_CODE = """
from studio.plugin_api import GeneratedAsset, ModelPlugin, Result

class Plugin(ModelPlugin):
    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        ctx.cancel.raise_if_cancelled()
        yield Result(assets=(GeneratedAsset.from_text("hi"),))
"""


# A plugin that ignores cancel: its run blocks in native code after its first event.
STUBBORN_CODE = """
import time
from studio.plugin_api import *

class Plugin(ModelPlugin):
    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        yield Progress(fraction=0.1, message="working, and never looking at cancel")
        time.sleep(3600)  # native code that never returns to Python to see a cancel
"""


def manifest_text(plugin_id: str, module: str, **overrides: object) -> str:
    fields: dict[str, object] = {
        "id": plugin_id,
        "name": plugin_id.title(),
        "version": "0.1.0",
        "api_version": 1,
        "panels": ["writing"],
        "licence": "MIT",
        "entry": f"{module}:Plugin",
    }
    fields.update(overrides)
    lines = []
    for key, value in fields.items():
        if isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]")
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def write_folder_plugin(
    root: Path,
    name: str,
    *,
    code: str = PLUGIN_CODE,
    manifest: str | None = None,
    extra_manifest: str = "",
    **overrides: object,
) -> Path:
    """A plugin folder ``root/name`` with a manifest and a module ``name``; returns the folder."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(code))
    text = (
        manifest
        if manifest is not None
        else manifest_text(name.replace("_", "-"), name, **overrides)
    )
    (folder / "studio-plugin.toml").write_text(text + extra_manifest)
    return folder


def write_installed_package(
    site: Path, dist: str, package: str, plugin_id: str, **overrides: object
) -> None:
    """A fake installed distribution exposing ``package`` in the ``studio.plugins`` group."""
    pkg = site / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(PLUGIN_CODE)
    (pkg / "studio-plugin.toml").write_text(
        manifest_text(plugin_id, f"{package}.plugin", **overrides)
    )
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[studio.plugins]\n{plugin_id} = {package}\n")
