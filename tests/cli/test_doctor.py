"""``studio doctor``: what it checks, JSON output, and what --fix would install."""

from __future__ import annotations

import json

from studio.cli import main as cli
from studio.core import doctor
from studio.core.doctor import Check, Status


def test_doctor_json_reports_every_check(capsys):
    code = cli.main(["doctor", "--json", "--no-engines"])
    report = json.loads(capsys.readouterr().out)
    names = [c["name"] for c in report["checks"]]
    assert names == [
        "python",
        "qt-libraries",
        "qt-window",
        "audio-playback",
        "image-upscalers",
        "desktop-tools",
        "opencv",
        "coqui-tts",
        "qt-start",
        "display",
        "gpu",
        "plugins",
    ]
    assert all(c["status"] in {"ok", "info", "warn", "fail"} for c in report["checks"])
    assert code == (0 if report["ok"] else 1)
    # Tests run offscreen, so Qt itself must start here.
    assert next(c for c in report["checks"] if c["name"] == "qt-start")["status"] == "ok"


def test_missing_libraries_name_their_debian_packages(monkeypatch):
    monkeypatch.setattr(doctor, "library_available", lambda so: so != "libxcb-icccm.so.4")
    check = doctor.check_library_group(doctor.QT_X11)
    assert check.status is Status.FAIL
    assert "libxcb-icccm.so.4" in check.message
    assert check.apt_packages == ("libxcb-icccm4",)


def test_fix_installs_missing_packages_once_and_is_idempotent(monkeypatch, capsys):
    installed: list[list[str]] = []
    present = {"libpulse.so.0": False}

    def fake_available(so):
        return present.get(so, True)

    def fake_install(packages, say):
        installed.append(list(packages))
        present["libpulse.so.0"] = True
        return True

    monkeypatch.setattr(doctor, "library_available", fake_available)
    monkeypatch.setattr(doctor, "can_install_system_packages", lambda: True)
    monkeypatch.setattr(doctor, "install_apt_packages", fake_install)
    cli.main(["doctor", "--fix", "--no-engines"])
    assert installed == [["libpulse0"]]
    cli.main(["doctor", "--fix", "--no-engines"])
    assert installed == [["libpulse0"]]
    assert "Nothing to fix." in capsys.readouterr().out


def test_without_root_fix_prints_the_command(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "library_available", lambda so: so != "libpulse.so.0")
    monkeypatch.setattr(doctor, "can_install_system_packages", lambda: False)
    cli.main(["doctor", "--fix", "--no-engines"])
    assert "apt-get install -y libpulse0" in capsys.readouterr().out


def test_disabled_plugins_are_a_warning_with_details(tmp_path, monkeypatch):
    from studio.core.registry import PluginRegistry
    from tests.plugins.plugin_factory import write_folder_plugin

    write_folder_plugin(tmp_path, "needs_more", requires=["absent-package-xyz"])
    check = doctor.check_plugins(PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None))
    assert check == Check(
        "plugins",
        Status.WARN,
        "0 of 1 plugins enabled",
        details=["needs-more: it needs the Python package absent-package-xyz (not installed)"],
    )


def test_doctor_runs_the_engine_checks_and_warns_for_one_that_fails(tmp_path, monkeypatch, capsys):
    from tests.core.test_engine_checks import plugin

    plugin(tmp_path / "plugins", "broken_engine", {"default": "abort", "cure": "wrong"})
    plugin(tmp_path / "plugins", "good_engine", {})
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    code = cli.main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    by_name = {c["name"]: c for c in report["checks"]}
    broken = by_name["engine broken-engine/engine"]
    assert broken["status"] == "warn"
    assert "Fake engine crashes on this CPU" in broken["message"]
    assert "not used on this machine" in broken["message"]
    assert by_name["engine good-engine/engine"]["status"] == "ok"
    assert by_name["engine good-engine/engine"]["seconds"] > 0
    assert code == (0 if report["ok"] else 1)  # a failed engine is a warning, not a failure
    assert not any(
        c["status"] == "fail" for c in report["checks"] if c["name"].startswith("engine")
    )
