"""ComfyUI's graphs: ``prompt`` (the API graph: ``{id: {"class_type", "inputs"}}``) and
``workflow`` (the editor's graph: nodes with ``widgets_values`` and links), in a PNG's text
chunks or a WebP's EXIF.

The settings are those of the sampler that made the saved image. Walking back from the save
node finds the samplers that fed it; when the image went through several passes (a refiner, a
hires fix), the first pass is the generation and gives the settings, and each later pass is
listed in a note; samplers that fed no saved image are listed too. Every core sampler node is
read: ``KSampler``, ``KSamplerAdvanced``, ``SamplerCustom`` and ``SamplerCustomAdvanced`` (with
``RandomNoise``, ``KSamplerSelect``, ``BasicScheduler``, ``CFGGuider``/``BasicGuider`` and
``FluxGuidance``); the model from ``CheckpointLoader*``, ``UNETLoader`` or
``unCLIPCheckpointLoader`` through ``LoraLoader`` and model-patching nodes. An input the reader
does not know is listed in ``other``; a prompt built by custom nodes is named as not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from studio.core.image_settings.restored import RestoredSettings, SettingsSource
from studio.core.image_settings.values import as_float, as_int, json_object, size_pair
from studio.plugin_api import GenerationSettings, LoraWeight, SettingsDialect

SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
_LINK_DEPTH = 24
_KNOWN_SAMPLER_INPUTS = {
    "seed",
    "noise_seed",
    "steps",
    "cfg",
    "sampler_name",
    "scheduler",
    "denoise",
    "model",
    "positive",
    "negative",
    "latent_image",
    "add_noise",
    "start_at_step",
    "end_at_step",
    "return_with_leftover_noise",
    "noise",
    "guider",
    "sampler",
    "sigmas",
}
_EMPTY_LATENTS = ("EmptyLatentImage", "EmptySD3LatentImage", "EmptyHunyuanLatentVideo")
_MODEL_LOADERS = {
    "CheckpointLoaderSimple": "ckpt_name",
    "CheckpointLoader": "ckpt_name",
    "unCLIPCheckpointLoader": "ckpt_name",
    "ImageOnlyCheckpointLoader": "ckpt_name",
    "UNETLoader": "unet_name",
}
_SAVE_NODES = ("SaveImage", "PreviewImage", "SaveAnimatedWEBP", "SaveAnimatedPNG", "SaveWEBM")
# The editor graph's widget values, in order, for the nodes the reader follows.
_WIDGETS = {
    "KSampler": ("seed", None, "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": (
        "add_noise",
        "noise_seed",
        None,
        "steps",
        "cfg",
        "sampler_name",
        "scheduler",
        "start_at_step",
        "end_at_step",
        "return_with_leftover_noise",
    ),
    "SamplerCustom": ("add_noise", "noise_seed", None, "cfg"),
    "RandomNoise": ("noise_seed", None),
    "KSamplerSelect": ("sampler_name",),
    "BasicScheduler": ("scheduler", "steps", "denoise"),
    "CFGGuider": ("cfg",),
    "FluxGuidance": ("guidance",),
    "CLIPTextEncode": ("text",),
    "CLIPTextEncodeSDXLRefiner": ("ascore", "width", "height", "text"),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "unCLIPCheckpointLoader": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "LatentUpscale": ("upscale_method", "width", "height", "crop"),
    "LoadImage": ("image", None),
    "PrimitiveNode": ("value",),
}


class _Graph:
    """An API-format graph with link following."""

    def __init__(self, graph: Mapping[str, Any]) -> None:
        self.nodes = {
            str(key): node
            for key, node in graph.items()
            if isinstance(node, Mapping) and isinstance(node.get("inputs", {}), Mapping)
        }

    def kind(self, node_id: str) -> str:
        return str(self.nodes[node_id].get("class_type", ""))

    def inputs(self, node_id: str) -> Mapping[str, Any]:
        return self.nodes[node_id].get("inputs", {})

    def linked(self, value: Any) -> str | None:
        if isinstance(value, list) and value and str(value[0]) in self.nodes:
            return str(value[0])
        return None

    def value(self, node_id: str, name: str) -> Any:
        """An input's value, following a link to a primitive node."""
        value = self.inputs(node_id).get(name)
        source = self.linked(value)
        if source is not None:
            inputs = self.inputs(source)
            return inputs.get("value", inputs.get(name))
        return value

    def upstream(self, node_id: str) -> list[str]:
        return [s for v in self.inputs(node_id).values() if (s := self.linked(v)) is not None]

    def follow(self, node_id: str | None, *names: str) -> str | None:
        """The node an input chain leads to: ``follow(x, "guider", "model")``."""
        for name in names:
            if node_id is None:
                return None
            node_id = self.linked(self.inputs(node_id).get(name))
        return node_id

    def text(self, value: Any, depth: int = 0) -> str | None:
        """The prompt a conditioning input carries; None when other nodes build it."""
        source = self.linked(value)
        if source is None:
            return value if isinstance(value, str) else None
        if depth > _LINK_DEPTH:
            return None
        inputs = self.inputs(source)
        kind = self.kind(source)
        if kind == "CLIPTextEncodeSDXL":
            g, l_ = (
                self.text(inputs.get("text_g"), depth + 1),
                self.text(inputs.get("text_l"), depth + 1),
            )
            return g if g == l_ or not l_ else f"{g}\n{l_}" if g else l_
        for key in ("text", "string", "value", "conditioning"):
            if key in inputs:
                return self.text(inputs[key], depth + 1)
        return None


