"""The layers of DESIGN.md, checked: import-linter contracts, and no QtWidgets in studio.qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

HEAVY = ("torch", "transformers", "diffusers", "TTS", "PySide6")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broken" in done.stdout and " 0 broken" in done.stdout


def test_studio_qt_never_imports_qtwidgets():
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "studio" / "qt").rglob("*.py")
        if any(name.startswith("PySide6.QtWidgets") for name in imported_modules(path))
    ]
    assert offenders == []


def test_the_qtwidgets_check_would_notice_an_offender(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from PySide6.QtWidgets import QWidget\n")
    assert "PySide6.QtWidgets" in imported_modules(sample)


PLUGIN_API = "studio.plugin_api"
BUILTIN_SUPPORT = "studio.builtin_support"
"""Helpers only the built-in plugins share; not part of the plugin contract."""


def is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def studio_imports_outside(path: Path, allowed: tuple[str, ...]) -> list[str]:
    """What ``path`` imports of ``studio.*`` beyond ``allowed`` packages, and any Qt."""
    problems = []
    for name in sorted(imported_modules(path)):
        where = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path.name
        if name.startswith("studio.") and not any(is_within(name, a) for a in allowed):
            problems.append(f"{where} imports {name}")
        if name.split(".")[0] in {"PySide6", "shiboken6"}:
            problems.append(f"{where} imports Qt ({name})")
    return problems


def test_builtin_plugins_import_only_the_plugin_api_and_builtin_support():
    problems = []
    for path in (REPO_ROOT / "plugins").rglob("*.py"):
        problems += studio_imports_outside(path, (PLUGIN_API, BUILTIN_SUPPORT))
    assert problems == []


def test_builtin_support_imports_only_the_plugin_api():
    problems = []
    for path in (REPO_ROOT / "studio" / "builtin_support").rglob("*.py"):
        problems += studio_imports_outside(path, (PLUGIN_API, BUILTIN_SUPPORT))
    assert problems == []


def test_the_plugin_contract_never_depends_on_builtin_support():
    """Third-party plugins (and the light test plugins, the examples they copy) get
    studio.plugin_api only: nothing in it imports, exports or documents builtin_support as
    something to use."""
    importers = [
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "studio" / "plugin_api").rglob("*.py")
        if any(is_within(name, BUILTIN_SUPPORT) for name in imported_modules(path))
    ]
    assert importers == []
    code = (
        "import importlib, json, pkgutil, sys, studio.plugin_api as api\n"
        "for info in pkgutil.walk_packages(api.__path__, api.__name__ + '.'):\n"
        "    importlib.import_module(info.name)  # the test plugins too\n"
        f"prefix = {BUILTIN_SUPPORT!r}\n"
        "exported = [n for n in api.__all__\n"
        "            if str(getattr(getattr(api, n), '__module__', '')).startswith(prefix)]\n"
        "imported = [m for m in sys.modules if m.startswith(prefix)]\n"
        "print(json.dumps([exported, imported]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[[], []]"
    # The author's guide names it only to say it is not theirs to use.
    guide = (REPO_ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    for paragraph in guide.split("\n\n"):
        if BUILTIN_SUPPORT in paragraph:
            assert "not part of the plugin contract" in " ".join(paragraph.split()), paragraph


def test_the_plugin_import_check_would_notice_an_offender(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from studio.builtin_support import writing\n"
        "from studio.plugin_api_extra import thing\n"
        "from studio.core import errors\n"
        "from PySide6 import QtCore\n"
    )
    problems = set(studio_imports_outside(sample, (PLUGIN_API, BUILTIN_SUPPORT)))
    assert problems == {
        "sample.py imports Qt (PySide6)",
        "sample.py imports Qt (PySide6.QtCore)",
        "sample.py imports studio.core",
        "sample.py imports studio.core.errors",
        "sample.py imports studio.plugin_api_extra",
        "sample.py imports studio.plugin_api_extra.thing",
    }
    only_the_api = set(studio_imports_outside(sample, (PLUGIN_API,)))
    assert only_the_api - problems == {
        "sample.py imports studio.builtin_support",
        "sample.py imports studio.builtin_support.writing",
    }


def test_importing_the_core_and_plugin_api_and_listing_plugins_pulls_in_nothing_heavy(test_plugins):
    code = (
        "import sys, json, pkgutil, importlib\n"
        "import studio, studio.plugin_api, studio.core, studio.builtin_support, studio.cli.main\n"
        "for pkg in (studio.plugin_api, studio.core, studio.builtin_support):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "from studio.core.services import build_core_services\n"
        "build_core_services().registry.verify()\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
