"""A recipe as a ``studio generate`` line: built without Qt, and run through the CLI's own
``main()`` it makes the same asset again (same request, options, seed, inputs and bytes)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.errors import UserError
from studio.core.project.store import ProjectStore
from studio.core.recipe import Recipe, RecipeInput, RecipeOrigin
from studio.core.recipe_command import command_for, command_line, setting_text
from studio.plugin_api import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    Panel,
    SeedOption,
    TextOption,
)
from studio.plugin_api.sample_media import write_sample_png
from tests.plugins.plugin_factory import write_folder_plugin

KNOBS_CODE = """
import hashlib
import json

from studio.plugin_api import *


class Plugin(ModelPlugin):
    load_options = OptionSet(
        ChoiceOption(name="precision", label="Precision", default="auto", choices=("auto", "fp32")),
    )
    run_options = OptionSet(
        FloatOption(name="guidance_scale", label="Guidance", default=7.5, minimum=0.0,
                    maximum=30.0, description="How closely to follow the question."),
        BoolOption(name="hires_fix", label="High-res fix", default=False),
        ChoiceOption(name="sampler", label="Sampler", default="euler",
                     choices=("euler", "dpm++ 2m")),
        TextOption(name="style_note", label="Style note", default="", multiline=True),
        IntOption(name="passes", default=1, minimum=1, maximum=9),
        SeedOption(),
    )

    def load(self, options, ctx):
        return dict(options)

    def run(self, loaded, request, options, ctx):
        # Everything the job was given, in the caption: equal bytes mean an equal job.
        told = {
            "load": loaded,
            "run": dict(options),
            "question": request.question,
            "inputs": [
                [item.role, hashlib.sha256(item.path.read_bytes()).hexdigest()]
                for item in request.inputs
            ],
        }
        text = json.dumps(told, sort_keys=True)
        yield Result(assets=(GeneratedAsset.from_text(
            text, kind=AssetKind.CAPTION, title="knobs", seed=options["seed"],
            input_roles=tuple(item.role for item in request.inputs),
        ),))
