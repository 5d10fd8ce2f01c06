"""Find Studio's shipped resources (configs, vocabularies, icons) without importing anything.

The repository keeps them in the top-level ``resources/`` folder; a wheel installs them as
package data at ``studio/resources/``. Both layouts are looked up here, nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import studio

_PACKAGE_DIR = Path(studio.__file__).resolve().parent


def resources_dir() -> Path:
    installed = _PACKAGE_DIR / "resources"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / "resources"  # a source checkout or an editable install


def resource_path(*parts: str) -> Path:
    """The path of a shipped resource; raises FileNotFoundError naming it if it is missing."""
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"Studio's resource {'/'.join(parts)} is missing (looked in {path})"
        )
    return path
