"""Importing files as assets: recognised by content, checked completely, then stored.

A file becomes an asset only after all of it was decoded (see
:mod:`studio.core.media.validation`); its extension must not contradict its content. One policy
for every way in (drops and File > Import, ``studio project import``, a job's input files):

- every file is checked completely before it is stored, and a refused file stores nothing;
  what is not a regular file (a folder, a named pipe, a device) is refused by what it is,
  without being opened;
- content the project holds already is that asset (never stored twice), so importing again is
  harmless, and a killed import leaves whole files only (transactions of
  :data:`CHUNK_BYTES`);
- a recipe found in the file (or in its sidecar) is kept in the import recipe's details, with
  the file's name; it is not treated as this project's lineage, because its input ids belong
  to the project it came from.

The window keeps the files that pass and lists the others (:func:`import_files`); the command
line refuses the whole list when one file fails (:func:`check_import` first); a job's inputs
are committed together with the job's first result (:mod:`studio.core.pipeline`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import UserError
from studio.core.hashing import sha256_bytes
from studio.core.media.a1111 import parse_parameters
from studio.core.media.detect import (
    MARKDOWN,
    TEXT,
    MediaFormat,
    format_for_extension,
    sniff_format,
    unsupported_format,
)
from studio.core.media.embedded_recipe import (
    SIDECAR_SUFFIX,
    EmbeddedRecipe,
    read_embedded,
    read_sidecar,
    sidecar_path,
)
from studio.core.media.validation import MediaError, check_audio, check_image, decode_text
from studio.core.project import Asset, ProjectStore
from studio.core.project.ids import new_asset_id
from studio.core.project.store import NewAsset
from studio.core.recipe import Recipe, RecipeError
from studio.plugin_api.images import file_problem
from studio.plugin_api.kinds import AssetKind

log = logging.getLogger(__name__)


class ImportRefusedError(UserError):
    """One or more files cannot be imported; nothing was stored.

    Attributes:
        reasons: (file name, reason) for every refused file.
    """

    def __init__(self, message: str, reasons: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.reasons = reasons


@dataclass(frozen=True, kw_only=True)
class MediaFile:
    """A file that passed every check, ready to become an asset.

    Attributes:
        path: where it was read from.
        format: its format, from its content.
        data: the content to store (text re-encoded as UTF-8).
        title: the title stored with it (an exported asset's), else the file name's stem.
        facts: what the checks found (size in pixels, sample rate, text encoding...).
        embedded: the recipe found in the file or its sidecar, if any.
    """

    path: Path
    format: MediaFormat
    data: bytes
    title: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    embedded: EmbeddedRecipe | None = None

    @property
    def kind(self) -> AssetKind:
        return self.format.kind

    @property
    def media_type(self) -> str:
        return self.format.media_type

    def recipe(self) -> Recipe:
        """The import recipe: the file name, the facts, and any recipe found with the file."""
        details: dict[str, Any] = {"file": dict(self.facts)}
        if self.embedded is not None:
            details["found_in"] = self.embedded.location.value
            if self.embedded.recipe is not None:
                details["embedded_recipe"] = self.embedded.recipe.to_json()
            if self.embedded.parameters:
                parsed = parse_parameters(self.embedded.parameters)
                details["a1111_parameters"] = self.embedded.parameters
                details["a1111"] = {
                    "prompt": parsed.prompt,
                    "negative_prompt": parsed.negative_prompt,
                    "settings": dict(parsed.settings),
                }
        return Recipe.for_import(self.path.name, details)


def read_media_file(path: Path, data: bytes | None = None) -> MediaFile:
    """Read and check one file completely; raises :class:`ImportRefusedError` if it cannot
    become an asset (the message names the file and the reason). ``data``: the file's bytes,
    when the caller has read them already."""
    path = Path(path)
    try:
        return _read(path, data)
    except (MediaError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ImportRefusedError(
            f"{path.name} cannot be imported: {reason}.", ((path.name, reason),)
        ) from exc


def _read(path: Path, data: bytes | None = None) -> MediaFile:
    problem = file_problem(path)  # a named pipe or a device is never opened
    if problem:
        raise MediaError(f"it {problem}")
    if path.name.endswith(SIDECAR_SUFFIX):
        raise MediaError("it is a recipe file, read together with the file it describes")
    if data is None:
        data = path.read_bytes()
    if not data:
        raise MediaError("it is empty")
    unsupported = unsupported_format(data, path)
    if unsupported:
        raise MediaError(f"it is {unsupported}, which Studio does not import")
    claimed = format_for_extension(path)
    fmt = sniff_format(data)
    facts: dict[str, Any] = {"name": path.name, "bytes": len(data)}
    if fmt is None:
        if claimed is not None and claimed.kind is not AssetKind.TEXT:
            raise MediaError(f"its name promises {_article(claimed.name)} but it is not one")
        text = decode_text(data)
        fmt = MARKDOWN if claimed is MARKDOWN else TEXT
        facts["encoding"] = text.encoding
        data = text.text.encode("utf-8")
    elif claimed is not None and claimed is not fmt:
        raise MediaError(
            f"its name promises {_article(claimed.name)} but it holds {_article(fmt.name)} "
            f"(rename it to {path.stem}{fmt.extension})"
        )
    elif fmt.kind is AssetKind.IMAGE:
        image = check_image(data, fmt)
        facts.update(width=image.width, height=image.height, mode=image.mode)
        if image.frames > 1:
            facts["frames"] = image.frames
    else:
        audio = check_audio(data, fmt)
        facts.update(
            sample_rate=audio.sample_rate,
            channels=audio.channels,
            frames=audio.frames,
            subtype=audio.subtype,
        )
    embedded = _embedded_recipe(path, data, fmt)
    title = embedded.title if embedded is not None and embedded.title else path.stem
    return MediaFile(path=path, format=fmt, data=data, title=title, facts=facts, embedded=embedded)


def _article(name: str) -> str:
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _embedded_recipe(path: Path, data: bytes, fmt: MediaFormat) -> EmbeddedRecipe | None:
    # A broken embedded recipe is no reason to refuse the media itself.
    try:
        return read_embedded(data, fmt) or read_sidecar(path)
    except RecipeError as exc:
        log.warning("%s: ignoring its recipe: %s", path, exc)
        return None


@dataclass(frozen=True)
class ImportPlan:
    """Files that passed every check: the media to import, and sidecars read along with them."""

    media: tuple[Path, ...]
    sidecars: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """What an import stored: the asset of every file, in order (a file whose content the
    project held already is that asset), which of them are new, the sidecar files read
    along with their media, and the files refused with the reason."""

    assets: tuple[Asset, ...]
    sidecars: tuple[Path, ...] = ()
    added: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()


CHUNK_BYTES = 32 * 1024 * 1024
"""Content committed per transaction by an import (a killed import keeps whole chunks; importing
again adds only what is missing, since content already in the project is not stored twice)."""


def existing_or_new(store: ProjectStore, media: MediaFile) -> Asset | NewAsset:
    """The project's live asset with exactly this content, or the asset to add for it (with
    its id chosen now, so that a result committed with it can name it as an input)."""
    found = store.find_by_content(sha256_bytes(media.data), media.kind)
    if found is not None:
        return found
    return NewAsset(
        kind=media.kind,
        data=media.data,
        media_type=media.media_type,
        recipe=media.recipe(),
        title=media.title,
        asset_id=new_asset_id(),
    )


def _split_sidecars(paths: Iterable[Path]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(media, sidecars): ``*.recipe.json`` files listed beside the file they describe are read
    with it, not imported themselves."""
    paths = [Path(p) for p in paths]
    described = {sidecar_path(p) for p in paths}
    sidecars = tuple(p for p in paths if p.name.endswith(SIDECAR_SUFFIX) and p in described)
    return tuple(p for p in paths if p not in sidecars), sidecars