def _is_save(kind: str) -> bool:
    return kind in _SAVE_NODES or "Save" in kind


def _sampler_chain(graph: _Graph) -> tuple[list[str], list[str]]:
    """(the samplers that made the saved image, first pass first; the other samplers). With
    several save nodes (a preview of each pass), the one after the most passes is the image."""
    samplers = [n for n in graph.nodes if graph.kind(n) in SAMPLERS]
    if not samplers:
        return [], []
    best: list[str] = []
    for save in (n for n in graph.nodes if _is_save(graph.kind(n))):
        final = _nearest_sampler(graph, save)
        if final is not None:
            chain = _chain_to(graph, final, len(samplers))
            if len(chain) > len(best):
                best = chain
    if not best:
        best = _chain_to(graph, samplers[-1], len(samplers))
    return best, [n for n in samplers if n not in best]


def _nearest_sampler(graph: _Graph, start: str) -> str | None:
    seen: set[str] = set()
    queue = [start]
    while queue and len(seen) < 10_000:
        node = queue.pop(0)
        if node in seen:
            continue
        seen.add(node)
        if graph.kind(node) in SAMPLERS:
            return node
        queue.extend(graph.upstream(node))
    return None


def _chain_to(graph: _Graph, final: str, most: int) -> list[str]:
    chain = [final]
    while len(chain) <= most:
        previous = _latent_source(graph, chain[0])
        if previous is None or previous in chain:
            break
        chain.insert(0, previous)
    return chain


def _latent_source(graph: _Graph, sampler: str) -> str | None:
    """The sampler whose result this sampler starts from (through upscales), if any."""
    node = graph.linked(graph.inputs(sampler).get("latent_image"))
    for _ in range(_LINK_DEPTH):
        if node is None:
            return None
        if graph.kind(node) in SAMPLERS:
            return node
        node = graph.linked(graph.inputs(node).get("samples"))
    return None