"""


def write_knobs_plugin(data_dir: Path) -> None:
    """A captioning plugin whose options have labels of their own (in the user plugin folder
    of ``data_dir``): "Guidance", "High-res fix", "Sampler", "Style note", "Passes", "Seed",
    and the load option "Precision"."""
    write_folder_plugin(data_dir / "plugins", "knobs", code=KNOBS_CODE, panels=["captioning"])


def generated(**fields) -> Recipe:
    values = {
        "panel": Panel.IMAGE,
        "plugin_id": "some.painter",
        "plugin_version": "1.2",
        "seed": 42,
        "run_options": {"steps": 20, "seed": 42},
        "request": {"prompt": "a cat", "negative_prompt": ""},
        "details": {"device": "cpu"},
    }
    values.update(fields)
    return Recipe(**values)


def settings_of(args: list[str]) -> dict[str, str]:
    pairs = [args[i + 1] for i, arg in enumerate(args) if arg == "--set"]
    return dict(pair.split("=", 1) for pair in pairs)


def inputs_of(args: list[str]) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == "--input"]


# The line itself ---------------------------------------------------------------------------


def test_the_command_names_kind_project_plugin_every_setting_inputs_and_device(tmp_path):
    recipe = generated(
        load_options={"precision": "fp16"},
        inputs=(RecipeInput(asset_id="01AAA", role="init"), RecipeInput(asset_id="01BBB")),
        details={"device": "cuda:1", "seconds": 3.2},
    )
    args = command_for(recipe, tmp_path / "art.studio")
    assert args[:7] == [
        "studio",
        "generate",
        "image",
        "--project",
        str(tmp_path / "art.studio"),
        "--plugin",
        "some.painter",
    ]
    assert settings_of(args) == {
        "precision": "fp16",
        "steps": "20",
        "seed": "42",
        "prompt": "a cat",
        "negative_prompt": "",
    }
    assert inputs_of(args) == ["init=asset:01AAA", "asset:01BBB"]
    assert args[-2:] == ["--device", "cuda:1"]


@pytest.mark.parametrize(
    ("panel", "kind"),
    [
        (Panel.WRITING, "text"),
        (Panel.IMAGE, "image"),
        (Panel.VOICE, "speech"),
        (Panel.CAPTIONING, "caption"),
    ],
)
def test_each_panel_is_its_generate_kind(panel, kind):
    assert command_for(generated(panel=panel, request={}), "p.studio")[2] == kind


def test_a_relative_project_path_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = command_for(generated(), "here.studio")
    assert args[args.index("--project") + 1] == str(tmp_path / "here.studio")


def test_one_asset_of_a_batch_is_made_alone_with_its_own_seed():
    recipe = generated(seed=1003, run_options={"seed": 1000, "variations": 4, "steps": 20})
    settings = settings_of(command_for(recipe, "p.studio"))
    assert settings["seed"] == "1003" and settings["variations"] == "1"


def test_a_plugin_without_a_seed_option_gets_no_seed_setting():
    recipe = generated(seed=9, run_options={"steps": 3})
    assert "seed" not in settings_of(command_for(recipe, "p.studio"))


def test_fields_that_are_not_request_fields_of_the_panel_are_left_out():
    # Written by a newer Studio with a field this one does not know: the CLI would refuse it.
    recipe = generated(request={"prompt": "a cat", "future_field": "x"})
    assert "future_field" not in settings_of(command_for(recipe, "p.studio"))


@pytest.mark.parametrize(
    "recipe",
    [
        Recipe.for_import("photo.png"),
        Recipe(origin=RecipeOrigin.WRITTEN, panel=Panel.WRITING),
    ],
)
def test_imports_and_written_documents_have_no_command(recipe):
    with pytest.raises(UserError, match="not generated"):
        command_for(recipe, "p.studio")


def test_the_line_quotes_what_a_shell_would_split(tmp_path):
    tricky = 'it\'s "quoted", has = signs,\nnew lines and $HOME'
    recipe = generated(request={"prompt": tricky, "negative_prompt": " padded "})
    project = tmp_path / "my art" / "p.studio"
    line = command_line(recipe, project)
    assert "\n" not in line.split("'")[0]  # the text is inside quotes, not loose
    assert shlex.split(line) == command_for(recipe, project)
    assert settings_of(shlex.split(line))["prompt"] == tricky


@pytest.mark.parametrize(
    ("option", "value"),
    [
        (IntOption(name="n", default=1), -12),
        (SeedOption(), 4_294_967_295),
        (FloatOption(name="f", default=1.0), 0.1),
        (FloatOption(name="f", default=1.0), 1e-05),
        (FloatOption(name="f", default=1.0), 7.0),
        (BoolOption(name="b", default=False), True),
        (BoolOption(name="b", default=True), False),
        (ChoiceOption(name="c", default="a", choices=("a", "dpm++ 2m")), "dpm++ 2m"),
        (TextOption(name="t"), "two\nlines = and 'quotes'"),
        (TextOption(name="t"), ""),
    ],
)
def test_each_setting_reads_back_as_the_same_value(option, value):
    parsed = option.parse(setting_text(value))
    assert parsed == value and type(parsed) is type(value)


# Through the command line ------------------------------------------------------------------


def run_cli(capsys, args: list[str]) -> dict:
    assert args[0] == "studio"
    code = main([*args[1:], "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (asset,) = json.loads(captured.out)["assets"]
    return asset


def assert_same_job(again: dict, first: dict) -> None:
    for field in (
        "plugin_id",
        "plugin_version",
        "model_id",
        "model_sha256",
        "load_options",
        "run_options",
        "request",
        "seed",
        "inputs",
    ):
        assert again["recipe"][field] == first["recipe"][field], field
    assert again["recipe"]["details"]["device"] == first["recipe"]["details"]["device"]


def blobs(project: Path, *asset_ids: str) -> list[bytes]:
    store = ProjectStore.open(project, read_only=True)
    try:
        return [store.read_blob(asset_id) for asset_id in asset_ids]
    finally:
        store.close()


def test_the_command_makes_the_same_image_from_the_same_input_asset(test_plugins, tmp_path, capsys):
    project = tmp_path / "p.studio"
    init = write_sample_png(tmp_path / "init.png")
    first = run_cli(
        capsys,
        [
            "studio",
            "generate",
            "image",
            "--project",
            str(project),
            "--plugin",
            "studio-test.gradient",
            "--input",
            f"init={init}",
            "--set",
            "prompt=a lighthouse, at dusk",
            "--set",
            "steps=3",
        ],
    )
    (link,) = first["recipe"]["inputs"]
    assert link["role"] == "init"
    args = command_for(Recipe.from_json(first["recipe"]), project)
    assert inputs_of(args) == [f"init=asset:{link['asset_id']}"]
    again = run_cli(capsys, args)
    assert_same_job(again, first)
    original, remade = blobs(project, first["asset_id"], again["asset_id"])
    assert remade == original
    store = ProjectStore.open(project, read_only=True)
    try:
        assert store.count_assets() == 3  # the input is used from the project, not copied
        assert [link.input_id for link in store.inputs_of(again["asset_id"])] == [link["asset_id"]]
    finally:
        store.close()


def test_the_command_gives_every_kind_of_option_back_unchanged(
    test_plugins, studio_data_dir, tmp_path, capsys
):
    write_knobs_plugin(studio_data_dir)
    project = tmp_path / "p.studio"
    image = write_sample_png(tmp_path / "photo.png")
    first = run_cli(
        capsys,
        [
            "studio",
            "generate",
            "caption",
            "--project",
            str(project),
            "--plugin",
            "knobs",
            "--input",
            str(image),
            "--set",
            "precision=fp32",
            "--set",
            "guidance_scale=0.1",
            "--set",
            "hires_fix=yes",
            "--set",
            "sampler=dpm++ 2m",
            "--set",
            "style_note=two\nlines, = and 'quotes' ",
            "--set",
            "passes=3",
            "--set",
            "question=what is in it?",
        ],
    )
    told = json.loads(blobs(project, first["asset_id"])[0])
    assert told["run"]["hires_fix"] is True and told["load"]["precision"] == "fp32"
    line = command_line(Recipe.from_json(first["recipe"]), project)
    again = run_cli(capsys, shlex.split(line))  # as a shell would hand it over
    assert_same_job(again, first)
    original, remade = blobs(project, first["asset_id"], again["asset_id"])
    assert remade == original


def test_an_asset_input_that_is_not_in_the_project_is_refused_and_nothing_written(
    test_plugins, tmp_path, capsys
):
    project = tmp_path / "p.studio"
    ProjectStore.create(project).close()
    base = ["generate", "caption", "--project", str(project), "--plugin", "studio-test.describe"]
    assert main([*base, "--input", "image=asset:01NOSUCHASSET0000000000000"]) == 2
    assert "01NOSUCHASSET0000000000000 is not in this project" in capsys.readouterr().err
    store = ProjectStore.open(project, read_only=True)
    try:
        assert store.count_assets(deleted=None) == 0
    finally:
        store.close()


def test_an_asset_input_needs_an_existing_project(test_plugins, tmp_path, capsys):
    project = tmp_path / "new.studio"
    base = ["generate", "caption", "--project", str(project), "--plugin", "studio-test.describe"]
    assert main([*base, "--input", "asset:01AAAAAAAAAAAAAAAAAAAAAAAA"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not project.exists()


def test_a_caption_batch_takes_no_asset_inputs(test_plugins, tmp_path, capsys):
    project = tmp_path / "p.studio"
    ProjectStore.create(project).close()
    base = ["generate", "caption", "--project", str(project), "--plugin", "studio-test.describe"]
    assert main([*base, "--input", "asset:01AAAAAAAAAAAAAAAAAAAAAAAA", "--sidecar", "txt"]) == 2
    assert "not project assets" in capsys.readouterr().err
