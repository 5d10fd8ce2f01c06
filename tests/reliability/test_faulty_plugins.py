"""Faulty third-party plugins (issue: "Nothing gets in"): a plugin that raises on import, on
load or on run, crashes in native code, hangs ignoring cancel, or eats memory without end gives
one sentence, in the command line and in the window; nothing else breaks, no project is left
half made, and no process outlives its job.

(A hang ignoring Cancel in the window: ``tests/ui/test_forced_cancel.py``; ``os.abort`` in the
command line: ``tests/cli/test_generate_exit_codes.py``.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.cli.main import main
from studio.plugin_api import Panel
from tests.plugins.plugin_factory import write_folder_plugin
from tests.reliability.kill_harness import group_members

HEAD = """
import os, time
from studio.plugin_api import *

class Plugin(ModelPlugin):
    def load(self, options, ctx):
        return None

"""
FAULTS = {
    "raises_on_import": "raise RuntimeError('broken at import')\n",
    "raises_on_load": HEAD.replace("return None", "raise RuntimeError('broken at load')")
    + "    def run(self, loaded, request, options, ctx):\n        yield Progress(fraction=1.0)\n",
    "raises_on_run": HEAD
    + "    def run(self, loaded, request, options, ctx):\n"
    + "        raise RuntimeError('broken at run')\n        yield\n",
    "aborts": HEAD
    + "    def run(self, loaded, request, options, ctx):\n"
    + "        yield Progress(fraction=0.1, message='about to crash')\n        os.abort()\n",
    "hangs": HEAD
    + "    def run(self, loaded, request, options, ctx):\n"
    + "        yield Progress(fraction=0.1, message='working for ever')\n"
    + "        while True:\n            time.sleep(0.05)\n",
    "hoards": HEAD
    + "    def run(self, loaded, request, options, ctx):\n"
    + "        hoard = []\n        while True:\n            hoard.append(bytearray(50_000_000))\n"
    + "        yield\n",
}
SAID = {
    "raises-on-import": (2, "is disabled: its code failed to load: importing raises_on_import "
                            "failed: RuntimeError: broken at import"),
    "raises-on-load": (1, "raises-on-load failed: RuntimeError: broken at load"),
    "raises-on-run": (1, "raises-on-run failed: RuntimeError: broken at run"),
    "aborts": (1, "aborts failed: The model process stopped unexpectedly"),
}  # fmt: skip


@pytest.fixture
def faulty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "plugins"
    for name, code in FAULTS.items():
        write_folder_plugin(folder, name, code=code)
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(folder))
    return folder


@pytest.mark.parametrize("plugin", sorted(SAID))
def test_a_faulty_plugin_is_one_sentence_in_the_command_line_and_leaves_no_project(
    faulty: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], plugin: str
) -> None:
    project = tmp_path / "new.studio"
    code = main(["generate", "text", "--project", str(project), "--plugin", plugin])
    err = capsys.readouterr().err
    expected_code, sentence = SAID[plugin]
    assert code == expected_code, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("studio: ") and sentence in last, err
    assert "Traceback" not in err
    assert list(tmp_path.glob("new.studio*")) == []


def studio_process(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    """``studio`` as a user starts it from a terminal: Ctrl-C (SIGINT) is not ignored."""
    return subprocess.Popen(
        [sys.executable, "-c", "from studio.cli.main import run; run()", *args],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its model process is in its group, to look for it after
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kwargs,
    )


def test_ctrl_c_stops_a_plugin_that_hangs_ignoring_cancel_and_its_model_process(
    faulty: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = studio_process(
        ["generate", "text", "--project", str(tmp_path / "p.studio"), "--plugin", "hangs"], env
    )
    deadline = time.monotonic() + 60
    while len(group_members(child.pid)) < 2:  # studio, and its model process
        assert time.monotonic() < deadline, "no model process started"
        time.sleep(0.1)
    time.sleep(1.5)  # the job is running in it
    pressed = time.monotonic()
    child.send_signal(signal.SIGINT)
    err = child.communicate(timeout=30)[1]
    took = time.monotonic() - pressed
    assert child.returncode == 130 and "studio: cancelled." in err, err
    assert took < 10, took  # the grace period for a plugin that ignores cancel, then force
    deadline = time.monotonic() + 5
    while group_members(child.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_members(child.pid) == []  # its model process ended with it


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")
def test_a_plugin_that_eats_memory_under_a_limit_is_one_sentence(
    faulty: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    args = ["generate", "text", "--project", str(tmp_path / "p.studio"), "--plugin", "hoards"]
    child = subprocess.run(
        ["prlimit", "--as=2500000000", sys.executable, "-c",
         "from studio.cli.main import run; run()", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == 1, child.stderr
    last = child.stderr.strip().splitlines()[-1]
    assert last == (
        "studio: hoards failed: it ran out of memory (it asked for more than this machine, or "
        "the limit set for Studio, allows)"
    ), child.stderr
    assert "Traceback" not in child.stderr
    assert list(tmp_path.glob("p.studio*")) == []


@pytest.fixture
def window(qtbot, faulty: Path, monkeypatch: pytest.MonkeyPatch, test_plugins):
    from studio.app import build_app
    from studio.core.services import build_core_services
    from studio.plugin_api.testing import TEST_PLUGINS_DIR

    monkeypatch.setenv("STUDIO_PLUGIN_PATH", os.pathsep.join([str(TEST_PLUGINS_DIR), str(faulty)]))
    services = build_core_services()
    services.registry.discover()
    assert services.settings.isolate_models  # the shipped default: models in processes
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    writing = app.window.panels[Panel.WRITING]
    qtbot.waitUntil(lambda: writing.current_plugin_id() is not None, timeout=10_000)
    writing.open_text("Once")
    yield app
    app.shutdown()


def test_the_window_lists_a_plugin_that_fails_to_import_as_disabled_with_its_reason(
    qtbot, window
) -> None:
    registry = window.services.registry
    # The window's start imports each plugin's light module off the GUI thread, then the
    # panels list again: one that raised is no longer offered.
    qtbot.waitUntil(lambda: not registry.get("raises-on-import").enabled, timeout=20_000)
    qtbot.wait(200)
    writing = window.window.panels[Panel.WRITING]
    index = writing.plugin_combo.findData("raises-on-import")
    assert writing.plugin_combo.itemText(index).endswith("(disabled)")  # listed, greyed
    tooltip = writing.plugin_combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert "RuntimeError: broken at import" in tooltip
    assert not writing.select_plugin("raises-on-import")


@pytest.mark.parametrize(
    ("plugin", "shown"),
    [
        ("raises-on-load", "RuntimeError: broken at load"),
        ("raises-on-run", "RuntimeError: broken at run"),
        ("aborts", "The model process stopped unexpectedly"),
    ],
)
def test_a_faulty_plugin_in_the_window_is_a_sentence_and_the_panel_works_on(
    qtbot, window, plugin: str, shown: str
) -> None:
    writing = window.window.panels[Panel.WRITING]
    runner = window.runners[Panel.WRITING]
    assert writing.select_plugin(plugin)
    with qtbot.waitSignal(runner.failed, timeout=60_000):
        writing.run_button.click()
    banner = writing.error_banner.label.text()
    assert shown in banner and "Traceback" not in banner, banner
    assert not runner.busy
    assert writing.select_plugin("studio-test.echo")
    with qtbot.waitSignal(runner.finished, timeout=60_000):
        writing.run_button.click()  # the panel, and a new model process, work on


def test_a_model_process_busy_in_a_plugin_ends_when_studio_is_killed(
    faulty: Path, tmp_path: Path
) -> None:
    """kill -9 of Studio while a plugin hangs in its model process: the model process never
    reads its closed pipe, so it watches for its parent instead and ends within a second (it
    once ran on for ever, holding its memory and CPU cores)."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = studio_process(
        ["generate", "text", "--project", str(tmp_path / "p.studio"), "--plugin", "hangs"], env
    )
    deadline = time.monotonic() + 60
    while len(group_members(child.pid)) < 2:
        assert time.monotonic() < deadline, "no model process started"
        time.sleep(0.1)
    time.sleep(1.5)
    child.kill()
    child.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while group_members(child.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_members(child.pid) == []
