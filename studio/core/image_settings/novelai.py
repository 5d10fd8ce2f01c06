"""NovelAI: ``Software`` is "NovelAI", ``Description`` the prompt, ``Comment`` JSON the rest
(``scale`` is the guidance, ``uc`` the negative prompt) and ``Source`` the model with the
first 8 hex digits of its hash ("Stable Diffusion 1D44365E")."""

from __future__ import annotations

import re
from collections.abc import Mapping

from studio.core.image_settings.restored import RestoredSettings, SettingsSource
from studio.core.image_settings.values import (
    as_float,
    as_int,
    as_text,
    json_object,
    leftovers,
    size_pair,
)
from studio.plugin_api import GenerationSettings, SettingsDialect

_SOURCE = re.compile(r"^(.*?)\s+([0-9A-Fa-f]{8})$")


def read(
    texts: Mapping[str, str], where: Mapping[str, str] | None = None
) -> RestoredSettings | None:
    where = where or {}
    if texts.get("Software", "").strip() != "NovelAI":
        return None
    data = json_object(texts.get("Comment")) or {}
    model_name, model_hash = texts.get("Source", "").strip(), ""
    match = _SOURCE.match(model_name)
    if match:
        model_name, model_hash = match.group(1), match.group(2)
    width, height = size_pair(data.get("width"), data.get("height"))
    taken = {"steps", "sampler", "seed", "strength", "scale", "uc", "prompt", "width", "height"}
    strength = as_float(data.get("strength"))
    settings = GenerationSettings(
        dialect=SettingsDialect.NOVELAI,
        prompt=as_text(texts.get("Description")) or as_text(data.get("prompt")),
        negative_prompt=as_text(data.get("uc")),
        steps=as_int(data.get("steps")),
        guidance=as_float(data.get("scale")),
        seed=as_int(data.get("seed")),
        sampler=as_text(data.get("sampler")),
        width=width,
        height=height,
        # an image-to-image strength; NovelAI writes one for text-to-image too
        denoise=strength if strength is not None and "noise" in data else None,
        model_name=model_name,
        model_hash=model_hash,
        other=tuple(leftovers(data, taken if "noise" in data else taken - {"strength"})),
    )
    return RestoredSettings(
        source=SettingsSource.NOVELAI,
        settings=settings,
        carrier=where.get("Comment", where.get("Description", "")),
    )
