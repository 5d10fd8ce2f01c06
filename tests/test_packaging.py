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
