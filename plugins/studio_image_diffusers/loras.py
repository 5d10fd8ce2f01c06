"""LoRAs on the loaded pipeline: each file read once, its strength set per run.

Studio hands the plugin ``PATH:STRENGTH`` for each LoRA of a run (it found them by name in the
model library, see :class:`studio.plugin_api.LoraOption`). Each file is read with safetensors
(no pickle) and given to diffusers' LoRA loader (peft) as an adapter of its own, once per loaded
pipeline; a run then switches on the adapters it names at their strengths, and a run that names
none switches them all off. AUTOMATIC1111/kohya LoRAs are converted by diffusers on loading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.plugin_api import LoraUse


def adapter_name(path: Path) -> str:
    """The adapter's name on the pipeline: one per file."""
    return "lora_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]


def apply_loras(pipe: Any, loaded: set[str], uses: Sequence[LoraUse]) -> None:
    """Make ``uses`` the LoRAs of ``pipe``'s next image; ``loaded`` holds the adapters the
    pipeline already has (updated here)."""
    wanted: dict[str, float] = {}
    for use in uses:
        path = Path(use.name)
        name = adapter_name(path)
        if name not in loaded:
            from safetensors.torch import load_file

            try:
                weights = load_file(str(path))
                pipe.load_lora_weights(weights, adapter_name=name)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ValueError(
                    f"The LoRA {path.name} does not fit this model ({exc}). A LoRA only works "
                    "with the model family it was trained for (SD 1.x, SD 2.x or SDXL)."
                ) from exc
            loaded.add(name)
        wanted[name] = use.strength
    if wanted:
        pipe.enable_lora()
        pipe.set_adapters(list(wanted), adapter_weights=list(wanted.values()))
    elif loaded:
        pipe.disable_lora()
