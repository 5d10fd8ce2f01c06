"""Check Python requirements (``"transformers>=5"``) against installed packages."""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement


def unmet_requirement(text: str) -> str | None:
    """Return why ``text`` is not satisfied, or None when it is (or does not apply here)."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return f"its requirement {text!r} is not a valid requirement"
    if requirement.marker is not None and not requirement.marker.evaluate():
        return None
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        return f"it needs the Python package {requirement} (not installed)"
    if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
        return f"it needs {requirement} (installed: {installed})"
    return None
