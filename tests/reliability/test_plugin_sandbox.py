"""What a third-party plugin may do (issue 24, docs/safety.md): in its own model process, a
plugin whose manifest does not declare ``needs.network`` is stopped when it tries the network,
with one sentence as the job's error; its private packages are on that process's path only;
the built-ins' process is untouched. Every job runs through the real executor: ``studio
generate`` in this process, each plugin in a model process of its own, and the window."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.plugin_sandbox import network_attempt
from studio.plugin_api import Panel
from studio.plugin_api.sample_media import write_sample_png
from tests.plugins.plugin_factory import write_folder_plugin
from tests.reliability.test_offline import network_namespaces_work


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def seen(self, wait: float = 0.5) -> int:
        """The connections accepted, after ``wait`` seconds for any still in the backlog."""
        time.sleep(wait)
        return self.accepted

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.server.close()


HEAD = """
import socket, subprocess, sys, urllib.request
from studio.plugin_api import *

class Plugin(ModelPlugin):
    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
"""
CONNECTS = (
    HEAD
    + """
        with socket.create_connection(("127.0.0.1", PORT), timeout=5) as conn:
            conn.sendall(b"hello")
        yield Result(assets=(GeneratedAsset.from_text("connected"),))
"""
)
USES_URLLIB = (
    HEAD
    + """
        urllib.request.urlopen("http://127.0.0.1:PORT/", timeout=5)  # URLError wraps the refusal
        yield Result(assets=(GeneratedAsset.from_text("fetched"),))
"""
)
STARTS_PROGRAM = (
    HEAD
    + """
        program = "import socket; socket.create_connection(('127.0.0.1', PORT), timeout=3)"
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
        with open(r"REPORT", "w") as report:
            report.write(done.stderr)
        yield Result(assets=(GeneratedAsset.from_text(str(done.returncode)),))
"""
)
USES_PRIVATE = (
    HEAD
    + """
        import tinypkg_sandbox
        yield Result(assets=(GeneratedAsset.from_text(tinypkg_sandbox.VALUE),))
"""
)
NEEDS_NETWORK = "\n[needs]\nnetwork = true\n"


def blocked(name: str, port: int) -> str:
    return (
        f"{name} tried to connect to 127.0.0.1:{port}, but it does not declare needs.network "
        "in its manifest: Studio blocked it."
    )


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: Listener) -> Path:
    folder = tmp_path / "plugins"
    port = str(listener.port)
    report = tmp_path / "program-report.txt"
    for name, code, extra in [
        ("no_net", CONNECTS, ""),
        ("uses_urllib", USES_URLLIB, ""),
        ("with_net", CONNECTS, NEEDS_NETWORK),
        ("starts_program", STARTS_PROGRAM.replace("REPORT", str(report)), ""),
        ("with_packages", USES_PRIVATE, ""),
    ]:
        write_folder_plugin(folder, name, code=code.replace("PORT", port), extra_manifest=extra)
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(folder))
    return folder


def generate(tmp_path: Path, capsys, *args: str) -> tuple[int, str]:
    project = tmp_path / "p.studio"
    code = main(["generate", *args[:1], "--project", str(project), *args[1:]])
    return code, capsys.readouterr().err


def log_text(data_dir: Path) -> str:
    return (data_dir / "logs" / "studio.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(("plugin", "name"), [("no-net", "No-Net"), ("uses-urllib", "Uses-Urllib")])
def test_a_plugin_without_needs_network_is_stopped_with_one_sentence(
    plugins, listener, tmp_path, capsys, studio_data_dir, plugin, name
) -> None:
    code, err = generate(tmp_path, capsys, "text", "--plugin", plugin)
    assert code == 1, err
    assert err.strip().splitlines()[-1] == (
        f"studio: {plugin} failed: {blocked(name, listener.port)}"
    ), err
    assert "Traceback" not in err
    assert listener.seen() == 0
    assert list(tmp_path.glob("p.studio*")) == []
    protection = "audit hook + network namespace" if network_namespaces_work() else "audit hook"
    assert f"model process for {name} ({plugin}): network blocked by {protection}" in log_text(
        studio_data_dir
    )


def test_the_same_plugin_declaring_needs_network_connects(
    plugins, listener, tmp_path, capsys, studio_data_dir
) -> None:
    code, err = generate(tmp_path, capsys, "text", "--plugin", "with-net")
    assert code == 0, err
    assert listener.seen(0.1) == 1
    assert "model process for With-Net (with-net): it declares needs.network" in log_text(
        studio_data_dir
    )


@pytest.mark.skipif(not network_namespaces_work(), reason="no network namespace on this machine")
def test_a_program_the_plugin_starts_has_no_network_either(
    plugins, listener, tmp_path, capsys
) -> None:
    """The audit hook is this process's only; the network namespace covers what it starts."""
    code, err = generate(tmp_path, capsys, "text", "--plugin", "starts-program")
    assert code == 0, err  # the plugin keeps what its program said and finishes
    said = (tmp_path / "program-report.txt").read_text()
    assert "Network is unreachable" in said, said
    assert listener.seen() == 0


