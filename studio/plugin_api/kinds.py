"""The names used everywhere: panels, asset kinds and `studio generate` kinds."""

from __future__ import annotations

from enum import StrEnum


class Panel(StrEnum):
    """A tab of the window; every plugin serves one or more panels."""

    WRITING = "writing"
    IMAGE = "image"
    VOICE = "voice"
    CAPTIONING = "captioning"


class AssetKind(StrEnum):
    """What a stored asset is."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    CAPTION = "caption"
    DOCUMENT = "document"
    """A document the user writes in the Writing panel (kept with its revision history)."""


class GenerateKind(StrEnum):
    """The KIND of `studio generate KIND`."""

    TEXT = "text"
    IMAGE = "image"
    SPEECH = "speech"
    CAPTION = "caption"


PANEL_FOR_GENERATE_KIND: dict[GenerateKind, Panel] = {
    GenerateKind.TEXT: Panel.WRITING,
    GenerateKind.IMAGE: Panel.IMAGE,
    GenerateKind.SPEECH: Panel.VOICE,
    GenerateKind.CAPTION: Panel.CAPTIONING,
}

ASSET_KIND_FOR_PANEL: dict[Panel, AssetKind] = {
    Panel.WRITING: AssetKind.TEXT,
    Panel.IMAGE: AssetKind.IMAGE,
    Panel.VOICE: AssetKind.AUDIO,
    Panel.CAPTIONING: AssetKind.CAPTION,
}
