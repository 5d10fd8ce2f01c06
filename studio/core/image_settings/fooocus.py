"""Fooocus: JSON in ``parameters`` (``metadata_scheme`` "fooocus", and a ``fooocus_scheme``
chunk beside it). Seeds arrive as text and pass 2^53: they are kept exact. ``resolution`` and
``styles`` are Python-style text ("(768, 1280)")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from studio.core.image_settings.restored import RestoredSettings, SettingsSource
from studio.core.image_settings.values import as_float, as_int, as_text, json_object, leftovers
from studio.plugin_api import GenerationSettings, LoraWeight, SettingsDialect

_PAIR = re.compile(r"^\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def is_fooocus(data: Mapping[str, Any], texts: Mapping[str, str]) -> bool:
    return data.get("metadata_scheme") == "fooocus" or texts.get("fooocus_scheme") == "fooocus"


def from_fooocus(data: Mapping[str, Any], carrier: str = "") -> RestoredSettings:
    width = height = None
    match = _PAIR.match(as_text(data.get("resolution")))
    if match:
        width, height = int(match.group(1)), int(match.group(2))
    loras = []
    for item in data.get("loras") or []:
        if isinstance(item, list | tuple) and item and isinstance(item[0], str):
            weight = as_float(item[1]) if len(item) > 1 else None
            loras.append(LoraWeight(name=item[0], weight=weight))
    taken = {
        "prompt",
        "negative_prompt",
        "steps",
        "guidance_scale",
        "seed",
        "sampler",
        "scheduler",
        "resolution",
        "base_model",
        "base_model_hash",
        "loras",
        "metadata_scheme",
        "version",
        "full_prompt",
        "full_negative_prompt",
    }
    settings = GenerationSettings(
        dialect=SettingsDialect.FOOOCUS,
        prompt=as_text(data.get("prompt")),
        negative_prompt=as_text(data.get("negative_prompt")),
        steps=as_int(data.get("steps")),
        guidance=as_float(data.get("guidance_scale")),
        seed=as_int(data.get("seed")),
        sampler=as_text(data.get("sampler")),
        schedule=as_text(data.get("scheduler")),
        width=width,
        height=height,
        model_name=as_text(data.get("base_model")),
        model_hash=as_text(data.get("base_model_hash")),
        loras=tuple(loras),
        other=tuple(leftovers(data, taken)),
    )
    return RestoredSettings(source=SettingsSource.FOOOCUS, settings=settings, carrier=carrier)


def read(
    texts: Mapping[str, str], where: Mapping[str, str] | None = None
) -> RestoredSettings | None:
    data = json_object(texts.get("parameters"))
    if data is None or not is_fooocus(data, texts):
        return None
    return from_fooocus(data, (where or {}).get("parameters", ""))
