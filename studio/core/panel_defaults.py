"""Which plugin each panel offers first: the first in the panel's declared order that works here.

The order is the product's choice (fast and embedded first); plugins it does not name follow by
id. A plugin whose engine failed its self-check on this machine, as far as the cached verdicts
know, is never the default, and is what :func:`alternative` skips when it offers another.
"""

from __future__ import annotations

from studio.core.engine_checks import EngineChecks
from studio.core.registry import PluginRecord, PluginRegistry
from studio.plugin_api import Panel

PANEL_ORDER: dict[Panel, tuple[str, ...]] = {
    Panel.WRITING: ("studio.writer-llamacpp", "studio.writer-transformers"),
    Panel.IMAGE: ("studio.image-diffusers", "studio.image-style", "studio.image-upscale"),
    Panel.VOICE: ("studio.voice-hibari", "studio.voice-coqui"),
    Panel.CAPTIONING: ("studio.caption-ocr-tags", "studio.caption-transformers"),
}


def panel_plugins(registry: PluginRegistry, panel: Panel) -> list[PluginRecord]:
    """Every plugin of ``panel``, enabled or not, in the panel's order."""
    order = PANEL_ORDER.get(panel, ())

    def rank(record: PluginRecord) -> tuple[int, str]:
        return (order.index(record.id) if record.id in order else len(order), record.id)

    return sorted((r for r in registry.records() if panel in r.panels), key=rank)


def usable_plugins(registry: PluginRegistry, checks: EngineChecks, panel: Panel) -> list[str]:
    """The ids of the enabled plugins of ``panel`` that nothing known stands against here."""
    return [
        record.id
        for record in panel_plugins(registry, panel)
        if record.enabled and not checks.unusable_reason(record.id)
    ]


def alternative(
    registry: PluginRegistry, checks: EngineChecks, panel: Panel, instead_of: str
) -> PluginRecord | None:
    """The first usable plugin of ``panel`` other than ``instead_of``."""
    for plugin_id in usable_plugins(registry, checks, panel):
        if plugin_id != instead_of:
            return registry.get(plugin_id)
    return None


def check_default(registry: PluginRegistry, checks: EngineChecks, panel: Panel) -> str | None:
    """Run the engine checks that decide ``panel``'s default (those not yet run here), in the
    panel's order until a plugin that runs as it is (it needs no model, or one of its embedded
    models passes) is found; that plugin's id."""
    for record in panel_plugins(registry, panel):
        if not record.enabled:
            continue
        own = [c for c in checks.checks_of(record.id) if not c.models]
        if not all(checks.ensure(record.id, check).passed for check in own):
            continue
        if registry.spec(record.id).needs_user_model:
            continue  # it waits for a model the user brings: not a first-launch default
        embedded = [m.id for m in record.manifest.models if m.embedded] if record.manifest else []
        if not embedded:
            return record.id
        for model_id in embedded:
            per_model = [c for c in checks.covering(record.id, model_id) if c.models]
            if all(checks.ensure(record.id, check).passed for check in per_model):
                return record.id
    return None
