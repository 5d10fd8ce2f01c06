"""Settings from other tools' images (AUTOMATIC1111, ComfyUI) onto this plugin's options.

Studio reads them into plain :class:`~studio.plugin_api.GenerationSettings`; this module says
what they are here: steps, guidance, seed, size and denoising strength map one to one, and the
sampler onto our scheduler choices (A1111's names, see :data:`.loading.SCHEDULERS`). A sampler we
lack is left out (Studio names it to the user); one we have without its noise schedule is taken
with a note saying what is lost. The model is not taken: the user picks the model. ComfyUI's
LoRAs (LoraLoader nodes) go into the ``loras`` option by name; AUTOMATIC1111's stay in the prompt
as ``<lora:NAME:STRENGTH>`` tags. Either way Studio finds them in the model library at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.plugin_api import (
    GenerationSettings,
    LoraOption,
    LoraUse,
    SettingsDialect,
    SettingsMapping,
)

from .loading import SCHEDULER_CHOICES

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

# ComfyUI schedulers that are the sampler's own (nothing lost without them).
_COMFY_PLAIN_SCHEDULES = ("normal", "simple", "")


def map_a1111_sampler(name: str, schedule: str = "") -> tuple[str | None, str]:
    """Our scheduler for an A1111 sampler (and its ``Schedule type``); the second value names
    what is lost (empty when nothing is)."""
    name = name.strip()
    if schedule.strip().lower() == "karras" and f"{name} Karras" in SCHEDULER_CHOICES:
        return f"{name} Karras", ""
    lost = (
        f"the {schedule} schedule" if schedule and schedule.lower() not in ("automatic", "") else ""
    )
    if name in SCHEDULER_CHOICES:
        return name, lost
    if name in _A1111_SAMPLERS:
        ours, more = _A1111_SAMPLERS[name]
        return ours, more or lost
    return None, ""


def map_comfyui_sampler(name: str, schedule: str = "") -> tuple[str | None, str]:
    """Our scheduler for a ComfyUI ``sampler_name`` and ``scheduler``; the second value names
    what is lost (empty when nothing is)."""
    ours = _COMFY_SAMPLERS.get(name.strip())
    if ours is None:
        return None, ""
    if schedule == "karras" and f"{ours} Karras" in SCHEDULER_CHOICES:
        return f"{ours} Karras", ""
    lost = f"the {schedule} schedule" if schedule not in _COMFY_PLAIN_SCHEDULES else ""
    return ours, lost


_SAMPLER_MAPPERS = {
    SettingsDialect.AUTOMATIC1111: map_a1111_sampler,
    SettingsDialect.COMFYUI: map_comfyui_sampler,
}


def options_from_settings(settings: GenerationSettings) -> SettingsMapping:
    """The run options ``settings`` give (:meth:`DiffusersImage.options_from_settings`)."""
    run: dict[str, Any] = {}
    used: set[str] = set()
    notes: list[str] = []
    for name, option in (
        ("steps", "steps"),
        ("guidance", "guidance_scale"),
        ("seed", "seed"),
        ("denoise", "strength"),
    ):
        value = getattr(settings, name)
        if value is not None:
            run[option] = value
            used.add(name)
    if settings.width and settings.height:
        run["width"], run["height"] = settings.width, settings.height
        used |= {"width", "height"}
    if settings.sampler:
        mapper = _SAMPLER_MAPPERS.get(settings.dialect)
        ours, lost = mapper(settings.sampler, settings.schedule) if mapper else (None, "")
        if ours is not None:
            run["scheduler"] = ours
            used |= {"sampler", "schedule"}
            if lost:
                notes.append(lost)
    if settings.loras and settings.dialect is not SettingsDialect.AUTOMATIC1111:
        run["loras"] = LoraOption.text(
            [
                LoraUse(Path(lora.name).stem, 1.0 if lora.weight is None else lora.weight)
                for lora in settings.loras
            ]
        )
        used.add("loras")
    return SettingsMapping(run_options=run, used=frozenset(used), notes=tuple(notes))
