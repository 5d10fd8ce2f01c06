"""Options as people read them: each name with its label from the plugin's option schema, each
value in words ("Yes" for ``True``).

Recipes store options by name (``guidance_scale``); the plugin's
:class:`~studio.plugin_api.ModelSpec` knows what the panel calls them ("Guidance"). A recipe
can outlive its plugin, or name options the installed version no longer has: those keep their
raw name and are marked as unknown (:attr:`OptionLine.known`). Used by the recipe dialog and by
"Use These Settings".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from studio.plugin_api import ChoiceOption, ModelSpec, Option

EMPTY_TEXT = "(empty)"


def find_option(spec: ModelSpec | None, name: str, *, load: bool | None = None) -> Option | None:
    """The option ``name`` of the plugin, or None when it has none (or ``spec`` is None).

    ``load``: look in the load options first (True) or the run options first (False); an
    option that moved from one set to the other between plugin versions is still found.
    """
    if spec is None:
        return None
    sets = (
        (spec.run_options, spec.load_options)
        if load is False
        else (
            spec.load_options,
            spec.run_options,
        )
    )
    for options in sets:
        if name in options:
            return options[name]
    return None


def option_label(spec: ModelSpec | None, name: str) -> str:
    """What the panel calls the option ``name`` ("Guidance"); the raw name when the plugin
    (or this version of it) has no such option."""
    option = find_option(spec, name)
    return option.display_label if option is not None else name


def option_labels(spec: ModelSpec) -> dict[str, str]:
    """Every option of the plugin, load and run, by name: its label."""
    return {
        option.name: option.display_label
        for options in (spec.load_options, spec.run_options)
        for option in options
    }


def field_label(name: str) -> str:
    """A request field's name as a label (``negative_prompt``: "Negative prompt")."""
    return name.replace("_", " ").capitalize()


def format_value(value: Any, option: Option | None = None) -> str:
    """A stored option value as people read it: booleans as Yes/No, numbers as stored (a whole
    float without ".0"), empty text as "(empty)", lists and objects as compact JSON.

    Choices are shown as the panel's drop-down shows them, by the choice itself (choice options
    declare no separate labels); one the plugin no longer offers says so.
    """
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None:
        return "—"
    if isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as this very number
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if isinstance(option, ChoiceOption) and value not in option.current_choices():
            return f"{value} (no longer offered)"
        return value or EMPTY_TEXT
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


@dataclass(frozen=True)
class OptionLine:
    """One option of a recipe as the recipe view shows it.

    Attributes:
        name: the option's name as stored (and as ``--set NAME=...`` takes it).
        label: the plugin's label for it, or ``name`` when the plugin has no such option.
        value: the value in words (:func:`format_value`).
        known: the plugin (as installed) has this option; False for one it no longer has,
            and for every option when the plugin is not installed.
        is_default: the value is the option's current default.
        description: the option's description (for a tooltip); empty when unknown.
        advanced: the panel folds this option away.
    """

    name: str
    label: str
    value: str
    known: bool
    is_default: bool = False
    description: str = ""
    advanced: bool = False


def option_lines(
    spec: ModelSpec | None,
    values: Mapping[str, Any],
    *,
    load: bool,
    leave_out: Iterable[str] = (),
) -> list[OptionLine]:
    """The stored option ``values`` (a recipe's load or run options, ``load`` telling which)
    with their labels, in the plugin's order; options the plugin does not have come last, in
    their stored order. ``leave_out``: names shown elsewhere (the seed, the model)."""
    skipped = set(leave_out)
    order: list[str] = []
    if spec is not None:
        own = spec.load_options if load else spec.run_options
        other = spec.run_options if load else spec.load_options
        order = [name for name in (*own.names, *other.names) if name in values]
    names = [*dict.fromkeys(order), *(name for name in values if name not in order)]
    lines = []
    for name in names:
        if name in skipped:
            continue
        value = values[name]
        option = find_option(spec, name, load=load)
        if option is None:
            lines.append(OptionLine(name=name, label=name, value=format_value(value), known=False))
            continue
        lines.append(
            OptionLine(
                name=name,
                label=option.display_label,
                value=format_value(value, option),
                known=True,
                is_default=_same(value, option.default),
                description=option.description,
                advanced=option.advanced,
            )
        )
    return lines


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    return value == default
