"""``studio doctor``: check what Studio needs beyond pip, and repair what can be repaired.

Each check returns a :class:`Check`. ``fail`` means something Studio needs is missing; ``warn``
means a feature is limited; ``info`` is a plain fact (display, GPU). A check may name Debian
packages that fix it; ``--fix`` installs them when run as root on a Debian-like system, then
checks again. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from studio.core import python_packages
from studio.core.engine_checks import EngineChecks, Verdict, cpu_features, cpu_signature
from studio.core.registry import PluginRegistry
from studio.core.system_libraries import library_available


class Status(StrEnum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str
    apt_packages: tuple[str, ...] = ()
    details: list[str] = field(default_factory=list)
    repair: str = ""
    """The name of a repair in :data:`REPAIRS` that ``--fix`` runs (Python packages)."""
    seconds: float | None = None
    """How long it took, for checks that take a while (the engine self-checks)."""


@dataclass(frozen=True)
class LibraryGroup:
    """Shared libraries that one feature needs, with the Debian package of each."""

    name: str
    purpose: str
    libraries: dict[str, str]
    missing_status: Status


QT_GUI = LibraryGroup(
    "qt-libraries",
    "Qt needs these to draw anything",
    {
        "libGL.so.1": "libgl1",
        "libEGL.so.1": "libegl1",
        "libxkbcommon.so.0": "libxkbcommon0",
        "libfontconfig.so.1": "libfontconfig1",
        "libfreetype.so.6": "libfreetype6",
        "libglib-2.0.so.0": "libglib2.0-0",
        "libdbus-1.so.3": "libdbus-1-3",
    },
    Status.FAIL,
)
QT_X11 = LibraryGroup(
    "qt-window",
    "Qt needs these to open a window on an X11 or XWayland desktop",
    {
        "libX11-xcb.so.1": "libx11-xcb1",
        "libxcb-cursor.so.0": "libxcb-cursor0",
        "libxcb-icccm.so.4": "libxcb-icccm4",
        "libxcb-keysyms.so.1": "libxcb-keysyms1",
        "libxcb-image.so.0": "libxcb-image0",
        "libxcb-randr.so.0": "libxcb-randr0",
        "libxcb-render-util.so.0": "libxcb-render-util0",
        "libxcb-shape.so.0": "libxcb-shape0",
        "libxcb-xfixes.so.0": "libxcb-xfixes0",
        "libxcb-xkb.so.1": "libxcb-xkb1",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    },
    Status.FAIL,
)
QT_AUDIO = LibraryGroup(
    "audio-playback",
    "the Voice panel plays audio through PulseAudio/PipeWire with this",
    {"libpulse.so.0": "libpulse0"},
    Status.WARN,
)
NCNN = LibraryGroup(
    "image-upscalers",
    "the embedded image upscalers (ncnn) load these; without them that plugin is disabled",
    {"libomp.so.5": "libomp5", "libvulkan.so.1": "libvulkan1"},
    Status.WARN,
)
LIBRARY_GROUPS: tuple[LibraryGroup, ...] = (QT_GUI, QT_X11, QT_AUDIO, NCNN)


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", Status.OK, f"Python {version} at {sys.executable}")


def check_library_group(group: LibraryGroup) -> Check:
    if not sys.platform.startswith("linux"):
        return Check(group.name, Status.OK, "system libraries come with Qt on this system")
    missing = {so: pkg for so, pkg in group.libraries.items() if not library_available(so)}
    if not missing:
        return Check(group.name, Status.OK, f"found {', '.join(group.libraries)}")
    return Check(
        group.name,
        group.missing_status,
        f"missing {', '.join(missing)}: {group.purpose}",
        apt_packages=tuple(sorted(set(missing.values()))),
    )


DESKTOP_TOOLS = {
    "update-desktop-database": "desktop-file-utils",
    "desktop-file-validate": "desktop-file-utils",
    "update-mime-database": "shared-mime-info",
}


def check_desktop_tools() -> Check:
    if not sys.platform.startswith("linux"):
        return Check("desktop-tools", Status.OK, "not needed on this system")
    missing = {tool: pkg for tool, pkg in DESKTOP_TOOLS.items() if shutil.which(tool) is None}
    if not missing:
        return Check("desktop-tools", Status.OK, f"found {', '.join(DESKTOP_TOOLS)}")
    return Check(
        "desktop-tools",
        Status.WARN,
        f"missing {', '.join(missing)}: 'studio desktop install' uses them to register *.studio "
        "files for double-clicking",
        apt_packages=tuple(sorted(set(missing.values()))),
    )


def check_opencv() -> Check:
    if not python_packages.opencv_with_qt_installed():
        return Check("opencv", Status.OK, "cv2 comes from opencv-python-headless (no Qt inside)")
    return Check(
        "opencv",
        Status.WARN,
        "opencv-python is installed: it bundles its own Qt, which can break Studio's window; "
        "--fix replaces it with opencv-python-headless",
        repair="opencv",
    )


def check_coqui() -> Check:
    if not python_packages.coqui_installed():
        return Check("coqui-tts", Status.INFO, "Coqui TTS is not installed (its plugin is off)")
    problem = python_packages.coqui_audio_problem()
    if problem is None:
        return Check("coqui-tts", Status.OK, "Coqui TTS has the audio libraries it checks for")
    return Check(
        "coqui-tts",
        Status.WARN,
        f"{problem}; --fix installs a torchaudio that works beside this torch",
        repair="coqui-audio",
    )


REPAIRS: dict[str, Callable[[Callable[[str], None]], bool]] = {
    "opencv": python_packages.repair_opencv,
    "coqui-audio": python_packages.repair_coqui_audio,
}


def repairs_to_run(checks: Sequence[Check]) -> list[str]:
    return [c.repair for c in checks if c.repair and c.status is not Status.OK]


def check_qt_starts() -> Check:
    """Start a Qt GUI application offscreen in a child process (a real end-to-end check)."""
    script = "from PySide6.QtGui import QGuiApplication; app = QGuiApplication([]); print('ok')"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Check("qt-start", Status.FAIL, "Qt did not start within 60 s")
    if done.returncode == 0 and done.stdout.strip().endswith("ok"):
        return Check("qt-start", Status.OK, "Qt starts (offscreen)")
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return Check("qt-start", Status.FAIL, f"Qt does not start: {last}")


def check_display() -> Check:
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return Check(
            "display",
            Status.INFO,
            "no desktop display here: the window needs one (headless commands work without)",
        )
    return Check("display", Status.OK, "a display is available")


def check_gpu() -> Check:
    """Look for accelerators without importing torch (that is the model code's job)."""
    if shutil.which("nvidia-smi"):
        done = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False
        )
        gpus = [line for line in done.stdout.splitlines() if line.startswith("GPU")]
        if gpus:
            return Check("gpu", Status.INFO, f"NVIDIA: {'; '.join(gpus)}")
    if sys.platform == "darwin":
        return Check("gpu", Status.INFO, "Apple GPU (mps) may be used if torch supports it")
    if Path("/dev/kfd").exists():
        return Check("gpu", Status.INFO, "an AMD GPU device is present (ROCm builds of torch)")
    return Check("gpu", Status.INFO, "no GPU found: models run on the CPU")


