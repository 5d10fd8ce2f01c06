"""Device choice: auto, explicit devices, and clear errors for absent ones."""

from __future__ import annotations

import subprocess
import sys

import pytest

from studio.core.device import Devices, resolve_device
from studio.core.errors import UserError

CPU_ONLY = Devices()
TWO_GPUS = Devices(cuda_count=2)
MAC = Devices(mps=True)


@pytest.mark.parametrize(
    ("choice", "devices", "expected"),
    [
        ("auto", CPU_ONLY, "cpu"),
        ("auto", TWO_GPUS, "cuda:0"),
        ("auto", MAC, "mps"),
        ("cpu", TWO_GPUS, "cpu"),
        ("cuda", TWO_GPUS, "cuda:0"),
        ("CUDA:1", TWO_GPUS, "cuda:1"),
        ("mps", MAC, "mps"),
    ],
)
def test_resolve(choice, devices, expected):
    assert resolve_device(choice, devices) == expected


@pytest.mark.parametrize(
    ("choice", "devices", "message"),
    [
        ("cuda", CPU_ONLY, r"cuda:0 is not available here \(found: cpu\)"),
        ("cuda:2", TWO_GPUS, r"found: cpu, cuda:0, cuda:1"),
        ("mps", CPU_ONLY, "mps is not available"),
        ("tpu", CPU_ONLY, "Unknown device 'tpu'"),
        ("auto:1", CPU_ONLY, "Unknown device"),
    ],
)
def test_absent_or_unknown_devices_are_refused(choice, devices, message):
    with pytest.raises(UserError, match=message):
        resolve_device(choice, devices)


def test_detection_does_not_import_torch():
    code = (
        "import sys\nfrom studio.core.device import detect_devices\n"
        "d = detect_devices()\nassert 'cpu' in d.names()\nassert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
