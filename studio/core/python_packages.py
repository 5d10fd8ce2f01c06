"""Python packages that pip installs but cannot get right on its own, found and repaired.

Two cases, both measured (../shared/MODELS.md and the README):

- **opencv-python** bundles its own Qt and sets ``QT_QPA_PLATFORM_PLUGIN_PATH`` when ``cv2`` is
  imported. RapidOCR and the ncnn upscalers declare it, so ``pip install`` brings it in beside
  ``opencv-python-headless`` (the same ``cv2`` without Qt, which Studio asks for). Both at once
  overwrite each other's files; the repair removes ``opencv-python`` and reinstalls the
  headless build over it.
- **Coqui TTS** (``import TTS``) refuses to start without ``torchaudio`` (and ``torchcodec``,
  whose presence is all it checks). PyPI has no CPU torchaudio built for the newest torch; the
  repair installs the measured torchaudio (without its dependencies, so torch stays as it is)
  and, when its compiled libraries cannot load beside this torch, removes them: torchaudio then
  runs in its pure-Python mode, which is all Coqui's synthesis needs (Studio reads and writes
  audio with soundfile).

Every function here runs pip or Python in a child process; nothing here imports torch, cv2 or TTS
into the calling process. Running a repair twice changes nothing the second time.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

TORCHAUDIO_FALLBACK = "2.11.0"
"""The torchaudio measured to work (in pure-Python mode) beside torch 2.13's CPU build."""

Say = Callable[[str], None]


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _python(code: str, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False
    )


def _pip(args: list[str], say: Say) -> bool:
    say(f"pip {' '.join(args)}")
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        say(f"pip failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done.returncode == 0


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    return (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["?"])[-1]


# opencv ---------------------------------------------------------------------------------------


def opencv_with_qt_installed() -> bool:
    """True when the Qt-bundling ``opencv-python`` is installed (headless or not beside it)."""
    return installed_version("opencv-python") is not None


def repair_opencv(say: Say) -> bool:
    """Replace ``opencv-python`` by ``opencv-python-headless`` of the same version."""
    version = installed_version("opencv-python")
    if version is None:
        return True
    headless = installed_version("opencv-python-headless") or version
    if not _pip(["uninstall", "-y", "opencv-python"], say):
        return False
    # The uninstall removed files the headless build shares with it: put them back.
    return _pip(
        ["install", "--force-reinstall", "--no-deps", f"opencv-python-headless=={headless}"], say
    )


# Coqui TTS's audio libraries ------------------------------------------------------------------


def coqui_installed() -> bool:
    return installed_version("coqui-tts") is not None


def coqui_audio_problem() -> str | None:
    """Why ``import TTS`` would refuse to start, or None when it starts."""
    missing = [
        name for name in ("torchaudio", "torchcodec", "six") if installed_version(name) is None
    ]
    if missing:
        return f"Coqui TTS needs {', '.join(missing)}, which pip does not install with it"
    done = _python("import torchaudio")
    if done.returncode != 0:
        return f"torchaudio does not load beside this torch ({last_line(done)})"
    return None


def _torchaudio_compiled_libraries() -> list[Path]:
    done = _python(
        "import importlib.util, pathlib; spec = importlib.util.find_spec('torchaudio'); "
        "print(pathlib.Path(spec.origin).parent / 'lib')"
    )
    folder = Path(done.stdout.strip()) if done.returncode == 0 else None
    if folder is None or not folder.is_dir():
        return []
    return sorted(folder.glob("*.so"))


def repair_coqui_audio(say: Say) -> bool:
    """Install torchaudio/torchcodec/six for Coqui without touching torch; idempotent."""
    missing = [name for name in ("torchcodec", "six") if installed_version(name) is None]
    if missing and not _pip(["install", "--no-deps", *missing], say):
        return False
    if installed_version("torchaudio") is None:
        torch_version = (installed_version("torch") or "").split("+")[0]
        major_minor = ".".join(torch_version.split(".")[:2])
        matching = major_minor and _pip(
            ["install", "--no-deps", f"torchaudio=={major_minor}.*"], say
        )
        if not matching and not _pip(
            ["install", "--no-deps", f"torchaudio=={TORCHAUDIO_FALLBACK}"], say
        ):
            return False
    if _python("import torchaudio").returncode != 0:
        libraries = _torchaudio_compiled_libraries()
        say(
            "torchaudio's compiled libraries do not match this torch; removing them so that it "
            f"runs in pure-Python mode ({', '.join(p.name for p in libraries) or 'none found'})"
        )
        for library in libraries:
            library.unlink()
    return coqui_audio_problem() is None
