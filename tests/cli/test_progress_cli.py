"""Progress on stderr: Studio's own lines only (no library progress bars), none with --quiet."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from studio.cli.main import main
from studio.core.process_host import QUIET_LIBRARIES
from tests.fixtures.tiny_models import (
    tiny_causal_lm_dir,  # noqa: F401 (fixture)
    tiny_sd_dir,  # noqa: F401 (fixture)
)

TQDM_BAR = re.compile(r"\d+%\|| it/s\]|s/it\]|\d+/\d+ \[\d\d:\d\d")
"""What a tqdm bar looks like: '40%|████', '[00:00<00:00, 12.1it/s]'."""


@pytest.fixture
def fresh_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the switches set yet (an earlier test's 'studio' set them in this process):
    the command must set them itself."""
    for name in QUIET_LIBRARIES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("kind", "plugin", "fixture", "settings"),
    [
        ("text", "studio.writer-transformers", "tiny_causal_lm_dir", ["max_new_tokens=3"]),
        ("image", "studio.image-diffusers", "tiny_sd_dir", ["steps=2", "width=64", "height=64"]),
    ],
)
def test_a_real_model_run_shows_no_library_progress_bars(
    fresh_environment, tmp_path, capfd, request, kind, plugin, fixture, settings
):
    model = request.getfixturevalue(fixture)
    capfd.readouterr()  # what building the model printed
    argv = ["generate", kind, "--project", str(tmp_path / "p.studio"), "--plugin", plugin]
    for setting in [f"model={model}", "prompt=a red door", *settings]:
        argv += ["--set", setting]
    code = main(argv)
    _, err = capfd.readouterr()  # the model process writes to the same stderr
    assert code == 0, err
    assert "running on cpu" in err  # Studio's own progress is there...
    assert "100% " in err
    assert not TQDM_BAR.search(err), err  # ...and no library's bar
    assert "Loading weights" not in err and "Loading pipeline components" not in err
    assert "[transformers]" not in err  # nor the libraries' advice on every load


def run(capfd, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def test_quiet_generate_prints_the_result_and_no_progress(test_plugins, tmp_path, capfd):
    project = tmp_path / "p.studio"
    common = ["generate", "text", "--project", str(project), "--plugin", "studio-test.echo"]
    code, out, err = run(capfd, *common, "--set", "prompt=to be or not")
    assert code == 0, err
    assert "running on cpu" in err and "%" in err
    code, out, err = run(capfd, *common, "--set", "prompt=not to be", "--quiet")
    assert code == 0, err
    assert out == "not to be\n"  # the text still streams to stdout
    (line,) = err.splitlines()  # only the asset made
    asset_id, kind, title = line.split(maxsplit=2)
    assert (kind, title) == ("text", "not to be")

    code, out, err = run(capfd, "recipe", "rerun", str(project), asset_id.lower(), "-q")
    assert code == 0, err
    assert out == "not to be\n"
    (line,) = err.splitlines()  # only the asset made again
    again_id, kind, _ = line.split(maxsplit=2)
    assert kind == "text" and again_id != asset_id


def test_quiet_json_output_is_the_json_alone(test_plugins, tmp_path, capfd):
    code, out, err = run(
        capfd,
        "generate",
        "image",
        "--project",
        str(tmp_path / "p.studio"),
        "--plugin",
        "studio-test.gradient",
        "--set",
        "steps=2",
        "--json",
        "--quiet",
    )
    assert code == 0, err
    assert err == ""
    assert json.loads(out)["assets"][0]["kind"] == "image"


def photos(folder: Path, count: int) -> None:
    folder.mkdir()
    for index in range(count):
        Image.new("RGB", (16, 16), (40 * index, 90, 200)).save(folder / f"p{index}.png")


def test_quiet_caption_batch_keeps_the_summary(test_plugins, tmp_path, capfd):
    photos(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG not really")
    common = [
        "generate",
        "caption",
        "--project",
        str(tmp_path / "p.studio"),
        "--plugin",
        "studio-test.describe",
        "--input-dir",
        str(tmp_path / "in"),
    ]
    code, _, err = run(capfd, *common)
    assert code == 0, err
    assert sum(line.startswith("[") for line in err.splitlines()) == 2  # one per image
    code, _, err = run(capfd, *common, "--quiet")
    assert code == 0, err
    lines = err.splitlines()
    assert not any(line.startswith("[") for line in lines)
    assert any("broken.png" in line for line in lines)  # a skipped file is still named
    assert lines[-1].startswith("2 captioned, 1 skipped, 0 failed")


def test_quiet_project_repair(tmp_path, capfd):
    from studio.core.project import ProjectStore
    from studio.core.recipe import Recipe
    from studio.plugin_api.kinds import AssetKind

    project = tmp_path / "P.studio"
    with ProjectStore.create(project) as store:
        for n in range(3):
            store.add_asset(
                kind=AssetKind.TEXT,
                data=f"note {n}".encode(),
                media_type="text/plain",
                recipe=Recipe.for_import(f"n{n}.txt"),
            )
    code, _, err = run(capfd, "project", "repair", str(project), "--into", str(tmp_path / "a"))
    assert code == 0, err
    assert "100% read 3 of 3 assets" in err
    code, out, err = run(
        capfd, "project", "repair", str(project), "--into", str(tmp_path / "b"), "--quiet"
    )
    assert code == 0, err
    assert "% read" not in err
    assert out  # the summary
