"""Project store: add 10,000 assets with ~1 KB blobs, then open the project again.

Prints the time to add one asset (each committed on its own, as the panels do: p50, p95, max),
the time to open the project and show the newest page, a search, the full integrity check, and
the file size against the sum of the blobs.

    .venv/bin/python bench/bench_project_store.py [--assets 10000] [--blob-bytes 1024] [--dir D]

Goals (docs/project-file.md): p95 add < 20 ms, open < 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from studio.core.project import ProjectStore
from studio.core.recipe import Recipe, RecipeInput
from studio.plugin_api.kinds import AssetKind, Panel

KINDS = [
    (AssetKind.TEXT, "text/plain", Panel.WRITING),
    (AssetKind.IMAGE, "image/png", Panel.IMAGE),
    (AssetKind.AUDIO, "audio/flac", Panel.VOICE),
    (AssetKind.CAPTION, "text/plain", Panel.CAPTIONING),
]


def blob(kind: AssetKind, size: int) -> bytes:
    raw = os.urandom(size)
    # Text must be UTF-8: hex of random bytes is as incompressible as text gets.
    return raw.hex()[:size].encode() if kind in (AssetKind.TEXT, AssetKind.CAPTION) else raw


def recipe(index: int, panel: Panel, previous: str | None) -> Recipe:
    return Recipe(
        panel=panel,
        plugin_id=f"bench-{panel}",
        plugin_version="1.0.0",
        model_id="org/some-model",
        model_sha256="ab" * 32,
        model_licence="apache-2.0",
        load_options={"dtype": "float16", "device": "cuda"},
        run_options={"steps": 20, "guidance_scale": 7.0, "width": 512, "height": 512},
        request={"prompt": f"prompt number {index}: a fox in the snow", "negative_prompt": ""},
        seed=index,
        inputs=(RecipeInput(asset_id=previous, role="init"),) if previous else (),
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--blob-bytes", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the project")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "bench.studio"
        store = ProjectStore.create(path)
        timings: list[float] = []
        blob_bytes = 0
        previous = None
        started = time.perf_counter()
        for index in range(args.assets):
            kind, media_type, panel = KINDS[index % len(KINDS)]
            data = blob(kind, args.blob_bytes)
            blob_bytes += len(data)
            link = previous if index % 10 == 0 else None  # some lineage
            made = recipe(index, panel, link)
            begin = time.perf_counter()
            asset = store.add_asset(kind=kind, data=data, media_type=media_type, recipe=made)
            timings.append(time.perf_counter() - begin)
            previous = asset.id
        total_add = time.perf_counter() - started
        begin = time.perf_counter()
        store.close()
        close_s = time.perf_counter() - begin

        begin = time.perf_counter()
        store = ProjectStore.open(path, background_check=False)
        count = store.count_assets()
        newest = store.list_assets(limit=100)
        open_s = time.perf_counter() - begin
        begin = time.perf_counter()
        found = store.list_assets(search="number 9999")
        search_s = time.perf_counter() - begin
        begin = time.perf_counter()
        everything = store.list_assets()
        list_all_s = time.perf_counter() - begin
        begin = time.perf_counter()
        report = store.integrity_check()
        check_s = time.perf_counter() - begin
        store.close()
        file_bytes = path.stat().st_size
        leftovers = sorted(p.name for p in Path(folder).iterdir() if p.name != path.name)

    ms = [t * 1000 for t in timings]
    print(f"assets added:          {len(ms)} x {args.blob_bytes} B blobs, each its own commit")
    print(
        f"add one asset:         p50 {statistics.median(ms):.2f} ms, "
        f"p95 {percentile(ms, 0.95):.2f} ms, max {max(ms):.2f} ms (goal p95 < 20 ms)"
    )
    print(f"add all:               {total_add:.2f} s ({len(ms) / total_add:.0f} assets/s)")
    print(
        f"close:                 {close_s * 1000:.1f} ms; files left besides the project: "
        f"{leftovers or 'none'}"
    )
    print(
        f"open + count + newest 100: {open_s * 1000:.1f} ms (goal < 1000 ms); count {count}, "
        f"page {len(newest)}"
    )
    print(f"search 'number 9999':  {search_s * 1000:.1f} ms ({len(found)} found)")
    print(f"list all {len(everything)}:        {list_all_s * 1000:.1f} ms")
    print(f"full integrity check:  {check_s * 1000:.1f} ms ({report.summary})")
    print(
        f"file size:             {file_bytes / 1e6:.2f} MB for {blob_bytes / 1e6:.2f} MB of "
        f"blobs ({file_bytes / blob_bytes:.2f}x; recipes, indexes and pages add the rest)"
    )


if __name__ == "__main__":
    main()
