"""Repair under random damage: copies of one project (30 pictures and a document with history)
get a flipped byte, a cut at a random length, a page of zeros, or twenty random bytes, and
``repair_project`` runs on each.

Prints how many copies were repaired, refused with a sentence, or had nothing to repair; how
many assets the repaired projects kept (every one must be byte for byte what was made, or a
recovered copy of such content); and any failure: a repaired project failing its full check, a
changed source file, or an exception that is not a sentence.

    .venv/bin/python bench/bench_repair.py [--copies 300] [--seed N]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import random
import shutil
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.core.project import ProjectOpenError, ProjectStore
from studio.core.project.repair import repair_project
from studio.plugin_api.kinds import AssetKind
from tests.qt.asset_samples import add


def original_project(folder: Path) -> tuple[Path, dict[str, bytes]]:
    from PIL import Image

    path = folder / "Original.studio"
    with ProjectStore.create(path) as store:
        for index in range(30):
            buffer = io.BytesIO()
            Image.effect_noise((64, 64), 40 + index).convert("RGB").save(buffer, "PNG")
            add(store, AssetKind.IMAGE, buffer.getvalue(), f"noise {index}")
        document = store.create_document("Chapter one")
        for number in range(1, 6):
            store.save_document(document.asset.id, "Chapter one\n" + "words " * 40 * number)
        made = {a.id: store.read_blob(a.id) for a in store.list_assets()}
    return path, made


def damaged(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    copy = bytearray(data)
    how = rng.choice(["flip", "cut", "zero page", "twenty bytes"])
    if how == "flip":
        copy[rng.randrange(100, len(copy))] ^= rng.randrange(1, 256)
    elif how == "cut":
        copy = copy[: rng.randrange(100, len(copy))]
    elif how == "zero page":
        page = rng.randrange(1, len(copy) // 4096)
        copy[page * 4096 : (page + 1) * 4096] = bytes(4096)
    else:
        for _ in range(20):
            copy[rng.randrange(100, len(copy))] = rng.randrange(256)
    return how, bytes(copy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = random.randrange(1 << 30) if args.seed is None else args.seed
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="bench-repair-"))
    source, made = original_project(folder)
    data = source.read_bytes()
    outcome: Counter = Counter()
    kept = recovered = 0
    failures: list[str] = []
    for number in range(args.copies):
        work = folder / f"copy-{number}"
        work.mkdir()
        how, content = damaged(data, rng)
        path = work / "P.studio"
        path.write_bytes(content)
        try:
            report = repair_project(path)
        except ProjectOpenError as exc:
            outcome["refused with a sentence"] += 1
            print(f"{how}: {exc}")
        except Exception:
            failures.append(f"copy {number} ({how}): {traceback.format_exc(limit=3)}")
        else:
            if report.target is None:
                outcome["nothing to repair"] += 1
            else:
                outcome["repaired"] += 1
                with ProjectStore.open(report.target) as store:
                    if not store.integrity_check().ok:
                        failures.append(f"copy {number} ({how}): repaired file fails its check")
                    for asset in store.list_assets(deleted=None):
                        content_now = store.read_blob(asset.id)
                        if made.get(asset.id, content_now) != content_now or (
                            asset.id not in made and content_now not in made.values()
                        ):
                            failures.append(f"copy {number} ({how}): {asset.id} is not as made")
                        kept += asset.id in made
                        recovered += asset.id not in made
        if hashlib.sha256(path.read_bytes()).digest() != hashlib.sha256(content).digest():
            failures.append(f"copy {number} ({how}): the damaged file was changed")
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    print(f"seed {seed}, {args.copies} damaged copies of a project of {len(made)} assets")
    print(", ".join(f"{name} {count}" for name, count in sorted(outcome.items())))
    print(f"assets kept exactly as made {kept}, recovered content {recovered}")
    print(f"failures {len(failures)}")
    for failure in failures[:10]:
        print("  ", failure)
    shutil.rmtree(folder, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
