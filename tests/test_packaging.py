"""Packaging: the explicit package list stays complete, resources are found, the wheel is sane."""

from __future__ import annotations

import tomllib

from studio.core.resources import resource_path
from tests.conftest import REPO_ROOT


def test_every_studio_package_is_listed_in_pyproject():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(path.parent.relative_to(REPO_ROOT).parts)
        for path in (REPO_ROOT / "studio").rglob("__init__.py")
    }
    builtin_plugins = {
        path.parent.name for path in (REPO_ROOT / "plugins").glob("*/studio-plugin.toml")
    }
    assert listed == on_disk | builtin_plugins | {"studio.resources"}
    for plugin in builtin_plugins:
        assert config["package-dir"][plugin] == f"plugins/{plugin}"
    assert config["package-dir"]["studio.resources"] == "resources"


def test_resources_are_found():
    assert resource_path("README.md").read_text().startswith("Studio's shipped resources")


def test_no_top_level_plugins_or_resources_package():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "plugins" not in config["packages"] and "resources" not in config["packages"]
    assert not (REPO_ROOT / "plugins" / "__init__.py").exists()
    assert not (REPO_ROOT / "resources" / "__init__.py").exists()


def test_builtin_manifests_require_what_pyproject_installs():
    """A built-in plugin's manifest says what it needs in the same words as pyproject: a
    package both name carries the same version range (no drift such as diffusers >=0.30 in
    the manifest while Studio installs >=0.35)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    installed = {
        canonicalize_name(r.name): r.specifier for r in map(Requirement, project["dependencies"])
    }
    drift = []
    for manifest in sorted((REPO_ROOT / "plugins").glob("*/studio-plugin.toml")):
        for text in tomllib.loads(manifest.read_text())["requires"]:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            if name in installed and requirement.specifier != installed[name]:
                drift.append(
                    f"{manifest.parent.name}: {text!r}, pyproject has "
                    f"'{requirement.name}{installed[name]}'"
                )
    assert drift == []
