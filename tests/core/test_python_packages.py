"""The Python-package repairs of ``studio doctor --fix``: opencv's Qt and Coqui's torchaudio."""

from __future__ import annotations

import subprocess

import pytest

from studio.core import doctor, python_packages
from studio.core.doctor import Status


def fake_versions(monkeypatch, versions: dict[str, str | None]) -> None:
    monkeypatch.setattr(python_packages, "installed_version", lambda name: versions.get(name))


def record_pip(monkeypatch, results=None) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_pip(args, say):
        calls.append(args)
        return (results or {}).get(args[-1], True)

    monkeypatch.setattr(python_packages, "_pip", fake_pip)
    return calls


def test_opencv_with_qt_is_a_warning_with_a_repair(monkeypatch):
    fake_versions(monkeypatch, {"opencv-python": "5.0.0.93", "opencv-python-headless": "5.0.0.93"})
    check = doctor.check_opencv()
    assert check.status is Status.WARN and check.repair == "opencv"
    assert "bundles its own Qt" in check.message


def test_opencv_repair_swaps_in_the_headless_build(monkeypatch):
    fake_versions(monkeypatch, {"opencv-python": "5.0.0.93"})
    calls = record_pip(monkeypatch)
    assert python_packages.repair_opencv(print)
    assert calls == [
        ["uninstall", "-y", "opencv-python"],
        ["install", "--force-reinstall", "--no-deps", "opencv-python-headless==5.0.0.93"],
    ]


def test_opencv_repair_is_idempotent(monkeypatch):
    fake_versions(monkeypatch, {"opencv-python-headless": "5.0.0.93"})
    calls = record_pip(monkeypatch)
    assert python_packages.repair_opencv(print)
    assert calls == []
    assert doctor.check_opencv().status is Status.OK


def test_missing_torchaudio_is_named(monkeypatch):
    fake_versions(monkeypatch, {"coqui-tts": "0.28.0", "torchcodec": "0.17.0", "six": "1.17"})
    problem = python_packages.coqui_audio_problem()
    assert problem is not None and "torchaudio" in problem
    assert doctor.check_coqui().repair == "coqui-audio"


def test_coqui_repair_falls_back_and_strips_libraries_that_do_not_load(monkeypatch, tmp_path):
    versions: dict[str, str | None] = {"coqui-tts": "0.28.0", "torch": "2.13.0+cpu"}
    fake_versions(monkeypatch, versions)
    libraries = [tmp_path / "libtorchaudio.abi3.so", tmp_path / "_torchaudio.abi3.so"]
    for library in libraries:
        library.write_bytes(b"\x7fELF")

    def fake_pip(args, say):
        calls.append(args)
        if args[-1] == "torchaudio==2.13.*":
            return False  # no torchaudio built for this torch
        for spec in args[2:]:
            versions[spec.split("==")[0]] = "x"
        return True

    def fake_python(code, timeout=180):
        loads = not any(p.exists() for p in libraries)
        return subprocess.CompletedProcess([], 0 if loads else 1, "", "OSError: undefined symbol")

    calls: list[list[str]] = []
    monkeypatch.setattr(python_packages, "_pip", fake_pip)
    monkeypatch.setattr(python_packages, "_python", fake_python)
    monkeypatch.setattr(python_packages, "_torchaudio_compiled_libraries", lambda: libraries)
    assert python_packages.repair_coqui_audio(print)
    assert calls == [
        ["install", "--no-deps", "torchcodec", "six"],
        ["install", "--no-deps", "torchaudio==2.13.*"],
        ["install", "--no-deps", f"torchaudio=={python_packages.TORCHAUDIO_FALLBACK}"],
    ]
    assert not any(p.exists() for p in libraries)
    # A second run finds nothing to do.
    calls.clear()
    assert python_packages.repair_coqui_audio(print)
    assert calls == []


@pytest.mark.skipif(not python_packages.coqui_installed(), reason="Coqui TTS not installed")
def test_this_environment_has_what_coqui_checks_for():
    """The README set-up (pip install, then doctor --fix) leaves Coqui startable."""
    assert python_packages.coqui_audio_problem() is None
    done = python_packages._python("import TTS.api")
    assert done.returncode == 0, python_packages.last_line(done)
