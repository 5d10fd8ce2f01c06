"""One window per data directory: a later launch hands its project to the running one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from studio.qt.single_instance import (
    InstanceServer,
    message_for,
    send_to_running,
    server_name,
)


def launch(code: str, *args: str) -> subprocess.Popen:
    """A second process (as a second launch of Studio would be)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


SENDER = """
import sys, json
from PySide6.QtCore import QCoreApplication
from studio.qt.single_instance import send_to_running
app = QCoreApplication([])
print(send_to_running(sys.argv[1], json.loads(sys.argv[2])))
"""


def wait_for(qtbot, process: subprocess.Popen) -> str:
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=30_000)
    out, err = process.communicate()
    assert process.returncode == 0, err
    return out.strip()


def test_names_differ_per_data_dir(tmp_path):
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "a")


def test_a_later_launch_hands_over_its_project(qtbot, tmp_path):
    name = server_name(tmp_path)
    server = InstanceServer(name)
    assert server.listen()
    opened, activated = [], []
    server.open_requested.connect(opened.append)
    server.activate_requested.connect(lambda: activated.append(True))
    import json

    project = tmp_path / "story.studio"
    second = launch(SENDER, name, json.dumps(message_for(project)))
    assert wait_for(qtbot, second) == "True"
    qtbot.waitUntil(lambda: bool(opened))
    assert opened == [str(project.resolve())]
    third = launch(SENDER, name, json.dumps(message_for(None)))
    assert wait_for(qtbot, third) == "True"
    qtbot.waitUntil(lambda: bool(activated))
    server.close()


def test_without_a_running_studio_nothing_answers(qtbot, tmp_path):
    started = time.monotonic()
    assert not send_to_running(server_name(tmp_path / "nobody"), {"activate": True})
    assert time.monotonic() - started < 3


def test_the_socket_of_a_crashed_studio_is_replaced(qtbot, tmp_path):
    name = server_name(tmp_path)
    crashed = launch(
        """
        import sys, time
        from PySide6.QtCore import QCoreApplication
        from studio.qt.single_instance import InstanceServer
        app = QCoreApplication([])
        server = InstanceServer(sys.argv[1])
        print(server.listen(), flush=True)
        time.sleep(60)
        """,
        name,
    )
    assert crashed.stdout.readline().strip() == "True"
    crashed.send_signal(signal.SIGKILL)  # dies without closing its socket
    crashed.wait(10)
    crashed.stdout.close()
    crashed.stderr.close()
    server = InstanceServer(name)
    assert server.listen()
    activated = []
    server.activate_requested.connect(lambda: activated.append(True))
    second = launch(SENDER, name, '{"activate": true}')
    assert wait_for(qtbot, second) == "True"
    qtbot.waitUntil(lambda: bool(activated))
    server.close()
