"""Settings from any generated image: find the carriers, then ask each reader in turn.

Studio's own recipe first; then the readers of the tools whose text can share a key with
another's (SwarmUI's and Fooocus's JSON before AUTOMATIC1111's text in ``parameters``), then
ComfyUI's graphs, InvokeAI and NovelAI. A reader that fails on hostile content counts as
finding nothing: the next one still runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from studio.core.errors import UserError
from studio.core.image_settings import a1111, comfyui, fooocus, invokeai, novelai, swarmui
from studio.core.image_settings.carriers import read_carriers
from studio.core.image_settings.restored import RestoredSettings, from_recipe
from studio.core.media.embedded_recipe import PNG_RECIPE_KEY
from studio.core.recipe import Recipe, RecipeError

log = logging.getLogger(__name__)

Reader = Callable[[Mapping[str, str], Mapping[str, str]], RestoredSettings | None]


READERS: tuple[tuple[str, Reader], ...] = (
    ("SwarmUI", swarmui.read),
    ("Fooocus", fooocus.read),
    ("AUTOMATIC1111", a1111.read),
    ("ComfyUI", comfyui.read),
    ("InvokeAI", invokeai.read),
    ("NovelAI", novelai.read),
)


def read_image_settings(data: bytes) -> RestoredSettings | None:
    """The settings inside PNG, JPEG or WebP content; None when it carries none.

    Raises :class:`UserError` when the bytes are no image Studio can read settings from.
    """
    try:
        carriers = read_carriers(data)
    except Exception:  # hostile bytes: a bug to fix, never a crash for the user
        log.warning("the image's texts could not be read", exc_info=True)
        return None
    if not carriers.format:
        raise UserError(
            "The file is not a PNG, JPEG or WebP image: no settings can be read from it."
        )
    texts, where = carriers.texts, carriers.where
    if PNG_RECIPE_KEY in texts:
        try:
            return from_recipe(Recipe.from_json_text(texts[PNG_RECIPE_KEY]))
        except RecipeError:
            pass  # a damaged recipe: the A1111 text beside it may still be good
    for name, reader in READERS:
        try:
            restored = reader(texts, where)
        except Exception:  # hostile content: the next reader still runs
            log.warning("the %s reader failed on this image", name, exc_info=True)
            continue
        if restored is not None:
            return restored
    return None
