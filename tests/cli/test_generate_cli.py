"""``studio generate`` and ``studio recipe rerun`` end to end with the light test plugins."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from studio.cli.main import main
from studio.core.project.store import ProjectStore
from studio.plugin_api.sample_media import write_sample_png
from tests.plugins.plugin_factory import write_folder_plugin


def generate(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["generate", *args])
    captured = capsys.readouterr()
    data = json.loads(captured.out) if code == 0 and "--json" in args else None
    return code, data, captured.err


def test_generate_text_creates_the_project_and_commits_with_a_recipe(
    test_plugins, tmp_path, capsys
):
    project = tmp_path / "new.studio"
    code, data, err = generate(
        capsys,
        "text",
        "--project",
        str(project),
        "--plugin",
        "studio-test.echo",
        "--set",
        "prompt=to be or not",
        "--set",
        "repeat=2",
        "--json",
    )
    assert code == 0, err
    (asset,) = data["assets"]
    assert asset["kind"] == "text"
    recipe = asset["recipe"]
    assert recipe["plugin_id"] == "studio-test.echo" and recipe["panel"] == "writing"
    assert recipe["request"] == {
        "prompt": "to be or not",
        "instruction": "",
        "mode": "continue",
        "template": "",
    }
    assert recipe["run_options"]["repeat"] == 2
    assert "running on cpu" in err
    store = ProjectStore.open(project, read_only=True)
    try:
        assert store.read_blob(asset["asset_id"]) == b"to be or not to be or not"
    finally:
        store.close()


def test_inputs_are_imported_and_recorded_as_lineage(test_plugins, tmp_path, capsys):
    image = write_sample_png(tmp_path / "init.png")
    mask = tmp_path / "mask.png"
    Image.new("L", (32, 32), 255).save(mask)  # white: repaint all; the init image's size
    project = tmp_path / "p.studio"
    code, data, err = generate(
        capsys,
        "image",
        "--project",
        str(project),
        "--plugin",
        "studio-test.gradient",
        "--input",
        str(image),
        "--input",
        f"mask={mask}",
        "--set",
        "seed=7",
        "--json",
    )
    assert code == 0, err
    recipe = data["assets"][0]["recipe"]
    assert [i["role"] for i in recipe["inputs"]] == ["init", "mask"]
    store = ProjectStore.open(project, read_only=True)
    try:
        lineage = {link.role for link in store.inputs_of(data["assets"][0]["asset_id"])}
        assert lineage == {"init", "mask"}
        assert store.count_assets() == 3
    finally:
        store.close()


def test_rerun_reproduces_the_asset(test_plugins, tmp_path, capsys):
    project = tmp_path / "p.studio"
    _, data, _ = generate(
        capsys,
        "image",
        "--project",
        str(project),
        "--plugin",
        "studio-test.gradient",
        "--set",
        "steps=2",
        "--json",
    )
    first = data["assets"][0]
    assert main(["recipe", "rerun", str(project), first["asset_id"], "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["assets"][0]
    assert again["recipe"]["seed"] == first["recipe"]["seed"]
    assert again["recipe"]["details"]["rerun_of"] == first["asset_id"]
    store = ProjectStore.open(project, read_only=True)
    try:
        assert store.read_blob(again["asset_id"]) == store.read_blob(first["asset_id"])
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "promt=x"], "Unknown setting 'promt'"),
        (["--set", "repeat=many"], "Option 'repeat': expected a whole number"),
        (["--set", "repeat=0"], "out of range"),
        (["--set", "noequals"], "expected KEY=VALUE"),
        (["--plugin", "studio-test.gradient"], "serves image, not writing"),
        (["--plugin", "nope"], "No plugin with the id 'nope'"),
        (["--input", "missing.png"], "does not exist"),
        (["--device", "cuda:5"], "cuda:5 is not available"),
    ],
)
def test_bad_usage_exits_2_and_leaves_no_project(test_plugins, tmp_path, capsys, args, message):
    project = tmp_path / "p.studio"
    base = ["text", "--project", str(project), "--plugin", "studio-test.echo", "--set", "prompt=a"]
    code, _, err = generate(capsys, *base, *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not project.exists()


def test_an_input_that_is_not_what_it_claims_is_refused(test_plugins, tmp_path, capsys):
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"this is not a png at all")
    project = tmp_path / "p.studio"
    code, _, err = generate(
        capsys,
        "caption",
        "--project",
        str(project),
        "--plugin",
        "studio-test.describe",
        "--input",
        str(fake),
    )
    assert code == 2
    assert "photo.png cannot be imported" in err
    if project.exists():
        store = ProjectStore.open(project, read_only=True)
        assert store.count_assets() == 0
        store.close()


def test_plugin_failures_exit_1_with_a_readable_message(test_plugins, tmp_path, capsys):
    code, _, err = generate(
        capsys,
        "text",
        "--project",
        str(tmp_path / "p.studio"),
        "--plugin",
        "studio-test.echo",
        "--set",
        "prompt=a b c",
        "--set",
        "fail_at_step=1",
    )
    assert code == 1
    assert "studio-test.echo failed: DeliberateFailure: The test plugin failed on purpose" in err


def test_a_name_in_two_places_is_ambiguous(tmp_path, monkeypatch, capsys):
    code_text = (
        "from studio.plugin_api import *\n"
        "class Plugin(ModelPlugin):\n"
        "    run_options = OptionSet(TextOption(name='prompt', default='', description='d'))\n"
        "    def load(self, o, c): return None\n"
        "    def run(self, l, r, o, c): yield from ()\n"
    )
    write_folder_plugin(tmp_path / "plugins", "twice", code=code_text)
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    code, _, err = generate(
        capsys,
        "text",
        "--project",
        str(tmp_path / "p.studio"),
        "--plugin",
        "twice",
        "--set",
        "prompt=x",
    )
    assert code == 2
    assert "The setting 'prompt' is ambiguous: it names both run options and request" in err


def test_rerun_of_an_imported_asset_is_refused(tmp_path, capsys):
    image = write_sample_png(tmp_path / "a.png")
    project = tmp_path / "p.studio"
    assert main(["project", "import", str(project), str(image)]) == 0
    store = ProjectStore.open(project, read_only=True)
    asset_id = store.list_assets()[0].id
    store.close()
    capsys.readouterr()
    assert main(["recipe", "rerun", str(project), asset_id]) == 2
    assert "was imported, not generated" in capsys.readouterr().err


def test_progress_lines_are_thinned_but_the_last_is_written(monkeypatch, capsys):
    from studio.cli.generate_commands import _ProgressPrinter
    from studio.plugin_api import Progress

    printer = _ProgressPrinter(stream_text=False)
    for step in range(1, 6):  # five steps in well under 0.5 s
        printer(Progress(fraction=step / 5, message=f"step {step} of 5"))
    printer.done()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("step 1 of 5") and lines[-1].endswith("step 5 of 5")
    assert len(lines) == 2


def test_the_panel_name_and_its_default_plugin_are_enough(test_plugins, tmp_path, capsys):
    project = tmp_path / "quick.studio"
    code, _, err = generate(capsys, "writing", "--project", str(project), "--set", "prompt=hi")
    assert code == 0, err
    assert "Using studio-test.echo" in err
    with ProjectStore.open(project) as store:
        (asset,) = store.list_assets()
    assert asset.recipe.plugin_id == "studio-test.echo" and asset.kind.value == "text"
    code, _, err = generate(capsys, "poem", "--project", str(project), "--set", "prompt=hi")
    assert code == 2 and "'poem' is not a kind" in err
