"""SwarmUI: a JSON object in ``parameters`` (PNG) or the EXIF ``UserComment`` (JPEG, WebP)
whose ``sui_image_params`` holds the settings by parameter id (``prompt``,
``negativeprompt``, ``cfgscale``, ``loras`` with ``loraweights``...) and ``sui_models`` the
models with their hashes. Written from SwarmUI's documented format (docs/Image Metadata
Format.md); no sample file exists in the test corpus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.core.image_settings.restored import RestoredSettings, SettingsSource
from studio.core.image_settings.values import (
    as_float,
    as_int,
    as_text,
    json_object,
    leftovers,
    size_pair,
)
from studio.plugin_api import GenerationSettings, LoraWeight, SettingsDialect

_TAKEN = {
    "prompt",
    "negativeprompt",
    "model",
    "seed",
    "steps",
    "cfgscale",
    "width",
    "height",
    "sampler",
    "scheduler",
    "loras",
    "loraweights",
    "initimagecreativity",
    "swarm_version",
    "date",
    "generation_time",
}


def from_swarmui(data: Mapping[str, Any], carrier: str = "") -> RestoredSettings | None:
    params = data.get("sui_image_params")
    if not isinstance(params, Mapping):
        return None
    width, height = size_pair(params.get("width"), params.get("height"))
    names = params.get("loras") if isinstance(params.get("loras"), list) else []
    weights = params.get("loraweights") if isinstance(params.get("loraweights"), list) else []
    loras = [
        LoraWeight(name=str(name), weight=as_float(weights[i]) if i < len(weights) else None)
        for i, name in enumerate(names)
        if isinstance(name, str) and name
    ]
    model_hash = ""
    for model in data.get("sui_models") or []:
        if isinstance(model, Mapping) and model.get("param") == "model":
            model_hash = as_text(model.get("hash")).removeprefix("0x")
    settings = GenerationSettings(
        dialect=SettingsDialect.SWARMUI,
        prompt=as_text(params.get("prompt")),
        negative_prompt=as_text(params.get("negativeprompt")),
        steps=as_int(params.get("steps")),
        guidance=as_float(params.get("cfgscale")),
        seed=as_int(params.get("seed")),
        sampler=as_text(params.get("sampler")),
        schedule=as_text(params.get("scheduler")),
        width=width,
        height=height,
        denoise=as_float(params.get("initimagecreativity")),
        model_name=as_text(params.get("model")),
        model_hash=model_hash,
        loras=tuple(loras),
        other=tuple(leftovers(params, _TAKEN)),
    )
    return RestoredSettings(source=SettingsSource.SWARMUI, settings=settings, carrier=carrier)


def read(
    texts: Mapping[str, str], where: Mapping[str, str] | None = None
) -> RestoredSettings | None:
    where = where or {}
    for key in ("parameters", "sui_image_params"):
        data = json_object(texts.get(key))
        if data is None:
            continue
        if key == "sui_image_params":
            data = {"sui_image_params": data}
        restored = from_swarmui(data, where.get(key, ""))
        if restored is not None:
            return restored
    return None
