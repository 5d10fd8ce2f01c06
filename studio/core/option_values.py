"""Option values from elsewhere (a recipe, settings read from an image) sorted against a
plugin's option set: those it takes, validated, and those it refuses, with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.plugin_api import OptionSet


def sort_values(
    options: OptionSet, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the values ``options`` take, validated; the names it refuses, each with why)."""
    known = {option.name: option for option in options}
    taken: dict[str, Any] = {}
    refused: dict[str, str] = {}
    for name, value in values.items():
        option = known.get(name)
        if option is None:
            refused[name] = f"the plugin has no option '{name}'"
            continue
        try:
            taken[name] = option.validate(value)
        except ValueError as exc:
            refused[name] = str(exc).rstrip(".")
    return taken, refused
