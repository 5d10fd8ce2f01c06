"""The child process of :mod:`studio.core.safety.converter`: unpickles one consented file.

This is the one place where Studio fully unpickles a file, and it runs in its own process, so
no unpickled object ever lives in the app. Only the converter starts it, after checking the
user's consent for the file's SHA-256::

    python -m studio.core.safety.convert_child SOURCE SHA256 OUTPUT

It hashes SOURCE through the same open handle it then reads, so a file swapped after the
consent check is refused, not loaded. It writes the tensors to OUTPUT as safetensors and prints
a JSON report (``{"tensors": n, "dropped": [names]}``) on stdout.

Exit codes: 0 written; 1 could not convert (one sentence on stderr); 3 the content is not the
one consented to.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import sys
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from studio.core.offline import enforce_offline

EXIT_OK, EXIT_FAILED, EXIT_CHANGED = 0, 1, 3

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module")
"""Keys under which checkpoints commonly keep the state dict beside metadata (epoch, optimizer,
training arguments); unwrapped only when the mapping holds no tensors of its own."""

_PARALLEL_PREFIX = "module."  # torch.nn.DataParallel and DistributedDataParallel
_SAFETENSORS_DTYPES = (
    "float64",
    "float32",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint64",
    "uint32",
    "uint16",
    "uint8",
    "bool",
    "complex64",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
)
_CHUNK = 1 << 20


class ConversionError(Exception):
    """The file cannot be turned into safetensors; the message is one sentence."""


def main(argv: Sequence[str]) -> int:
    enforce_offline()
    if len(argv) != 3:
        print("usage: convert_child SOURCE SHA256 OUTPUT", file=sys.stderr)
        return EXIT_FAILED
    source, expected_sha256, output = Path(argv[0]), argv[1], Path(argv[2])
    try:
        with open(source, "rb") as handle:
            if _sha256(handle) != expected_sha256:
                print(
                    f"{source.name} changed after consent was checked; it was not converted.",
                    file=sys.stderr,
                )
                return EXIT_CHANGED
            handle.seek(0)
            loaded = _load(handle)
        tensors, dropped = state_dict_tensors(loaded)
        if not tensors:
            raise ConversionError(f"{source.name} holds no tensors to convert.")
        _save(tensors, output, expected_sha256)
    except Exception as exc:
        detail = exc if isinstance(exc, ConversionError) else f"{type(exc).__name__}: {exc}"
        message = " ".join(str(detail).split())
        if not isinstance(exc, ConversionError):
            message = f"{source.name} could not be converted ({message})."
        print(message, file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps({"tensors": len(tensors), "dropped": dropped}))
    return EXIT_OK


def _sha256(handle: io.BufferedReader) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _load(handle: io.BufferedReader) -> Any:
    """Fully unpickle whatever pickle-based format the file is in."""
    import numpy
    import torch

    head = handle.read(8)
    handle.seek(0)
    if head.startswith(b"\x93NUMPY"):
        array = numpy.load(handle, allow_pickle=True)
        return array.item() if array.dtype == object and array.shape == () else array
    if head.startswith(b"PK\x03\x04") or tarfile.is_tarfile(handle):
        handle.seek(0)
        return torch.load(handle, weights_only=False, map_location="cpu")
    handle.seek(0)
    first = pickle.load(handle)
    if type(first) is int and first == torch.serialization.MAGIC_NUMBER:
        handle.seek(0)
        return torch.load(handle, weights_only=False, map_location="cpu")
    return first  # a plain pickle, not written by torch


def state_dict_tensors(loaded: Any) -> tuple[dict[str, Any], list[str]]:
    """The tensors of a loaded checkpoint by dotted name, and the names of what was dropped.

    Unwraps common containers (a module, ``{"state_dict": ...}``, ``{"model": ...}``),
    flattens nested mappings and lists into dotted names, strips the ``module.`` prefix that
    ``DataParallel`` adds, and drops everything that is not a tensor safetensors can hold.
    """
    dropped: list[str] = []
    loaded = _unwrap(loaded, dropped)
    tensors: dict[str, Any] = {}
    _flatten(loaded, "", tensors, dropped)
    if tensors and all(name.startswith(_PARALLEL_PREFIX) for name in tensors):
        tensors = {name.removeprefix(_PARALLEL_PREFIX): t for name, t in tensors.items()}
    return _saveable(tensors, dropped), dropped


def _unwrap(loaded: Any, dropped: list[str]) -> Any:
    import torch

    for _ in range(8):
        if not isinstance(loaded, Mapping) and callable(getattr(loaded, "state_dict", None)):
            loaded = loaded.state_dict()  # a torch module, or a trainer-like object
        elif isinstance(loaded, Mapping) and not any(
            isinstance(value, torch.Tensor) for value in loaded.values()
        ):
            key = next((k for k in WRAPPER_KEYS if _holds_state(loaded.get(k))), None)
            if key is None:
                return loaded
            dropped.extend(str(other) for other in loaded if other != key)
            loaded = loaded[key]
        else:
            return loaded
    return loaded


def _holds_state(value: Any) -> bool:
    return isinstance(value, Mapping) or callable(getattr(value, "state_dict", None))


def _flatten(value: Any, name: str, tensors: dict[str, Any], dropped: list[str]) -> None:
    import numpy
    import torch

    if isinstance(value, torch.Tensor):
        tensors[name] = value
    elif isinstance(value, numpy.ndarray) and value.dtype != object:
        tensors[name] = torch.from_numpy(numpy.ascontiguousarray(value))
    elif isinstance(value, torch.nn.Module):
        _flatten(value.state_dict(), name, tensors, dropped)
    elif isinstance(value, Mapping | list | tuple) and value:
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        found: dict[str, Any] = {}
        inner_dropped: list[str] = []
        for key, item in items:
            _flatten(item, f"{name}.{key}" if name else str(key), found, inner_dropped)
        if found:
            tensors.update(found)
            dropped.extend(inner_dropped)
        else:  # nothing worth keeping inside: name the container, not each of its items
            dropped.append(name or "(the whole file)")
    else:
        dropped.append(name or "(the whole file)")


def _saveable(tensors: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    """Detached, dense, contiguous CPU tensors of supported types, none sharing memory."""
    import torch

    supported = {getattr(torch, name) for name in _SAFETENSORS_DTYPES if hasattr(torch, name)}
    storages: set[int] = set()
    ready = {}
    for name, tensor in tensors.items():
        if tensor.layout != torch.strided or tensor.is_meta or tensor.dtype not in supported:
            dropped.append(f"{name} ({tensor.layout}, {tensor.dtype})")
            continue
        tensor = tensor.detach().cpu().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer and pointer in storages:  # tied weights: safetensors wants one copy each
            tensor = tensor.clone()
        storages.add(tensor.untyped_storage().data_ptr())
        ready[name] = tensor
    return ready


def _save(tensors: dict[str, Any], output: Path, sha256: str) -> None:
    from safetensors.torch import save_file

    save_file(tensors, output, metadata={"format": "pt", "studio_source_sha256": sha256})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
