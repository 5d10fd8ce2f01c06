"""Fill the Image panel from the settings an image carries (a PNG from Studio, AUTOMATIC1111
or ComfyUI), and say what was restored and what was not understood."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.core.media.settings_restore import RestoredSettings

if TYPE_CHECKING:
    from studio.ui.panels.base import PanelWidget

# The diffusers plugin takes prompts; settings from other tools are meant for it.
DIFFUSION_PLUGIN = "studio.image-diffusers"


def apply_restored_settings(panel: PanelWidget, restored: RestoredSettings) -> str:
    """Put ``restored`` into the panel's plugin picker, forms and prompt fields; returns the
    summary to show (restored, not understood, notes)."""
    plugin = restored.plugin_id or DIFFUSION_PLUGIN
    not_used: list[str] = []
    if panel.current_plugin_id() != plugin and not panel.select_plugin(plugin):
        not_used.append(f"plugin {plugin} (not installed)")
    if panel.load_form is not None and restored.load_options:
        not_used += panel.load_form.set_values(dict(restored.load_options))
    if panel.run_form is not None:
        not_used += panel.run_form.set_values(dict(restored.run_options))
    panel.set_request_fields(dict(restored.request))
    summary = restored.summary()
    if not_used:
        summary += f" Not used by this plugin: {', '.join(not_used)}."
    return summary
