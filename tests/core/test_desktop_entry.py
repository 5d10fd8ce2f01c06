"""``studio desktop install|uninstall``: a valid launcher, the project file type, icons, and no
trace after uninstalling (in temporary XDG folders)."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main as cli
from studio.core import desktop_entry

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux desktops")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser["Desktop Entry"]


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg-data"
    home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def test_install_writes_a_launcher_that_opens_projects(xdg, tmp_path):
    launcher = tmp_path / "bin" / "studio"
    written = desktop_entry.install(launcher=launcher)
    files = desktop_entry.DesktopFiles(xdg)
    assert set(written) == set(files.all())
    entry = read_entry(files.entry)
    assert entry["Exec"] == f"{launcher} %f"
    assert entry["MimeType"] == "application/x-studio-project;"
    assert entry["Icon"] == "studio" and entry["Type"] == "Application"
    assert entry["Terminal"] == "false" and "Graphics" in entry["Categories"]
    mime = files.mime_package.read_text()
    assert '<glob pattern="*.studio"' in mime
    assert '<sub-class-of type="application/vnd.sqlite3"/>' in mime
    for size in desktop_entry.ICON_SIZES:
        assert files.icon(size).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert files.scalable_icon.read_text().startswith("<svg")


def test_the_installed_launcher_is_the_real_studio_command(xdg):
    desktop_entry.install()
    exec_line = read_entry(desktop_entry.DesktopFiles(xdg).entry)["Exec"]
    program = Path(exec_line.removesuffix(" %f"))
    assert program.is_absolute() and program.is_file()
    done = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("studio ")


def test_paths_with_spaces_are_quoted(xdg, tmp_path):
    desktop_entry.install(launcher=tmp_path / "my apps" / "studio")
    exec_line = read_entry(desktop_entry.DesktopFiles(xdg).entry)["Exec"]
    assert exec_line == f'"{tmp_path}/my apps/studio" %f'


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_the_entry_validates(xdg, tmp_path):
    desktop_entry.install(launcher=tmp_path / "my apps" / "studio")
    done = subprocess.run(
        ["desktop-file-validate", str(desktop_entry.DesktopFiles(xdg).entry)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("update-mime-database") is None, reason="shared-mime-info")
def test_the_mime_database_knows_studio_projects(xdg, tmp_path):
    desktop_entry.install(launcher=tmp_path / "studio")
    assert "application/x-studio-project:*.studio" in (xdg / "mime" / "globs2").read_text()
    subclasses = (xdg / "mime" / "subclasses").read_text().splitlines()
    assert "application/x-studio-project application/vnd.sqlite3" in subclasses
    if shutil.which("update-desktop-database"):
        cache = (xdg / "applications" / "mimeinfo.cache").read_text()
        assert "application/x-studio-project=studio.desktop;" in cache


def test_uninstall_leaves_nothing_behind(xdg, tmp_path):
    desktop_entry.install(launcher=tmp_path / "studio")
    removed = desktop_entry.uninstall()
    assert len(removed) == len(desktop_entry.DesktopFiles(xdg).all())
    assert files_under(xdg) == []
    assert desktop_entry.uninstall() == []  # twice is harmless


def test_uninstall_keeps_other_applications(xdg, tmp_path):
    other = xdg / "applications" / "other.desktop"
    other.parent.mkdir(parents=True)
    other.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other\n")
    other_mime = xdg / "mime" / "packages" / "other.xml"
    other_mime.parent.mkdir(parents=True)
    other_mime.write_text(desktop_entry.MIME_XML.replace("x-studio-project", "x-other"))
    desktop_entry.install(launcher=tmp_path / "studio")
    desktop_entry.uninstall()
    assert other.is_file() and other_mime.is_file()
    assert not (xdg / "applications" / "studio.desktop").exists()
    if shutil.which("update-mime-database"):
        assert "x-studio-project" not in (xdg / "mime" / "globs2").read_text()


def test_the_cli_installs_and_uninstalls(xdg, capsys):
    assert cli.main(["desktop", "install", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert str(xdg / "applications" / "studio.desktop") in report["installed"]
    assert cli.main(["desktop", "uninstall"]) == 0
    assert "Removed" in capsys.readouterr().out
    assert files_under(xdg) == []
