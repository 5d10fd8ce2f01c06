"""Recipes inside exported files, and reading them back.

- PNG: a ``parameters`` text chunk in the AUTOMATIC1111 format (for other tools) and the full
  JSON recipe in an ``iTXt``/``tEXt`` chunk named ``studio-recipe``, plus ``Title``.
- FLAC and Ogg (Vorbis, Opus): Vorbis comments ``TITLE``, ``COMMENT`` (a one-line summary)
  and ``STUDIO_RECIPE`` (the JSON recipe).
- Everything else: a sidecar ``NAME.recipe.json`` beside ``NAME.EXT``, holding the file name,
  its SHA-256, the asset's kind, title and id, and the recipe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from studio.core.hashing import sha256_bytes
from studio.core.media import png_text
from studio.core.media.a1111 import parameters_from_recipe
from studio.core.media.detect import FLAC, OGG, PNG, MediaFormat, sniff_format
from studio.core.media.vorbis_comments import (
    CommentError,
    flac_with_comments,
    ogg_with_comments,
    read_flac_comments,
    read_ogg_comments,
)
from studio.core.recipe import Recipe, RecipeError

PNG_RECIPE_KEY = "studio-recipe"
PNG_PARAMETERS_KEY = "parameters"
PNG_TITLE_KEY = "Title"
COMMENT_RECIPE_KEY = "STUDIO_RECIPE"
SIDECAR_SUFFIX = ".recipe.json"
SIDECAR_VERSION = 1
EMBEDDING_FORMATS = (PNG, FLAC, OGG)


class RecipeLocation(StrEnum):
    """Where a recipe was found in or beside a file."""

    PNG_CHUNK = "png-chunk"
    VORBIS_COMMENT = "vorbis-comment"
    SIDECAR = "sidecar"


@dataclass(frozen=True, kw_only=True)
class EmbeddedRecipe:
    """What a file (or its sidecar) says about how it was made.

    Attributes:
        recipe: the Studio recipe, if there is one.
        parameters: an A1111 ``parameters`` text, if there is one (PNG only).
        title: the title stored with it, if any.
        location: where it was found.
    """

    recipe: Recipe | None
    parameters: str = ""
    title: str = ""
    location: RecipeLocation


def summary(recipe: Recipe) -> str:
    """One line about how an asset was made (for comment fields people read)."""
    if recipe.plugin_id:
        parts = [f"Made with Studio {recipe.app_version}: {recipe.plugin_id}"]
        if recipe.plugin_version:
            parts[0] += f" {recipe.plugin_version}"
        if recipe.model_id:
            parts.append(f"model {recipe.model_id}")
        if recipe.seed is not None:
            parts.append(f"seed {recipe.seed}")
        return ", ".join(parts)
    return f"Imported into Studio {recipe.app_version}"


def embed_recipe(data: bytes, fmt: MediaFormat, recipe: Recipe, title: str) -> bytes | None:
    """The file content with the recipe embedded, or None when the format has no place for
    it (then a sidecar is written) or the file's structure does not allow it."""
    recipe_text = recipe.to_json_text()
    try:
        if fmt is PNG:
            texts = {PNG_TITLE_KEY: title, PNG_RECIPE_KEY: recipe_text}
            parameters = parameters_from_recipe(recipe, png_text.image_size(data))
            if parameters is not None:
                texts = {PNG_PARAMETERS_KEY: parameters, **texts}
            return png_text.with_texts(data, texts)
        comments = {"TITLE": title, "COMMENT": summary(recipe), COMMENT_RECIPE_KEY: recipe_text}
        if fmt is FLAC:
            return flac_with_comments(data, comments)
        if fmt is OGG:
            return ogg_with_comments(data, comments)
    except (png_text.PngError, CommentError):
        return None
    return None


def read_embedded(data: bytes, fmt: MediaFormat) -> EmbeddedRecipe | None:
    """The recipe inside file content, or None when there is none.

    Raises :class:`~studio.core.recipe.RecipeError` when a recipe is there but unreadable.
    """
    if fmt is PNG:
        try:
            texts = png_text.read_texts(data)
        except png_text.PngError:
            return None
        recipe_text = texts.get(PNG_RECIPE_KEY)
        parameters = texts.get(PNG_PARAMETERS_KEY, "")
        if recipe_text is None and not parameters:
            return None
        return EmbeddedRecipe(
            recipe=Recipe.from_json_text(recipe_text) if recipe_text is not None else None,
            parameters=parameters,
            title=texts.get(PNG_TITLE_KEY, ""),
            location=RecipeLocation.PNG_CHUNK,
        )
    if fmt in (FLAC, OGG):
        try:
            comments = dict(
                reversed(read_flac_comments(data) if fmt is FLAC else read_ogg_comments(data))
            )
        except CommentError:
            return None
        if COMMENT_RECIPE_KEY not in comments:
            return None
        return EmbeddedRecipe(
            recipe=Recipe.from_json_text(comments[COMMENT_RECIPE_KEY]),
            title=comments.get("TITLE", ""),
            location=RecipeLocation.VORBIS_COMMENT,
        )
    return None


def sidecar_path(path: Path) -> Path:
    """``NAME.recipe.json`` beside ``NAME.EXT``."""
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def sidecar_text(
    *, file_name: str, data: bytes, recipe: Recipe, title: str, kind: str, asset_id: str
) -> str:
    """The JSON of a sidecar for the file ``file_name`` with content ``data``."""
    document: dict[str, Any] = {
        "studio_sidecar": SIDECAR_VERSION,
        "file": file_name,
        "sha256": sha256_bytes(data),
        "asset_id": asset_id,
        "kind": kind,
        "title": title,
        "recipe": recipe.to_json(),
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def read_sidecar(path: Path) -> EmbeddedRecipe | None:
    """The recipe in ``path``'s sidecar, or None when there is no sidecar for this file.

    Raises :class:`~studio.core.recipe.RecipeError` when the sidecar is unreadable.
    """
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return None
    try:
        document = json.loads(sidecar.read_bytes())
    except (OSError, ValueError) as exc:
        raise RecipeError(f"The recipe file {sidecar.name} is not readable JSON ({exc}).") from exc
    if not isinstance(document, dict) or document.get("file") != path.name:
        return None  # it describes another file of the same name stem
    return EmbeddedRecipe(
        recipe=Recipe.from_json(document.get("recipe")),
        title=str(document.get("title") or ""),
        location=RecipeLocation.SIDECAR,
    )


def read_recipe(path: Path, fmt: MediaFormat | None = None) -> EmbeddedRecipe | None:
    """The recipe of an exported file: from its content where the format holds one, else
    from its sidecar; None when there is neither."""
    data = path.read_bytes()
    fmt = fmt or sniff_format(data)
    found = read_embedded(data, fmt) if fmt is not None else None
    return found if found is not None else read_sidecar(path)
