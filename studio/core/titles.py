"""The titles Studio gives generated assets: what the asset is, and how it differs from its
siblings.

A plugin's own title is kept (on one line, shortened to :data:`TITLE_LIMIT` characters at a
word boundary); the built-in plugins name the model, style, voice or seed there. Studio makes
the title when a plugin gives none (:func:`default_title`), and adds what only it knows: a
re-run keeps the title of the asset it repeats, with " · re-run" (" · re-run 2" when that one
exists already, see :func:`rerun_title`).

- Writing: the text itself, after the start of the text it continues ("Once upon a time there
  lived a fisherman…"; a long prompt is cut: "It was a dark and stormy… the ship sank"); an
  instruction's reply is its own start.
- Captions and other text: the text.
- Images and audio: the prompt or text (quoted for speech), with the seed or variation.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from studio.core.jobs import ProducedAsset
from studio.core.project.assets import TEXT_KINDS
from studio.core.project.errors import AssetNotFoundError
from studio.core.project.store import ProjectStore
from studio.plugin_api import AssetKind, Panel
from studio.plugin_api.titles import (
    SEPARATOR,
    TITLE_LIMIT,
    join_title,
    one_line,
    quote,
    shorten,
)

__all__ = [
    "SEPARATOR",
    "TITLE_LIMIT",
    "default_title",
    "rerun_title",
    "result_title",
    "writing_title",
]

PROMPT_ROOM = 28
"""How much of a continued text's start a Writing result's title shows before its own text."""
RERUN = "re-run"
_RERUN_SUFFIX = re.compile(rf"{re.escape(SEPARATOR)}{RERUN}(?: \d+)?$")


def writing_title(text: str, request: Mapping[str, Any]) -> str:
    """The title of a Writing result ``text`` made for ``request`` (its fields by name)."""
    generated = one_line(text)
    prompt = str(request.get("prompt") or "")
    if request.get("mode") == "instruct":
        if generated:
            return shorten(generated)
        instruction = one_line(str(request.get("instruction") or ""))
        return f"Empty reply to {quote(instruction, 48)}" if instruction else "Empty reply"
    if not one_line(prompt):
        return shorten(generated) or "Empty text"
    if not generated:
        return f"Empty continuation of {quote(prompt, 48)}"
    lead = shorten(prompt, PROMPT_ROOM)
    if lead == one_line(prompt):  # the whole prompt fits: the text as it reads on
        return shorten(prompt + text)
    return shorten(f"{lead} {generated}")


def default_title(produced: ProducedAsset) -> str:
    """The title of a result its plugin gave none."""
    asset, job = produced.asset, produced.job
    values = {name: getattr(job.request, name) for name in job.request.field_names()}
    if asset.kind in TEXT_KINDS:
        text = asset.data.decode("utf-8", errors="replace")
        if job.panel is Panel.WRITING:
            return writing_title(text, values)
        if one_line(text):
            return shorten(text)
        return f"Empty {asset.kind.value}"
    words = next((one_line(v) for v in values.values() if isinstance(v, str) and one_line(v)), "")
    if asset.kind is AssetKind.AUDIO and words:
        words = quote(words)
    seed = asset.seed if asset.seed is not None else produced.run_options.get("seed")
    variation = asset.details.get("variation")
    parts = [words or job.plugin_id]
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        parts.append(f"seed {seed}")
    elif isinstance(variation, int) and not isinstance(variation, bool):
        parts.append(f"variation {variation}")
    return join_title(*parts)


def rerun_title(original: str, taken: Collection[str]) -> str:
    """The title of a re-run of the asset titled ``original``: that title and " · re-run", or
    " · re-run N" with the first N from 2 whose title is not in ``taken`` (a re-run of a re-run
    counts with its original's)."""
    base = _RERUN_SUFFIX.sub("", one_line(original)) or "Untitled"
    parts = base.split(SEPARATOR)
    number = 1
    while True:
        title = join_title(*parts, RERUN if number == 1 else f"{RERUN} {number}")
        if title not in taken:
            return title
        number += 1


def result_title(
    produced: ProducedAsset, details: Mapping[str, Any], store: ProjectStore | None
) -> str:
    """The title a result is stored under: its plugin's (shortened) or :func:`default_title`;
    a re-run's (``details["rerun_of"]``) from the asset it repeats."""
    title = shorten(produced.asset.title, TITLE_LIMIT) or default_title(produced)
    rerun_of = details.get("rerun_of")
    if not isinstance(rerun_of, str) or store is None:
        return title
    try:
        original = store.get_asset(rerun_of)
    except AssetNotFoundError:
        return rerun_title(title, ())
    taken = {
        asset.title for asset in store.list_assets(kind=original.kind, search=RERUN, deleted=None)
    }
    return rerun_title(original.title, taken)