class _Reading:
    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.values: dict[str, Any] = {}
        self.other: list[tuple[str, str]] = []
        self.loras: list[LoraWeight] = []
        self.not_understood: list[str] = []
        self.notes: list[str] = []

    def sampler(self, node: str) -> None:
        g = self.graph
        kind = g.kind(node)
        inputs = g.inputs(node)
        seed = g.value(node, "noise_seed" if "noise_seed" in inputs else "seed")
        guider = g.follow(node, "guider")
        if kind == "SamplerCustomAdvanced":
            noise = g.follow(node, "noise")
            seed = (
                g.value(noise, "noise_seed") if noise and g.kind(noise) == "RandomNoise" else None
            )
            if noise and g.kind(noise) == "DisableNoise":
                self.other.append(("noise", "disabled"))
        cfg = g.value(node, "cfg")
        if guider is not None and g.kind(guider) == "CFGGuider":
            cfg = g.value(guider, "cfg")
        sampler_name, schedule = g.value(node, "sampler_name"), g.value(node, "scheduler")
        steps, denoise = g.value(node, "steps"), g.value(node, "denoise")
        chooser = g.follow(node, "sampler")
        if chooser is not None:
            if g.kind(chooser) == "KSamplerSelect":
                sampler_name = g.value(chooser, "sampler_name")
            else:
                self.other.append(("sampler node", g.kind(chooser)))
        sigmas = g.follow(node, "sigmas")
        if sigmas is not None:
            if g.kind(sigmas) == "BasicScheduler":
                schedule = g.value(sigmas, "scheduler")
            else:
                schedule = g.kind(sigmas)
            steps = g.value(sigmas, "steps")
            denoise = g.value(sigmas, "denoise")
        if as_int(seed) is not None:
            self.values["seed"] = as_int(seed)
        if as_int(steps) is not None:
            self.values["steps"] = as_int(steps)
        if as_float(cfg) is not None:
            self.values["guidance"] = as_float(cfg)
        if isinstance(sampler_name, str):
            self.values["sampler"] = sampler_name
        if isinstance(schedule, str):
            self.values["schedule"] = schedule
        if as_float(denoise) is not None and as_float(denoise) < 1:
            self.values["denoise"] = as_float(denoise)
        for key in ("start_at_step", "end_at_step"):
            default = 0 if key == "start_at_step" else 10000
            step = as_int(g.value(node, key))
            if step is not None and step != default:
                self.other.append((key, str(step)))
        for key, value in inputs.items():
            if key not in _KNOWN_SAMPLER_INPUTS and g.linked(value) is None:
                self.other.append((key, str(value)))
        self._prompts(node, guider)
        self._latent(node)
        self._model(g.follow(guider, "model") if guider else g.linked(inputs.get("model")))

    def _prompts(self, node: str, guider: str | None) -> None:
        g = self.graph
        holder = guider if guider is not None else node
        inputs = g.inputs(holder)
        pairs = [("positive", "prompt"), ("negative", "negative_prompt")]
        if guider is not None and "conditioning" in inputs:
            pairs = [("conditioning", "prompt")]
        for key, field_name in pairs:
            if key not in inputs:
                continue
            text = g.text(inputs[key])
            if text is not None:
                self.values[field_name] = text
            else:
                label = "positive" if field_name == "prompt" else "negative"
                self.not_understood.append(f"the {label} prompt (built by other nodes)")
        source = g.linked(inputs.get("conditioning") or inputs.get("positive"))
        for _ in range(_LINK_DEPTH):
            if source is None:
                break
            if g.kind(source) == "FluxGuidance":
                self.other.append(("Flux guidance", str(g.value(source, "guidance"))))
                break
            source = g.linked(g.inputs(source).get("conditioning"))

    def _latent(self, node: str) -> None:
        g = self.graph
        latent = g.linked(g.inputs(node).get("latent_image"))
        if latent is None:
            return
        kind = g.kind(latent)
        if kind in _EMPTY_LATENTS or kind.startswith("Empty"):
            width, height = size_pair(g.value(latent, "width"), g.value(latent, "height"))
            if width:
                self.values["width"], self.values["height"] = width, height
        elif kind.startswith("VAEEncode"):
            image = g.linked(g.inputs(latent).get("pixels"))
            if image is not None and g.kind(image) == "LoadImage":
                self.other.append(("init image", str(g.value(image, "image"))))

    def _model(self, model: str | None) -> None:
        g = self.graph
        for _ in range(_LINK_DEPTH):
            if model is None:
                return
            kind = g.kind(model)
            if kind in _MODEL_LOADERS:
                name = g.value(model, _MODEL_LOADERS[kind])
                if isinstance(name, str):
                    self.values["model_name"] = name
                return
            if kind.startswith("LoraLoader"):
                name = g.value(model, "lora_name")
                strength = as_float(g.value(model, "strength_model"))
                clip = as_float(g.value(model, "strength_clip"))
                if isinstance(name, str) and name:
                    self.loras.insert(
                        0,
                        LoraWeight(
                            name=name,
                            weight=strength,
                            text_encoder_weight=clip
                            if clip is not None and clip != strength
                            else None,
                        ),
                    )
            model = g.linked(g.inputs(model).get("model"))

    def describe(self, node: str) -> str:
        g = self.graph
        inputs = g.inputs(node)
        parts = [f"node {node} ({g.kind(node)})"]
        chooser = g.follow(node, "sampler")
        name = g.value(chooser, "sampler_name") if chooser else inputs.get("sampler_name")
        if isinstance(name, str):
            parts.append(name)
        steps = inputs.get("steps")
        sigmas = g.follow(node, "sigmas")
        if sigmas is not None:
            steps = g.value(sigmas, "steps")
        if as_int(steps) is not None:
            parts.append(f"{as_int(steps)} steps")
        seed = g.value(node, "noise_seed" if "noise_seed" in inputs else "seed")
        if as_int(seed) is not None:
            parts.append(f"seed {as_int(seed)}")
        denoise = as_float(inputs.get("denoise"))
        if denoise is not None and denoise < 1:
            parts.append(f"denoise {denoise:g}")
        return ", ".join(parts)

    def result(self, carrier: str) -> RestoredSettings:
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
            carrier=carrier,
        )


