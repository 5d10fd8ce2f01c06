"""Instruct presets of the Writing panel: built-in ones, editable, saved as JSON.

A preset is an instruction and a plain prompt template. Models with a chat template get the
instruction and the text as a chat message; models without one get the template filled in
(``{instruction}`` and ``{text}``), which works for base models too.

The user's presets live in ``<data dir>/presets.json``; built-ins can be edited there (the
edited copy wins) and restored by deleting the copy.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from studio.core.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "{instruction}\n\n{text}\n\n"


@dataclass(frozen=True)
class Preset:
    """An instruction with its plain prompt template."""

    name: str
    instruction: str
    template: str = DEFAULT_TEMPLATE
    builtin: bool = False

    def validated(self) -> Preset:
        if not self.name.strip():
            raise UserError("A preset needs a name.")
        if "{instruction}" not in self.template and "{text}" not in self.template:
            raise UserError(
                f"The template of '{self.name}' must contain {{instruction}} or {{text}}."
            )
        try:
            self.template.format(instruction="", text="")
        except (KeyError, IndexError, ValueError) as exc:
            raise UserError(
                f"The template of '{self.name}' has a placeholder other than "
                f"{{instruction}} and {{text}} ({exc}); write {{{{ and }}}} for braces."
            ) from None
        return self


BUILTIN_PRESETS: tuple[Preset, ...] = (
    Preset(
        "Summarise",
        "Summarise the following text in a few sentences.",
        "Text:\n{text}\n\n{instruction}\nSummary:",
        builtin=True,
    ),
    Preset(
        "Translate",
        "Translate the following text into French.",
        "{instruction}\n\nText:\n{text}\n\nTranslation:",
        builtin=True,
    ),
    Preset(
        "Answer a question",
        "What is the main point of the text?",
        "Text:\n{text}\n\nQuestion: {instruction}\nAnswer:",
        builtin=True,
    ),
    Preset(
        "Extract as JSON",
        "Extract the people, places and dates mentioned in the text as a JSON object.",
        "Text:\n{text}\n\n{instruction}\nJSON:\n",
        builtin=True,
    ),
    Preset(
        "Write code",
        "Write a Python function that does what the text describes.",
        "{instruction}\n\nDescription:\n{text}\n\n```python\n",
        builtin=True,
    ),
    Preset(
        "Brainstorm an outline",
        "Brainstorm an outline with headings and bullet points for the text.",
        "Topic:\n{text}\n\n{instruction}\nOutline:\n1.",
        builtin=True,
    ),
)


class PresetStore:
    """Built-in presets plus the user's, from a JSON file that is never wiped on errors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem = ""

    def _user_presets(self) -> list[Preset]:
        self.problem = ""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            self.problem = f"{self.path} was not used: it cannot be read ({exc})."
            log.warning(self.problem)
            return []
        presets = []
        for entry in data.get("presets", []) if isinstance(data, dict) else []:
            try:
                presets.append(
                    Preset(
                        name=str(entry["name"]),
                        instruction=str(entry.get("instruction", "")),
                        template=str(entry.get("template", DEFAULT_TEMPLATE)),
                    ).validated()
                )
            except (KeyError, TypeError, AttributeError, UserError) as exc:
                self.problem = f"A preset in {self.path} was skipped: {exc}"
                log.warning(self.problem)
        return presets

    def load(self) -> list[Preset]:
        """Built-ins (replaced by the user's edited copy of the same name), then the user's."""
        user = {p.name: p for p in self._user_presets()}
        result = [user.pop(p.name, p) for p in BUILTIN_PRESETS]
        return result + list(user.values())

    def save(self, presets: list[Preset]) -> None:
        """Save the user's presets: new ones and edited built-ins (unchanged built-ins stay
        built in)."""
        builtins = {p.name: p for p in BUILTIN_PRESETS}
        names = [p.name for p in presets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise UserError(f"Two presets are named '{duplicates[0]}'.")
        keep = []
        for preset in presets:
            preset.validated()
            original = builtins.get(preset.name)
            if original is not None and (preset.instruction, preset.template) == (
                original.instruction,
                original.template,
            ):
                continue
            keep.append({k: v for k, v in asdict(preset).items() if k != "builtin"})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps({"presets": keep}, indent=2, ensure_ascii=False) + "\n")
        os.replace(temporary, self.path)
