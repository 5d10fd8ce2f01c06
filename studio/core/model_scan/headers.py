"""Read a model file's header, never its weights: GGUF and safetensors, bounded and checked.

A header's own numbers (string lengths, counts, offsets) are never trusted: every read is
bounded by what is left of the file and by :data:`MAX_HEADER_BYTES`, so a file that declares
a gigabyte string or a million tensors is reported damaged, not allocated. What a header
says about the data (where each tensor ends) is checked against the file's size, so a file
cut short is found without reading its weights.

:class:`CountingReader` counts the bytes read (the library's benchmark prints them).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MAX_HEADER_BYTES = 256 * 1024 * 1024
"""The most header any model file may have (a GGUF's vocabulary is a few MB; this is far
beyond any real one)."""
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
"""safetensors' own limit on its JSON header."""
GGUF_MAGIC = b"GGUF"
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"


class DamagedHeader(ValueError):
    """The header cannot be read as its format says; the message says where and why."""


class CountingReader:
    """A file opened for reading that counts the bytes it hands out."""

    total_bytes_read = 0
    """Bytes read through every CountingReader of this process (for the benchmark)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self.size = self.path.stat().st_size
        self.bytes_read = 0

    def read(self, count: int) -> bytes:
        data = self._file.read(count)
        self.bytes_read += len(data)
        CountingReader.total_bytes_read += len(data)
        return data

    def exactly(self, count: int, what: str) -> bytes:
        if count < 0 or self._file.tell() + count > self.size:
            raise DamagedHeader(f"the file ends inside its header ({what})")
        if self._file.tell() + count > MAX_HEADER_BYTES:
            raise DamagedHeader(f"its header is larger than {MAX_HEADER_BYTES >> 20} MB ({what})")
        return self.read(count)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CountingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_start(path: Path, count: int = 64) -> bytes:
    """The first ``count`` bytes of a file (b"" when it cannot be read)."""
    try:
        with CountingReader(path) as reader:
            return reader.read(count)
    except OSError:
        return b""


# --- GGUF ---------------------------------------------------------------------------------

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
MAX_KEPT_ARRAY = 64
"""Array values longer than this (a vocabulary) are skipped over, not kept."""


@dataclass
class GgufHeader:
    """What a GGUF file's header says."""

    version: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensor_count: int = 0
    parameters: int = 0
    data_end: int = 0
    """Where the last tensor's data ends in the file."""
    tensor_types: dict[str, int] = field(default_factory=dict)
    """How many tensors of each ggml type."""


def _gguf_string(reader: CountingReader, long_counts: bool, what: str) -> str:
    (length,) = struct.unpack(
        "<Q" if long_counts else "<I", reader.exactly(8 if long_counts else 4, what)
    )
    return reader.exactly(length, what).decode("utf-8", errors="replace")


def _gguf_value(reader: CountingReader, kind: int, long_counts: bool, what: str) -> Any:
    if kind in _SCALARS:
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, reader.exactly(struct.calcsize(fmt), what))[0]
    if kind == _STRING:
        return _gguf_string(reader, long_counts, what)
    if kind == _ARRAY:
        (item_kind,) = struct.unpack("<I", reader.exactly(4, what))
        (count,) = struct.unpack(
            "<Q" if long_counts else "<I", reader.exactly(8 if long_counts else 4, what)
        )
        if count > reader.size:  # each item takes at least one byte
            raise DamagedHeader(f"{what} declares {count:,} items, more than the file could hold")
        if item_kind in _SCALARS:  # skip a long array of numbers in one read
            width = struct.calcsize(_SCALARS[item_kind])
            data = reader.exactly(width * count, what)
            if count > MAX_KEPT_ARRAY:
                return None
            return list(struct.unpack(f"<{count}{_SCALARS[item_kind][1]}", data))
        items = [_gguf_value(reader, item_kind, long_counts, what) for _ in range(count)]
        return items if count <= MAX_KEPT_ARRAY else None
    raise DamagedHeader(f"{what} has the unknown value type {kind}")


