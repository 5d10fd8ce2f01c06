"""Devices: what is there, and what ``auto`` means, decided without importing torch.

Start-up must stay light, so detection looks at the system (NVIDIA driver files, the platform)
instead of asking torch. The plugin that finally loads a model checks with its own library and
gives a clear error if the device cannot be used after all.
"""

from __future__ import annotations

import glob
import platform
import re
import sys
from dataclasses import dataclass

from studio.core.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")


@dataclass(frozen=True)
class Devices:
    """The devices found: always the CPU, plus CUDA GPUs by index and Apple's mps."""

    cuda_count: int = 0
    mps: bool = False

    def names(self) -> list[str]:
        return [
            "cpu",
            *(f"cuda:{i}" for i in range(self.cuda_count)),
            *(["mps"] if self.mps else []),
        ]


def detect_devices() -> Devices:
    """Find accelerators from the system, without importing torch."""
    cuda = len(glob.glob("/proc/driver/nvidia/gpus/*")) if sys.platform.startswith("linux") else 0
    if sys.platform == "win32":
        cuda = 1 if glob.glob(r"C:\Windows\System32\nvcuda.dll") else 0
    mps = sys.platform == "darwin" and platform.machine() == "arm64"
    return Devices(cuda_count=cuda, mps=mps)


def resolve_device(choice: str, devices: Devices) -> str:
    """Turn a device setting into a concrete device (``cpu``, ``cuda:0``, ``mps``).

    ``auto`` picks the first CUDA GPU, then mps, then the CPU. An unknown or absent device is
    a :class:`UserError` that lists what is available.
    """
    match = _DEVICE.match(choice.strip().lower())
    if match is None:
        raise UserError(f"Unknown device '{choice}': use auto, cpu, cuda, cuda:N or mps.")
    kind, index = match.group(1), match.group(2)
    if kind == "auto":
        if index is not None:
            raise UserError(f"Unknown device '{choice}': use auto, cpu, cuda, cuda:N or mps.")
        if devices.cuda_count:
            return "cuda:0"
        return "mps" if devices.mps else "cpu"
    if kind == "cpu":
        return "cpu"
    if kind == "mps":
        if not devices.mps:
            raise UserError(
                f"The device mps is not available here (found: {', '.join(devices.names())})."
            )
        return "mps"
    number = int(index or 0)
    if number >= devices.cuda_count:
        raise UserError(
            f"The device cuda:{number} is not available here (found: {', '.join(devices.names())})."
        )
    return f"cuda:{number}"
