"""What a run yields: progress, partial output, and one final result.

A plugin's ``run()`` is a plain generator of these events. Studio turns them into progress bars,
streaming text and previews, and commits the assets of the :class:`Result` to the project.
All events are frozen and picklable, so a run can later live in another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.plugin_api.kinds import AssetKind


@dataclass(frozen=True, kw_only=True)
class Progress:
    """How far the run is.

    Attributes:
        fraction: 0.0 to 1.0, or None when the length is unknown (a busy indicator).
        message: a short status a person understands ("step 3 of 20", "sentence 7 of 42").
    """

    fraction: float | None = None
    message: str = ""

    def __post_init__(self) -> None:
        if self.fraction is not None and not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"progress fraction {self.fraction} is outside 0..1")


@dataclass(frozen=True, kw_only=True)
class Partial:
    """Output before the end: a streamed piece of text, or a preview (image or audio bytes).

    Attributes:
        text: the next piece of text (append it to what came before).
        data: a whole preview in ``media_type`` (each preview replaces the previous one).
        media_type: the MIME type of ``data`` (``"image/png"``, ``"audio/wav"``).
    """

    text: str = ""
    data: bytes = b""
    media_type: str = ""


@dataclass(frozen=True, kw_only=True)
class GeneratedAsset:
    """One finished output, committed to the project with its recipe.

    Attributes:
        kind: the asset kind.
        data: the content: UTF-8 text for text and captions, encoded bytes (PNG, WAV, FLAC)
            for images and audio.
        media_type: the MIME type of ``data`` (``"text/plain"``, ``"image/png"``...).
        title: a short human title; Studio derives one when empty.
        seed: the seed actually used (after -1 was replaced by a random one), if any.
        details: other JSON-ready facts for the recipe (variation index, sample rate...).
        input_roles: roles of the request inputs this asset was made from (lineage).
    """

    kind: AssetKind
    data: bytes
    media_type: str
    title: str = ""
    seed: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    input_roles: tuple[str, ...] = ()

    @classmethod
    def from_text(
        cls, text: str, *, kind: AssetKind = AssetKind.TEXT, **kwargs: Any
    ) -> GeneratedAsset:
        return cls(kind=kind, data=text.encode("utf-8"), media_type="text/plain", **kwargs)


@dataclass(frozen=True, kw_only=True)
class Result:
    """Finished assets, committed to the project as soon as Studio receives them.

    A run ends with a Result; a batch may yield one per finished item before that.
    """

    assets: tuple[GeneratedAsset, ...]

    def __post_init__(self) -> None:
        if not self.assets:
            raise ValueError("a Result needs at least one asset")


Event = Progress | Partial | Result