PROBE = """
import json, os, sys

_MARKS = os.environ["STUDIO_TEST_PROBE_MARKS"].split(",")
_LOG = os.environ["STUDIO_TEST_PROBE_LOG"]
_done = set()


def _hook(event, args):
    if event != "open" or not isinstance(args[0], str) or len(_done) == len(_MARKS):
        return
    if not args[0].endswith((".py", ".pyc")):  # its code, not its manifest
        return
    mark = next((m for m in _MARKS if m in args[0] and m not in _done), None)
    if mark is None:
        return
    _done.add(mark)
    import importlib.util
    site = next(i for i, p in enumerate(sys.path) if p.endswith("site-packages"))
    private = [(i, p) for i, p in enumerate(sys.path) if "plugin-packages" in p]
    record = {
        "mark": mark,
        "file": args[0],
        "netns": os.readlink("/proc/self/ns/net"),
        "private": [p for _, p in private],
        "before_site": all(i < site for i, _ in private),
        "found": [n for n in ("tinypkg_sandbox", "tinypkg_builtin")
                  if importlib.util.find_spec(n) is not None],
    }
    with open(_LOG, "a") as log:
        log.write(json.dumps(record) + "\\n")


sys.addaudithook(_hook)
"""


def test_private_packages_are_on_the_path_of_their_plugins_process_only(
    plugins, tmp_path, capsys, monkeypatch, studio_data_dir
) -> None:
    """A probe in every model process notes the path when the plugin's code is read: the
    third-party plugin's process has its private folder before Studio's packages (and imports
    from it); the built-in's process has no private folder at all (not even one made under the
    built-in's own id), nor has this process, and runs as before."""
    packages = studio_data_dir / "plugin-packages"
    (packages / "with-packages").mkdir(parents=True)
    (packages / "with-packages" / "tinypkg_sandbox.py").write_text("VALUE = 'private'\n")
    (packages / "studio.image-upscale").mkdir()
    (packages / "studio.image-upscale" / "tinypkg_builtin.py").write_text("VALUE = 1\n")
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(PROBE)
    log = tmp_path / "probe.jsonl"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(probe), os.getcwd()]))
    monkeypatch.setenv("STUDIO_TEST_PROBE_MARKS", "/with_packages/,/studio_image_upscale/")
    monkeypatch.setenv("STUDIO_TEST_PROBE_LOG", str(log))

    code, err = generate(tmp_path, capsys, "text", "--plugin", "with-packages")
    assert code == 0, err  # its run() imported the private module
    image = write_sample_png(tmp_path / "small.png", 48, 32)
    code, err = generate(
        tmp_path, capsys, "image", "--plugin", "studio.image-upscale", "--input", f"init={image}"
    )
    assert code == 0, err  # a built-in runs as before

    seen = {r["mark"]: r for r in map(json.loads, log.read_text().splitlines())}
    own = seen["/with_packages/"]
    assert own["private"] == [str(packages / "with-packages")], own
    assert own["before_site"] and own["found"] == ["tinypkg_sandbox"], own
    builtin = seen["/studio_image_upscale/"]
    assert builtin["private"] == [] and builtin["found"] == [], builtin
    here = os.readlink("/proc/self/ns/net")
    assert builtin["netns"] == here  # the built-ins' process keeps the network
    if network_namespaces_work():
        assert own["netns"] != here
    assert importlib.util.find_spec("tinypkg_sandbox") is None
    assert not [p for p in sys.path if "plugin-packages" in p]


def test_the_window_shows_the_sentence_and_the_panel_works_on(
    qtbot, plugins, listener, monkeypatch, test_plugins
) -> None:
    from studio.app import build_app
    from studio.core.services import build_core_services
    from studio.plugin_api.testing import TEST_PLUGINS_DIR

    monkeypatch.setenv("STUDIO_PLUGIN_PATH", os.pathsep.join([str(TEST_PLUGINS_DIR), str(plugins)]))
    services = build_core_services()
    services.registry.discover()
    assert services.settings.isolate_models  # the shipped default: models in processes
    app = build_app(services=services)
    try:
        qtbot.addWidget(app.window)
        writing = app.window.panels[Panel.WRITING]
        runner = app.runners[Panel.WRITING]
        qtbot.waitUntil(lambda: writing.current_plugin_id() is not None, timeout=10_000)
        writing.open_text("Once")
        assert writing.select_plugin("no-net")
        with qtbot.waitSignal(runner.failed, timeout=60_000):
            writing.run_button.click()
        assert blocked("No-Net", listener.port) in writing.error_banner.label.text()
        assert listener.seen() == 0
        assert writing.select_plugin("studio-test.echo")
        with qtbot.waitSignal(runner.finished, timeout=60_000):
            writing.run_button.click()
    finally:
        app.shutdown()


