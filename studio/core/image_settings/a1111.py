"""AUTOMATIC1111's ``parameters`` text (also Forge, SD.Next, Civitai): the prompt, then
``Negative prompt:``, then one line of ``Key: value`` pairs. It arrives in a PNG text chunk,
a JPEG or WebP EXIF ``UserComment``, or the pixels' stealth bits (:mod:`.carriers`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from studio.core.image_settings.restored import RestoredSettings, SettingsSource
from studio.core.image_settings.values import as_float, as_int
from studio.core.media.a1111 import parse_parameters
from studio.plugin_api import GenerationSettings, LoraWeight, SettingsDialect
from studio.plugin_api.options import LORA_TAG


def _loras_in_prompt(prompt: str) -> list[LoraWeight]:
    loras = []
    for match in LORA_TAG.finditer(prompt):  # LoRA and LyCORIS tags, as A1111 writes them
        name, params = match.group(2), match.group(3)
        positional: list[float | None] = []
        named: dict[str, float | None] = {}
        for part in params.split(":")[1:]:
            key, equals, value = part.partition("=")
            if equals:
                named[key.strip()] = as_float(value)
            else:
                positional.append(as_float(part))
        text_encoder = named.get("te", positional[0] if positional else 1.0)
        unet = named.get("unet", positional[1] if len(positional) > 1 else text_encoder)
        loras.append(
            LoraWeight(
                name=name.strip(),
                weight=unet,
                text_encoder_weight=text_encoder if text_encoder != unet else None,
            )
        )
    return loras


def _with_hashes(loras: list[LoraWeight], hashes_text: str) -> tuple[list[LoraWeight], str]:
    """Attach ``Lora hashes`` ("name: hash, name: hash") to the LoRAs of the prompt; returns
    the LoRAs and what of the text named none of them."""
    hashes = {}
    for pair in hashes_text.split(","):
        name, _, short = pair.partition(":")
        if name.strip() and short.strip():
            hashes[name.strip()] = short.strip()
    loras = [replace(lora, hash=hashes.pop(lora.name, "")) for lora in loras]
    return loras, ", ".join(f"{name}: {short}" for name, short in hashes.items())


def looks_like_a1111(text: str) -> bool:
    """Whether ``text`` is A1111 infotext (not another tool's JSON in the same chunk)."""
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("{")


_BARE_JSON = re.compile(r"(\b\w[\w ]*:\s*)(\{[^{}\n]*\})")


def from_a1111(text: str, carrier: str = "") -> RestoredSettings:
    # A1111 quotes a value holding commas ("Hashes: \"{...}\""); some writers do not.
    text = _BARE_JSON.sub(lambda m: m.group(1) + json.dumps(m.group(2)), text)
    parsed = parse_parameters(text)
    found: dict[str, Any] = dict(parsed.settings)
    width = height = None
    if "Size" in found:
        w, _, h = str(found["Size"]).partition("x")
        if as_int(w) and as_int(h):
            width, height = as_int(w), as_int(h)
            del found["Size"]
    values: dict[str, Any] = {
        "steps": as_int(found.get("Steps", "")),
        "guidance": as_float(found.get("CFG scale", "")),
        "seed": as_int(found.get("Seed", "")),
        "denoise": as_float(found.get("Denoising strength", "")),
    }
    for key, name in (
        ("Steps", "steps"),
        ("CFG scale", "guidance"),
        ("Seed", "seed"),
        ("Denoising strength", "denoise"),
    ):
        if values[name] is not None:
            del found[key]  # an unreadable value stays in ``other`` as written
    loras, unmatched = _with_hashes(_loras_in_prompt(parsed.prompt), found.pop("Lora hashes", ""))
    if unmatched:
        found["Lora hashes"] = unmatched
    model_hash = str(found.pop("Model hash", "")).strip()
    hashes = _hashes(found)
    if hashes is not None:  # newer versions: Hashes: {"model": "...", "lora:name": "..."}
        model_hash = model_hash or str(hashes.pop("model", "")).strip()
        by_name = {k.partition(":")[2]: v for k, v in hashes.items() if k.startswith("lora:")}
        loras = [replace(lora, hash=lora.hash or by_name.get(lora.name, "")) for lora in loras]
        names = {lora.name for lora in loras}
        left = {
            key: value
            for key, value in hashes.items()
            if key != "model" and key.partition(":")[2] not in names
        }
        if left:
            found["Hashes"] = json.dumps(left)
    found.pop("Version", None)  # the writer's version, not a setting
    settings = GenerationSettings(
        dialect=SettingsDialect.AUTOMATIC1111,
        prompt=parsed.prompt,
        negative_prompt=parsed.negative_prompt,
        width=width,
        height=height,
        sampler=str(found.pop("Sampler", "")).strip(),
        schedule=str(found.pop("Schedule type", "")).strip(),
        model_name=str(found.pop("Model", "")).strip(),
        model_hash=model_hash,
        loras=tuple(loras),
        other=tuple((key, str(value)) for key, value in found.items()),
        **values,
    )
    return RestoredSettings(source=SettingsSource.AUTOMATIC1111, settings=settings, carrier=carrier)


def _hashes(found: dict[str, Any]) -> dict[str, Any] | None:
    raw = found.get("Hashes")
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return None
    else:
        value = raw
    if isinstance(value, dict):
        del found["Hashes"]
        return value
    return None


def read(
    texts: Mapping[str, str], where: Mapping[str, str] | None = None
) -> RestoredSettings | None:
    text = texts.get("parameters", "")
    if not looks_like_a1111(text):
        return None
    return from_a1111(text, (where or {}).get("parameters", ""))