def read_gguf_header(path: Path) -> GgufHeader:
    """The metadata and tensor table of a GGUF file; :class:`DamagedHeader` if it is not one
    or is damaged, and a cut-short file is reported by :attr:`GgufHeader.data_end`."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    with CountingReader(path) as reader:
        if reader.exactly(4, "magic") != GGUF_MAGIC:
            raise DamagedHeader("it does not start with GGUF")
        (version,) = struct.unpack("<I", reader.exactly(4, "version"))
        if version not in (1, 2, 3):
            raise DamagedHeader(f"it has the unknown GGUF version {version}")
        long_counts = version >= 2
        count_format, count_size = ("<Q", 8) if long_counts else ("<I", 4)
        (tensor_count,) = struct.unpack(count_format, reader.exactly(count_size, "tensor count"))
        (kv_count,) = struct.unpack(count_format, reader.exactly(count_size, "metadata count"))
        if tensor_count > reader.size // 24 or kv_count > reader.size // 12:
            raise DamagedHeader(
                f"it declares {tensor_count:,} tensors and {kv_count:,} metadata entries, more "
                "than the file could hold"
            )
        header = GgufHeader(version=version, tensor_count=tensor_count)
        for index in range(kv_count):
            key = _gguf_string(reader, long_counts, f"metadata key {index + 1}")
            (kind,) = struct.unpack("<I", reader.exactly(4, f"type of {key}"))
            header.metadata[key] = _gguf_value(reader, kind, long_counts, key)
        tensors: list[tuple[int, int, int]] = []  # (offset, elements, ggml type)
        for index in range(tensor_count):
            name = _gguf_string(reader, long_counts, f"tensor {index + 1}'s name")
            (dims,) = struct.unpack("<I", reader.exactly(4, name))
            if dims > 8:
                raise DamagedHeader(f"tensor {name} declares {dims} dimensions")
            shape = struct.unpack(
                f"<{dims}{'Q' if long_counts else 'I'}", reader.exactly(dims * count_size, name)
            )
            ggml_type, offset = struct.unpack("<IQ", reader.exactly(12, name))
            tensors.append((offset, math.prod(shape), ggml_type))
        alignment = header.metadata.get("general.alignment", 32)
        alignment = alignment if isinstance(alignment, int) and alignment > 0 else 32
        data_start = -(-reader.tell() // alignment) * alignment
        end = data_start
        for offset, elements, ggml_type in tensors:
            header.parameters += elements
            try:
                block, size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
                name = GGMLQuantizationType(ggml_type).name
            except ValueError:
                raise DamagedHeader(f"a tensor has the unknown type {ggml_type}") from None
            header.tensor_types[name] = header.tensor_types.get(name, 0) + 1
            end = max(end, data_start + offset + elements // block * size)
        header.data_end = end
        return header


def gguf_quantisation(header: GgufHeader) -> str:
    """The quantisation a GGUF file names (``general.file_type``: ``Q4_K_M``), else its most
    common tensor type."""
    from gguf.constants import LlamaFileType

    file_type = header.metadata.get("general.file_type")
    if isinstance(file_type, int):
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    if header.tensor_types:
        return max(header.tensor_types, key=header.tensor_types.__getitem__)
    return ""


# --- safetensors --------------------------------------------------------------------------


@dataclass
class SafetensorsHeader:
    """What a safetensors file's header says."""

    metadata: dict[str, str] = field(default_factory=dict)
    tensors: dict[str, list[int]] = field(default_factory=dict)
    """Each tensor's shape, by name."""
    parameters: int = 0
    data_end: int = 0
    """Where the last tensor's data ends in the file."""
    dtypes: dict[str, int] = field(default_factory=dict)


def read_safetensors_header(path: Path) -> SafetensorsHeader:
    """The metadata and tensor shapes of a safetensors file; :class:`DamagedHeader` if it is not
    one."""
    with CountingReader(path) as reader:
        (length,) = struct.unpack("<Q", reader.exactly(8, "header length"))
        if length > MAX_SAFETENSORS_HEADER or length < 2:
            raise DamagedHeader(f"its header declares {length:,} bytes")
        raw = reader.exactly(length, "JSON header")
    try:
        table = json.loads(raw)
    except ValueError as exc:
        raise DamagedHeader(f"its header is not JSON ({exc})") from None
    if not isinstance(table, dict):
        raise DamagedHeader("its header is not a JSON object")
    header = SafetensorsHeader()
    metadata = table.pop("__metadata__", None) or {}
    if isinstance(metadata, dict):
        header.metadata = {str(k): str(v) for k, v in metadata.items()}
    for name, info in table.items():
        if not isinstance(info, dict):
            raise DamagedHeader(f"tensor {name} is not described")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not (
            isinstance(shape, list)
            and all(isinstance(d, int) and d >= 0 for d in shape)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and o >= 0 for o in offsets)
        ):
            raise DamagedHeader(f"tensor {name} has a broken shape or offsets")
        header.tensors[name] = shape
        header.parameters += math.prod(shape)
        header.data_end = max(header.data_end, 8 + length + offsets[1])
        dtype = str(info.get("dtype", ""))
        header.dtypes[dtype] = header.dtypes.get(dtype, 0) + 1
    return header
