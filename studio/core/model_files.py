"""Which panel a model file or folder belongs to, from its files alone (nothing is imported).

Used when model files are dropped on the window: a ``.gguf`` file or a folder whose
``config.json`` names a causal language model goes to Writing, a diffusers pipeline folder or a
single-file Stable Diffusion checkpoint to Image, a Coqui TTS folder to Voice, an image-to-text
folder to Captioning.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from studio.plugin_api import Panel

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
_CAPTION_HINTS = ("Blip", "VisionEncoderDecoder", "ImageTextToText", "Vision2Seq", "Llava", "Git")


def read_json_object(path: Path) -> dict:
    """A model's JSON config as a dict ({} when missing or unreadable); ``//`` comment lines,
    which Coqui's configs carry, are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_panel(path: Path) -> Panel | None:
    """The panel whose plugins load this model, or None if it does not look like a model."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            return Panel.WRITING
        if suffix in CHECKPOINT_SUFFIXES:
            return Panel.IMAGE
        return None
    if not path.is_dir():
        return None
    if (path / "model_index.json").is_file():
        return Panel.IMAGE  # a diffusers pipeline
    config = read_json_object(path / "config.json")
    if not config:
        return None
    architectures = " ".join(str(a) for a in config.get("architectures") or [])
    if any(hint in architectures for hint in _CAPTION_HINTS):
        return Panel.CAPTIONING
    if "ForCausalLM" in architectures or "LMHeadModel" in architectures:
        return Panel.WRITING
    if "audio" in config and ("model" in config or "model_args" in config):
        return Panel.VOICE  # Coqui configs: {"model": "vits", "audio": {...}, ...}
    return None


WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".param")


def weights_size(path: Path | None) -> int:
    """Bytes of a model's weight files on disk (a file, or the weight files under a folder): the
    memory budget's guess of what loading it takes, before it is loaded the first time."""
    if path is None:
        return 0
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(
            p.stat().st_size
            for p in path.rglob("*")
            if p.suffix.lower() in WEIGHT_SUFFIXES and p.is_file()
        )
    except OSError:
        return 0
