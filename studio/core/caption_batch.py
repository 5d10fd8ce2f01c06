"""Captioning many images: a folder, a list of files or project assets, one job per image.

Used alike by the Captioning panel (a batch on the panel's own job queue) and ``studio generate
caption`` with a folder. Each image is its own job through the job pipeline
(:mod:`studio.core.pipeline`), so:

- every caption has a recipe that names exactly the image it describes (lineage), and can be
  re-run alone;
- the model is loaded once (the model cache keeps it between jobs);
- a cancel stops the image in progress without keeping anything of it, and keeps every caption
  finished before; nothing is half-written (sidecar files are written whole and renamed into
  place).

A file is checked completely before it is captioned (the project's own import checks: empty,
truncated, not an image, a decompression bomb...); a file that fails is skipped with a message
naming it and the batch goes on. The image is imported into the project together with its
caption, in one transaction, so a skipped or cancelled image leaves nothing behind; a picture
already in the project (the same content) is linked, not imported again.

Folders are listed lazily (:func:`iter_image_files`): names only, no image is opened before its
turn, so a folder of 10,000 files starts at once.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import UserError
from studio.core.executor import Executor
from studio.core.jobs import JobCancelled, JobEvent, JobOutcome, readable_error
from studio.core.media.importing import ImportRefusedError
from studio.core.pipeline import (
    CommittedResult,
    Draft,
    InputRefused,
    JobPipeline,
    PreparedJob,
    ResultListener,
    ResultSink,
    execute_prepared,
    run_source,
)
from studio.core.project.store import ProjectStore
from studio.core.recipe import RecipeInput, utc_now
from studio.plugin_api import AssetKind, Cancelled, CancelToken, Panel
from studio.plugin_api.titles import shorten

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp",
                            ".tif", ".tiff"})  # fmt: skip
"""File name endings a folder listing picks up (the content is still checked)."""

DEFAULT_SIDECAR_EXTENSION = ".txt"


class SidecarMode(enum.StrEnum):
    """What to do when a sidecar file already exists next to an image."""

    OVERWRITE = "overwrite"
    APPEND = "append"
    SKIP = "skip"


@dataclass(frozen=True)
class SidecarSettings:
    """Where captions go as text files: ``photo.png`` gets ``photo.txt`` (``extension``)."""

    extension: str = DEFAULT_SIDECAR_EXTENSION
    mode: SidecarMode = SidecarMode.OVERWRITE

    def __post_init__(self) -> None:
        object.__setattr__(self, "extension", normalise_extension(self.extension))
        object.__setattr__(self, "mode", SidecarMode(self.mode))


def normalise_extension(text: str) -> str:
    """``"txt"`` or ``".txt"`` → ``".txt"``; refuses empty, path-like or image extensions."""
    ext = text.strip()
    if ext and not ext.startswith("."):
        ext = "." + ext
    if len(ext) < 2 or any(c in ext for c in "/\\\0") or ext in (".", ".."):
        raise UserError(f"'{text}' is not a usable sidecar extension (such as .txt or .caption).")
    if ext.lower() in IMAGE_SUFFIXES:
        raise UserError(
            f"The sidecar extension {ext} is an image extension: it would overwrite images."
        )
    return ext


def sidecar_path(image: Path, extension: str = DEFAULT_SIDECAR_EXTENSION) -> Path:
    return image.with_suffix(normalise_extension(extension))


def write_sidecar(image: Path, text: str, settings: SidecarSettings) -> tuple[Path, str]:
    """Write ``text`` next to ``image``; returns (path, what happened: written / appended /
    skipped). The file is replaced whole (a temporary file renamed into place), never left
    half-written."""
    target = sidecar_path(image, settings.extension)
    existing = None
    if target.exists():
        if settings.mode is SidecarMode.SKIP:
            return target, "skipped"
        if settings.mode is SidecarMode.APPEND:
            existing = target.read_text(encoding="utf-8", errors="replace")
    content = text
    if existing:
        content = existing + ("" if existing.endswith("\n") else "\n") + text
    if not content.endswith("\n"):
        content += "\n"
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(content)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target, "appended" if existing else "written"


def iter_image_files(folder: Path, *, recursive: bool = False) -> Iterator[Path]:
    """Image files in ``folder`` by name order (sub-folders after the files, if ``recursive``).

    Reads names only; hidden files and sidecars are left out. Raises :class:`UserError` if the
    folder cannot be read.
    """
    folder = Path(folder)
    try:
        with os.scandir(folder) as entries:
            files, folders = [], []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_file():
                        if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                            files.append(entry.name)
                    elif recursive and entry.is_dir(follow_symlinks=False):
                        folders.append(entry.name)
                except OSError:
                    continue
    except OSError as exc:
        raise UserError(f"The folder {folder} cannot be read ({exc.strerror or exc}).") from None
    for name in sorted(files, key=str.casefold):
        yield folder / name
    for name in sorted(folders, key=str.casefold):
        yield from iter_image_files(folder / name, recursive=True)


@dataclass(frozen=True)
class BatchItem:
    """One image of a batch: a file, or a project asset (``asset_id``)."""

    index: int
    path: Path | None = None
    asset_id: str | None = None
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or (self.path.name if self.path else self.asset_id or "?")


class ItemStatus(enum.StrEnum):
    DONE = "done"
    SKIPPED = "skipped"  # the file is not a readable image; the message says why
    FAILED = "failed"  # the model failed on it
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ItemOutcome:
    """What happened to one image."""

    item: BatchItem
    status: ItemStatus
    caption: str = ""
    asset_id: str | None = None
    image_asset_id: str | None = None
    message: str = ""
    sidecar: Path | None = None
    seconds: float = 0.0


@dataclass
class BatchSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    cancelled: bool = False
    stopped_by: str = ""  # a problem that stopped the whole batch (no model, bad options)
    outcomes: list[ItemOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class BatchSettings:
    """How to run a batch: the job's plugin and options, and where captions go."""

    plugin_id: str
    load_options: Mapping[str, Any] = field(default_factory=dict)
    run_options: Mapping[str, Any] = field(default_factory=dict)
    question: str = ""
    device: str = "auto"
    store_assets: bool = True
    sidecar: SidecarSettings | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.store_assets and self.sidecar is None:
            raise UserError("Choose where the captions go: the project, sidecar files, or both.")