def check_import(paths: Iterable[Path]) -> ImportPlan:
    """Check every file completely, storing nothing; raises :class:`ImportRefusedError` with
    the reasons when any file cannot be imported (the command line's all-or-nothing import)."""
    media, sidecars = _split_sidecars(paths)
    if not media:
        raise ImportRefusedError("Name at least one file to import.")
    refused: list[ImportRefusedError] = []
    for path in media:
        try:
            read_media_file(path)
        except ImportRefusedError as exc:
            refused.append(exc)
    if len(media) == 1 and refused:
        raise refused[0]
    if refused:
        reasons = tuple(reason for exc in refused for reason in exc.reasons)
        listed = "; ".join(f"{name}: {reason}" for name, reason in reasons)
        raise ImportRefusedError(
            f"Nothing was imported, because {len(refused)} of {len(media)} files "
            f"cannot be ({listed}).",
            reasons,
        )
    return ImportPlan(media=media, sidecars=sidecars)


def import_checked(store: ProjectStore, plan: ImportPlan) -> ImportReport:
    """Store the files of a plan from :func:`check_import` (read again: nothing is held in
    memory between the check and the store); a file changed meanwhile is refused."""
    return _import(store, plan.media, plan.sidecars)


def import_files(store: ProjectStore, paths: Iterable[Path]) -> ImportReport:
    """The import of drops and File > Import: every file is checked completely; the ones that
    pass are stored (content the project holds already is that asset), the others are listed
    in :attr:`ImportReport.refused` with the reason. Nothing is stored for a refused file."""
    media, sidecars = _split_sidecars(paths)
    return _import(store, media, sidecars)


def _import(store: ProjectStore, paths: Iterable[Path], sidecars: tuple[Path, ...]) -> ImportReport:
    """The one import policy: each file checked completely, content stored once, committed
    in transactions of about :data:`CHUNK_BYTES` (never half a file)."""
    assets: list[Asset | None] = []
    pending: list[tuple[int, NewAsset]] = []
    pending_bytes = 0
    refused: list[tuple[str, str]] = []
    chosen: dict[tuple[str, str], str] = {}  # (kind, sha256) of content added by this import

    def commit() -> None:
        nonlocal pending, pending_bytes
        if pending:
            for (index, _), stored in zip(
                pending, store.add_assets(item for _, item in pending), strict=True
            ):
                assets[index] = stored
        pending, pending_bytes = [], 0

    for path in paths:
        try:
            media = read_media_file(path)
        except ImportRefusedError as exc:
            refused.extend(exc.reasons or ((Path(path).name, str(exc)),))
            continue
        item = existing_or_new(store, media)
        key = (media.kind.value, sha256_bytes(media.data))
        if isinstance(item, NewAsset) and key in chosen:
            # The same content twice in one import: the first one's asset, once committed.
            commit()
            item = store.get_asset(chosen[key])
        assets.append(item if isinstance(item, Asset) else None)
        if isinstance(item, NewAsset):
            chosen[key] = item.asset_id
            pending.append((len(assets) - 1, item))
            pending_bytes += len(item.data)
            if pending_bytes >= CHUNK_BYTES:
                commit()
    commit()
    stored = tuple(a for a in assets if a is not None)
    return ImportReport(
        assets=stored,
        sidecars=sidecars,
        added=tuple(chosen.values()),
        refused=tuple(refused),
    )
