"""Settings an image was made with by another tool, as plain data, and a plugin's use of them.

Studio reads the settings other tools write into their images (AUTOMATIC1111's ``parameters``
text, ComfyUI's graphs) into a :class:`GenerationSettings`: the prompt, the seed, the steps, the
sampler... exactly as the tool wrote them, in that tool's own names. It does not know your
options; your plugin does, through :meth:`studio.plugin_api.ModelPlugin.options_from_settings`,
which returns a :class:`SettingsMapping`. An image plugin that maps what it can::

    from studio.plugin_api import ModelPlugin, SettingsMapping

    class MyImage(ModelPlugin):
        @classmethod
        def options_from_settings(cls, settings):
            run, used = {}, set()
            if settings.steps is not None:
                run["num_steps"] = settings.steps
                used.add("steps")
            if settings.seed is not None:
                run["seed"] = settings.seed
                used.add("seed")
            return SettingsMapping(run_options=run, used=frozenset(used))

Studio fills the panel with the values, puts the prompt and negative prompt into the request
fields the plugin reads, and lists for the user every setting the plugin did not take (in the
words of :meth:`GenerationSettings.describe`), so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

REQUEST_SETTINGS = ("prompt", "negative_prompt")
"""The settings Studio puts into the request's fields of the same name itself."""


class SettingsDialect(StrEnum):
    """Whose vocabulary the names in :class:`GenerationSettings` are in (sampler, schedule,
    model and LoRA names), so a plugin knows how to read them."""

    AUTOMATIC1111 = "automatic1111"
    """The AUTOMATIC1111 web UI (and Forge, SD.Next, Civitai): ``sampler`` like ``"DPM++ 2M"``,
    ``"Euler a"`` (older versions write the schedule into the name: ``"DPM++ 2M Karras"``);
    ``schedule`` like ``"Karras"``, ``"Exponential"``, ``"Automatic"``."""

    COMFYUI = "comfyui"
    """ComfyUI: ``sampler`` is a KSampler ``sampler_name`` (``"dpmpp_2m"``, ``"euler_ancestral"``,
    old graphs ``"sample_dpmpp_2m"``); ``schedule`` its ``scheduler`` (``"normal"``,
    ``"karras"``, ``"simple"``...) or the sigma node's type (``"KarrasScheduler"``)."""

    INVOKEAI = "invokeai"
    """InvokeAI: ``sampler`` is a 3.x scheduler name (``"euler_a"``, ``"dpmpp_2m_k"``, ``"lcm"``:
    ``_k`` means the Karras schedule) or a 2.x sampler (``"k_lms"``, ``"k_euler_a"``,
    ``"ddim"``)."""

    NOVELAI = "novelai"
    """NovelAI: ``sampler`` like ``"k_euler_ancestral"``, ``"k_dpmpp_2m"``, ``"ddim"``."""

    FOOOCUS = "fooocus"
    """Fooocus: ComfyUI's sampler and scheduler names (``"dpmpp_2m_sde_gpu"``, ``"karras"``)."""

    SWARMUI = "swarmui"
    """SwarmUI: ComfyUI's sampler and scheduler names (``"euler"``, ``"normal"``)."""


@dataclass(frozen=True, kw_only=True)
class LoraWeight:
    """A LoRA the image was made with.

    Attributes:
        name: as the tool names it (A1111: the name in ``<lora:name:0.8>``; ComfyUI: the
            ``lora_name`` file, such as ``"style.safetensors"``).
        weight: its strength on the diffusion model; None when the file does not say.
        text_encoder_weight: its strength on the text encoder, when the tool gave one of its
            own (ComfyUI's ``strength_clip``); None means the same as ``weight``.
        hash: the short hash the tool wrote, if any (A1111's ``Lora hashes``).
    """

    name: str
    weight: float | None = None
    text_encoder_weight: float | None = None
    hash: str = ""

    def describe(self) -> str:
        weights = [f"{w:g}" for w in (self.weight, self.text_encoder_weight) if w is not None]
        return f"LoRA {self.name}" + (f" ({', '.join(weights)})" if weights else "")


