"""Read the settings an image was made with from its PNG: Studio's recipe, AUTOMATIC1111's
``parameters`` text, or ComfyUI's ``prompt`` / ``workflow`` JSON.

A Studio recipe names its plugin and that plugin's own options, so it is restored as it is.
Another tool's settings become plain :class:`~studio.plugin_api.GenerationSettings` in that
tool's own names; this module knows no plugin's options. Which options they mean is each
plugin's business (:meth:`~studio.plugin_api.ModelPlugin.options_from_settings`):
:func:`ask_plugin` asks one, :func:`choose_plugin` picks the plugin that takes the most and
:func:`not_taken` lists, for the user, what the chosen one did not take.

Nothing found is dropped silently: settings without a field of their own are kept in
``GenerationSettings.other``, and what could not be read at all (a prompt built by custom nodes)
is named in :attr:`RestoredSettings.not_understood`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from studio.core.errors import UserError
from studio.core.media import png_text
from studio.core.media.a1111 import parse_parameters
from studio.core.media.embedded_recipe import PNG_PARAMETERS_KEY, PNG_RECIPE_KEY
from studio.core.recipe import Recipe, RecipeError
from studio.plugin_api import (
    GenerationSettings,
    LoraWeight,
    ModelPlugin,
    SettingsDialect,
    SettingsMapping,
)
from studio.plugin_api.generation_settings import REQUEST_SETTINGS

log = logging.getLogger(__name__)

_SAMPLER_NODES = ("KSampler", "KSamplerAdvanced")
_MODEL_SETTINGS = ("model_name", "model_hash")


class SettingsSource(StrEnum):
    """Where settings were read from, as the user reads it ("Restored from the ...")."""

    STUDIO = "Studio recipe"
    AUTOMATIC1111 = "AUTOMATIC1111 parameters"
    COMFYUI = "ComfyUI workflow"


@dataclass(frozen=True, kw_only=True)
class RestoredSettings:
    """The settings found in an image: a Studio recipe, or another tool's plain settings.

    Attributes:
        source: where they came from.
        recipe: when Studio made the image: its recipe (plugin, options, request, seed).
        settings: when another tool made it: what it wrote, as plain data.
        not_understood: what the file holds but could not be read ("the positive prompt
            (built by other nodes)").
        notes: what the user should know about the reading ("the workflow has 2 samplers").
    """

    source: SettingsSource
    recipe: Recipe | None = None
    settings: GenerationSettings | None = None
    not_understood: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def restore_from_png(data: bytes) -> RestoredSettings | None:
    """The settings inside PNG content; None when it carries none of the known kinds.

    Raises :class:`UserError` when the bytes are not a readable PNG.
    """
    try:
        texts = png_text.read_texts(data)
    except png_text.PngError as exc:
        raise UserError(f"The image cannot be read for settings: {exc}.") from None
    if PNG_RECIPE_KEY in texts:
        try:
            return from_recipe(Recipe.from_json_text(texts[PNG_RECIPE_KEY]))
        except RecipeError:
            pass  # a damaged recipe: the A1111 text beside it may still be good
    if texts.get(PNG_PARAMETERS_KEY, "").strip():
        return from_a1111(texts[PNG_PARAMETERS_KEY])
    for key in ("prompt", "workflow"):
        if key in texts:
            try:
                graph = json.loads(texts[key])
            except ValueError:
                continue
            restored = from_comfyui_api(graph) if key == "prompt" else from_comfyui_workflow(graph)
            if restored is not None:
                return restored
    return None


def from_recipe(recipe: Recipe) -> RestoredSettings:
    return RestoredSettings(source=SettingsSource.STUDIO, recipe=recipe)


# asking plugins -------------------------------------------------------------------------------


def ask_plugin(plugin_class: type[ModelPlugin], settings: GenerationSettings) -> SettingsMapping:
    """What ``plugin_class`` takes of ``settings`` (its ``options_from_settings`` hook). A hook
    that fails or answers something else counts as taking nothing: a third-party plugin's bug
    must not stop the user from restoring the prompt."""
    try:
        mapping = plugin_class.options_from_settings(settings)
    except Exception:
        log.warning("%s.options_from_settings failed", plugin_class.__name__, exc_info=True)
        return SettingsMapping()
    if not isinstance(mapping, SettingsMapping):
        log.warning(
            "%s.options_from_settings returned %r, not a SettingsMapping",
            plugin_class.__name__,
            type(mapping).__name__,
        )
        return SettingsMapping()
    return mapping


def choose_plugin(mappings: Mapping[str, SettingsMapping], current: str | None) -> str | None:
    """The plugin to restore into: the current one when it takes any of the settings,
    otherwise the one that takes the most (the first in ``mappings``' order on a tie); the
    current one when none takes anything."""
    if current in mappings and not mappings[current].takes_nothing:
        return current
    taking = [plugin_id for plugin_id, mapping in mappings.items() if not mapping.takes_nothing]
    if not taking:
        return current
    return max(taking, key=lambda plugin_id: len(mappings[plugin_id].used))


def not_taken(
    settings: GenerationSettings, mapping: SettingsMapping, reads: Callable[[str], bool]
) -> list[str]:
    """Phrases for the given settings the plugin did not take (``reads(field)``: whether it
    reads a request field, which Studio fills itself), then the mapping's notes. The model is
    left out: :func:`model_note` says it."""
    taken = set(mapping.used) | {name for name in REQUEST_SETTINGS if reads(name)}
    left = [
        settings.describe(name)
        for name in settings.given()
        if name not in taken and name not in _MODEL_SETTINGS
    ]
    return left + list(mapping.notes)


def model_note(settings: GenerationSettings, mapping: SettingsMapping) -> str:
    """ "The image was made with the model ...: choose it yourself." when the file names a model
    the plugin did not take; empty otherwise."""
    if any(name in mapping.used for name in _MODEL_SETTINGS):
        return ""
    hashed = f"(hash {settings.model_hash})" if settings.model_hash else ""
    named = " ".join(part for part in (settings.model_name, hashed) if part)
    return f"The image was made with the model {named}: choose it yourself." if named else ""


# AUTOMATIC1111 -------------------------------------------------------------------------------

# <lora:name>, <lora:name:0.8>, <lora:name:te:unet>, <lora:name:te=0.5:unet=1> (and LyCORIS's
# <lyco:...>), the way A1111's extra networks write them into the prompt.
_LORA_TAG = re.compile(r"<(?:lora|lyco):([^:>]+)((?::[^:>]*)*)>")


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _loras_in_prompt(prompt: str) -> list[LoraWeight]:
    loras = []
    for name, params in _LORA_TAG.findall(prompt):
        positional: list[float | None] = []
        named: dict[str, float | None] = {}
        for part in params.split(":")[1:]:
            key, equals, value = part.partition("=")
            if equals:
                named[key.strip()] = _float(value)
            else:
                positional.append(_float(part))
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


def from_a1111(text: str) -> RestoredSettings:
    parsed = parse_parameters(text)
    found = dict(parsed.settings)
    width = height = None
    if "Size" in found:
        w, _, h = found["Size"].partition("x")
        if _int(w) and _int(h):
            width, height = _int(w), _int(h)
            del found["Size"]
    values: dict[str, Any] = {
        "steps": _int(found.get("Steps", "")),
        "guidance": _float(found.get("CFG scale", "")),
        "seed": _int(found.get("Seed", "")),
        "denoise": _float(found.get("Denoising strength", "")),
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
    found.pop("Version", None)  # the writer's version, not a setting
    settings = GenerationSettings(
        dialect=SettingsDialect.AUTOMATIC1111,
        prompt=parsed.prompt,
        negative_prompt=parsed.negative_prompt,
        width=width,
        height=height,
        sampler=found.pop("Sampler", "").strip(),
        schedule=found.pop("Schedule type", "").strip(),
        model_name=found.pop("Model", "").strip(),
        model_hash=found.pop("Model hash", "").strip(),
        loras=tuple(loras),
        other=tuple(found.items()),
        **values,
    )
    return RestoredSettings(source=SettingsSource.AUTOMATIC1111, settings=settings)


# ComfyUI -------------------------------------------------------------------------------------


@dataclass
class _ComfyReading:
    """Settings being read from a ComfyUI graph (either format)."""

    values: dict[str, Any]
    other: list[tuple[str, str]]
    loras: list[LoraWeight]
    not_understood: list[str]
    notes: list[str]

    @classmethod
    def empty(cls) -> _ComfyReading:
        return cls(values={}, other=[], loras=[], not_understood=[], notes=[])

    def sampler(self, inputs: Mapping[str, Any], advanced: bool) -> None:
        """A KSampler's (or KSamplerAdvanced's) widget values."""
        seed = inputs.get("noise_seed" if advanced else "seed", inputs.get("seed"))
        if isinstance(seed, int) and not isinstance(seed, bool):
            self.values["seed"] = seed
        if isinstance(inputs.get("steps"), int):
            self.values["steps"] = inputs["steps"]
        if isinstance(inputs.get("cfg"), int | float):
            self.values["guidance"] = float(inputs["cfg"])
        if isinstance(inputs.get("sampler_name"), str):
            self.values["sampler"] = inputs["sampler_name"]
        if isinstance(inputs.get("scheduler"), str):
            self.values["schedule"] = inputs["scheduler"]
        denoise = inputs.get("denoise")
        if isinstance(denoise, int | float) and denoise < 1:  # 1 is plain text-to-image
            self.values["denoise"] = float(denoise)
        if advanced:
            for key, default in (("start_at_step", 0), ("end_at_step", 10000)):
                if key in inputs and inputs[key] != default:
                    self.other.append((key, str(inputs[key])))

    def lora(self, name: Any, strength_model: Any, strength_clip: Any = None) -> None:
        if not isinstance(name, str) or not name:
            return
        weight = float(strength_model) if isinstance(strength_model, int | float) else None
        clip = float(strength_clip) if isinstance(strength_clip, int | float) else None
        self.loras.append(
            LoraWeight(
                name=name, weight=weight, text_encoder_weight=clip if clip != weight else None
            )
        )

    def result(self) -> RestoredSettings:
        settings = GenerationSettings(
            dialect=SettingsDialect.COMFYUI,
            loras=tuple(self.loras),
            other=tuple(self.other),
            **self.values,
        )
        return RestoredSettings(
            source=SettingsSource.COMFYUI,
            settings=settings,
            not_understood=tuple(self.not_understood),
            notes=tuple(self.notes),
        )


def _linked(graph: Mapping[str, Any], value: Any) -> Mapping[str, Any] | None:
    """The node a ``[node_id, slot]`` input points at, in API-format graphs."""
    if isinstance(value, list) and value and str(value[0]) in graph:
        node = graph[str(value[0])]
        return node if isinstance(node, Mapping) else None
    return None


def _text_of(graph: Mapping[str, Any], value: Any, depth: int = 0) -> str | None:
    node = _linked(graph, value)
    if node is None or depth > 8:
        return value if isinstance(value, str) else None
    inputs = node.get("inputs", {})
    for key in ("text", "text_g", "string", "value", "conditioning"):
        if key in inputs:
            return _text_of(graph, inputs[key], depth + 1)
    return None


def _samplers_note(count: int) -> str:
    return f"The workflow has {count} samplers; the settings of the first were used."


def from_comfyui_api(graph: Any) -> RestoredSettings | None:
    """From the API-format ``prompt`` JSON: ``{node_id: {"class_type", "inputs"}}``."""
    if not isinstance(graph, Mapping):
        return None
    nodes = [node for node in graph.values() if isinstance(node, Mapping)]
    samplers = [node for node in nodes if node.get("class_type") in _SAMPLER_NODES]
    if not samplers:
        return None
    reading = _ComfyReading.empty()
    if len(samplers) > 1:
        reading.notes.append(_samplers_note(len(samplers)))
    sampler = samplers[0]
    inputs = sampler.get("inputs", {})
    reading.sampler(inputs, advanced=sampler.get("class_type") == "KSamplerAdvanced")
    for key, field_name in (("positive", "prompt"), ("negative", "negative_prompt")):
        text = _text_of(graph, inputs.get(key))
        if text is not None:
            reading.values[field_name] = text
        elif key in inputs:
            reading.not_understood.append(f"the {key} prompt (built by other nodes)")
    latent = _linked(graph, inputs.get("latent_image"))
    if latent is not None:
        size = latent.get("inputs", {})
        if isinstance(size.get("width"), int) and isinstance(size.get("height"), int):
            reading.values["width"], reading.values["height"] = size["width"], size["height"]
    model = _linked(graph, inputs.get("model"))
    if model is not None and isinstance(model.get("inputs", {}).get("ckpt_name"), str):
        reading.values["model_name"] = model["inputs"]["ckpt_name"]
    for node in nodes:
        if str(node.get("class_type", "")).startswith("LoraLoader"):
            lora = node.get("inputs", {})
            reading.lora(
                lora.get("lora_name"), lora.get("strength_model"), lora.get("strength_clip")
            )
    return reading.result()


def from_comfyui_workflow(workflow: Any) -> RestoredSettings | None:
    """From the UI-format ``workflow`` JSON (nodes with ``widgets_values`` and links)."""
    if not isinstance(workflow, Mapping) or not isinstance(workflow.get("nodes"), list):
        return None
    nodes = {node.get("id"): node for node in workflow["nodes"] if isinstance(node, Mapping)}
    # links: [link_id, from_node, from_slot, to_node, to_slot, type]
    sources = {
        link[0]: link[1]
        for link in workflow.get("links", [])
        if isinstance(link, list) and len(link) >= 4
    }
    samplers = [n for n in nodes.values() if n.get("type") in _SAMPLER_NODES]
    if not samplers:
        return None
    reading = _ComfyReading.empty()
    if len(samplers) > 1:
        reading.notes.append(_samplers_note(len(samplers)))
    sampler = samplers[0]
    values = sampler.get("widgets_values") or []
    if sampler.get("type") == "KSampler" and len(values) >= 7:
        seed, _control, steps, cfg, name, schedule, denoise = values[:7]
        reading.sampler(
            {
                "seed": seed,
                "steps": steps,
                "cfg": cfg,
                "sampler_name": name,
                "scheduler": schedule,
                "denoise": denoise,
            },
            advanced=False,
        )
    elif sampler.get("type") == "KSamplerAdvanced" and len(values) >= 7:
        _add, seed, _control, steps, cfg, name, schedule = values[:7]
        steps_range = dict(zip(("start_at_step", "end_at_step"), values[7:9], strict=False))
        reading.sampler(
            {
                "noise_seed": seed,
                "steps": steps,
                "cfg": cfg,
                "sampler_name": name,
                "scheduler": schedule,
                **steps_range,
            },
            advanced=True,
        )
    else:
        reading.not_understood.append(f"the settings of {sampler.get('type')}")

    def source_node(input_name: str) -> Mapping[str, Any] | None:
        for slot in sampler.get("inputs", []) or []:
            if isinstance(slot, Mapping) and slot.get("name") == input_name:
                return nodes.get(sources.get(slot.get("link")))
        return None

    for key, field_name in (("positive", "prompt"), ("negative", "negative_prompt")):
        node = source_node(key)
        widgets = (node or {}).get("widgets_values") or []
        is_text = node is not None and str(node.get("type", "")).startswith("CLIPTextEncode")
        if is_text and widgets and isinstance(widgets[0], str):
            reading.values[field_name] = widgets[0]
        elif node is not None:
            reading.not_understood.append(f"the {key} prompt (built by other nodes)")
    latent = source_node("latent_image")
    widgets = (latent or {}).get("widgets_values") or []
    sized = len(widgets) >= 2 and all(isinstance(w, int) for w in widgets[:2])
    if latent is not None and latent.get("type") == "EmptyLatentImage" and sized:
        reading.values["width"], reading.values["height"] = widgets[0], widgets[1]
    for node in nodes.values():
        kind = str(node.get("type", ""))
        widgets = node.get("widgets_values") or []
        if kind.startswith("CheckpointLoader") and widgets and isinstance(widgets[0], str):
            reading.values.setdefault("model_name", widgets[0])
        elif kind.startswith("LoraLoader") and widgets:
            reading.lora(*widgets[:3])
    return reading.result()
