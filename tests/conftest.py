"""Shared test set-up: every test gets its own data directory; Qt runs offscreen."""

from __future__ import annotations

import os
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


@pytest.fixture
def test_plugins(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the light test plugins (echo, gradient, tone, describe) discoverable."""
    from studio.plugin_api.testing import TEST_PLUGINS_DIR

    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(TEST_PLUGINS_DIR))
    return TEST_PLUGINS_DIR
