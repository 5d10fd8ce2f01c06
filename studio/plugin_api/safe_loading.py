"""Load model weights without running code hidden in them.

A pickle file (``.bin``, ``.pt``, ``.ckpt``, ``.pth``, or anything else: the name proves
nothing) can run arbitrary code while it is read. The rules for plugins:

- safetensors, GGUF and ONNX files load freely: they hold data, never code.
- Pickle-based files load only through :func:`safe_torch_load`, which uses
  ``torch.load(weights_only=True)``: tensors, plain containers and numbers, nothing else.
- When that is not enough (the checkpoint holds objects of other classes), raise or let
  :class:`UnsafeWeights` propagate. Studio asks the user; with their consent, its own
  converter unpickles the file in a separate process and writes a safetensors file, which your
  plugin then loads like any other.
- Never pass ``trust_remote_code=True`` yourself. When a model folder needs it, raise
  :class:`RemoteCodeRequired`; Studio asks the user for consent for that folder and retries.

:func:`detect_weights_format` tells the formats apart by their content, never by the file name.

Importing this module does not import torch; :func:`safe_torch_load` imports it when called.
"""

from __future__ import annotations

import ast
import enum
import io
import json
import pickle
import pickletools
import shlex
import struct
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "RemoteCodeRequired",
    "UnreadableWeights",
    "UnsafeWeights",
    "WeightsFormat",
    "detect_weights_format",
    "safe_torch_load",
]


class WeightsFormat(enum.Enum):
    """What a weights file holds, as told by its content."""

    SAFETENSORS = "safetensors"
    """Tensors only, behind a JSON header: always safe to load."""
    GGUF = "gguf"
    """llama.cpp's format: tensors and metadata, no code."""
    ONNX = "onnx"
    """An ONNX model (a protobuf ``ModelProto``): a graph of known operators, no Python code."""
    PICKLE = "pickle"
    """Python pickle in any of the forms torch and numpy write: a torch zip checkpoint, a
    TorchScript archive, torch's legacy formats, a raw pickle, or a ``.npy`` array of Python
    objects. Load only with :func:`safe_torch_load`."""
    UNKNOWN = "unknown"
    """Anything else (an empty file, text, an unrelated zip archive, a plain numeric ``.npy``)."""

    @property
    def description(self) -> str:
        """How to name the format in a sentence (``"a GGUF file"``)."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    WeightsFormat.SAFETENSORS: "a safetensors file",
    WeightsFormat.GGUF: "a GGUF file",
    WeightsFormat.ONNX: "an ONNX model",
    WeightsFormat.PICKLE: "a pickle file",
    WeightsFormat.UNKNOWN: "not a weights file Studio recognises",
}


class UnsafeWeights(Exception):
    """The file can only be read by full unpickling, which can run any code it contains.

    Raised by :func:`safe_torch_load`; a plugin lets it propagate out of ``load()`` (or raises
    it itself). Studio then asks the user for consent, converts the file to safetensors in a
    separate process, and tries again.

    Attributes:
        path: the file that needs full unpickling.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        quoted = shlex.quote(str(self.path))
        super().__init__(
            f"{self.path.name} needs full unpickling, which can run code; if you trust it, "
            f'allow it with "studio consent grant {quoted}" and convert it to safetensors '
            f'with "studio convert {quoted}".'
        )


