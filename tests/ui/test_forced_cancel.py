"""A plugin that never looks at its cancel token: Cancel still frees the panel (its model
process is ended after a grace period, the next run starts a new one), other panels run
meanwhile, and Quit returns within seconds."""

from __future__ import annotations

import os
import time

import pytest

from studio.app import build_app
from studio.core import process_host
from studio.core.services import build_core_services
from studio.plugin_api import Panel
from studio.plugin_api.testing import TEST_PLUGINS_DIR
from tests.plugins.plugin_factory import STUBBORN_CODE, write_folder_plugin


@pytest.fixture
def studio(qtbot, tmp_path, monkeypatch, test_plugins):
    write_folder_plugin(tmp_path / "plugins", "stubborn", code=STUBBORN_CODE)
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", os.pathsep.join(
        [str(TEST_PLUGINS_DIR), str(tmp_path / "plugins")]))  # fmt: skip
    monkeypatch.setattr(process_host, "FORCE_CANCEL_AFTER_S", 1.0)
    services = build_core_services()
    services.registry.discover()
    assert services.settings.isolate_models  # the shipped default
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    writing = app.window.panels[Panel.WRITING]
    qtbot.waitUntil(lambda: writing.current_plugin_id() is not None, timeout=10_000)
    assert writing.select_plugin("stubborn")
    writing.open_text("Once")
    yield app
    app.shutdown()  # a second time after the Quit test: nothing left to stop


def start_stubborn(qtbot, studio):
    writing = studio.window.panels[Panel.WRITING]
    with qtbot.waitSignal(studio.runners[Panel.WRITING].progress, timeout=30_000):
        writing.run_button.click()
    qtbot.waitUntil(lambda: "never looking" in writing.progress.label.text(), timeout=30_000)
    return writing


def test_cancel_stops_a_plugin_that_ignores_it_and_frees_the_cpu(qtbot, studio):
    writing = start_stubborn(qtbot, studio)
    voice = studio.window.panels[Panel.VOICE]
    assert voice.select_plugin("studio-test.tone")
    voice.text.setPlainText("Meanwhile.")
    voice.run()  # waits for the CPU, which the stubborn job holds
    qtbot.wait(300)
    assert studio.runners[Panel.VOICE].busy
    start = time.monotonic()
    with qtbot.waitSignal(studio.runners[Panel.WRITING].cancelled, timeout=10_000):
        writing.cancel_button.click()
    assert time.monotonic() - start < 1.0 + 3  # the grace period, and a margin for slow CI
    assert writing.progress.label.text() == "Cancelled: stopped by force"
    assert "its process was ended" in writing.error_banner.label.text()
    assert not studio.runners[Panel.WRITING].busy
    qtbot.waitUntil(lambda: not studio.runners[Panel.VOICE].busy, timeout=30_000)  # it ran
    assert voice.take_asset is not None
    assert writing.select_plugin("studio-test.echo")
    with qtbot.waitSignal(studio.runners[Panel.WRITING].finished, timeout=30_000):
        writing.run_button.click()  # a new model process


def test_quit_returns_while_a_plugin_ignores_cancel(qtbot, studio):
    start_stubborn(qtbot, studio)
    child = studio.executors[Panel.WRITING].child_pid
    start = time.monotonic()
    studio.shutdown()
    assert time.monotonic() - start < process_host.STOP_WAIT_S + 4
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
