"""Options and helpers shared by the light test plugins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.plugin_api import IntOption
from studio.plugin_api.sample_media import encode_png

__all__ = ["DELAY_OPTION", "FAIL_OPTION", "DeliberateFailure", "encode_png", "fail_if_asked"]

DELAY_OPTION = IntOption(
    name="delay_ms",
    default=0,
    minimum=0,
    maximum=60_000,
    description="Pause after each step, to watch progress and try cancel.",
    advanced=True,
)
FAIL_OPTION = IntOption(
    name="fail_at_step",
    default=-1,
    minimum=-1,
    maximum=1_000_000,
    description="Raise an error at this step (-1: never), to see how errors are shown.",
    advanced=True,
)


class DeliberateFailure(RuntimeError):
    """The error a test plugin raises when asked to (``fail_at_step``)."""


def fail_if_asked(options: Mapping[str, Any], step: int) -> None:
    if options["fail_at_step"] == step:
        raise DeliberateFailure(f"The test plugin failed on purpose at step {step}.")
