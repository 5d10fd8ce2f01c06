"""Typed options: validation, parsing from the command line, schemas."""

from __future__ import annotations

import pytest

from studio.plugin_api import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    ModelOption,
    OptionError,
    OptionSet,
    SeedOption,
    TextOption,
)

OPTIONS = OptionSet(
    IntOption(name="steps", default=20, minimum=1, maximum=150, description="Denoising steps."),
    FloatOption(name="guidance", default=7.5, minimum=0.0, maximum=30.0, description="CFG."),
    BoolOption(name="preview", default=True, description="Show previews."),
    ChoiceOption(name="sampler", default="euler", choices=("euler", "ddim"), description="How."),
    TextOption(name="stop", default="", max_length=10, description="Stop text."),
    SeedOption(),
    ModelOption(),
)


def test_defaults_fill_missing_values():
    assert OPTIONS.validate({}) == {
        "steps": 20,
        "guidance": 7.5,
        "preview": True,
        "sampler": "euler",
        "stop": "",
        "seed": -1,
        "model": "",
    }
    assert OPTIONS.validate({"steps": 3})["steps"] == 3


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"steps": 0}, "out of range, must be between 1 and 150"),
        ({"steps": 2.5}, "expected a whole number"),
        ({"steps": True}, "expected a whole number"),
        ({"steps": "3"}, "expected a whole number"),
        ({"guidance": float("nan")}, "finite"),
        ({"guidance": 31}, "out of range"),
        ({"preview": 1}, "expected true or false"),
        ({"sampler": "plms"}, "not one of euler, ddim"),
        ({"stop": "x" * 11}, "the limit is 10"),
        ({"seed": -2}, "out of range"),
        ({"seed": 2**32}, "out of range"),
        ({"stepz": 3}, "Unknown option 'stepz'"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(values, message):
    with pytest.raises(OptionError, match=message):
        OPTIONS.validate(values)


def test_integral_floats_from_json_become_ints():
    assert OPTIONS.validate({"steps": 4.0})["steps"] == 4
    assert isinstance(OPTIONS.validate({"steps": 4.0})["steps"], int)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("steps", " 12 ", 12),
        ("guidance", "3", 3.0),
        ("preview", "off", False),
        ("preview", "YES", True),
        ("sampler", "ddim", "ddim"),
        ("stop", " keep ", " keep "),
        ("seed", "-1", -1),
    ],
)
def test_parse_command_line_text(name, text, value):
    assert OPTIONS.parse(name, text) == value


@pytest.mark.parametrize(
    ("name", "text"), [("steps", "ten"), ("preview", "maybe"), ("guidance", "x")]
)
def test_parse_refuses_bad_text(name, text):
    with pytest.raises(OptionError, match=f"Option '{name}'"):
        OPTIONS.parse(name, text)


def test_an_invalid_default_or_duplicate_name_is_a_programming_error():
    with pytest.raises(OptionError):
        IntOption(name="n", default=0, minimum=1)
    with pytest.raises(ValueError, match="duplicate option names: n"):
        OptionSet(IntOption(name="n", default=1), BoolOption(name="n", default=False))
    with pytest.raises(ValueError, match="identifier"):
        IntOption(name="not a name", default=1)


def test_schema_describes_every_option_for_forms_and_docs():
    schema = {entry["name"]: entry for entry in OPTIONS.schema()}
    assert schema["steps"] == {
        "name": "steps",
        "type": "int",
        "default": 20,
        "description": "Denoising steps.",
        "label": "Steps",
        "advanced": False,
        "minimum": 1,
        "maximum": 150,
        "step": 1,
    }
    assert schema["sampler"]["choices"] == ["euler", "ddim"]
    assert schema["seed"]["type"] == "seed"
    assert schema["model"]["type"] == "model"
