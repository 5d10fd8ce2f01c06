"""InvokeAI's three formats: 2.x ``Dream`` (the dream command line: the prompt, the negative
prompt in [brackets], then switches), 2.3 ``sd-metadata`` (JSON) and 3.x+
``invokeai_metadata`` (JSON). The newest one in the file is read."""

from __future__ import annotations

import re
import shlex
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

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_DREAM_SWITCHES = {
    "-s": "steps",
    "--steps": "steps",
    "-S": "seed",
    "--seed": "seed",
    "-W": "width",
    "--width": "width",
    "-H": "height",
    "--height": "height",
    "-C": "cfg",
    "--cfg_scale": "cfg",
    "-A": "sampler",
    "--sampler": "sampler",
    "-f": "strength",
    "--strength": "strength",
    "-m": "model",
    "--model": "model",
}
MAX_DREAM = 64 << 10


def split_negative(prompt: str) -> tuple[str, str]:
    """InvokeAI writes the negative prompt in [brackets] inside the prompt."""
    negative = ", ".join(part.strip() for part in _BRACKETS.findall(prompt) if part.strip())
    positive = _BRACKETS.sub("", prompt).strip()
    return " ".join(positive.split()), negative


def from_dream(text: str, carrier: str = "") -> RestoredSettings | None:
    if not text or len(text) > MAX_DREAM:
        return None
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if not words:
        return None
    prompt, negative = split_negative(words[0])
    found: dict[str, str] = {}
    other: list[tuple[str, str]] = []
    index = 1
    while index < len(words):
        word = words[index]
        values = []
        index += 1
        while index < len(words) and not re.match(r"^-[A-Za-z-]", words[index]):
            values.append(words[index])
            index += 1
        name = _DREAM_SWITCHES.get(word)
        if name and values:
            found[name] = values[0]
        elif word.startswith("-"):
            other.append((word, " ".join(values)))
    width, height = size_pair(found.get("width"), found.get("height"))
    settings = GenerationSettings(
        dialect=SettingsDialect.INVOKEAI,
        prompt=prompt,
        negative_prompt=negative,
        steps=as_int(found.get("steps")),
        seed=as_int(found.get("seed")),
        guidance=as_float(found.get("cfg")),
        sampler=found.get("sampler", ""),
        width=width,
        height=height,
        denoise=as_float(found.get("strength")),
        model_name=found.get("model", ""),
        other=tuple(other),
    )
    return RestoredSettings(source=SettingsSource.INVOKEAI, settings=settings, carrier=carrier)


def from_sd_metadata(data: Mapping[str, Any], carrier: str = "") -> RestoredSettings | None:
    image = data.get("image")
    if not isinstance(image, Mapping):
        return None
    raw = image.get("prompt")
    if isinstance(raw, list):
        raw = " ".join(str(p.get("prompt", "")) for p in raw if isinstance(p, Mapping))
    prompt, negative = split_negative(raw if isinstance(raw, str) else "")
    width, height = size_pair(image.get("width"), image.get("height"))
    taken = {"prompt", "steps", "cfg_scale", "seed", "sampler", "width", "height", "strength"}
    other = leftovers(image, taken)
    other += leftovers(data, {"image", "model_weights", "model_hash", "app_id"})
    settings = GenerationSettings(
        dialect=SettingsDialect.INVOKEAI,
        prompt=prompt,
        negative_prompt=negative,
        steps=as_int(image.get("steps")),
        guidance=as_float(image.get("cfg_scale")),
        seed=as_int(image.get("seed")),
        sampler=as_text(image.get("sampler")),
        width=width,
        height=height,
        denoise=as_float(image.get("strength")),
        model_name=as_text(data.get("model_weights")),
        model_hash=as_text(data.get("model_hash")),
        other=tuple(other),
    )
    return RestoredSettings(source=SettingsSource.INVOKEAI, settings=settings, carrier=carrier)


def _model_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return as_text(value.get("model_name") or value.get("name"))
    return as_text(value)


def from_invokeai_metadata(data: Mapping[str, Any], carrier: str = "") -> RestoredSettings:
    width, height = size_pair(data.get("width"), data.get("height"))
    model = data.get("model")
    loras = []
    for item in data.get("loras") or []:
        if isinstance(item, Mapping):
            name = _model_name(item.get("lora") or item.get("model"))
            if name:
                loras.append(LoraWeight(name=name, weight=as_float(item.get("weight"))))
    taken = {
        "positive_prompt",
        "negative_prompt",
        "width",
        "height",
        "seed",
        "cfg_scale",
        "steps",
        "scheduler",
        "model",
        "loras",
        "strength",
        "app_version",
    }
    other = leftovers(data, taken)
    if isinstance(model, Mapping):
        base = as_text(model.get("base_model") or model.get("base"))
        if base:
            other.append(("base model", base))
    settings = GenerationSettings(
        dialect=SettingsDialect.INVOKEAI,
        prompt=as_text(data.get("positive_prompt")),
        negative_prompt=as_text(data.get("negative_prompt")),
        steps=as_int(data.get("steps")),
        guidance=as_float(data.get("cfg_scale")),
        seed=as_int(data.get("seed")),
        sampler=as_text(data.get("scheduler")),
        width=width,
        height=height,
        denoise=as_float(data.get("strength")),
        model_name=_model_name(model),
        model_hash=as_text(model.get("hash")) if isinstance(model, Mapping) else "",
        loras=tuple(loras),
        other=tuple(other),
    )
    return RestoredSettings(source=SettingsSource.INVOKEAI, settings=settings, carrier=carrier)


def read(
    texts: Mapping[str, str], where: Mapping[str, str] | None = None
) -> RestoredSettings | None:
    where = where or {}
    data = json_object(texts.get("invokeai_metadata"))
    if data is not None:
        return from_invokeai_metadata(data, where.get("invokeai_metadata", ""))
    data = json_object(texts.get("sd-metadata"))
    if data is not None:
        restored = from_sd_metadata(data, where.get("sd-metadata", ""))
        if restored is not None:
            return restored
    if "Dream" in texts:
        return from_dream(texts["Dream"], where.get("Dream", ""))
    return None
