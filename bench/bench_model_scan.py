"""The model library's scan: 500 model files in other tools' layouts, headers only.

    python bench/bench_model_scan.py [--files 500] [--rounds 3] [--weights-mb 8]

Builds a fake home folder with AUTOMATIC1111, ComfyUI, LM Studio and a folder of the user's
own, holding ``--files`` model files: mostly stubs (Git LFS pointers, safetensors and GGUF
files whose headers promise far more than they hold, pickles), and a few whole files of
``--weights-mb`` MB each (safetensors checkpoints and a GGUF). Then, per round:

1. **Seconds for a scan** of all of it (``scan_library``), cold (the first round) and warm
   (the page cache holds the headers). Goal: a few seconds for 500 files.
2. **Bytes read ÷ bytes on disk** (every header, config and pickle read through
   ``CountingReader``; picklescan reads the pickles' own bytes, which are small here): the scan
   never reads whole weight files, so the ratio stays far below 1 however big the weights.
3. **Models per problem kind**, so a change that stops recognising a kind shows up.
"""

from __future__ import annotations

import argparse
import pickle
import struct
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.model_scan.catalog import scan_library
from studio.core.model_scan.headers import CountingReader
from studio.core.model_scan.places import default_places

LFS = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"ab" * 32 + b"\nsize 42\n"


def safetensors_bytes(names: list[str], rows: int, cut: bool = False) -> bytes:
    import json

    table, offset = {}, 0
    for name in names:
        size = rows * 256 * 4
        table[name] = {
            "dtype": "F32",
            "shape": [rows, 256],
            "data_offsets": [offset, offset + size],
        }
        offset += size
    header = json.dumps(table).encode()
    header += b" " * (-len(header) % 8)
    data = bytes(offset // 4 if cut else offset)
    return struct.pack("<Q", len(header)) + header + data


def gguf_bytes(tensors: int, elements: int, cut: bool) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, tensors, 1)
    key = b"general.architecture"
    out += struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 5) + b"llama"
    for index in range(tensors):
        name = f"blk.{index}.weight".encode()
        out += struct.pack("<Q", len(name)) + name + struct.pack("<IQ", 1, elements)
        out += struct.pack("<IQ", 0, index * elements * 4)
    out += bytes(-len(out) % 32)
    return out + bytes(tensors * elements * (1 if cut else 4))


def build(home: Path, files: int, weights_mb: int) -> int:
    rows = max(1, weights_mb * 1024 * 1024 // (256 * 4 * 2))
    sd_keys = ["model.diffusion_model.input_blocks.0.0.weight", "first_stage_model.decoder.w"]
    folders = [
        home / "stable-diffusion-webui" / "models" / "Stable-diffusion",
        home / "stable-diffusion-webui" / "models" / "Lora",
        home / "ComfyUI" / "models" / "checkpoints",
        home / "ComfyUI" / "models" / "loras",
        home / ".lmstudio" / "models" / "acme" / "repo",
    ]
    for folder in folders:
        folder.mkdir(parents=True)
    for index in range(files):
        folder = folders[index % len(folders)]
        kind = index % 10
        if index < 6:  # a few whole files
            if folder.name == "repo":
                (folder / f"m{index}.gguf").write_bytes(gguf_bytes(4, rows * 64, cut=False))
            else:
                (folder / f"m{index}.safetensors").write_bytes(safetensors_bytes(sd_keys, rows))
        elif kind < 5:
            (folder / f"m{index}.safetensors").write_bytes(LFS)
        elif kind < 7:
            (folder / f"m{index}.safetensors").write_bytes(safetensors_bytes(sd_keys, 64, cut=True))
        elif kind < 9:
            (folder / f"m{index}.gguf").write_bytes(gguf_bytes(3, 4096, cut=True))
        else:
            (folder / f"m{index}.ckpt").write_bytes(pickle.dumps({"w": list(range(50))}))
    return sum(p.stat().st_size for p in home.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--weights-mb", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        on_disk = build(home, args.files, args.weights_mb)
        places = default_places({"HOME": str(home)}, home)
        print(f"{args.files} model files, {on_disk / 1e6:.1f} MB on disk, in {len(places)} places")
        for round_index in range(args.rounds):
            before = CountingReader.total_bytes_read
            started = time.perf_counter()
            entries = scan_library(places)
            seconds = time.perf_counter() - started
            read = CountingReader.total_bytes_read - before
            print(
                f"round {round_index + 1}: {len(entries)} models in {seconds:.2f} s "
                f"({seconds / max(1, len(entries)) * 1000:.1f} ms each); read {read / 1e6:.2f} MB "
                f"= {read / on_disk:.4f} of the bytes on disk"
            )
        kinds = Counter(p.kind for e in entries for p in (e.facts.problems if e.facts else ()))
        usable = sum(e.usable for e in entries)
        print(f"usable: {usable}; problems: {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()