def test_what_the_audit_hook_refuses_and_what_it_lets_through() -> None:
    """The rules, on real sockets (no hook is installed in this process)."""
    unix, _ = socket.socketpair()  # Studio's own pipe to its model process is one of these
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        assert network_attempt("socket.connect", (unix, "/tmp/studio.sock")) == ""
        assert network_attempt("socket.connect", (tcp, ("127.0.0.1", 8765))) == (
            "connect to 127.0.0.1:8765"
        )
        assert network_attempt("socket.sendto", (udp6, ("::1", 53, 0, 0))) == "send to [::1]:53"
        assert network_attempt("socket.sendmsg", (tcp, None)) == ""  # connected already
        assert network_attempt("socket.bind", (tcp, ("0.0.0.0", 80))) == "listen on 0.0.0.0:80"
        assert network_attempt("socket.bind", (tcp, ("127.0.0.1", 0))) == ""
        assert network_attempt("socket.getaddrinfo", ("127.0.0.1", 80, 0, 0, 0)) == ""
        assert network_attempt("socket.getaddrinfo", ("example.com", 443, 0, 0, 0)) == (
            "connect to example.com:443"
        )
        assert network_attempt("socket.gethostbyname", ("example.com",)) == "look up example.com"
        assert network_attempt("socket.gethostbyaddr", ("8.8.8.8",)) == (
            "look up the name of 8.8.8.8"
        )
        assert network_attempt("open", ("/etc/hosts", "r", 0)) == ""
    finally:
        for sock in (unix, _, tcp, udp6):
            sock.close()


NOBODY = """
import os, socket, sys
from studio.core.plugin_sandbox import enter_network_namespace
try:
    how = enter_network_namespace()
except OSError as exc:
    print("SKIP", exc)
    sys.exit(0)
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3)
    said = "connected"
except OSError as exc:
    said = exc.strerror
print(how, os.getuid(), os.getgid(), said, sep="|")
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to start a process as an unprivileged user",
)
def test_an_unprivileged_process_gets_a_namespace_of_its_own_where_the_system_allows(
    listener,
) -> None:
    """Without root, the namespace is made inside a user namespace mapped to the same user."""
    done = subprocess.run(
        ["setpriv", "--reuid=4321", "--regid=4321", "--clear-groups",
         sys.executable, "-c", NOBODY.replace("PORT", str(listener.port))],
        capture_output=True, text=True, timeout=60, cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    if done.stdout.startswith("SKIP"):
        pytest.skip(f"this system allows no unprivileged user namespace: {done.stdout}")
    how, uid, gid, said = done.stdout.strip().split("|")
    assert how == "network namespace (in a user namespace)"
    assert (uid, gid) == ("4321", "4321")  # mapped: files keep their owner
    assert said == "Network is unreachable"
    assert listener.seen() == 0


def test_a_model_process_runs_the_built_ins_or_one_third_party_plugin(tmp_path) -> None:
    """The host never lets two third-party plugins (or one and the built-ins) share a process,
    even when its caller mixes them: each gets a process confined to its own manifest."""
    from studio.core.jobs import Job
    from studio.core.process_host import ChildConfig, ProcessExecutor
    from studio.plugin_api import CancelToken, ImageRequest, TextRequest
    from studio.plugin_api.testing import TEST_PLUGINS_DIR
    from tests.support import make_executor

    local, _ = make_executor(tmp_path / "data")
    config = ChildConfig(
        data_dir=tmp_path / "data", plugin_dirs=(TEST_PLUGINS_DIR,), environ=dict(os.environ)
    )
    executor = ProcessExecutor(local, config, "mixed")
    echo = Job(plugin_id="studio-test.echo", panel=Panel.WRITING, request=TextRequest(prompt="a"))
    gradient = Job(
        plugin_id="studio-test.gradient", panel=Panel.IMAGE, request=ImageRequest(prompt="x")
    )
    try:
        executor.execute(echo, CancelToken())
        first = executor.child_pid
        executor.execute(echo, CancelToken())
        assert executor.child_pid == first  # the same plugin: the same process
        executor.execute(gradient, CancelToken())
        assert executor.child_pid not in (None, first)
        assert executor.config.plugin_id == "studio-test.gradient"
    finally:
        executor.shutdown()
