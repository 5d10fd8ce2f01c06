"""Option names as the panel labels them, and stored values in words."""

from __future__ import annotations

import pytest

from studio.core.option_labels import (
    field_label,
    find_option,
    format_value,
    option_label,
    option_labels,
    option_lines,
)
from studio.plugin_api import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    ModelOption,
    ModelSpec,
    OptionSet,
    Panel,
    SeedOption,
)

SAMPLER = ChoiceOption(name="sampler", default="euler", choices=("euler", "dpm++ 2m"))
SPEC = ModelSpec(
    id="some.painter",
    name="Some Painter",
    version="2.0",
    panels=(Panel.IMAGE,),
    licence="MIT",
    description="",
    load_options=OptionSet(ModelOption(), BoolOption(name="tiled_vae", default=False)),
    run_options=OptionSet(
        FloatOption(name="guidance_scale", label="Guidance", default=7.5, description="Follow."),
        IntOption(name="steps", default=20, advanced=True),
        SAMPLER,
        SeedOption(),
    ),
)


def test_labels_come_from_the_plugins_options():
    assert option_label(SPEC, "guidance_scale") == "Guidance"
    assert option_label(SPEC, "tiled_vae") == "Tiled vae"  # no label given: the name, spaced
    assert option_labels(SPEC) == {
        "model": "Model",
        "tiled_vae": "Tiled vae",
        "guidance_scale": "Guidance",
        "steps": "Steps",
        "sampler": "Sampler",
        "seed": "Seed",
    }


def test_an_option_the_plugin_does_not_have_keeps_its_name():
    assert option_label(SPEC, "old_knob") == "old_knob"
    assert option_label(None, "guidance_scale") == "guidance_scale"
    assert find_option(SPEC, "old_knob") is None


def test_an_option_that_moved_between_load_and_run_is_still_found():
    assert find_option(SPEC, "tiled_vae", load=False) is SPEC.load_options["tiled_vae"]
    assert find_option(SPEC, "steps", load=True) is SPEC.run_options["steps"]


@pytest.mark.parametrize(
    ("value", "option", "text"),
    [
        (True, None, "Yes"),
        (False, BoolOption(name="b", default=True), "No"),
        (7.0, None, "7"),
        (0.1, None, "0.1"),
        (1e-05, None, "1e-05"),
        (7.25, FloatOption(name="f", default=1.0, decimals=1), "7.25"),  # never rounded away
        (20, None, "20"),
        ("", None, "(empty)"),
        ("dpm++ 2m", SAMPLER, "dpm++ 2m"),
        ("ddim", SAMPLER, "ddim (no longer offered)"),
        (None, None, "—"),
        ({"a": [1, 2]}, None, '{"a": [1, 2]}'),
    ],
)
def test_values_read_as_words(value, option, text):
    assert format_value(value, option) == text


def test_lines_in_the_plugins_order_with_unknown_ones_last_and_marked():
    stored = {"seed": 5, "old_knob": 3, "steps": 30, "guidance_scale": 7.5, "sampler": "euler"}
    lines = option_lines(SPEC, stored, load=False, leave_out={"seed"})
    assert [(line.label, line.value, line.known) for line in lines] == [
        ("Guidance", "7.5", True),
        ("Steps", "30", True),
        ("Sampler", "euler", True),
        ("old_knob", "3", False),
    ]
    guidance, steps, sampler, _ = lines
    assert guidance.is_default and not steps.is_default and sampler.is_default
    assert steps.advanced and guidance.description == "Follow."


def test_without_the_plugin_every_line_keeps_its_stored_name():
    lines = option_lines(None, {"b": True, "a": 1}, load=True)
    assert [(line.label, line.value, line.known) for line in lines] == [
        ("b", "Yes", False),
        ("a", "1", False),
    ]


def test_a_false_value_is_not_the_default_zero():
    option = IntOption(name="n", default=0)
    spec = ModelSpec(
        id="x",
        name="X",
        version="1",
        panels=(Panel.WRITING,),
        licence="",
        description="",
        load_options=OptionSet(),
        run_options=OptionSet(option),
    )
    (line,) = option_lines(spec, {"n": False}, load=False)
    assert not line.is_default


def test_request_fields_are_labelled_by_name():
    assert field_label("negative_prompt") == "Negative prompt"
    assert field_label("text") == "Text"
