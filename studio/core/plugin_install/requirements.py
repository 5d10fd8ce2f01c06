"""A plugin's Python requirements, worked out against Studio's own environment.

Each requirement is *met* (Studio's environment has a version that satisfies it), a
*conflict* (Studio has the package at a version it does not accept, or meeting it would change
one of Studio's packages, or pip cannot resolve it at all), or to *install*. The ones to
install are resolved together by Studio's own pip against Studio's environment (``pip install
--dry-run --report``, wheels only, so nothing is built and no code runs); every package the
report lists is installed with ``pip install --no-deps --target`` into the plugin's private
folder, pinned to the version pip picked. Studio's environment is never changed: a report that
would install or replace a package Studio already has is a conflict that refuses the install.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.utils import canonicalize_name

from studio.core.errors import UserError
from studio.core.plugin_install.pip import Pip, pip_error
from studio.core.plugin_install.review import Requirement


def _studio_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _applies(requirement: PackagingRequirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def resolve(texts: tuple[str, ...], pip: Pip, scratch: Path) -> tuple[Requirement, ...]:
    """What each requirement (and each package they pull in) means here. ``scratch``: a
    folder for pip's report."""
    results: list[Requirement] = []
    pending: dict[str, str] = {}  # canonical name -> text
    for text in texts:
        try:
            requirement = PackagingRequirement(text)
        except InvalidRequirement:
            results.append(
                Requirement(text, "conflict", why=f"'{text}' is not a valid requirement")
            )
            continue
        if requirement.url:
            results.append(
                Requirement(
                    text,
                    "conflict",
                    why="a requirement with a URL is not installed (only packages by name)",
                )
            )
            continue
        if not _applies(requirement):
            results.append(Requirement(text, "met", why="not needed on this system"))
            continue
        have = _studio_version(requirement.name)
        if have is not None and not requirement.extras:
            if requirement.specifier.contains(have, prereleases=True):
                results.append(Requirement(text, "met", version=have))
            else:
                results.append(
                    Requirement(
                        text,
                        "conflict",
                        version=have,
                        why=(
                            f"it needs {requirement}, Studio has {requirement.name} {have}, and "
                            "Studio's own packages are never changed for a plugin"
                        ),
                    )
                )
            continue
        pending[canonicalize_name(requirement.name)] = text
    if pending:
        results += _dry_run(pending, pip, scratch)
    return tuple(results)


def _dry_run(pending: dict[str, str], pip: Pip, scratch: Path) -> list[Requirement]:
    report = scratch / "pip-report.json"
    done = pip.run(
        "install", "--dry-run", "--quiet", "--only-binary=:all:", "--report", str(report),
        *pending.values(),
    )  # fmt: skip
    if done.returncode:
        why = f"pip cannot resolve it beside Studio's packages: {pip_error(done)}"
        return [Requirement(text, "conflict", why=why) for text in pending.values()]
    try:
        items = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    except (OSError, ValueError) as exc:
        raise UserError(f"pip's report could not be read ({exc}).") from None
    finally:
        report.unlink(missing_ok=True)
    picked: dict[str, tuple[str, str, list[str]]] = {}  # canonical -> name, version, requires
    for item in items:
        data = item.get("metadata", {})
        picked[canonicalize_name(data["name"])] = (
            data["name"],
            data["version"],
            list(data.get("requires_dist") or []),
        )
    needed_by: dict[str, list[str]] = {}
    for name, _version, requires in picked.values():
        for text in requires:
            try:
                dependency = PackagingRequirement(text)
            except InvalidRequirement:
                continue
            if _applies(dependency):
                needed_by.setdefault(canonicalize_name(dependency.name), []).append(name)
    results = []
    for key, (name, version, _requires) in picked.items():
        text = pending.get(key, name)
        have = _studio_version(name)
        if have is not None:
            results.append(
                Requirement(
                    text,
                    "conflict",
                    version=version,
                    why=(
                        f"meeting it would change Studio's {name} {have} to {version}, and "
                        "Studio's own packages are never changed for a plugin"
                    ),
                )
            )
            continue
        why = "" if key in pending else f"needed by {', '.join(needed_by.get(key, [])) or 'it'}"
        results.append(Requirement(text, "install", version=version, why=why))
    for key, text in pending.items():
        if key not in picked:  # pip had nothing to do: met (a package with extras Studio has)
            name = PackagingRequirement(text).name
            results.append(Requirement(text, "met", version=_studio_version(name) or ""))
    return results


def install_packages(requirements: tuple[Requirement, ...], target: Path, pip: Pip) -> None:
    """Install every package to install, pinned, without its dependencies, into ``target``
    (one pip call, so packages sharing a namespace folder land together)."""
    pins = [
        f"{PackagingRequirement(r.text).name}=={r.version}"
        for r in requirements
        if r.state == "install"
    ]
    if not pins:
        return
    done = pip.run(
        "install", "--no-deps", "--only-binary=:all:", "--no-warn-script-location",
        "--progress-bar", "off", "--target", str(target), *pins,
    )  # fmt: skip
    if done.returncode:
        raise UserError(f"pip could not install {', '.join(pins)}: {pip_error(done)}.")