class CaptionBatch:
    """A batch of images to caption: a :class:`~studio.core.pipeline.JobSource`, one job per
    image through the job pipeline, captions kept as they finish.

    Args:
        pipeline: the job pipeline (checks and prepares each image's job).
        store: the project (needed when ``settings.store_assets`` or for asset items).
        settings: plugin, options, question and where captions go.
        items: the images (a lazy iterator is fine: a folder is listed as it goes).
        on_outcome: told what happened to each image (on the thread that runs the batch).
        on_item_started: told each item as its job starts.
        listeners: told of every committed caption (the window announces new assets).
    """

    def __init__(
        self,
        pipeline: JobPipeline,
        store: ProjectStore | None,
        settings: BatchSettings,
        items: Iterable[BatchItem],
        *,
        on_outcome: Callable[[ItemOutcome], None] = lambda outcome: None,
        on_item_started: Callable[[BatchItem], None] = lambda item: None,
        listeners: Sequence[ResultListener] = (),
    ) -> None:
        if store is None and settings.store_assets:
            raise UserError("Open a project to keep the captions in.")
        self.pipeline = pipeline
        self.store = store
        self.settings = settings
        self.summary = BatchSummary()
        self._items = iter(items)
        self._on_outcome = on_outcome
        self._on_item_started = on_item_started
        self._listeners = list(listeners)
        self._current: dict[str, _Current] = {}
        self._succeeded = False
        self._last_failure = ""

    def draft(self, item: BatchItem | None = None) -> Draft:
        """The job of one image (without one: the batch's settings alone)."""
        s = self.settings
        files: tuple[tuple[str, Path], ...] = ()
        assets: tuple[RecipeInput, ...] = ()
        if item is not None and item.asset_id is not None:
            assets = (RecipeInput(asset_id=item.asset_id, role="image"),)
        elif item is not None and item.path is not None:
            files = (("image", item.path),)
        return Draft(
            plugin_id=s.plugin_id,
            panel=Panel.CAPTIONING,
            fields={"question": s.question},
            load_options=s.load_options,
            run_options=s.run_options,
            device=s.device,
            files=files,
            assets=assets,
            details=s.details,
        )

    def check(self) -> None:
        """Refuse a bad plugin or bad options before anything is read or written."""
        self.pipeline.check(self.draft(), require_inputs=False)

    # the JobSource protocol ----------------------------------------------------------------

    def next_job(self, cancel: CancelToken) -> tuple[PreparedJob, ResultSink] | None:
        """The next image's job; images that cannot be captioned are skipped (reported)."""
        if cancel.cancelled:
            self.summary.cancelled = True
            return None
        for item in self._items:
            if cancel.cancelled:
                break
            started_at = time.perf_counter()
            try:
                # Checked completely here, on the batch's thread: a file that is not a
                # readable image is skipped with the reason, before its job starts.
                prepared = self.pipeline.run_ready(self.draft(item), self.store, complete=True)
            except UserError as exc:
                reasons = exc.reasons if isinstance(exc, ImportRefusedError) else ()
                message = "; ".join(f"{name} skipped: {why}." for name, why in reasons)
                self._report(self._skip(item, message or str(exc), started_at))
                continue
            current = _Current(item, started_at)
            keep = self.settings.store_assets or item.asset_id is not None
            sink = prepared.sink(
                self.store if keep else None, [*self._listeners, current.committed]
            )
            if self.settings.sidecar is not None and item.path is not None:
                sink.add_listener(current.write_sidecar(self.settings.sidecar))
            self._current[prepared.job_id] = current
            self._on_item_started(item)
            return prepared, sink
        if cancel.cancelled:
            self.summary.cancelled = True
        return None

    def job_ended(
        self, prepared: PreparedJob, outcome: JobOutcome | None, error: BaseException | None
    ) -> bool:
        current = self._current.pop(prepared.job_id)
        item = current.item
        seconds = time.perf_counter() - current.started_at
        if error is None:
            self._succeeded = True
            note = f"sidecar {current.sidecar_note}" if current.sidecar_note else ""
            self._report(
                ItemOutcome(
                    item=item,
                    status=ItemStatus.DONE,
                    caption=current.caption,
                    asset_id=current.asset_id,
                    image_asset_id=current.image_asset_id,
                    sidecar=current.sidecar,
                    message=note,
                    seconds=seconds,
                )
            )
            return True
        if isinstance(error, JobCancelled | Cancelled):
            self._report(ItemOutcome(item=item, status=ItemStatus.CANCELLED))
            self.summary.cancelled = True
            return False
        # A problem a person must fix first (no model, a consent, bad options) would fail
        # every image alike: it stops the batch. So does the same failure twice in a row
        # before any image succeeded (a model folder that does not load).
        reason = readable_error(error)
        fatal = (isinstance(error, UserError) and not isinstance(error, InputRefused)) or (
            isinstance(error, MemoryError) or (not self._succeeded and reason == self._last_failure)
        )
        self._last_failure = reason
        if not isinstance(error, UserError):
            log.warning("captioning %s failed: %s", item.label, error)
        message = reason if item.label in reason else f"{item.label}: {reason}"
        self._report(
            ItemOutcome(item=item, status=ItemStatus.FAILED, message=message, seconds=seconds)
        )
        if fatal:
            self.summary.stopped_by = message
        return not fatal

    # the command line's way: the batch alone, to its end ------------------------------------

    def run(
        self,
        executor: Executor,
        cancel: CancelToken,
        on_event: Callable[[JobEvent], None] = lambda event: None,
    ) -> BatchSummary:
        """Caption every image in turn on ``executor`` until done, stopped or cancelled."""
        self.check()
        run_source(
            self,
            lambda prepared, sink: execute_prepared(executor, prepared, sink, cancel, on_event),
            cancel,
        )
        if cancel.cancelled:
            self.summary.cancelled = True
        return self.summary

    def _report(self, outcome: ItemOutcome) -> None:
        self.summary.outcomes.append(outcome)
        if outcome.status is ItemStatus.DONE:
            self.summary.done += 1
        elif outcome.status is ItemStatus.SKIPPED:
            self.summary.skipped += 1
        elif outcome.status is ItemStatus.FAILED:
            self.summary.failed += 1
        self._on_outcome(outcome)

    @staticmethod
    def _skip(item: BatchItem, message: str, started_at: float) -> ItemOutcome:
        return ItemOutcome(
            item=item,
            status=ItemStatus.SKIPPED,
            message=message,
            seconds=time.perf_counter() - started_at,
        )


