"""Exporting assets as ordinary files, each with its recipe (see :mod:`.embedded_recipe`).

File names are ``<title> (<asset id>).<ext>``, the title made a file name by
:func:`~studio.core.media.file_names.file_name_for` (the one rule for that): readable, unique,
and the same every time, so a second export of the same asset names the same file. Existing
files are never replaced unless asked; the check happens before the first file is written.

Every asset is verified before it is written: its content must be there and match its SHA-256,
and its recipe must be readable. One that fails is left out and reported (a damaged project
never yields a damaged file that looks whole).
"""

from __future__ import annotations

import mimetypes
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.errors import UserError
from studio.core.hashing import sha256_bytes
from studio.core.media.detect import TEXT, format_for_media_type
from studio.core.media.embedded_recipe import (
    embed_recipe,
    sidecar_path,
    sidecar_text,
)
from studio.core.media.file_names import file_name_for
from studio.core.project import Asset, ProjectStore
from studio.core.project.assets import TEXT_KINDS


class ExportError(UserError):
    """Exporting would replace files, or the folder cannot be written."""


@dataclass(frozen=True)
class ExportedFile:
    """One exported asset: its file and, for formats without room for a recipe, its sidecar."""

    asset_id: str
    path: Path
    sidecar: Path | None = None


@dataclass(frozen=True)
class LeftOut:
    """An asset an export did not write, and why (its content is missing or damaged, or its
    recipe cannot be read)."""

    asset_id: str
    title: str
    why: str


@dataclass
class ExportReport:
    """What an export wrote, and what it left out (iterates over the files written)."""

    files: list[ExportedFile] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)

    def __iter__(self) -> Iterator[ExportedFile]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


def file_extension(asset: Asset) -> str:
    """The extension for an asset's media type (``.txt`` for text of unknown type)."""
    fmt = format_for_media_type(asset.media_type)
    if fmt is not None:
        return fmt.extension
    if asset.kind in TEXT_KINDS:
        return TEXT.extension
    return mimetypes.guess_extension(asset.media_type.split(";")[0].strip()) or ".bin"


def export_name(asset: Asset) -> str:
    """The file name an asset is exported under: its title as :func:`file_name_for` makes a
    file name of it, then its id: ``Chapter 1 - The sea (01j9…).txt``."""
    return file_name_for(
        asset.title, f" ({asset.id.lower()}){file_extension(asset)}", fallback=str(asset.kind)
    )


def exported_content(asset: Asset, data: bytes, file_name: str) -> tuple[bytes, str | None]:
    """(file content, sidecar JSON or None): the recipe embedded where the format allows."""
    fmt = format_for_media_type(asset.media_type)
    if fmt is not None:
        embedded = embed_recipe(data, fmt, asset.recipe, asset.title)
        if embedded is not None:
            return embedded, None
    sidecar = sidecar_text(
        file_name=file_name,
        data=data,
        recipe=asset.recipe,
        title=asset.title,
        kind=asset.kind.value,
        asset_id=asset.id,
    )
    return data, sidecar


def export_assets(
    store: ProjectStore,
    directory: Path,
    *,
    asset_ids: Iterable[str] | None = None,
    overwrite: bool = False,
) -> ExportReport:
    """Write assets (all live ones, oldest first, or those named) into ``directory``.

    Raises :class:`ExportError` before writing anything when a file would be replaced and
    ``overwrite`` is False. Each file appears whole (written beside, then renamed). Assets
    whose content is missing or does not match its hash, or whose recipe cannot be read, are
    left out and listed in the report.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"{directory} is a file, not a folder.")
    report = ExportReport()
    if asset_ids is None:
        assets = list(reversed(store.list_assets()))
        report.left_out += [
            LeftOut(asset_id, title, "its content is missing from the project")
            for asset_id, title in store.assets_missing_content()
        ]
    else:
        assets = [store.get_asset(asset_id) for asset_id in asset_ids]
    targets = [directory / export_name(asset) for asset in assets]
    if not overwrite:
        taken = [p.name for t in targets for p in (t, sidecar_path(t)) if p.exists()]
        if taken:
            shown = ", ".join(taken[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
            raise ExportError(
                f"{directory} already has {shown}; choose another folder or allow replacing."
            )
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(directory)
    for asset, target in zip(assets, targets, strict=True):
        data, why = _verified_content(store, asset)
        if data is None:
            report.left_out.append(LeftOut(asset.id, asset.title, why))
            continue
        content, sidecar = exported_content(asset, data, target.name)
        _write_atomically(target, content)
        sidecar_file = None
        if sidecar is not None:
            sidecar_file = sidecar_path(target)
            _write_atomically(sidecar_file, sidecar.encode("utf-8"))
        report.files.append(ExportedFile(asset_id=asset.id, path=target, sidecar=sidecar_file))
    return report


def _verified_content(store: ProjectStore, asset: Asset) -> tuple[bytes | None, str]:
    """The asset's content if it and its recipe are whole, else (None, why not)."""
    from studio.core.recipe import RecipeError

    try:
        store.raw_recipe(asset.id).decode("utf-8")
        asset.recipe  # noqa: B018 - parsed here, so a broken one is reported, not raised
    except (UnicodeDecodeError, RecipeError, ValueError):
        return None, "its recipe is damaged (it cannot be read)"
    try:
        data = store.read_blob(asset.id)
    except (LookupError, OSError):
        return None, "its content is missing from the project"
    if sha256_bytes(data) != asset.sha256:
        return None, "its content is damaged (it does not match its SHA-256)"
    return data, ""


_PART = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.part$")


def _remove_stale_parts(directory: Path) -> None:
    """Files an export killed mid-write left (``.NAME.PID-XXXXXXXX.part``): removed when the
    process that wrote them is gone, so a running export's files are never touched."""
    for path in directory.iterdir():
        found = _PART.match(path.name)
        if found is None:
            continue
        try:
            os.kill(int(found.group(1)), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (PermissionError, OverflowError, ValueError):
            pass  # another user's process lives, or not a pid: leave it


def _write_atomically(target: Path, content: bytes) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        temporary.write_bytes(content)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
