"""What a panel asks a plugin for: one frozen request type per panel.

Requests carry the content of a job (prompt, text, inputs); how to do it lives in the run
options. All fields are plain data, so requests can be stored in recipes and sent to another
process. New fields are only ever added with defaults, so plugins keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from studio.plugin_api.kinds import AssetKind, Panel


@dataclass(frozen=True, kw_only=True)
class InputMedia:
    """A file handed to a plugin, such as the init image, a mask or a reference voice clip.

    Attributes:
        role: what the input is for (``"init"``, ``"mask"``, ``"image"``, ``"reference"``...).
        path: a readable local file with the content.
        kind: the asset kind of the content.
        media_type: its MIME type, recognised from the content (``"image/png"``...).
        asset_id: the project asset it came from, if any (recorded as lineage).
    """

    role: str
    path: Path
    kind: AssetKind
    media_type: str = ""
    asset_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class InputSlot:
    """An input file a plugin takes, declared on :attr:`ModelPlugin.inputs` so that panels
    show a field for it and the CLI can check ``--input ROLE=FILE``.

    Attributes:
        role: the role the file arrives under (``"init"``, ``"mask"``, ``"style"``,
            ``"image"``, ``"reference"``...).
        label: what the panel calls the field ("Style image").
        kind: the asset kind it takes.
        required: the plugin refuses a request without it.
        description: one sentence for the tooltip.
    """

    role: str
    label: str
    kind: AssetKind
    required: bool = False
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Request:
    """Base of all requests: the inputs, in the order given."""

    inputs: tuple[InputMedia, ...] = ()

    def input(self, role: str) -> InputMedia | None:
        """The input with this role, or None."""
        return next((item for item in self.inputs if item.role == role), None)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names a user can set (everything but ``inputs``)."""
        return tuple(f.name for f in fields(cls) if f.name != "inputs")

    def to_json(self) -> dict[str, Any]:
        """The request as JSON-ready data (inputs by role, path and asset id)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in self.field_names()}
        data["inputs"] = [
            {
                "role": item.role,
                "path": str(item.path),
                "kind": str(item.kind),
                "media_type": item.media_type,
                "asset_id": item.asset_id,
            }
            for item in self.inputs
        ]
        return data


@dataclass(frozen=True, kw_only=True)
class TextRequest(Request):
    """Writing: text to continue, or an instruction about a text.

    Attributes:
        prompt: in Continue mode the text to continue; in Instruct mode the document or text
            the instruction is about (may be empty).
        instruction: Instruct mode: what to do ("Summarise this in one sentence.").
        mode: ``"continue"`` or ``"instruct"``; a plugin refuses any other value with a
            ``ValueError``.
        template: Instruct mode, for models without a chat template: the preset's plain prompt
            with ``{instruction}`` and ``{text}`` placeholders. Empty means the plugin's default
            (such as ``"{instruction}\\n\\n{text}\\n\\n"``). A model with a chat template uses
            that instead.
    """

    prompt: str = ""
    instruction: str = ""
    mode: str = "continue"
    template: str = ""


@dataclass(frozen=True, kw_only=True)
class ImageRequest(Request):
    """Image: what to draw and what to avoid; init image and mask arrive as inputs."""

    prompt: str = ""
    negative_prompt: str = ""


@dataclass(frozen=True, kw_only=True)
class SpeechRequest(Request):
    """Voice: the text to speak; a reference clip (role ``"reference"``) arrives as an input."""

    text: str = ""


@dataclass(frozen=True, kw_only=True)
class CaptionRequest(Request):
    """Captioning: the image arrives as input ``"image"``; an empty question asks for a caption."""

    question: str = ""


REQUEST_TYPE_FOR_PANEL: dict[Panel, type[Request]] = {
    Panel.WRITING: TextRequest,
    Panel.IMAGE: ImageRequest,
    Panel.VOICE: SpeechRequest,
    Panel.CAPTIONING: CaptionRequest,
}