class RemoteCodeRequired(Exception):
    """The model folder only works with ``trust_remote_code``: Python code shipped with it.

    Raise it from ``load()`` instead of passing ``trust_remote_code=True``. Studio asks the
    user for consent for that folder (recorded by a hash of its code and config files, so any
    change needs consent again) and retries the load with remote code allowed.

    Attributes:
        folder: the model folder whose code would run.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        quoted = shlex.quote(str(self.folder))
        super().__init__(
            f"The model folder {self.folder} needs trust_remote_code, which runs Python code "
            f'shipped with the model; if you trust it, allow it with "studio consent grant '
            f'--remote-code {quoted}".'
        )


class UnreadableWeights(ValueError):
    """:func:`safe_torch_load` cannot read the file: another format, or a damaged file."""


# torch.serialization.MAGIC_NUMBER: the first object pickled in torch's legacy format.
# Copied so that telling formats apart never needs torch.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_SAFETENSORS_MAX_HEADER = 100_000_000  # the limit the safetensors format itself sets
_NPY_MAGIC = b"\x93NUMPY"
_NPY_MAX_HEADER = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_WINDOW = 1 << 20  # how much of an old-protocol pickle the detector parses
_PICKLE_MIN_OPS = 16  # opcodes parsed cleanly before a truncated window still counts
# Opcodes a protocol 0 or 1 pickle can start with (higher protocols start with PROTO, 0x80).
_OLD_PICKLE_FIRST_BYTES = frozenset(b"()]}cNILFSVKJMGUTXC\x88\x89")

# ONNX ModelProto fields: number -> protobuf wire type (0 varint, 2 length-delimited).
_ONNX_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_ONNX_IR_VERSION, _ONNX_GRAPH = 1, 7
_ONNX_MAX_FIELDS = 100_000


class _Flavour(enum.Enum):
    """Finer than :class:`WeightsFormat`: which reader a file needs."""

    SAFETENSORS = "safetensors"
    GGUF = "gguf"
    ONNX = "onnx"
    TORCH_ZIP = "torch zip checkpoint"
    TORCHSCRIPT = "TorchScript archive"
    TORCH_LEGACY = "torch legacy checkpoint"
    TORCH_TAR = "torch legacy tar checkpoint"
    NUMPY_OBJECTS = "numpy array of Python objects"
    RAW_PICKLE = "raw pickle"
    UNKNOWN = "unknown"


_FORMAT_OF_FLAVOUR = {
    _Flavour.SAFETENSORS: WeightsFormat.SAFETENSORS,
    _Flavour.GGUF: WeightsFormat.GGUF,
    _Flavour.ONNX: WeightsFormat.ONNX,
    _Flavour.TORCH_ZIP: WeightsFormat.PICKLE,
    _Flavour.TORCHSCRIPT: WeightsFormat.PICKLE,
    _Flavour.TORCH_LEGACY: WeightsFormat.PICKLE,
    _Flavour.TORCH_TAR: WeightsFormat.PICKLE,
    _Flavour.NUMPY_OBJECTS: WeightsFormat.PICKLE,
    _Flavour.RAW_PICKLE: WeightsFormat.PICKLE,
    _Flavour.UNKNOWN: WeightsFormat.UNKNOWN,
}


def detect_weights_format(path: str | Path) -> WeightsFormat:
    """Tell what ``path`` holds by reading its content; the file name is never looked at.

    Reads only a file's header and structure (it never unpickles anything), so it is safe on
    any file and quick on large ones.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        IsADirectoryError: ``path`` is a folder.
    """
    return _FORMAT_OF_FLAVOUR[_detect_flavour(_existing_file(path))]


def safe_torch_load(path: str | Path, map_location: Any = "cpu") -> Any:
    """Load a safetensors file or a torch checkpoint without running code from it.

    - safetensors: ``safetensors.torch.load_file``; returns a dict of tensors.
    - a torch checkpoint (zip or legacy pickle format): ``torch.load(path,
      weights_only=True, map_location=map_location)``; returns what was saved, as long as it
      is made of tensors, plain containers and numbers.

    Args:
        path: the weights file (its name and extension do not matter).
        map_location: where tensors go, as for ``torch.load``; for safetensors it must be a
            device (``"cpu"``, ``"cuda:0"`` or a ``torch.device``).

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        UnsafeWeights: reading it needs full unpickling; let it propagate so Studio can ask
            the user and convert the file.
        UnreadableWeights: GGUF, ONNX or unknown content, or a damaged checkpoint.
    """
    path = _existing_file(path)
    flavour = _detect_flavour(path)
    if flavour is _Flavour.SAFETENSORS:
        import torch  # on call only: the plugin API never imports torch at import time

        if not isinstance(map_location, str | torch.device):
            raise UnreadableWeights(
                f"{path.name} is a safetensors file, so map_location must be a device such as "
                f'"cpu", not {map_location!r}.'
            )
        from safetensors.torch import load_file

        return load_file(path, device=str(map_location))
    if flavour in (_Flavour.TORCH_ZIP, _Flavour.TORCH_LEGACY):
        return _torch_load_weights_only(path, map_location)
    if flavour in (
        _Flavour.TORCHSCRIPT,  # torch refuses weights_only for TorchScript archives
        _Flavour.TORCH_TAR,  # and for the legacy tar format
        _Flavour.NUMPY_OBJECTS,  # numpy needs allow_pickle=True: full unpickling
        _Flavour.RAW_PICKLE,  # not a torch checkpoint: only pickle.load reads it
    ):
        raise UnsafeWeights(path)
    if flavour is _Flavour.GGUF:
        raise UnreadableWeights(
            f"{path.name} is a GGUF file, which torch cannot load; read it with a GGUF "
            "runtime such as llama.cpp."
        )
    if flavour is _Flavour.ONNX:
        raise UnreadableWeights(
            f"{path.name} is an ONNX model, which torch cannot load; run it with onnxruntime."
        )
    raise UnreadableWeights(
        f"{path.name} is not a weights file Studio recognises (safetensors, GGUF, ONNX or a "
        "torch checkpoint)."
    )


def _torch_load_weights_only(path: Path, map_location: Any) -> Any:
    import torch  # on call only: the plugin API never imports torch at import time

    try:
        # An open file, not the path: torch.load picks its reader by the name's extension
        # (".safetensors") before it looks at the content.
        with open(path, "rb") as handle:
            return torch.load(handle, weights_only=True, map_location=map_location)
    except pickle.UnpicklingError as exc:
        # torch's weights-only unpickler met a global it does not allow (or a pickle it cannot
        # parse): only full unpickling could read it.
        raise UnsafeWeights(path) from exc
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise UnreadableWeights(
            f"{path.name} looks like a torch checkpoint but could not be read, so it may be "
            f"damaged ({detail})."
        ) from exc


def _existing_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a weights file.")
    if not path.is_file():
        raise FileNotFoundError(f"The weights file {path} does not exist.")
    return path


def _detect_flavour(path: Path) -> _Flavour:
    with open(path, "rb") as handle:
        size = handle.seek(0, io.SEEK_END)
        handle.seek(0)
        head = handle.read(16)
        if not head:
            return _Flavour.UNKNOWN
        if head.startswith(b"GGUF") and len(head) >= 8:
            (version,) = struct.unpack_from("<I", head, 4)
            if 1 <= version < 1 << 16:
                return _Flavour.GGUF
        if _is_safetensors(handle, head, size):
            return _Flavour.SAFETENSORS
        if head.startswith(_ZIP_MAGIC):
            return _zip_flavour(handle)
        if head.startswith(_NPY_MAGIC):
            return _Flavour.NUMPY_OBJECTS if _npy_holds_objects(handle) else _Flavour.UNKNOWN
        if size >= 512 and _is_torch_tar(handle):
            return _Flavour.TORCH_TAR
        if head[0] == 0x80 and len(head) >= 2 and 2 <= head[1] <= 5:
            handle.seek(0)
            return _raw_pickle_flavour(handle.read(_PICKLE_WINDOW))
        if head[0] == 0x08 and _is_onnx(handle, size):
            return _Flavour.ONNX
        if head[0] in _OLD_PICKLE_FIRST_BYTES:
            handle.seek(0)
            window = handle.read(_PICKLE_WINDOW)
            if _parses_as_pickle(window, whole=size <= _PICKLE_WINDOW):
                return _Flavour.RAW_PICKLE
    return _Flavour.UNKNOWN


def _is_safetensors(handle: io.BufferedReader, head: bytes, size: int) -> bool:
    # 8-byte little-endian header length, then that many bytes of a JSON object.
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (header_size,) = struct.unpack_from("<Q", head, 0)
    if not 2 <= header_size <= _SAFETENSORS_MAX_HEADER or 8 + header_size > size:
        return False
    handle.seek(8)
    try:
        header = json.loads(handle.read(header_size).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(header, dict)


def _zip_flavour(handle: io.BufferedReader) -> _Flavour:
    # torch.save writes "<archive>/data.pkl" (plus "<archive>/data/<n>" storages);
    # torch.jit.save adds "<archive>/constants.pkl" and code. Other zips are not checkpoints.
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            names = [PurePosixPath(name) for name in archive.namelist()]
    except (zipfile.BadZipFile, OSError, ValueError):
        return _Flavour.UNKNOWN

    def has(file_name: str) -> bool:
        return any(len(name.parts) <= 2 and name.name == file_name for name in names)

    if has("constants.pkl"):
        return _Flavour.TORCHSCRIPT
    return _Flavour.TORCH_ZIP if has("data.pkl") else _Flavour.UNKNOWN


def _npy_holds_objects(handle: io.BufferedReader) -> bool:
    # .npy: magic, major and minor version, header length (2 bytes in version 1, 4 after),
    # then a Python dict literal whose "descr" is the dtype; "O" is a pickled Python object.
    handle.seek(len(_NPY_MAGIC))
    version = handle.read(2)
    if len(version) < 2 or version[0] not in (1, 2, 3):
        return False
    length_bytes = handle.read(2 if version[0] == 1 else 4)
    if len(length_bytes) not in (2, 4):
        return False
    header_size = int.from_bytes(length_bytes, "little")
    if header_size > _NPY_MAX_HEADER:
        return False
    encoding = "utf-8" if version[0] == 3 else "latin1"
    try:
        header = ast.literal_eval(handle.read(header_size).decode(encoding))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        return False
    return isinstance(header, dict) and _descr_has_objects(header.get("descr"))


def _descr_has_objects(descr: object) -> bool:
    if isinstance(descr, str):  # "|O", "<f4", "<U10"...
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list):  # a structured dtype: [(name, descr[, shape]), ...]
        return any(
            isinstance(field, tuple) and len(field) >= 2 and _descr_has_objects(field[1])
            for field in descr
        )
    return False


def _is_torch_tar(handle: io.BufferedReader) -> bool:
    # torch's oldest format: a tar archive with "sys_info", "pickle", "storages", "tensors".
    handle.seek(257)
    if handle.read(5) != b"ustar":
        return False
    handle.seek(0)
    try:
        with tarfile.open(fileobj=handle, mode="r:") as archive:
            names = set(archive.getnames())
    except (tarfile.TarError, OSError, ValueError):
        return False
    return {"pickle", "storages", "tensors"} <= names


def _raw_pickle_flavour(window: bytes) -> _Flavour:
    # torch's legacy format is a series of pickles, the first one torch's magic number.
    try:
        for opcode, arg, _position in pickletools.genops(io.BytesIO(window)):
            if opcode.name in ("PROTO", "FRAME"):
                continue
            if opcode.name == "LONG1" and arg == _TORCH_LEGACY_MAGIC:
                return _Flavour.TORCH_LEGACY
            break
    except ValueError:
        pass
    return _Flavour.RAW_PICKLE


def _parses_as_pickle(window: bytes, *, whole: bool) -> bool:
    """Whether ``window`` parses as pickle opcodes (parsed only: nothing is executed)."""
    count = 0
    try:
        for opcode, _arg, _position in pickletools.genops(io.BytesIO(window)):
            count += 1
            if opcode.name == "STOP":
                return True
    except Exception:  # genops raises ValueError and friends on anything malformed
        # A long pickle cut off at the end of the window still counts when it parsed well.
        return not whole and count >= _PICKLE_MIN_OPS
    return False


def _read_varint(handle: io.BufferedReader) -> int | None:
    value = 0
    for shift in range(0, 70, 7):
        byte = handle.read(1)
        if not byte:
            return None
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
    return None


def _is_onnx(handle: io.BufferedReader, size: int) -> bool:
    """Whether the file parses as a protobuf ``ModelProto`` with an IR version and a graph.

    Walks the top-level fields only, skipping over their contents, so it stays fast on large
    models. Serializers write fields in order, so ``ir_version`` (field 1) comes first.
    """
    handle.seek(0)
    seen: set[int] = set()
    for _ in range(_ONNX_MAX_FIELDS):
        position = handle.tell()
        if position == size:
            break
        key = _read_varint(handle)
        if key is None:
            return False
        field, wire_type = key >> 3, key & 7
        if field == 0 or (not seen and field != _ONNX_IR_VERSION):
            return False
        expected = _ONNX_MODEL_FIELDS.get(field)
        if expected is not None and wire_type != expected:
            return False
        if wire_type == 0:
            if _read_varint(handle) is None:
                return False
        elif wire_type == 2:
            length = _read_varint(handle)
            if length is None or handle.tell() + length > size:
                return False
            handle.seek(length, io.SEEK_CUR)
        elif wire_type in (1, 5):
            skip = 8 if wire_type == 1 else 4
            if handle.tell() + skip > size:
                return False
            handle.seek(skip, io.SEEK_CUR)
        else:  # groups (3, 4) are not used by ONNX; 6 and 7 do not exist
            return False
        seen.add(field)
    else:
        return False
    return {_ONNX_IR_VERSION, _ONNX_GRAPH} <= seen
