"""Double-click integration on Linux desktops, for the current user (no root needed).

``studio desktop install`` writes, under ``$XDG_DATA_HOME`` (``~/.local/share``):

- ``applications/studio.desktop``: the launcher; ``Exec=`` is the absolute path of the installed
  ``studio`` command with ``%f``, so double-clicking a project passes its path;
- ``mime/packages/studio.xml``: the type ``application/x-studio-project`` for ``*.studio``
  files, a sub-class of ``application/vnd.sqlite3`` (a project is an SQLite file);
- ``icons/hicolor/<size>/apps/studio.png`` (and ``scalable/apps/studio.svg``);

then refreshes the desktop, MIME and icon databases when their tools exist. ``uninstall``
removes exactly those files and refreshes again. Windows and macOS use the ``studio-gui``
launcher instead (README).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from studio.core.resources import resource_path

APP_ID = "studio"
MIME_TYPE = "application/x-studio-project"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

MIME_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="{MIME_TYPE}">
    <comment>Studio project</comment>
    <sub-class-of type="application/vnd.sqlite3"/>
    <generic-icon name="{APP_ID}"/>
    <glob pattern="*.studio" weight="60"/>
  </mime-type>
</mime-info>
"""


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get("XDG_DATA_HOME"):
        return Path(environ["XDG_DATA_HOME"])
    return Path(environ.get("HOME") or Path.home()) / ".local" / "share"


def studio_launcher() -> Path:
    """The absolute path of the ``studio`` command of this installation."""
    folder = Path(sys.executable).parent
    for name in ("studio", "studio.exe"):
        candidate = folder / name
        if candidate.is_file():
            return candidate.resolve() if not candidate.is_symlink() else candidate.absolute()
    found = shutil.which("studio")
    if found:
        return Path(found).absolute()
    raise FileNotFoundError(
        f"The 'studio' command is not installed next to {sys.executable}: install Studio with "
        "pip first (README), then run 'studio desktop install' again."
    )


def _quote_exec(path: Path) -> str:
    """Quote a path for ``Exec=`` as the Desktop Entry specification asks."""
    text = str(path)
    if not any(c in text for c in " \t\n\"'\\><~|&;$*?#()`"):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def desktop_entry_text(launcher: Path) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"
        "Name=Studio\n"
        "GenericName=Generative Studio\n"
        "Comment=Write, draw, speak and caption with local models, offline\n"
        f"Exec={_quote_exec(launcher)} %f\n"
        f"Icon={APP_ID}\n"
        "Terminal=false\n"
        "Categories=Graphics;\n"
        f"MimeType={MIME_TYPE};\n"
        "Keywords=AI;image;text;speech;caption;diffusion;\n"
        "StartupNotify=true\n"
        "StartupWMClass=Studio\n"
    )


@dataclass(frozen=True)
class DesktopFiles:
    """Where the integration's files go under one data home."""

    root: Path

    @property
    def entry(self) -> Path:
        return self.root / "applications" / f"{APP_ID}.desktop"

    @property
    def mime_package(self) -> Path:
        return self.root / "mime" / "packages" / f"{APP_ID}.xml"

    def icon(self, size: int) -> Path:
        return self.root / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"

    @property
    def scalable_icon(self) -> Path:
        return self.root / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"

    def all(self) -> list[Path]:
        return [
            self.entry,
            self.mime_package,
            *(self.icon(size) for size in ICON_SIZES),
            self.scalable_icon,
        ]


Say = Callable[[str], None]


def _refresh(root: Path, say: Say) -> list[str]:
    """Run the database tools that exist; returns the ones that ran."""
    commands = [
        ("update-desktop-database", [str(root / "applications")]),
        ("update-mime-database", [str(root / "mime")]),
        ("gtk-update-icon-cache", ["-f", "-t", "-q", str(root / "icons" / "hicolor")]),
    ]
    ran = []
    for tool, args in commands:
        if shutil.which(tool) is None or not Path(args[-1]).is_dir():
            continue
        done = subprocess.run(
            [tool, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode == 0:
            ran.append(tool)
        else:
            say(f"{tool} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return ran


def install(
    root: Path | None = None, launcher: Path | None = None, say: Say = lambda text: None
) -> list[Path]:
    """Write the desktop entry, MIME type and icons; returns the files written."""
    files = DesktopFiles(root or data_home())
    launcher = launcher or studio_launcher()
    written = []
    contents: list[tuple[Path, bytes]] = [
        (files.entry, desktop_entry_text(launcher).encode()),
        (files.mime_package, MIME_XML.encode()),
        *(
            (files.icon(s), resource_path("icons", f"studio-{s}.png").read_bytes())
            for s in ICON_SIZES
        ),
        (files.scalable_icon, resource_path("icons", "studio.svg").read_bytes()),
    ]
    for path, data in contents:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)
        written.append(path)
    ran = _refresh(files.root, say)
    say(
        f"Installed the Studio launcher ({files.entry}) opening *.studio files with {launcher}"
        + (f"; refreshed with {', '.join(ran)}" if ran else "")
    )
    return written


def _tidy(root: Path) -> None:
    """Remove the databases the refresh tools generated when nothing they describe is left,
    then the folders that are empty: an install followed by an uninstall leaves no trace."""
    mime = root / "mime"
    if mime.is_dir() and not any((mime / "packages").glob("*.xml")):
        shutil.rmtree(mime, ignore_errors=True)  # all generated from packages/, now empty
    applications = root / "applications"
    if applications.is_dir() and not any(applications.rglob("*.desktop")):
        (applications / "mimeinfo.cache").unlink(missing_ok=True)
    hicolor = root / "icons" / "hicolor"
    generated = {"icon-theme.cache"}
    if hicolor.is_dir() and not any(
        p.is_file() and p.name not in generated for p in hicolor.rglob("*")
    ):
        (hicolor / "icon-theme.cache").unlink(missing_ok=True)
    for top in (applications, mime, root / "icons"):
        if not top.is_dir():
            continue
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
        if not any(top.iterdir()):
            top.rmdir()


def uninstall(root: Path | None = None, say: Say = lambda text: None) -> list[Path]:
    """Remove what :func:`install` wrote (and only that); returns the files removed."""
    files = DesktopFiles(root or data_home())
    removed = []
    for path in files.all():
        if path.is_file():
            path.unlink()
            removed.append(path)
    _refresh(files.root, say)
    _tidy(files.root)
    say(
        f"Removed {len(removed)} files of the Studio launcher." if removed else "Nothing to remove."
    )
    return removed
