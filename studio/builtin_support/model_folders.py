"""Hugging Face model folders, read the same way by the built-in plugins that load them
(the transformers writer and captioner): the ``config.json`` and the weights files (single or
sharded, safetensors before pickle), each problem a clear message naming the folder. Nothing
heavy is imported here. Not part of the plugin contract (see :mod:`studio.builtin_support`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_FILE = "pytorch_model.bin"
PICKLE_INDEX = "pytorch_model.bin.index.json"


def one_line(exc: BaseException, limit: int = 400) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_config(folder: Path, *, instead: str = "") -> dict[str, Any]:
    """The folder's ``config.json`` as a dict; a clear error when it is missing or damaged.

    ``instead`` ends the missing-file message with what else the plugin takes (", or a .gguf
    file").
    """
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(
            f"The model folder {folder} has no {CONFIG_FILE}, so it is not a Hugging Face model "
            f"folder; choose the folder that holds config.json{instead}."
        )
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{config_path} cannot be read as JSON ({one_line(exc)}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"{config_path} is not a JSON object.")
    return data


def find_weights(folder: Path) -> tuple[str, list[Path]]:
    """The folder's weights files: ``("safetensors", files)`` or ``("pickle", files)``.

    safetensors win when both are present. Raises ``FileNotFoundError`` naming the folder when
    it has neither, or when a shard its index names is missing.
    """
    for kind, single, index in (
        ("safetensors", SAFETENSORS_FILE, SAFETENSORS_INDEX),
        ("pickle", PICKLE_FILE, PICKLE_INDEX),
    ):
        if (folder / index).is_file():
            return kind, _shards(folder, folder / index)
        if (folder / single).is_file():
            return kind, [folder / single]
    raise FileNotFoundError(
        f"The model folder {folder} has no weights: expected {SAFETENSORS_FILE} (or shards with "
        f"{SAFETENSORS_INDEX}), or {PICKLE_FILE}."
    )


def _shards(folder: Path, index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{index} is not a valid weights index ({one_line(exc)}).") from None
    files = [folder / name for name in names]
    missing = [file.name for file in files if not file.is_file()]
    if missing:
        raise FileNotFoundError(
            f"The model folder {folder} is incomplete: {', '.join(missing[:3])} "
            f"{'is' if len(missing) == 1 else 'are'} missing."
        )
    return files