@dataclass(frozen=True, kw_only=True)
class GenerationSettings:
    """What an image was made with, read from another tool's metadata: plain values, in that
    tool's own names (see :attr:`dialect`). Empty text or None means the file does not say.

    Attributes:
        dialect: the tool whose names :attr:`sampler`, :attr:`schedule`, :attr:`model_name`
            and the LoRA names are in.
        prompt: the prompt as written (A1111's attention syntax and ``<lora:...>`` tags
            included: they are part of what the user typed).
        negative_prompt: the negative prompt as written.
        seed: the seed (may exceed 32 bits: ComfyUI's do).
        steps: sampling steps.
        guidance: classifier-free guidance scale (A1111's "CFG scale", ComfyUI's ``cfg``).
        sampler: the sampler's name in the tool's vocabulary.
        schedule: the noise schedule's name in the tool's vocabulary ("" when the tool wrote
            none, or wrote it into :attr:`sampler`).
        width: the image width in pixels, with :attr:`height`.
        height: the image height in pixels, with :attr:`width`.
        denoise: image-to-image denoising strength, 0-1 (A1111's "Denoising strength";
            ComfyUI's ``denoise`` when below 1). None for plain text-to-image.
        model_name: the checkpoint the tool names (A1111's "Model", ComfyUI's ``ckpt_name``).
        model_hash: the checkpoint's hash as the tool wrote it (A1111's short "Model hash").
        loras: the LoRAs applied, in the order found.
        other: every further setting the file holds that has no field here, as
            ``(name, value)`` text pairs in the tool's own words (``("Clip skip", "2")``).
    """

    dialect: SettingsDialect
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    sampler: str = ""
    schedule: str = ""
    width: int | None = None
    height: int | None = None
    denoise: float | None = None
    model_name: str = ""
    model_hash: str = ""
    loras: tuple[LoraWeight, ...] = ()
    other: tuple[tuple[str, str], ...] = ()

    def given(self) -> tuple[str, ...]:
        """The names of the settings this file gives: field names with a value (in field
        order; not ``dialect`` nor ``other``), then the names of :attr:`other`."""
        names = [
            f.name
            for f in fields(self)
            if f.name not in ("dialect", "other") and getattr(self, f.name) not in ("", None, ())
        ]
        return (*names, *(name for name, _ in self.other))

    def describe(self, name: str) -> str:
        """A short phrase for one of :meth:`given`, for a person: ``"steps 28"``,
        ``"sampler 'Heun'"``, ``"the Karras schedule"``, ``"Clip skip 2"``."""
        if name == "prompt":
            return "the prompt"
        if name == "negative_prompt":
            return "the negative prompt"
        if name == "sampler":
            return f"sampler '{self.sampler}'"
        if name == "schedule":
            return f"the {self.schedule} schedule"
        if name == "loras":
            return ", ".join(lora.describe() for lora in self.loras)
        if name in _LABELS:
            value = getattr(self, name)
            return f"{_LABELS[name]} {f'{value:g}' if isinstance(value, float) else value}"
        return next((f"{n} {v}".strip() for n, v in self.other if n == name), name)


_LABELS = {
    "seed": "seed",
    "steps": "steps",
    "guidance": "guidance",
    "width": "width",
    "height": "height",
    "denoise": "denoising strength",
    "model_name": "model",
    "model_hash": "model hash",
}


@dataclass(frozen=True, kw_only=True)
class SettingsMapping:
    """What a plugin makes of :class:`GenerationSettings`
    (:meth:`studio.plugin_api.ModelPlugin.options_from_settings`).

    Attributes:
        load_options: values for the plugin's load options, by option name.
        run_options: values for the plugin's run options, by option name.
        used: the names (from :meth:`GenerationSettings.given`) of the settings these values
            carry; Studio lists every other given setting as not used (the prompt and negative
            prompt excepted when the plugin reads those request fields: Studio fills them; a
            model not used becomes a note asking the user to choose it).
        notes: what was taken only in part, for the user ("the Karras schedule of 'LMS
            Karras'"), listed with what was not used.

    Values Studio cannot put into a form (an unknown option, a value out of range) are listed
    as not used too, by option name.
    """

    load_options: Mapping[str, Any] = field(default_factory=dict)
    run_options: Mapping[str, Any] = field(default_factory=dict)
    used: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()

    @property
    def takes_nothing(self) -> bool:
        return not (self.load_options or self.run_options or self.used)
