"""Captioning many images: a folder, a list of files or project assets, one job per image.

Used alike by the Captioning panel (on a worker thread) and ``studio generate caption`` with a
folder. Each image is its own :class:`~studio.core.jobs.Job` on the shared executor, so:

- every caption has a recipe that names exactly the image it describes (lineage), and can be
  re-run alone;
- the model is loaded once (the model cache keeps it between jobs);
- a cancel stops the image in progress without keeping anything of it, and keeps every caption
  finished before; nothing is half-written (sidecar files are written whole and renamed into
  place).

A file is checked completely before it is captioned (the project's own import checks: empty,
truncated, not an image, a decompression bomb...); a file that fails is skipped with a message
naming it and the batch goes on. The image is imported into the project together with its
caption, when the caption is committed, so a skipped or cancelled image leaves nothing behind;
a picture already in the project (the same content) is linked, not imported again.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import UserError
from studio.core.generation import StoreSink, asset_inputs
from studio.core.hashing import sha256_bytes
from studio.core.jobs import Job, JobCancelled, JobEvent, ProducedAsset, readable_error
from studio.core.media.importing import ImportRefusedError, MediaFile, read_media_file
from studio.core.project.store import ProjectStore
from studio.core.recipe import RecipeInput, utc_now
from studio.plugin_api import AssetKind, Cancelled, CancelToken, CaptionRequest, InputMedia, Panel

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


class _ItemSink:
    """Commits one image's caption: imports the image (if it came from a file), commits the
    caption with the image as lineage, and writes the sidecar; returns the caption's id."""

    def __init__(
        self,
        store: ProjectStore | None,
        settings: BatchSettings,
        media: MediaFile | None,
        commit: Callable[[ProducedAsset], str] | None,
        on_image_added: Callable[[str], None],
    ) -> None:
        self.store = store
        self.settings = settings
        self.media = media
        self.commit = commit
        self.on_image_added = on_image_added
        self.caption = ""
        self.asset_id: str | None = None
        self.image_asset_id: str | None = None
        self.sidecar: Path | None = None
        self.sidecar_note = ""

    def __call__(self, produced: ProducedAsset) -> str:
        asset = produced.asset
        self.caption = asset.data.decode("utf-8", errors="replace")
        image = produced.job.request.input("image")
        # A project image's caption always goes into the project (it has nowhere else to go).
        keep = self.settings.store_assets or (image is not None and image.asset_id is not None)
        if keep and self.store is not None and self.commit is not None:
            if image is not None and image.asset_id is None and self.media is not None:
                # A picture already in the project (captioned before, say) is that asset.
                stored = self.store.find_by_content(sha256_bytes(self.media.data), self.media.kind)
                if stored is None:
                    stored = self.store.add_asset(
                        kind=self.media.kind,
                        data=self.media.data,
                        media_type=self.media.media_type,
                        recipe=self.media.recipe(),
                        title=self.media.title,
                    )
                    self.on_image_added(stored.id)
                self.image_asset_id = stored.id
                image = dataclasses.replace(image, asset_id=stored.id)
                request = dataclasses.replace(produced.job.request, inputs=(image,))
                produced = dataclasses.replace(
                    produced, job=dataclasses.replace(produced.job, request=request)
                )
            elif image is not None:
                self.image_asset_id = image.asset_id
            self.asset_id = self.commit(produced)
        if self.settings.sidecar is not None and image is not None and self.media is not None:
            self.sidecar, self.sidecar_note = write_sidecar(
                self.media.path, self.caption, self.settings.sidecar
            )
        return self.asset_id or ""


