"""Settings from other tools' images onto this plugin's options.

Studio reads them into plain :class:`~studio.plugin_api.GenerationSettings`; this module says
what they are here: steps, guidance, seed, size and denoising strength map one to one, and the
sampler, in whichever tool's names (AUTOMATIC1111, ComfyUI and the tools that use its names,
InvokeAI, NovelAI), onto our scheduler choices (:data:`.loading.SCHEDULERS`, A1111's names). A
sampler taken without its noise schedule, or one we lack replaced by the closest we have, is
said in a note. The model is not taken: Studio finds it in the model library. ComfyUI's LoRAs
(LoraLoader nodes) and the other tools' go into the ``loras`` option by name;
AUTOMATIC1111's stay in the prompt as ``<lora:NAME:STRENGTH>`` tags. Either way Studio finds
them in the model library at run time.
"""

from __future__ import annotations

import difflib
import re
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

# Every tool's sampler name, normalised (see _normalise), onto ours.
_SAMPLERS = {
    "euler": "Euler",
    "euler_a": "Euler a",
    "heun": "Heun",
    "dpm_2": "DPM2",
    "dpm_2_a": "DPM2 a",
    "lms": "LMS",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "ddim": "DDIM",
    "ddpm": "DDPM",
    "pndm": "PNDM",
    "plms": "PNDM",
    "deis": "DEIS",
    "unipc": "UniPC",
    "uni_pc": "UniPC",
    "uni_pc_bh2": "UniPC",
    "lcm": "LCM",
    "tcd": "TCD",
}
# Samplers we lack, onto the closest we have (and why it is not the same).
_CLOSEST = {
    "dpmpp_sde": ("DPM++ 2M SDE", "needs the torchsde package"),
    "dpmpp_2s_a": ("Euler a", "a single-step ancestral sampler"),
    "dpmpp_2s": ("DPM++ 2M", "a single-step sampler"),
    "dpmpp_3m_sde": ("DPM++ 2M SDE", "a third-order sampler"),
    "dpmpp_3m": ("DPM++ 2M", "a third-order sampler"),
    "dpmpp_2m_sde_heun": ("DPM++ 2M SDE", "a Heun-corrected sampler"),
    "dpm_fast": ("DPM++ 2M", "a sampler of its own"),
    "dpm_adaptive": ("DPM++ 2M", "an adaptive-step sampler"),
    "ipndm": ("PNDM", "an improved PNDM"),
    "ipndm_v": ("PNDM", "an improved PNDM"),
    "restart": ("DPM++ 2M", "a sampler of its own"),
    "euler_cfg_pp": ("Euler", "the CFG++ variant"),
    "euler_a_cfg_pp": ("Euler a", "the CFG++ variant"),
    "dpmpp_2m_cfg_pp": ("DPM++ 2M", "the CFG++ variant"),
    "dpmpp_2s_a_cfg_pp": ("Euler a", "the CFG++ variant of a single-step sampler"),
    "ddim_cfg_pp": ("DDIM", "the CFG++ variant"),
    "ddim_v3": ("DDIM", "NovelAI's variant"),
    "heunpp2": ("Heun", "a second-order variant"),
    "res_multistep": ("DPM++ 2M", "a multistep sampler of its own"),
    "er_sde": ("DPM++ 2M SDE", "an SDE sampler of its own"),
    "seeds_2": ("DPM++ 2M SDE", "an SDE sampler of its own"),
    "seeds_3": ("DPM++ 2M SDE", "an SDE sampler of its own"),
    "gradient_estimation": ("Euler", "a sampler of its own"),
}
# Schedules that are a sampler's own: nothing is lost without them.
_PLAIN_SCHEDULES = {"", "normal", "simple", "automatic", "default", "uniform"}


def _normalise(name: str) -> tuple[str, str]:
    """(the sampler's name in one vocabulary, a schedule the name carries): "DPM++ 2M Karras",
    "k_dpmpp_2m", "sample_dpmpp_2m", "dpmpp_2m_k" and "dpmpp_2m" are all ``dpmpp_2m``."""
    text = name.strip().lower()
    schedule = ""
    for suffix in (" karras", " exponential", " polyexponential"):
        if text.endswith(suffix):
            text, schedule = text[: -len(suffix)], suffix.strip()
    text = text.replace("++", "pp").replace(" ", "_").replace("-", "_")
    text = re.sub(r"^(sample_|k_)", "", text)
    text = re.sub(r"_gpu$", "", text)
    if re.search(r"_k$", text) and text not in ("k",):  # InvokeAI: dpmpp_2m_k is Karras
        text, schedule = text[:-2], "karras"
    text = re.sub(r"^kdpm_?2", "dpm_2", text)
    text = re.sub(r"^dpm2", "dpm_2", text)
    text = text.replace("ancestral", "a")
    return text, schedule


def map_sampler(name: str, schedule: str = "") -> tuple[str | None, str]:
    """Our scheduler for a sampler in any tool's names (and its schedule); the second value
    says what is lost or replaced (empty when nothing is). None: nothing close enough, said
    in the note."""
    key, carried = _normalise(name)
    schedule = (schedule or carried).strip()
    if schedule == "KarrasScheduler":  # ComfyUI's sigma node of the Karras schedule
        schedule = "karras"
    notes = []
    ours = _SAMPLERS.get(key)
    if ours is None and key in _CLOSEST:
        ours, why = _CLOSEST[key]
        notes.append(
            f"'{name.strip()}' is not available here ({why}): the closest, {ours}, is used"
        )
    if ours is None:
        guess = difflib.get_close_matches(name.strip(), SCHEDULER_CHOICES[:-1], n=1, cutoff=0.5)
        hint = f"; the closest here is {guess[0]}" if guess else ""
        return None, f"the sampler '{name.strip()}' is not available here{hint}"
    if schedule.lower() == "karras" and f"{ours} Karras" in SCHEDULER_CHOICES:
        ours = f"{ours} Karras"
    elif schedule.lower() not in _PLAIN_SCHEDULES and not schedule.endswith("Scheduler"):
        notes.append(f"the {schedule} schedule")
    elif schedule.endswith("Scheduler") and schedule != "BasicScheduler":
        notes.append(f"the sigmas of {schedule}")
    return ours, "; ".join(notes)


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
        ours, note = map_sampler(settings.sampler, settings.schedule)
        if ours is not None:
            run["scheduler"] = ours
            used |= {"sampler", "schedule"}
        if note:
            notes.append(note)
    if settings.loras and settings.dialect is SettingsDialect.AUTOMATIC1111:
        used.add("loras")  # their <lora:NAME:STRENGTH> tags stay in the prompt, found at run
    elif settings.loras:
        run["loras"] = LoraOption.text(
            [
                LoraUse(Path(lora.name).stem, 1.0 if lora.weight is None else lora.weight)
                for lora in settings.loras
            ]
        )
        used.add("loras")
    return SettingsMapping(run_options=run, used=frozenset(used), notes=tuple(notes))