def from_api_graph(data: Any, carrier: str = "") -> RestoredSettings | None:
    """From the API-format ``prompt`` graph."""
    if not isinstance(data, Mapping):
        return None
    graph = _Graph(data)
    chain, others = _sampler_chain(graph)
    if not chain:
        return None
    reading = _Reading(graph)
    reading.sampler(chain[0])
    later = chain[1:]
    if later:
        reading.notes.append(
            f"The image was made in {len(chain)} passes; the settings are the first's "
            f"({reading.describe(chain[0])}). Then: "
            + "; ".join(reading.describe(node) for node in later)
            + "."
        )
    if others:
        reading.notes.append(
            "Samplers that made no saved image: "
            + "; ".join(reading.describe(node) for node in others)
            + "."
        )
    return reading.result(carrier)


def api_graph_from_workflow(workflow: Any) -> tuple[dict[str, Any], set[str]] | None:
    """The editor's ``workflow`` graph as an API graph (widget values named for the nodes the
    reader knows, links as ``[node, slot]``), and the custom nodes that set widgets of the
    nodes read (their shown values are kept: the graph does not say what the node made)."""
    if not isinstance(workflow, Mapping) or not isinstance(workflow.get("nodes"), list):
        return None
    links: dict[Any, tuple[str, int]] = {}
    for link in workflow.get("links") or []:
        if isinstance(link, list) and len(link) >= 4:
            links[link[0]] = (str(link[1]), link[2])
        elif isinstance(link, Mapping) and "id" in link:
            links[link["id"]] = (str(link.get("origin_id")), link.get("origin_slot", 0))
    kinds = {
        str(node.get("id")): str(node.get("type", ""))
        for node in workflow["nodes"]
        if isinstance(node, Mapping)
    }
    graph: dict[str, Any] = {}
    custom: set[str] = set()
    for node in workflow["nodes"]:
        if not isinstance(node, Mapping) or "id" not in node:
            continue
        kind = str(node.get("type", ""))
        inputs: dict[str, Any] = {}
        widgets = node.get("widgets_values")
        if isinstance(widgets, list):
            for name, value in zip(_WIDGETS.get(kind, ()), widgets, strict=False):
                if name is not None:
                    inputs[name] = value
        elif isinstance(widgets, Mapping):
            inputs.update(widgets)
        for slot in node.get("inputs") or []:
            if isinstance(slot, Mapping) and slot.get("link") in links:
                name = str(slot.get("name"))
                source, index = links[slot["link"]]
                if slot.get("widget") and name in inputs and kinds.get(source) != "PrimitiveNode":
                    custom.add(kinds.get(source, "?"))
                    continue  # a widget set by a custom node: the value it shows is kept
                inputs[name] = [source, index]
        graph[str(node["id"])] = {"class_type": kind, "inputs": inputs}
    return graph, custom


def from_workflow(data: Any, carrier: str = "") -> RestoredSettings | None:
    """From the editor-format ``workflow`` graph (when there is no API graph)."""
    converted = api_graph_from_workflow(data)
    if converted is None:
        return None
    graph, custom = converted
    restored = from_api_graph(graph, carrier)
    if restored is None or not custom:
        return restored
    note = (
        f"Some values are set by custom nodes ({', '.join(sorted(custom))}): the values the "
        "editor showed were read, which may not be the ones they gave."
    )
    return replace(restored, notes=(*restored.notes, note))


def read(
    texts: Mapping[str, str], where: Mapping[str, str] | None = None
) -> RestoredSettings | None:
    where = where or {}
    graph = json_object(texts.get("prompt"))
    restored = from_api_graph(graph, where.get("prompt", "")) if graph is not None else None
    if restored is None:
        workflow = json_object(texts.get("workflow"))
        if workflow is not None:
            restored = from_workflow(workflow, where.get("workflow", ""))
    return restored