class CaptionBatch:
    """Runs a batch: one job per image on ``executor``, captions committed as they finish.

    Args:
        executor: a :class:`~studio.core.jobs.JobExecutor` (or the process-hosted one).
        store: the project (needed when ``settings.store_assets`` or for asset items).
        settings: plugin, options, question and where captions go.
        commit: commits a caption asset (default: a :class:`StoreSink` on ``store``; the window
            passes its session's sink so the asset browser hears of it).
        on_image_added: told the id of each image imported into the project.
    """

    def __init__(
        self,
        executor: Any,
        store: ProjectStore | None,
        settings: BatchSettings,
        *,
        commit: Callable[[ProducedAsset], str] | None = None,
        on_image_added: Callable[[str], None] = lambda asset_id: None,
    ) -> None:
        self.executor = executor
        self.store = store
        self.settings = settings
        if store is None and settings.store_assets:
            raise UserError("Open a project to keep the captions in.")
        self.commit = commit or (StoreSink(store, settings.details) if store is not None else None)
        self.on_image_added = on_image_added
        self._succeeded = False
        self._last_failure = ""

    def job_for(self, inputs: tuple[InputMedia, ...]) -> Job:
        s = self.settings
        return Job(
            plugin_id=s.plugin_id,
            panel=Panel.CAPTIONING,
            request=CaptionRequest(question=s.question, inputs=inputs),
            load_options=dict(s.load_options),
            run_options=dict(s.run_options),
            device=s.device,
        )

    def check(self) -> None:
        """Refuse a bad plugin or bad options before anything is read or written."""
        self.executor.prepare(self.job_for(()))

    def run(
        self,
        items: Iterable[BatchItem],
        cancel: CancelToken,
        on_outcome: Callable[[ItemOutcome], None] = lambda outcome: None,
        on_event: Callable[[BatchItem, JobEvent], None] = lambda item, event: None,
    ) -> BatchSummary:
        """Caption every item in turn until done or cancelled; returns what happened."""
        summary = BatchSummary()
        self.check()
        for item in items:
            if cancel.cancelled:
                summary.cancelled = True
                break
            outcome, fatal = self._one(item, cancel, on_event)
            summary.outcomes.append(outcome)
            if outcome.status is ItemStatus.DONE:
                summary.done += 1
            elif outcome.status is ItemStatus.SKIPPED:
                summary.skipped += 1
            elif outcome.status is ItemStatus.FAILED:
                summary.failed += 1
            on_outcome(outcome)
            if outcome.status is ItemStatus.CANCELLED:
                summary.cancelled = True
                break
            if fatal:
                summary.stopped_by = outcome.message
                break
        return summary

    def _one(
        self,
        item: BatchItem,
        cancel: CancelToken,
        on_event: Callable[[BatchItem, JobEvent], None],
    ) -> tuple[ItemOutcome, bool]:
        started_at = time.perf_counter()
        media: MediaFile | None = None
        temp: tempfile.TemporaryDirectory[str] | None = None
        try:
            if item.asset_id is not None:
                if self.store is None:
                    raise UserError("Open the project that holds the image.")
                temp = tempfile.TemporaryDirectory(prefix="studio-caption-")
                inputs = asset_inputs(
                    self.store, [RecipeInput(asset_id=item.asset_id, role="image")], Path(temp.name)
                )
                if inputs[0].kind is not AssetKind.IMAGE:
                    return self._skip(item, f"{item.label} is not an image.", started_at), False
            else:
                assert item.path is not None
                try:
                    media = read_media_file(item.path)
                except ImportRefusedError as exc:
                    reasons = "; ".join(f"{name} skipped: {why}." for name, why in exc.reasons)
                    return self._skip(item, reasons or str(exc), started_at), False
                if media.kind is not AssetKind.IMAGE:
                    return self._skip(item, f"{item.label} is not an image.", started_at), False
                inputs = (
                    InputMedia(
                        role="image",
                        path=media.path,
                        kind=AssetKind.IMAGE,
                        media_type=media.media_type,
                    ),
                )
            sink = _ItemSink(self.store, self.settings, media, self.commit, self.on_image_added)

            def forward(event: JobEvent) -> None:
                on_event(item, event)

            try:
                self.executor.execute(self.job_for(inputs), cancel, forward, sink)
            except (JobCancelled, Cancelled):
                return ItemOutcome(item=item, status=ItemStatus.CANCELLED), False
            except Exception as exc:
                # A problem a person must fix first (no model, a consent, bad options) would
                # fail every image alike: it stops the batch. So does the same failure twice
                # in a row before any image succeeded (a model folder that does not load).
                reason = readable_error(exc)
                fatal = isinstance(exc, UserError | MemoryError) or (
                    not self._succeeded and reason == self._last_failure
                )
                self._last_failure = reason
                if not isinstance(exc, UserError):
                    log.warning("captioning %s failed: %s", item.label, exc)
                message = reason if item.label in reason else f"{item.label}: {reason}"
                return (
                    ItemOutcome(
                        item=item,
                        status=ItemStatus.FAILED,
                        message=message,
                        seconds=time.perf_counter() - started_at,
                    ),
                    fatal,
                )
            self._succeeded = True
            note = f"sidecar {sink.sidecar_note}" if sink.sidecar_note else ""
            return (
                ItemOutcome(
                    item=item,
                    status=ItemStatus.DONE,
                    caption=sink.caption,
                    asset_id=sink.asset_id,
                    image_asset_id=sink.image_asset_id,
                    sidecar=sink.sidecar,
                    message=note,
                    seconds=time.perf_counter() - started_at,
                ),
                False,
            )
        finally:
            if temp is not None:
                temp.cleanup()

    @staticmethod
    def _skip(item: BatchItem, message: str, started_at: float) -> ItemOutcome:
        return ItemOutcome(
            item=item,
            status=ItemStatus.SKIPPED,
            message=message,
            seconds=time.perf_counter() - started_at,
        )


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
        title=" ".join(text.split())[:60] or original.title,
    )
    return stored.id
