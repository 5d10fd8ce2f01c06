"""A recipe as the ``studio generate`` command line that makes its asset again.

The command sets every stored option and request field (``--set NAME=VALUE``, in the text each
option's ``parse`` reads back as the same value), the device, and the recipe's input assets as
project assets (``--input ROLE=asset:ID``), so it needs the same project. Like a re-run
(:func:`studio.core.pipeline.draft_from_recipe`), one asset of a batch is made alone, with its
own seed.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.core.errors import UserError
from studio.core.recipe import Recipe, RecipeOrigin, thaw_json
from studio.plugin_api import PANEL_FOR_GENERATE_KIND, REQUEST_TYPE_FOR_PANEL

ASSET_INPUT_PREFIX = "asset:"
"""``--input ROLE=asset:ID``: a project asset as a job's input (see ``studio generate``)."""

_KIND_FOR_PANEL = {panel: kind for kind, panel in PANEL_FOR_GENERATE_KIND.items()}


def setting_text(value: Any) -> str:
    """An option or field value as ``--set NAME=TEXT`` takes it (options parse it back to the
    same value: ``true``/``false``, numbers as Python writes them, text as is)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value if isinstance(value, str) else repr(value)
    return json.dumps(value, ensure_ascii=False)


def command_for(recipe: Recipe, project_path: Path | str, *, program: str = "studio") -> list[str]:
    """The arguments of a ``studio generate`` line that makes the recipe's asset again in the
    project at ``project_path`` (made absolute); join them with :func:`shlex.join`.

    Raises :class:`UserError` for a recipe that no job made (an import, a written document).
    """
    if recipe.origin is not RecipeOrigin.GENERATED or recipe.panel is None:
        how = "written" if recipe.origin is RecipeOrigin.WRITTEN else "imported"
        raise UserError(f"This asset was {how}, not generated: no command makes it.")
    run_options = thaw_json(recipe.run_options)
    if recipe.seed is not None and "seed" in run_options:
        # As draft_from_recipe: one asset of a batch, with its own seed, made once.
        run_options["seed"] = recipe.seed
        if "variations" in run_options:
            run_options["variations"] = 1
    fields = REQUEST_TYPE_FOR_PANEL[recipe.panel].field_names()
    request = {k: v for k, v in thaw_json(recipe.request).items() if k in fields}
    args = [
        program,
        "generate",
        _KIND_FOR_PANEL[recipe.panel].value,
        "--project",
        str(Path(project_path).absolute()),
        "--plugin",
        recipe.plugin_id,
    ]
    settings: list[tuple[str, Any]] = [
        *thaw_json(recipe.load_options).items(),
        *run_options.items(),
        *request.items(),
    ]
    for name, value in settings:
        args += ["--set", f"{name}={setting_text(value)}"]
    for link in recipe.inputs:
        where = f"{ASSET_INPUT_PREFIX}{link.asset_id}"
        args += ["--input", f"{link.role}={where}" if link.role else where]
    device = _device(recipe.details)
    if device:
        args += ["--device", device]
    return args


def command_line(recipe: Recipe, project_path: Path | str) -> str:
    """:func:`command_for` as one line for a POSIX shell."""
    return shlex.join(command_for(recipe, project_path))


def _device(details: Mapping[str, Any]) -> str:
    device = details.get("device")
    return device if isinstance(device, str) else ""