class _Current:
    """What the sink of one image's job found: the caption, its asset, the image's asset, the
    sidecar written (listeners, called on the job's thread)."""

    def __init__(self, item: BatchItem, started_at: float) -> None:
        self.item = item
        self.started_at = started_at
        self.caption = ""
        self.asset_id: str | None = None
        self.image_asset_id: str | None = item.asset_id
        self.sidecar: Path | None = None
        self.sidecar_note = ""

    def committed(self, committed: CommittedResult) -> None:
        self.caption = committed.produced.asset.data.decode("utf-8", errors="replace")
        self.asset_id = committed.asset_id
        image = committed.produced.job.request.input("image")
        if image is not None and image.asset_id:
            self.image_asset_id = image.asset_id

    def write_sidecar(self, settings: SidecarSettings) -> ResultListener:
        def write(committed: CommittedResult) -> None:
            assert self.item.path is not None
            text = committed.produced.asset.data.decode("utf-8", errors="replace")
            self.sidecar, self.sidecar_note = write_sidecar(self.item.path, text, settings)

        return write


def items_from_paths(paths: Iterable[Path], *, recursive: bool = False) -> Iterator[BatchItem]:
    """Batch items from files and folders (folders listed lazily), numbered from 0."""
    index = 0
    for path in paths:
        path = Path(path)
        files = iter_image_files(path, recursive=recursive) if path.is_dir() else iter((path,))
        for file in files:
            yield BatchItem(index=index, path=file)
            index += 1


def items_from_assets(asset_ids: Iterable[str]) -> Iterator[BatchItem]:
    for index, asset_id in enumerate(asset_ids):
        yield BatchItem(index=index, asset_id=asset_id)


def save_edited_caption(store: ProjectStore, caption_id: str, text: str) -> str:
    """Keep a caption edited by hand as a new caption asset; returns its id.

    The new asset links to the same image and keeps the recipe of the caption it was edited
    from (re-running it makes the model's caption again), with ``edited_from`` in its details.
    """
    original = store.get_asset(caption_id)
    if original.kind is not AssetKind.CAPTION:
        raise UserError("Only captions can be edited here.")
    recipe = dataclasses.replace(
        original.recipe,
        details={**original.recipe.details, "edited_from": caption_id, "edited_by_hand": True},
        created_at=utc_now(),
    )
    stored = store.add_asset(
        kind=AssetKind.CAPTION,
        data=text.encode("utf-8"),
        media_type="text/plain",
        recipe=recipe,
        title=shorten(text) or original.title,
    )
    return stored.id
