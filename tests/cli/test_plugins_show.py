"""``studio plugins show ID``: a plugin's facts and every key ``--set`` takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli.main import main
from tests.plugins.plugin_factory import write_folder_plugin

PAINTER_CODE = """
from studio.plugin_api import (
    AssetKind, ChoiceOption, FloatOption, InputSlot, IntOption, ModelOption, ModelPlugin,
    OptionSet, SeedOption, TextOption,
)

class Plugin(ModelPlugin):
    load_options = OptionSet(
        ModelOption(),
        ChoiceOption(
            name="precision", default="auto", choices=("auto", "float32", "bfloat16"),
            description="How the model computes.", advanced=True,
        ),
    )
    run_options = OptionSet(
        IntOption(name="steps", default=20, minimum=1, maximum=150, step=1,
                  description="Denoising steps: more is slower."),
        FloatOption(name="guidance", default=7.5, minimum=0.0, maximum=30.0, step=0.5,
                    description="How closely the picture follows the prompt."),
        TextOption(name="style", default="", max_length=40, description="A style word."),
        SeedOption(),
    )
    inputs = (
        InputSlot(role="init", label="Init image", kind=AssetKind.IMAGE,
                  description="The picture to start from."),
    )

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        yield from ()
"""

MODELS = """
description = "Paints pictures from words, slowly."

[[models]]
id = "tiny-painter"
name = "Tiny painter"
licence = "CC0-1.0"
embedded = true
description = "Ships inside the plugin."
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "plugins"
    write_folder_plugin(
        root, "acme_painter", code=PAINTER_CODE, panels=["image"], extra_manifest=MODELS
    )
    write_folder_plugin(root, "acme_needy", requires=["absent-package-xyz"])
    write_folder_plugin(root, "acme_broken", code="raise RuntimeError('no luck')\n")
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(root))
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_names_every_option_with_type_default_range_and_choices(plugins, capsys):
    code, out, err = run(capsys, "plugins", "show", "acme-painter")
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "acme-painter: Acme-Painter"
    assert "Panels:    image" in lines
    assert "Version:   0.1.0" in lines
    assert "Licence:   MIT" in lines
    assert "State:     enabled" in lines
    assert "Paints pictures from words, slowly." in lines
    assert "  tiny-painter: Tiny painter (licence CC0-1.0; ships with it)" in lines
    assert "  init: Init image (image, optional)" in lines
    assert "  prompt, negative_prompt" in lines  # the image panel's request fields
    load = lines.index("Load options (--set KEY=VALUE; used when the model loads):")
    run_ = lines.index("Run options (--set KEY=VALUE; each run):")
    assert load < lines.index('  model (model; default "")') < run_
    assert (
        '  precision (choice; default "auto"; one of "auto", "float32", "bfloat16"; advanced)'
        in lines[load:run_]
    )
    after = lines[run_:]
    assert "  steps (int; default 20; 1 to 150; step 1)" in after
    assert "      Denoising steps: more is slower." in after
    assert "  guidance (float; default 7.5; 0 to 30; step 0.5)" in after
    assert '  style (text; default ""; at most 40 characters)' in after
    assert "  seed (seed; default -1; -1 to 4294967295)" in after


def test_json_has_the_option_schemas(plugins, capsys):
    code, out, err = run(capsys, "plugins", "show", "acme-painter", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["id"] == "acme-painter" and data["panels"] == ["image"]
    assert data["version"] == "0.1.0" and data["licence"] == "MIT" and data["enabled"]
    assert data["description"] == "Paints pictures from words, slowly."
    assert data["models"] == [
        {
            "id": "tiny-painter",
            "name": "Tiny painter",
            "licence": "CC0-1.0",
            "embedded": True,
            "description": "Ships inside the plugin.",
        }
    ]
    assert [o["name"] for o in data["load_options"]] == ["model", "precision"]
    assert data["load_options"][1]["choices"] == ["auto", "float32", "bfloat16"]
    steps = data["run_options"][0]
    assert {k: steps[k] for k in ("name", "type", "default", "minimum", "maximum", "step")} == {
        "name": "steps",
        "type": "int",
        "default": 20,
        "minimum": 1,
        "maximum": 150,
        "step": 1,
    }
    assert steps["description"] == "Denoising steps: more is slower."
    assert [o["name"] for o in data["run_options"]] == ["steps", "guidance", "style", "seed"]
    assert data["inputs"][0]["role"] == "init" and data["inputs"][0]["kind"] == "image"
    assert data["request_fields"] == ["prompt", "negative_prompt"]


def test_every_key_it_shows_is_one_generate_takes(plugins, capsys, tmp_path):
    """What 'show' lists is what --set accepts: a key it does not list is refused."""
    code, out, _ = run(capsys, "plugins", "show", "acme-painter", "--json")
    data = json.loads(out)
    shown = {o["name"] for o in data["load_options"] + data["run_options"]}
    shown |= set(data["request_fields"])
    code, _, err = run(
        capsys,
        "generate",
        "image",
        "--project",
        str(tmp_path / "p.studio"),
        "--plugin",
        "acme-painter",
        "--set",
        "colour=red",
    )
    assert code == 2
    known = err.split("(known: ")[1].rstrip(").\n").split(", ")
    assert set(known) == shown
    assert not (tmp_path / "p.studio").exists()


def test_a_disabled_plugin_shows_why(plugins, capsys):
    code, out, err = run(capsys, "plugins", "show", "acme-needy")
    assert code == 0, err
    assert (
        "State:     disabled: it needs the Python package absent-package-xyz (not installed)"
        in out.splitlines()
    )
    assert "Its options cannot be read while it is disabled." in out
    code, out, _ = run(capsys, "plugins", "show", "acme-broken", "--json")
    data = json.loads(out)
    assert not data["enabled"] and "its code failed to load" in data["reason"]
    assert data["run_options"] is None


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [("acme-paintr", "acme-painter"), ("painter", "acme-painter"), ("ACME-NEEDY", "acme-needy")],
)
def test_an_unknown_id_is_one_sentence_with_the_nearest_ids(plugins, capsys, typed, suggested):
    code, out, err = run(capsys, "plugins", "show", typed)
    assert code == 2
    assert out == ""
    assert err.startswith(f"studio: No plugin with the id '{typed}' is installed")
    assert f"did you mean {suggested}" in err
    assert err.count("\n") == 1


def test_an_id_like_nothing_gets_no_suggestion(plugins, capsys):
    code, _, err = run(capsys, "plugins", "show", "zzzz")
    assert code == 2
    assert err == (
        "studio: No plugin with the id 'zzzz' is installed (see 'studio plugins list').\n"
    )
