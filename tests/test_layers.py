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


def test_builtin_plugins_import_only_the_plugin_api():
    allowed_studio = ("studio.plugin_api",)
    problems = []
    for path in (REPO_ROOT / "plugins").rglob("*.py"):
        for name in imported_modules(path):
            if name.startswith("studio.") and not name.startswith(allowed_studio):
                problems.append(f"{path.relative_to(REPO_ROOT)} imports {name}")
            if name.split(".")[0] in {"PySide6", "shiboken6"}:
                problems.append(f"{path.relative_to(REPO_ROOT)} imports Qt ({name})")
    assert problems == []


def test_importing_the_core_and_plugin_api_and_listing_plugins_pulls_in_nothing_heavy(test_plugins):
    code = (
        "import sys, json, pkgutil, importlib\n"
        "import studio, studio.plugin_api, studio.core, studio.cli.main\n"
        "for pkg in (studio.plugin_api, studio.core):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "from studio.core.services import build_core_services\n"
        "build_core_services().registry.verify()\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
