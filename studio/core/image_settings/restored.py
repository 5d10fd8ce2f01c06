"""What reading an image's settings gives: a Studio recipe, or another tool's plain settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from studio.core.recipe import Recipe
from studio.plugin_api import GenerationSettings


class SettingsSource(StrEnum):
    """Where settings were read from, as the user reads it ("Restored from the ...")."""

    STUDIO = "Studio recipe"
    AUTOMATIC1111 = "AUTOMATIC1111 parameters"
    COMFYUI = "ComfyUI workflow"
    INVOKEAI = "InvokeAI metadata"
    NOVELAI = "NovelAI metadata"
    FOOOCUS = "Fooocus parameters"
    SWARMUI = "SwarmUI parameters"


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
        carrier: where in the file they were ("PNG text 'parameters'", "EXIF UserComment").
    """

    source: SettingsSource
    recipe: Recipe | None = None
    settings: GenerationSettings | None = None
    not_understood: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    carrier: str = ""


def from_recipe(recipe: Recipe) -> RestoredSettings:
    return RestoredSettings(source=SettingsSource.STUDIO, recipe=recipe)