def check_plugins(registry: PluginRegistry) -> Check:
    records = registry.verify()
    disabled = [r for r in records if not r.enabled]
    message = (
        f"{len(records) - len(disabled)} of {len(records)} plugins enabled"
        if records
        else "no plugins installed"
    )
    details = [f"{r.id}: {r.reason}" for r in disabled]
    return Check("plugins", Status.WARN if disabled else Status.OK, message, details=details)


def run_checks(registry: PluginRegistry) -> list[Check]:
    return [
        check_python(),
        *(check_library_group(group) for group in LIBRARY_GROUPS),
        check_desktop_tools(),
        check_opencv(),
        check_coqui(),
        check_qt_starts(),
        check_display(),
        check_gpu(),
        check_plugins(registry),
    ]


def check_cpu() -> Check:
    flags = cpu_features()
    return Check(
        "cpu",
        Status.INFO,
        f"{cpu_signature()}; {' '.join(flags) if flags else 'no AVX/AMX flags listed'}",
    )


def engine_check(verdict: Verdict) -> Check:
    """A verdict as a doctor line: a failed engine is a warning (everything else still works,
    and that engine is never a default here)."""
    if verdict.passed:
        return Check(
            f"engine {verdict.plugin_id}/{verdict.check_id}",
            Status.OK,
            f"{verdict.label}: {verdict.summary()}",
            seconds=round(verdict.seconds, 2),
        )
    return Check(
        f"engine {verdict.plugin_id}/{verdict.check_id}",
        Status.WARN,
        f"{verdict.label} {verdict.summary()}: not used on this machine",
        seconds=round(verdict.seconds, 2),
    )


def run_engine_checks(checks: EngineChecks, say: Callable[[str], None]) -> list[Check]:
    """Run every enabled plugin's engine checks now (fresh verdicts for this machine)."""
    results = [check_cpu()]
    for plugin_id, check in checks.all_checks():
        say(f"Checking {check.label} ({plugin_id})…")
        results.append(engine_check(checks.run(plugin_id, check)))
    return results


def apt_packages_to_install(checks: Sequence[Check]) -> list[str]:
    return sorted({pkg for check in checks for pkg in check.apt_packages})


def can_install_system_packages() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def install_apt_packages(packages: Sequence[str], say: Callable[[str], None]) -> bool:
    """Install Debian packages as root; True on success."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"Installing system packages: {' '.join(packages)}")
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            say(f"'{' '.join(command)}' failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
            return False
    library_available.cache_clear()
    return True


def checks_to_json(checks: Sequence[Check]) -> dict:
    return {
        "ok": not any(c.status is Status.FAIL for c in checks),
        "checks": [asdict(c) | {"status": str(c.status)} for c in checks],
        "cpu_features": cpu_features(),
    }
