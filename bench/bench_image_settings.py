"""Reading settings from images: the slowest read over hostile and generated cases, and how
many of the corpus's stated values come back.

    python bench/bench_image_settings.py [--cases 2000] [--seed 1]

1. **Slowest read** (and the median) of ``read_image_settings`` over ``--cases`` generated
   images: random text chunks under every key the readers know, JSON of random shapes,
   chunks that declare up to 4 GiB, zTXt bombs inflating to 64 MiB, truncations at every
   length, random EXIF in JPEG and WebP containers, and the corpus's hostile images (when
   ../shared/corpus is there). Goal: every read well under a second; none raises anything but
   one UserError sentence.
2. **Fields restored ÷ fields present** over ../shared/corpus/metadata (expected.json): prompt,
   negative prompt, steps, sampler, CFG, seed, size, model, model hash.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import struct
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.errors import UserError
from studio.core.image_settings import read_image_settings
from tests.core.image_settings.builders import chunk, plain_png, png_with, text_chunk, tiff

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
KEYS = ["parameters", "prompt", "workflow", "Dream", "sd-metadata", "invokeai_metadata",
        "Comment", "Software", "Description", "fooocus_scheme", "studio-recipe"]  # fmt: skip


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(6 if depth < 4 else 4)
    if kind == 0:
        return rng.randrange(-(2**70), 2**70)
    if kind == 1:
        return rng.random() * 1e6
    if kind == 2:
        return "".join(rng.choice('ab{}[]:,"\\ <lora:x:1>\n') for _ in range(rng.randrange(30)))
    if kind == 3:
        return None
    if kind == 4:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]
    names = ["class_type", "inputs", "seed", "steps", "nodes", "links", "image", "prompt", "3"]
    return {rng.choice(names): random_json(rng, depth + 1) for _ in range(rng.randrange(6))}


def cases(count: int, rng: random.Random):
    base = plain_png()
    graph = {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "positive": ["6", 0]}},
             "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "x"}}}  # fmt: skip
    whole = png_with(
        text_chunk("prompt", json.dumps(graph)), text_chunk("parameters", "a\nSteps: 1")
    )
    bomb = chunk(b"zTXt", b"parameters\x00\x00" + zlib.compress(b"a" * (64 << 20), 9))
    for index in range(count):
        kind = index % 6
        if kind == 0:
            texts = [text_chunk(rng.choice(KEYS), "".join(chr(rng.randrange(32, 255))
                     for _ in range(rng.randrange(300))), rng.choice(["tEXt", "zTXt", "iTXt"]))
                     for _ in range(rng.randrange(1, 5))]  # fmt: skip
            yield "random text", png_with(*texts, base=base)
        elif kind == 1:
            text = json.dumps(random_json(rng))
            yield "random JSON", png_with(text_chunk(rng.choice(KEYS), text), base=base)
        elif kind == 2:
            body = rng.randbytes(rng.randrange(100))
            lying = struct.pack(">I", rng.randrange(2**32)) + b"tEXt" + body
            yield (
                "lying length",
                png_with(text_chunk("parameters", "a\nSteps: 1"), lying, base=base),
            )
        elif kind == 3:
            yield "zTXt bomb", png_with(bomb, base=base)
        elif kind == 4:
            yield "truncation", whole[: rng.randrange(len(whole))]
        else:
            block = rng.randbytes(rng.randrange(400))
            if rng.random() < 0.5:
                block = tiff({0x010E: (2, block + b"\x00")})
            yield "random EXIF", (b"\xff\xd8\xff\xe1" + struct.pack(">H", len(block) + 8)
                                  + b"Exif\x00\x00" + block)  # fmt: skip
    for folder in ("hostile/images-pillow", "hostile/png-corrupt", "metadata"):
        for path in sorted((CORPUS / folder).rglob("*")) if (CORPUS / folder).is_dir() else []:
            if path.is_file() and path.stat().st_size < 64 << 20:
                yield f"corpus {folder}", path.read_bytes()


def read_timed(data: bytes) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        read_image_settings(data)
        outcome = "ok"
    except UserError:
        outcome = "one sentence"
    return time.perf_counter() - started, outcome


def restored_over_present() -> tuple[int, int] | None:
    expected = CORPUS / "metadata" / "expected.json"
    if not expected.is_file():
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.core.image_settings.test_corpus import _check

    present = restored = 0
    for name, want in json.loads(expected.read_text()).items():
        found = read_image_settings((CORPUS / name).read_bytes())
        wants = want["samplers"][0] if "samplers" in want else want
        names = ("prompt", "negative_prompt", "steps", "sampler", "sampler_name", "cfg", "seed",
                 "noise_seed", "size", "latent_size", "model", "model_hash")  # fmt: skip
        keys = [k for k in names if wants.get(k) not in (None, "")]
        present += len(keys)
        if found is not None:
            restored += len(keys) - len(_check(found.settings, found, {k: wants[k] for k in keys}))
    return restored, present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    times: list[float] = []
    slowest = (0.0, "")
    outcomes: dict[str, int] = {}
    for name, data in cases(args.cases, rng):
        seconds, outcome = read_timed(data)
        times.append(seconds)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        slowest = max(slowest, (seconds, name))
    print(f"{len(times)} reads: median {statistics.median(times) * 1000:.2f} ms, slowest "
          f"{slowest[0] * 1000:.1f} ms ({slowest[1]}); outcomes {outcomes}")  # fmt: skip
    ratio = restored_over_present()
    if ratio is None:
        print("fields restored / present: ../shared/corpus is not here")
    else:
        print(f"fields restored / present over the corpus: {ratio[0]}/{ratio[1]}")


if __name__ == "__main__":
    main()
