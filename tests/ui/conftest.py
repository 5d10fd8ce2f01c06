"""Fixtures for widget tests: services with the light test plugins, a session, runners."""

from __future__ import annotations

import pytest

from studio.core.services import build_core_services
from studio.plugin_api import Panel
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.project_session import ProjectSession
from tests.fixtures.tiny_models import (  # noqa: F401 (fixtures)
    tiny_causal_lm_dir,
    tiny_causal_lm_gguf,
)
from tests.model_homes import machine  # noqa: F401 (fixture)


@pytest.fixture
def services(test_plugins):
    services = build_core_services()
    services.registry.discover()
    yield services
    services.cache.unload_all()


@pytest.fixture
def session(services, qtbot):
    session = ProjectSession(services.paths.data_dir)
    yield session
    session.close()


@pytest.fixture
def runners(services, qtbot):
    runners = {panel: PanelJobRunner(services.executor, panel.value) for panel in Panel}
    yield runners
    for runner in runners.values():
        assert runner.shutdown(5000)
