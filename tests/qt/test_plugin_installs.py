"""PluginInstalls: the installer's steps run on a worker thread, in the order asked; the GUI
thread hears of them through signals; failures are one sentence; after a change the registry
has read the manifests again."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from studio.core.errors import UserError
from studio.core.paths import Paths
from studio.core.plugin_install import InstalledPlugin, InstallReview, PluginInstaller
from studio.core.registry import PluginRegistry
from studio.plugin_api import read_manifest
from studio.qt.plugin_installs import UNKNOWN, PluginInstalls, Step
from tests.plugins.plugin_factory import manifest_text, write_folder_plugin


class RecordingInstaller(PluginInstaller):
    """A stand-in for the installer's work (this file tests the threading around it): copies a
    folder plugin into the plugins folder, and notes the thread of every call."""

    def __init__(self, paths: Paths) -> None:
        super().__init__(paths)
        self.calls: list[tuple[str, str]] = []  # (method, thread name)
        self.fail_with: BaseException | None = None
        self.gate: threading.Event | None = None  # review waits on it when set

    def _note(self, method: str) -> None:
        self.calls.append((method, threading.current_thread().name))
        if self.fail_with is not None:
            raise self.fail_with

    def review(self, source, progress=None) -> InstallReview:
        self._note("review")
        if self.gate is not None:
            assert self.gate.wait(10)
        assert progress is not None
        progress(None, "unpacking")
        progress(0.5, "reading the manifest")
        manifest = read_manifest(Path(source) / "studio-plugin.toml")
        return InstallReview(str(source), manifest, "", (), 2, 100, staging=Path(source))

    def install(self, review, progress=None) -> InstalledPlugin:
        self._note("install")
        target = self.paths.plugins_dir / review.manifest.id
        shutil.copytree(review.source, target)
        return InstalledPlugin(review.manifest.id, review.manifest.version, target, None, True, "")

    def discard(self, review) -> None:
        self._note("discard")

    def uninstall(self, plugin_id) -> None:
        self._note("uninstall")
        shutil.rmtree(self.paths.plugins_dir / plugin_id)

    def set_enabled(self, plugin_id, enabled) -> None:
        self._note("set_enabled")


@pytest.fixture
def setup(tmp_path, qtbot):
    paths = Paths(data_dir=tmp_path / "data")
    registry = PluginRegistry(plugin_dirs=paths.plugin_dirs, entry_point_group=None)
    installer = RecordingInstaller(paths)
    installs = PluginInstalls(installer, registry)
    manifest = manifest_text("tiny-writer", "tiny_writer", name="Tiny writer")
    source = write_folder_plugin(tmp_path / "src", "tiny_writer", manifest=manifest)
    yield installs, installer, registry, source
    assert installs.wait(5)


def test_every_step_runs_off_the_gui_thread_and_reports_in_it(qtbot, setup):
    installs, installer, registry, source = setup
    heard: list[tuple[str, object, str]] = []
    installs.progressed.connect(
        lambda f, m: heard.append(("progress", (f, m), threading.current_thread().name))
    )
    installs.reviewed.connect(
        lambda r: heard.append(("reviewed", r, threading.current_thread().name))
    )
    with qtbot.waitSignal(installs.reviewed, timeout=5000) as reviewed:
        installs.review(str(source))
    review = reviewed.args[0]
    assert review.manifest.id == "tiny-writer"
    assert installer.calls == [("review", "plugin-installs")]
    assert [h[1] for h in heard if h[0] == "progress"] == [
        (UNKNOWN, "unpacking"),
        (0.5, "reading the manifest"),
    ]
    assert {h[2] for h in heard} == {threading.main_thread().name}

    with qtbot.waitSignal(installs.changed, timeout=5000) as changed:
        installs.install(review)
    assert changed.args == ["Installed Tiny writer 0.1.0."]
    # the registry read the manifests again before the GUI heard of the change
    assert registry.get("tiny-writer").enabled
    assert not installs.busy

    with qtbot.waitSignal(installs.changed, timeout=5000) as changed:
        installs.uninstall("tiny-writer", "Tiny writer")
    assert changed.args == ["Uninstalled Tiny writer."]
    assert "tiny-writer" not in [r.id for r in registry.records()]
    assert [name for _, name in installer.calls] == ["plugin-installs"] * 3


def test_steps_run_one_at_a_time_in_the_order_asked(qtbot, setup):
    installs, installer, _, source = setup
    installer.gate = threading.Event()  # the first review waits until the test says
    busy: list[bool] = []
    installs.busy_changed.connect(busy.append)
    reviews: list[InstallReview] = []
    installs.reviewed.connect(reviews.append)
    manifest = read_manifest(source / "studio-plugin.toml")
    installs.review(str(source))
    installs.discard(InstallReview("earlier", manifest, "", (), 0, 0))
    installs.review(str(source))
    assert installs.busy and not installs.installing
    qtbot.wait(200)
    assert [call for call, _ in installer.calls] == ["review"]  # the others wait their turn
    installer.gate.set()
    qtbot.waitUntil(lambda: not installs.busy, timeout=5000)
    assert [call for call, _ in installer.calls] == ["review", "discard", "review"]
    assert len(reviews) == 2
    assert busy == [True, False]  # once busy, idle again only when all three were done


def test_a_user_error_is_its_own_sentence_and_changes_nothing(qtbot, setup):
    installs, installer, registry, source = setup
    installer.fail_with = UserError("The archive holds '../evil', outside the plugin's folder.")
    changed: list[str] = []
    installs.changed.connect(changed.append)
    with qtbot.waitSignal(installs.failed, timeout=5000) as failed:
        installs.review(str(source))
    assert failed.args == ["review", "The archive holds '../evil', outside the plugin's folder."]
    assert changed == [] and registry.records() == []


def test_a_bug_says_where_the_details_are(qtbot, setup, caplog):
    installs, installer, _, _ = setup
    installer.fail_with = KeyError("dist-info")
    with qtbot.waitSignal(installs.failed, timeout=5000) as failed:
        installs.uninstall("tiny-writer", "Tiny writer")
    step, sentence = failed.args
    assert step == Step.UNINSTALL
    assert sentence.startswith("Uninstalling Tiny writer failed unexpectedly (KeyError")
    assert sentence.endswith("the log has the details.")
    assert "\n" not in sentence
    assert any(r.exc_info for r in caplog.records if "uninstall" in r.getMessage())


def test_a_file_system_error_names_the_file(qtbot, setup):
    installs, installer, _, _ = setup
    installer.fail_with = PermissionError(13, "Permission denied", "/data/plugins/x")
    with qtbot.waitSignal(installs.failed, timeout=5000) as failed:
        installs.set_enabled("x", False, "X")
    sentence = "Switching off X failed: Permission denied (/data/plugins/x)."
    assert failed.args == ["disable", sentence]
