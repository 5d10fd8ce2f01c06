"""The window shares the CPU with every Studio process and one memory budget with its model
processes: while another process (a command-line run) holds the cores, a Run waits and says
so, then runs when they are free; the status bar shows every process's memory and the budget."""

from __future__ import annotations

import subprocess
import sys

from studio.app import build_app
from studio.core.cpu_lease import lease_folder
from studio.core.services import build_core_services
from studio.plugin_api import Panel

HOLDER = """
import sys, time
from pathlib import Path
from studio.core.cpu_lease import CpuLease
lease = CpuLease(Path(sys.argv[1]))
lease.probe.other_busy_cores = lambda: 0.0
with lease.hold() as threads:
    print(threads, flush=True)
    sys.stdin.readline()
"""


def test_a_run_waits_for_cores_another_studio_process_holds(qtbot, test_plugins):
    services = build_core_services()
    services.registry.discover()
    assert services.settings.isolate_models  # the shipped default: a model process
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lease_folder(services.paths.data_dir))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert int(holder.stdout.readline()) >= 1
        writing = app.window.panels[Panel.WRITING]
        qtbot.waitUntil(lambda: writing.current_plugin_id() is not None, timeout=10_000)
        assert writing.select_plugin("studio-test.echo")
        writing.open_text("Once upon")
        runner = app.runners[Panel.WRITING]
        with qtbot.waitSignal(runner.waiting, timeout=30_000) as waited:
            writing.run_button.click()
        assert waited.args[1] == 0
        qtbot.waitUntil(
            lambda: "Waiting for a free CPU core" in writing.progress.label.text(), timeout=5_000
        )
        qtbot.wait(500)
        assert runner.busy  # still waiting: nothing ran
        with qtbot.waitSignal(runner.finished, timeout=30_000):
            holder.stdin.write("\n")  # the other job ends
            holder.stdin.flush()
    finally:
        holder.kill()
        app.shutdown()


def test_the_status_bar_shows_all_processes_and_the_one_budget(qtbot, test_plugins):
    services = build_core_services()
    services.registry.discover()
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    try:
        writing = app.window.panels[Panel.WRITING]
        qtbot.waitUntil(lambda: writing.current_plugin_id() is not None, timeout=10_000)
        assert writing.select_plugin("studio-test.echo")
        writing.open_text("Once upon")
        with qtbot.waitSignal(app.runners[Panel.WRITING].finished, timeout=30_000):
            writing.run_button.click()
        app.window._update_memory()
        limit = services.budget.budget_bytes / 2**30
        assert f"of {limit:.1f} GB" in app.window.memory_label.text()
        tip = app.window.memory_label.toolTip()
        pid = app.executors[Panel.WRITING].child_pid
        name = services.registry.get("studio-test.echo").name
        assert "Model processes (1)" in tip
        assert f"{name}:" in tip and f"(pid {pid})" in tip  # the model, and where it is
    finally:
        app.shutdown()
