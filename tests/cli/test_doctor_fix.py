"""``studio doctor --fix``: the report after a repair shows the repaired state.

A repair installs a Python package while the doctor runs. Python keeps what it has read of
installed packages (importlib.metadata) and module folders, keyed by a folder's time stamp;
where the install leaves that unchanged (a file system with coarse time stamps, an install
within the same tick), the doctor's own process would still see the package missing, and its
report would end with a warning that the next 'studio doctor' no longer gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main as cli
from studio.core import doctor
from studio.core.doctor import Check, Status
from tests.plugins.plugin_factory import write_folder_plugin

FAKE_DIST = "studio-fake-audio"
STUDIO = "from studio.cli.main import run; run()"


def install_fake_package(site: Path) -> None:
    """What pip leaves behind, in ``site``, with the folder's time stamp as it was."""
    before = site.stat()
    info = site / "studio_fake_audio-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {FAKE_DIST}\nVersion: 1.0\n")
    os.utime(site, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.fixture
def broken_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A plugin that needs a package that is not installed, a check that asks for its repair,
    and the repair (which installs it); returns the repairs run."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    paths = [str(site), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    write_folder_plugin(tmp_path / "plugins", "needs_audio", requires=[FAKE_DIST])
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    ran: list[str] = []

    def check_fake_audio() -> Check:
        if (site / "studio_fake_audio-1.0.dist-info").exists():
            return Check("coqui-tts", Status.OK, "the audio package is installed")
        return Check("coqui-tts", Status.WARN, "the audio package is missing", repair="fake")

    def repair(say) -> bool:
        ran.append("fake")
        install_fake_package(site)
        say("installed studio-fake-audio")
        return True

    monkeypatch.setattr(doctor, "check_coqui", check_fake_audio)
    monkeypatch.setitem(doctor.REPAIRS, "fake", repair)
    return ran


def plugins_check(report: dict) -> dict:
    return next(c for c in report["checks"] if c["name"] == "plugins")


def test_before_the_fix_the_plugin_is_disabled(broken_setup, capsys):
    cli.main(["doctor", "--json", "--no-engines"])
    check = plugins_check(json.loads(capsys.readouterr().out))
    assert check["status"] == "warn"
    assert (
        f"needs-audio: it needs the Python package {FAKE_DIST} (not installed)"
        in (check["details"])
    )


def test_the_report_after_fix_shows_the_repaired_state(broken_setup, capfd):
    code = cli.main(["doctor", "--fix", "--json", "--no-engines"])
    out, err = capfd.readouterr()
    assert broken_setup == ["fake"]
    assert "Repairing fake…" in err and "installed studio-fake-audio" in err
    report = json.loads(out)  # one report on stdout, the repair's lines on stderr
    check = plugins_check(report)
    assert not any("needs-audio" in line for line in check["details"]), check
    assert code == (0 if report["ok"] else 1)

    # The next 'studio doctor' (a process of its own, as a person runs it) agrees.
    again = subprocess.run(
        [sys.executable, "-c", STUDIO, "doctor", "--json", "--no-engines"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert plugins_check(json.loads(again.stdout)) == check
    assert again.returncode == code


def test_quiet_leaves_out_the_progress_lines_after_fix_too(broken_setup, capfd):
    cli.main(["doctor", "--fix", "--no-engines", "--quiet"])
    out, _ = capfd.readouterr()
    lines = out.splitlines()
    assert lines[0] == "Repairing fake…"
    assert "Checking again…" not in out  # --quiet: no progress lines
    assert not any("needs-audio" in line for line in lines)
    assert lines[-1].startswith("doctor took ")
