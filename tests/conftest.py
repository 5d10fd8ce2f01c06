"""Shared test set-up: every test gets its own data directory; Qt runs offscreen."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def studio_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point Studio's data directory at a fresh temporary folder (never the real home)."""
    data_dir = tmp_path_factory.mktemp("studio-data")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data_dir))
    monkeypatch.delenv("STUDIO_PLUGIN_PATH", raising=False)
    return data_dir


@pytest.fixture(autouse=True)
def forget_folder_plugins(tmp_path_factory: pytest.TempPathFactory):
    """Plugins a test writes into its temporary folder are forgotten after it: Python keeps an
    imported module by name, so another test's plugin of the same name would get this one's
    code."""
    base = str(tmp_path_factory.getbasetemp())
    path_before = list(sys.path)
    yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(base):
            del sys.modules[name]
    sys.path[:] = path_before


@pytest.fixture
def test_plugins(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the light test plugins (echo, gradient, tone, describe) discoverable."""
    from studio.core import panel_defaults
    from studio.plugin_api import Panel
    from studio.plugin_api.testing import TEST_PLUGINS_DIR

    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(TEST_PLUGINS_DIR))
    # Panels offer their test plugin first (no models, milliseconds a run); the Voice panel
    # keeps its embedded voice first, as users see it, and its tests pick the tone plugin.
    first = {
        Panel.WRITING: "studio-test.echo",
        Panel.IMAGE: "studio-test.gradient",
        Panel.CAPTIONING: "studio-test.describe",
    }
    for panel, plugin_id in first.items():
        order = (plugin_id, *panel_defaults.PANEL_ORDER[panel])
        monkeypatch.setitem(panel_defaults.PANEL_ORDER, panel, order)
    return TEST_PLUGINS_DIR


@pytest.fixture(scope="session")
def _builtin_verdicts() -> dict:
    """Passed verdicts for every engine check of the installed plugins, under this machine's
    signature (computed once per session)."""
    from studio.core.engine_checks import Attempt, Verdict, check_signature
    from studio.core.registry import PluginRegistry, PluginUnavailable

    registry = PluginRegistry()
    verdicts = {}
    for record in registry.records():
        try:
            plugin_class = registry.plugin_class(record.id)
        except PluginUnavailable:
            continue
        for check in plugin_class.engine_checks:
            verdict = Verdict(
                plugin_id=record.id,
                check_id=check.id,
                label=check.label,
                passed=True,
                variant=check.variants[0],
                attempts=(Attempt(check.variants[0], "passed", "taken as passed by tests", 0.0),),
                signature=check_signature(record.version, check),
            )
            verdicts[f"{record.id}/{check.id}"] = verdict.to_json()
    return verdicts


@pytest.fixture(autouse=True)
def engine_verdicts(studio_data_dir: Path, _builtin_verdicts: dict) -> Path:
    """The built-in engines count as checked (passed) in each test's data directory, so that
    tests of plugins and panels do not run the real engine checks (each loads an embedded
    model in a process of its own; tests/core/test_engine_checks.py and the `models` tests run
    them). A test that wants them unchecked removes this file."""
    import json

    from studio.core.engine_checks import VERDICTS_FILE

    path = studio_data_dir / VERDICTS_FILE
    path.write_text(json.dumps({"version": 1, "verdicts": _builtin_verdicts}), encoding="utf-8")
    return path


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
"""Real files made by other tools (../shared/corpus beside the checkout; a user's clone has
none): tests that use them carry ``@pytest.mark.corpus`` and take the ``corpus`` fixture."""


@pytest.fixture
def corpus() -> Path:
    """The corpus folder; the test is skipped when it is not there."""
    if not (CORPUS / "README.md").is_file():
        pytest.skip(f"{CORPUS} is not here (a user's clone has no ../shared)")
    return CORPUS
