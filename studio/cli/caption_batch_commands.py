"""The batch form of ``studio generate caption``: every image of a folder (or several files).

``studio generate caption --project P.studio --plugin ID --input-dir photos/`` (or ``--input``
naming a folder, or several ``--input`` files) captions each image as its own job on the
panels' code path (:mod:`studio.core.caption_batch`): one caption asset per image, linked to
its image; unreadable files are skipped and listed; Ctrl+C stops after keeping what was done.
``--sidecar .txt`` also writes ``photo.txt`` next to ``photo.png`` (``--sidecar-mode``
overwrite, append or skip); ``--no-store`` writes only the sidecars. ``--quiet`` leaves out the
line of each image captioned (skipped and failed files and the summary are still printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from studio.cli.model_process import job_executor
from studio.core.caption_batch import (
    BatchSettings,
    CaptionBatch,
    ItemOutcome,
    ItemStatus,
    SidecarMode,
    SidecarSettings,
    items_from_paths,
    iter_image_files,
)
from studio.core.errors import UserError
from studio.core.project.store import ProjectStore
from studio.plugin_api import CancelToken, Panel

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


def add_batch_arguments(generate: argparse.ArgumentParser) -> None:
    """The batch options of ``studio generate`` (used with ``caption``)."""
    generate.add_argument(
        "--input-dir",
        dest="input_dirs",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="caption: every image in this folder, one caption asset per image",
    )
    generate.add_argument(
        "--recursive", action="store_true", help="caption: include images in sub-folders"
    )
    generate.add_argument(
        "--sidecar",
        metavar="EXT",
        help="caption: also write each caption next to its image (photo.png -> photo.EXT)",
    )
    generate.add_argument(
        "--sidecar-mode",
        choices=[m.value for m in SidecarMode],
        default=SidecarMode.OVERWRITE.value,
        help="caption: when the sidecar exists already (default: overwrite)",
    )
    generate.add_argument(
        "--no-store",
        action="store_true",
        help="caption: write only the sidecar files, nothing into the project",
    )


def wants_batch(args: argparse.Namespace) -> bool:
    """True for ``caption`` with a folder, several images, or any batch-only option."""
    if args.kind != "caption":
        if args.input_dirs or args.sidecar or args.no_store or args.recursive:
            raise UserError("--input-dir, --recursive, --sidecar and --no-store are for captions.")
        return False
    paths = [path for _, path in args.inputs]
    return bool(
        args.input_dirs
        or any(path.is_dir() for path in paths)
        or len(paths) > 1
        or args.sidecar
        or args.no_store
    )


def _print_outcome(outcome: ItemOutcome, done: int, started: float, quiet: bool) -> None:
    label = outcome.item.label
    if outcome.status is ItemStatus.DONE:
        if quiet:
            return
        rate = done / max(time.monotonic() - started, 1e-9)
        print(f"[{done}] {label}: {outcome.caption}  ({rate:.2f} images/s)", file=sys.stderr)
    elif outcome.status is not ItemStatus.CANCELLED:
        print(f"{outcome.status.value}: {outcome.message}", file=sys.stderr)


def run_batch(
    args: argparse.Namespace,
    services: Any,
    load: dict[str, Any],
    run: dict[str, Any],
    fields: dict[str, str],
) -> int:
    roles = {role for role, _ in args.inputs if role}
    if roles - {"image"}:
        raise UserError("A caption batch takes images only (--input FILE or --input-dir DIR).")
    paths = [path for _, path in args.inputs] + list(args.input_dirs)
    for path in paths:
        if not path.exists():
            raise UserError(f"The input {path} does not exist.")
        if path.is_dir() and next(iter_image_files(path, recursive=args.recursive), None) is None:
            where = " or its sub-folders" if args.recursive else ""
            raise UserError(f"The folder {path} has no images in it{where}; nothing to caption.")
    sidecar = (
        SidecarSettings(extension=args.sidecar, mode=SidecarMode(args.sidecar_mode))
        if args.sidecar
        else None
    )
    settings = BatchSettings(
        plugin_id=args.plugin,
        load_options=load,
        run_options=run,
        question=fields.get("question", ""),
        device=args.device or services.settings.device_for(Panel.CAPTIONING),
        store_assets=not args.no_store,
        sidecar=sidecar,
    )
    store = None if args.no_store else ProjectStore.open_or_create(args.project)
    executors = contextlib.ExitStack()
    try:
        executor = executors.enter_context(job_executor(services, "cli-captioning"))
        cancel = CancelToken()
        started = time.monotonic()
        done = 0

        def on_outcome(outcome: ItemOutcome) -> None:
            nonlocal done
            if outcome.status is ItemStatus.DONE:
                done += 1
            _print_outcome(outcome, done, started, args.quiet)

        batch = CaptionBatch(
            services.pipeline,
            store,
            settings,
            items_from_paths(paths, recursive=args.recursive),
            on_outcome=on_outcome,
        )
        batch.check()  # plugin and options refused before any image is read
        try:
            summary = batch.run(executor, cancel)
        except KeyboardInterrupt:
            cancel.cancel()
            print("studio: cancelled; finished captions were kept.", file=sys.stderr)
            return EXIT_CANCELLED
        seconds = time.monotonic() - started
        print(
            f"{summary.done} captioned, {summary.skipped} skipped, {summary.failed} failed "
            f"in {seconds:.1f} s",
            file=sys.stderr,
        )
        if args.json:
            data = {
                "assets": [],
                "skipped": [],
                "failed": [],
            }
            for outcome in summary.outcomes:
                if outcome.status is ItemStatus.DONE:
                    entry: dict[str, Any] = {
                        "file": str(outcome.item.path),
                        "caption": outcome.caption,
                        "sidecar": str(outcome.sidecar) if outcome.sidecar else None,
                    }
                    if store is not None and outcome.asset_id:
                        asset = store.get_asset(outcome.asset_id)
                        entry.update(
                            asset_id=asset.id,
                            kind=asset.kind.value,
                            image_asset_id=outcome.image_asset_id,
                            recipe=asset.recipe.to_json(),
                        )
                    data["assets"].append(entry)
                elif outcome.status in (ItemStatus.SKIPPED, ItemStatus.FAILED):
                    data[outcome.status.value].append(
                        {"file": str(outcome.item.path), "message": outcome.message}
                    )
            print(json.dumps(data, indent=2, ensure_ascii=False))
        if summary.stopped_by:
            raise UserError(summary.stopped_by)
        if summary.cancelled:
            return EXIT_CANCELLED
        return EXIT_OK if summary.done or not (summary.failed or summary.skipped) else EXIT_FAILED
    finally:
        executors.close()
        if store is not None:
            store.close()
