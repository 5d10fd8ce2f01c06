"""The ``parameters`` text of the AUTOMATIC1111 web UI, which many image tools read.

Format: the prompt (one or more lines), then ``Negative prompt: ...`` (if any), then one line
of ``Key: value`` pairs separated by ``, `` (values with commas, colons or quotes are JSON
strings), for example::

    a red fox in snow
    Negative prompt: blurry
    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x512, Model: sd-turbo
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from studio.core.recipe import Recipe

_SETTING = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_NEGATIVE = "Negative prompt:"

# Recipe option names (diffusers' and others') for each A1111 setting, in order of preference.
_OPTION_NAMES = {
    "Steps": ("steps", "num_inference_steps"),
    "Sampler": ("sampler", "scheduler"),
    "CFG scale": ("cfg_scale", "guidance_scale"),
    "Denoising strength": ("denoising_strength", "strength"),
}


@dataclass(frozen=True)
class A1111Parameters:
    """A parsed ``parameters`` text."""

    prompt: str = ""
    negative_prompt: str = ""
    settings: Mapping[str, str] = field(default_factory=dict)


def _quote(value: object) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if any(c in text for c in ',:"\n') else text


def _number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def parameters_from_recipe(recipe: Recipe, size: tuple[int, int] | None = None) -> str | None:
    """The ``parameters`` text for an image made by ``recipe``; None when the recipe has no
    prompt (an imported image, say), so there is nothing A1111-like to say."""
    prompt = recipe.request.get("prompt")
    if not isinstance(prompt, str):
        return None
    lines = [prompt]
    negative = recipe.request.get("negative_prompt")
    if isinstance(negative, str) and negative:
        lines.append(f"{_NEGATIVE} {negative}")
    settings: list[tuple[str, object]] = []
    from_image = any(link.role == "init" for link in recipe.inputs)
    for name, option_names in _OPTION_NAMES.items():
        if name == "Denoising strength" and not from_image:
            continue  # text-to-image: the strength option did nothing
        for option in option_names:
            value = recipe.run_options.get(option)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                settings.append((name, _number(value)))
                break
    if recipe.seed is not None:
        settings.append(("Seed", recipe.seed))
    if size is not None:
        settings.append(("Size", f"{size[0]}x{size[1]}"))
    if recipe.model_sha256:
        settings.append(("Model hash", recipe.model_sha256[:10]))
    if recipe.model_id:
        settings.append(("Model", recipe.model_id))
    settings.append(("Version", f"Studio {recipe.app_version}"))
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in settings))
    return "\n".join(lines)


def parse_parameters(text: str) -> A1111Parameters:
    """Split a ``parameters`` text into prompt, negative prompt and settings."""
    *lines, last = text.strip().split("\n")
    found = _SETTING.findall(last)
    if len(found) < 3:  # A1111's own rule: fewer than three pairs is still prompt
        lines.append(last)
        found = []
    prompt: list[str] = []
    negative: list[str] = []
    for line in lines:
        if line.startswith(_NEGATIVE):
            negative.append(line[len(_NEGATIVE) :].strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    settings = {}
    for key, value in found:
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        settings[key.strip()] = value
    return A1111Parameters(
        prompt="\n".join(prompt).strip(),
        negative_prompt="\n".join(negative).strip(),
        settings=settings,
    )
