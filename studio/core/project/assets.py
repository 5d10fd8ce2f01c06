"""The records a project hands out: assets and lineage links."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from studio.core.recipe import JsonValue, Recipe
from studio.plugin_api.kinds import AssetKind
from studio.plugin_api.titles import one_line, shorten

TEXT_KINDS = frozenset({AssetKind.TEXT, AssetKind.CAPTION, AssetKind.DOCUMENT})
"""Kinds whose content is UTF-8 text (searched by content)."""
KIND_WORDS = {
    AssetKind.IMAGE: "an image",
    AssetKind.AUDIO: "audio",
    AssetKind.TEXT: "a text",
    AssetKind.CAPTION: "a caption",
    AssetKind.DOCUMENT: "a document",
}
"""Each kind as a sentence names it ("song.wav is audio", "takes an image")."""
_MEDIA_PREFIX = {
    AssetKind.TEXT: "text/",
    AssetKind.CAPTION: "text/",
    AssetKind.DOCUMENT: "text/",
    AssetKind.IMAGE: "image/",
    AssetKind.AUDIO: "audio/",
}


@dataclass(frozen=True, kw_only=True)
class Asset:
    """One stored asset (its content is a blob, read with ``ProjectStore.read_blob``).

    Attributes:
        id: the asset id (a ULID, sortable by creation time).
        kind: text, image, audio, caption or document.
        title: a short human title (renamable).
        media_type: the MIME type of the content.
        sha256, size: the content's hash (its blob) and length in bytes.
        created_at: when the asset was committed (UTC).
        recipe_json: how it was made, as stored (see :attr:`recipe`).
        deleted_at: when it was deleted (it can still be undeleted), or None.
    """

    id: str
    kind: AssetKind
    title: str
    media_type: str
    sha256: str
    size: int
    created_at: datetime
    recipe_json: str = field(repr=False)
    deleted_at: datetime | None = None

    @cached_property
    def recipe(self) -> Recipe:
        """How the asset was made. Parsed when first asked for, so that listing thousands of
        assets stays fast; raises ``RecipeError`` if the stored recipe is unreadable."""
        return Recipe.from_json_text(self.recipe_json)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True, kw_only=True)
class LineageLink:
    """``asset_id`` was made from ``input_id`` (in the role ``role``).

    ``input_exists`` is False when the input is not (or no longer) in the project, for example
    after it was purged.
    """

    asset_id: str
    input_id: str
    role: str
    input_exists: bool = True


def check_media_type(kind: AssetKind, media_type: str) -> None:
    """Refuse a media type that does not fit the kind (``image/png`` for audio...)."""
    if not media_type.startswith(_MEDIA_PREFIX[AssetKind(kind)]):
        raise ValueError(f"media type {media_type!r} does not fit a {kind} asset")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_from_ns(ns: int) -> datetime:
    """A UTC time from nanoseconds since 1970 (exact to the microsecond)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def prompt_text(request: Mapping[str, JsonValue]) -> str:
    """The words of a request (prompt, text, question...), casefolded, for text search."""
    words: list[str] = []

    def collect(value: JsonValue) -> None:
        if isinstance(value, str):
            words.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                collect(item)
        elif isinstance(value, tuple | list):
            for item in value:
                collect(item)

    # Inputs hold paths and ids, which are not what people search for.
    collect({key: value for key, value in request.items() if key != "inputs"})
    return "\n".join(words).casefold()


def derive_title(kind: AssetKind, data: bytes, recipe: Recipe, limit: int = 80) -> str:
    """A title for an asset made without one: its text, prompt or file name, shortened."""
    candidates: list[str] = []
    if kind in TEXT_KINDS:
        candidates.append(data[:4096].decode("utf-8", errors="ignore"))
    for key in ("prompt", "text", "question", "file_name"):
        value = recipe.request.get(key)
        if isinstance(value, str):
            candidates.append(value)
    for candidate in candidates:
        if one_line(candidate):
            return shorten(candidate, limit)
    return f"Untitled {kind}"
