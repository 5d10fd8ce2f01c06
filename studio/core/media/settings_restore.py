"""Read the settings an image was made with from its PNG: Studio's recipe, AUTOMATIC1111's
``parameters`` text, or ComfyUI's ``prompt`` / ``workflow`` JSON, mapped onto the Image panel's
fields (prompt, negative prompt, steps, guidance, sampler, seed, size, strength).

What cannot be mapped is listed, never silently dropped: :attr:`RestoredSettings.not_understood`
names settings we read but cannot use, and :attr:`RestoredSettings.notes` says what the user
should check (the model named in the file is not chosen for them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import UserError
from studio.core.media import png_text
from studio.core.media.a1111 import parse_parameters
from studio.core.media.embedded_recipe import PNG_PARAMETERS_KEY, PNG_RECIPE_KEY
from studio.core.recipe import Recipe, RecipeError, thaw_json

# Sampler names the Image panel offers (the diffusers plugin's scheduler choices).
SAMPLERS = (
    "Euler a",
    "Euler",
    "DPM++ 2M",
    "DPM++ 2M Karras",
    "DPM++ 2M SDE",
    "DDIM",
    "PNDM",
    "LMS",
    "UniPC",
)

# A1111 sampler names that are ours under another name or without their noise schedule.
_A1111_SAMPLERS = {
    "PLMS": ("PNDM", ""),
    "LMS Karras": ("LMS", "the Karras schedule of 'LMS Karras'"),
    "DPM++ 2M SDE Karras": ("DPM++ 2M SDE", "the Karras schedule of 'DPM++ 2M SDE Karras'"),
    "UniPC Karras": ("UniPC", "the Karras schedule of 'UniPC Karras'"),
    "Euler Karras": ("Euler", "the Karras schedule of 'Euler Karras'"),
    "DDIM CFG++": ("DDIM", "the CFG++ variant of DDIM"),
}

# ComfyUI sampler_name values.
_COMFY_SAMPLERS = {
    "euler": "Euler",
    "euler_ancestral": "Euler a",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpmpp_2m_sde_gpu": "DPM++ 2M SDE",
    "ddim": "DDIM",
    "lms": "LMS",
    "uni_pc": "UniPC",
    "uni_pc_bh2": "UniPC",
}

_SAMPLER_NODES = ("KSampler", "KSamplerAdvanced")


@dataclass
class RestoredSettings:
    """Settings read from an image, as the Image panel's fields.

    Attributes:
        source: where they came from ("Studio recipe", "AUTOMATIC1111 parameters", "ComfyUI
            workflow").
        request: ``prompt`` and ``negative_prompt``.
        run_options: by the diffusers plugin's option names (``steps``, ``guidance_scale``,
            ``scheduler``, ``seed``, ``width``, ``height``, ``strength``).
        load_options: only from Studio recipes (the model the image was made with).
        plugin_id: only from Studio recipes.
        not_understood: settings found in the file that have no place in the panel.
        notes: things to check by hand (such as the model the file names).
    """

    source: str
    request: dict[str, str] = field(default_factory=dict)
    run_options: dict[str, Any] = field(default_factory=dict)
    load_options: dict[str, Any] = field(default_factory=dict)
    plugin_id: str = ""
    not_understood: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def restored_names(self) -> list[str]:
        return [name for name, value in self.request.items() if value] + list(self.run_options)

    def summary(self) -> str:
        """One paragraph for the status bar or a banner."""
        parts = [
            f"Restored from the {self.source}: {', '.join(self.restored_names()) or 'nothing'}."
        ]
        if self.not_understood:
            parts.append(f"Not understood: {', '.join(self.not_understood)}.")
        parts.extend(self.notes)
        return " ".join(parts)


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


# Studio --------------------------------------------------------------------------------------


def from_recipe(recipe: Recipe) -> RestoredSettings:
    request = thaw_json(recipe.request)
    restored = RestoredSettings(
        source="Studio recipe",
        request={
            key: request[key]
            for key in ("prompt", "negative_prompt")
            if isinstance(request.get(key), str)
        },
        run_options=dict(thaw_json(recipe.run_options)),
        load_options=dict(thaw_json(recipe.load_options)),
        plugin_id=recipe.plugin_id,
    )
    if recipe.seed is not None:
        restored.run_options["seed"] = recipe.seed
    return restored


# AUTOMATIC1111 -------------------------------------------------------------------------------


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


def map_a1111_sampler(name: str, schedule: str = "") -> tuple[str | None, str]:
    """Our sampler for an A1111 sampler (and its ``Schedule type``); the second value names
    what is lost (empty when nothing is)."""
    name = name.strip()
    if schedule.strip().lower() == "karras" and f"{name} Karras" in SAMPLERS:
        return f"{name} Karras", ""
    lost = (
        f"the {schedule} schedule" if schedule and schedule.lower() not in ("automatic", "") else ""
    )
    if name in SAMPLERS:
        return name, lost
    if name in _A1111_SAMPLERS:
        ours, more = _A1111_SAMPLERS[name]
        return ours, more or lost
    return None, ""


def from_a1111(text: str) -> RestoredSettings:
    parsed = parse_parameters(text)
    restored = RestoredSettings(
        source="AUTOMATIC1111 parameters",
        request={"prompt": parsed.prompt, "negative_prompt": parsed.negative_prompt},
    )
    settings = dict(parsed.settings)
    options = restored.run_options
    if (steps := _int(settings.pop("Steps", ""))) is not None:
        options["steps"] = steps
    if (cfg := _float(settings.pop("CFG scale", ""))) is not None:
        options["guidance_scale"] = cfg
    if (seed := _int(settings.pop("Seed", ""))) is not None:
        options["seed"] = seed
    if "Size" in settings:
        width, _, height = settings.pop("Size").partition("x")
        if _int(width) and _int(height):
            options["width"], options["height"] = _int(width), _int(height)
    if (strength := _float(settings.pop("Denoising strength", ""))) is not None:
        options["strength"] = strength
    if "Sampler" in settings:
        sampler = settings.pop("Sampler")
        ours, lost = map_a1111_sampler(sampler, settings.pop("Schedule type", ""))
        if ours is None:
            restored.not_understood.append(f"sampler '{sampler}'")
        else:
            options["scheduler"] = ours
            if lost:
                restored.not_understood.append(lost)
    model = settings.pop("Model", "")
    model_hash = settings.pop("Model hash", "")
    if model or model_hash:
        named = " ".join(p for p in (model, f"(hash {model_hash})" if model_hash else "") if p)
        restored.notes.append(f"The image was made with the model {named}: choose it yourself.")
    settings.pop("Version", None)
    restored.not_understood.extend(f"{key} {value}" for key, value in settings.items())
    return restored


# ComfyUI -------------------------------------------------------------------------------------


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


def _apply_comfy_sampler(
    restored: RestoredSettings, values: Mapping[str, Any], advanced: bool
) -> None:
    options = restored.run_options
    seed = values.get("noise_seed" if advanced else "seed", values.get("seed"))
    if isinstance(seed, int):
        options["seed"] = seed
    if isinstance(values.get("steps"), int):
        options["steps"] = values["steps"]
    if isinstance(values.get("cfg"), int | float):
        options["guidance_scale"] = float(values["cfg"])
    name = values.get("sampler_name")
    schedule = values.get("scheduler", "")
    if isinstance(name, str):
        ours = _COMFY_SAMPLERS.get(name)
        if ours is not None and schedule == "karras" and f"{ours} Karras" in SAMPLERS:
            ours = f"{ours} Karras"
        elif ours is not None and schedule not in ("normal", "simple", ""):
            restored.not_understood.append(f"the {schedule} schedule")
        if ours is None:
            restored.not_understood.append(f"sampler '{name}'")
        else:
            options["scheduler"] = ours
    denoise = values.get("denoise")
    if isinstance(denoise, int | float) and denoise < 1:
        options["strength"] = float(denoise)


def from_comfyui_api(graph: Any) -> RestoredSettings | None:
    """From the API-format ``prompt`` JSON: ``{node_id: {"class_type", "inputs"}}``."""
    if not isinstance(graph, Mapping):
        return None
    samplers = [
        node
        for node in graph.values()
        if isinstance(node, Mapping) and node.get("class_type") in _SAMPLER_NODES
    ]
    if not samplers:
        return None
    restored = RestoredSettings(source="ComfyUI workflow")
    if len(samplers) > 1:
        restored.notes.append(
            f"The workflow has {len(samplers)} samplers; the settings of the first were used."
        )
    sampler = samplers[0]
    inputs = sampler.get("inputs", {})
    _apply_comfy_sampler(restored, inputs, sampler.get("class_type") == "KSamplerAdvanced")
    for key, field_name in (("positive", "prompt"), ("negative", "negative_prompt")):
        text = _text_of(graph, inputs.get(key))
        if text is not None:
            restored.request[field_name] = text
        elif key in inputs:
            restored.not_understood.append(f"the {key} prompt (built by other nodes)")
    latent = _linked(graph, inputs.get("latent_image"))
    if latent is not None:
        latent_inputs = latent.get("inputs", {})
        if isinstance(latent_inputs.get("width"), int) and isinstance(
            latent_inputs.get("height"), int
        ):
            restored.run_options["width"] = latent_inputs["width"]
            restored.run_options["height"] = latent_inputs["height"]
    model = _linked(graph, inputs.get("model"))
    if model is not None and isinstance(model.get("inputs", {}).get("ckpt_name"), str):
        restored.notes.append(
            f"The image was made with the model {model['inputs']['ckpt_name']}: choose it yourself."
        )
    return restored


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
    restored = RestoredSettings(source="ComfyUI workflow")
    sampler = samplers[0]
    values = sampler.get("widgets_values") or []
    if sampler.get("type") == "KSampler" and len(values) >= 7:
        seed, _control, steps, cfg, name, schedule, denoise = values[:7]
        fields = {
            "seed": seed,
            "steps": steps,
            "cfg": cfg,
            "sampler_name": name,
            "scheduler": schedule,
            "denoise": denoise,
        }
        _apply_comfy_sampler(restored, fields, advanced=False)
    elif sampler.get("type") == "KSamplerAdvanced" and len(values) >= 8:
        _add, seed, _control, steps, cfg, name, schedule = values[:7]
        fields = {
            "seed": seed,
            "steps": steps,
            "cfg": cfg,
            "sampler_name": name,
            "scheduler": schedule,
        }
        _apply_comfy_sampler(restored, fields, advanced=False)
    else:
        restored.not_understood.append(f"the settings of {sampler.get('type')}")

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
            restored.request[field_name] = widgets[0]
            continue
        if node is not None:
            restored.not_understood.append(f"the {key} prompt (built by other nodes)")
    latent = source_node("latent_image")
    widgets = (latent or {}).get("widgets_values") or []
    sized = len(widgets) >= 2 and all(isinstance(w, int) for w in widgets[:2])
    if latent is not None and latent.get("type") == "EmptyLatentImage" and sized:
        restored.run_options["width"], restored.run_options["height"] = widgets[0], widgets[1]
    checkpoint = next(
        (n for n in nodes.values() if str(n.get("type", "")).startswith("CheckpointLoader")), None
    )
    if checkpoint is not None and (checkpoint.get("widgets_values") or [None])[0]:
        restored.notes.append(
            f"The image was made with the model {checkpoint['widgets_values'][0]}: choose it "
            "yourself."
        )
    return restored
