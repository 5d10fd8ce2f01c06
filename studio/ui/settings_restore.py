"""Fill the Image panel from the settings an image carries (made by Studio, AUTOMATIC1111,
ComfyUI, InvokeAI, NovelAI, Fooocus or SwarmUI), and say what was restored and what was not
used.

A Studio recipe goes back to its own plugin as it is. Another tool's settings are plain data:
the panel's current plugin maps them onto its options through its
:meth:`~studio.plugin_api.ModelPlugin.options_from_settings` hook, or, when it takes none of
them, the panel's usable plugin that takes the most.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.core.image_settings import RestoredSettings
from studio.core.image_settings.model_lookup import find_model, model_file_stem
from studio.core.media.settings_restore import model_note, not_taken, plugin_for_settings
from studio.core.recipe import Recipe, thaw_json
from studio.core.registry import PluginUnavailable
from studio.plugin_api import GenerationSettings
from studio.plugin_api.generation_settings import REQUEST_SETTINGS

if TYPE_CHECKING:
    from studio.ui.panels.base import PanelWidget


def apply_restored_settings(panel: PanelWidget, restored: RestoredSettings) -> str:
    """Put ``restored`` into the panel's model (plugin, options, prompt fields); returns the
    summary to show (restored, not used, not understood, notes), in the options' labels."""
    if restored.recipe is not None:
        parts = _apply_recipe(panel, restored, restored.recipe)
    elif restored.settings is not None:
        parts = _apply_settings(panel, restored, restored.settings)
    else:
        parts = ["Nothing to restore."]
    if restored.not_understood:
        parts.append(f"Not understood: {', '.join(restored.not_understood)}.")
    parts.extend(restored.notes)
    return " ".join(part for part in parts if part)


def _restored_line(restored: RestoredSettings, names: list[str]) -> str:
    return f"Restored from the {restored.source}: {', '.join(names) or 'nothing'}."


def _apply_recipe(panel: PanelWidget, restored: RestoredSettings, recipe: Recipe) -> list[str]:
    """A Studio recipe: its plugin, that plugin's options, the request and the seed."""
    request = {
        key: value
        for key, value in thaw_json(recipe.request).items()
        if key in REQUEST_SETTINGS and isinstance(value, str)
    }
    run_options = dict(thaw_json(recipe.run_options))
    if recipe.seed is not None:
        run_options["seed"] = recipe.seed
    not_used: list[str] = []
    plugin = recipe.plugin_id
    if panel.current_plugin_id() != plugin and not panel.select_plugin(plugin):
        not_used.append(f"plugin {plugin} (not installed)")
    model = panel.model
    rejected = model.take_options(dict(thaw_json(recipe.load_options)), run_options)
    model.set_fields(request)
    names = [name for name, value in request.items() if value]
    names += [name for name in run_options if name not in rejected]
    parts = [_restored_line(restored, model.labels(names))]
    if not_used or rejected:
        parts.append(f"Not used by this plugin: {', '.join(not_used + model.labels(rejected))}.")
    return parts


def _apply_settings(
    panel: PanelWidget, restored: RestoredSettings, settings: GenerationSettings
) -> list[str]:
    """Another tool's settings, through the hook of the plugin that takes them."""
    services = panel.services
    current = panel.current_plugin_id()
    chosen, mapping = plugin_for_settings(
        services.registry, services.engine_checks, panel.panel, settings, current
    )
    if chosen is None:
        return ["No plugin of this panel can take these settings."]
    if chosen != current:
        panel.select_plugin(chosen)
    try:
        spec = services.registry.spec(chosen)
    except PluginUnavailable as exc:
        return [str(exc)]
    request = {
        name: value
        for name in REQUEST_SETTINGS
        if (value := getattr(settings, name)) and spec.reads(name)
    }
    load_options: dict[str, Any] = dict(mapping.load_options)
    run_options: dict[str, Any] = dict(mapping.run_options)
    model = panel.model
    match = None
    if "model" in spec.load_options and "model" not in load_options:
        # the window compares only hashes Studio already knows (it never reads a whole
        # checkpoint here): `studio image settings FILE` hashes the library
        match = find_model(settings, model.library, services.hashes.cached_file_sha256)
        if match is not None:
            load_options["model"] = str(match.path)
    rejected = model.take_options(load_options, run_options)
    model.set_fields(request)
    taken = [name for name in (*request, *load_options, *run_options) if name not in rejected]
    parts = [_restored_line(restored, model.labels(taken))]
    left = not_taken(settings, mapping, spec.reads) + model.labels(rejected)
    if mapping.takes_nothing and left:
        parts.append(f"{spec.name} takes none of these settings: {', '.join(left)}.")
    elif left:
        parts.append(f"Not used by {spec.name}: {', '.join(left)}.")
    parts.append(model_note(settings, mapping, match))
    if "loras" in mapping.used:
        known = {name.casefold() for name in model.lora_names()}
        missing = [
            lora.name
            for lora in settings.loras
            if model_file_stem(lora.name).casefold() not in known
        ]
        if missing:
            parts.append(
                f"Not in the model library: LoRA {', '.join(missing)}. Put the files in a LoRA "
                "folder (AUTOMATIC1111's models/Lora, ComfyUI's models/loras) before running."
            )
    return parts
