"""``studio plugins new NAME --panel P``: a project that passes ``check_plugin`` and installs
as it is, for every panel; a bad name or an existing folder changes nothing."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.project.store import ProjectStore
from studio.plugin_api import Panel
from studio.plugin_api.testing import check_plugin


def studio(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("panel", list(Panel))
def test_a_new_plugin_passes_its_contract_and_installs(capsys, tmp_path, studio_data_dir, panel):
    name = f"acme-{panel.value}"
    code, out, err = studio(
        capsys, "plugins", "new", name, "--panel", panel.value, "--into", str(tmp_path)
    )
    assert code == 0, err
    folder = tmp_path / name
    package = name.replace("-", "_")
    assert f"{package}/plugin.py" in out and (folder / "pyproject.toml").is_file()
    assert (folder / "tests" / f"test_{package}.py").is_file()

    check_plugin(folder / package / "studio-plugin.toml")

    code, out, err = studio(capsys, "plugins", "install", str(folder), "--yes")
    assert code == 0, err
    code, out, err = studio(capsys, "plugins", "list")
    assert code == 0 and name in out


def test_a_new_voice_plugin_speaks_after_it_is_installed(capsys, tmp_path, studio_data_dir):
    studio(capsys, "plugins", "new", "acme-beeps", "--panel", "voice", "--into", str(tmp_path))
    code, _out, err = studio(capsys, "plugins", "install", str(tmp_path / "acme-beeps"), "--yes")
    assert code == 0, err
    project = tmp_path / "beeps.studio"
    code, out, err = studio(
        capsys, "generate", "voice", "--plugin", "acme-beeps", "--project", str(project),
        "--set", "text=One two three. Four.", "--json", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    (asset,) = json.loads(out)["assets"]
    store = ProjectStore.open(project, read_only=True)
    try:
        data = store.read_blob(asset["asset_id"])
    finally:
        store.close()
    path = tmp_path / "take.wav"
    path.write_bytes(data)
    with wave.open(str(path)) as clip:
        seconds = clip.getnframes() / clip.getframerate()
    # four words of 3/16 s each, and a pause between the two sentences
    assert 0.75 <= seconds <= 1.2, seconds


BAD_NAMES = ["Acme", "acme_voice", "9acme", "acme-", "a", "acme voice", "x" * 80]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_that_cannot_name_a_plugin_is_one_sentence_and_writes_nothing(
    capsys, tmp_path, name
):
    code, _out, err = studio(
        capsys, "plugins", "new", name, "--panel", "voice", "--into", str(tmp_path)
    )
    assert code == 2 and "cannot name a plugin" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_left_as_it_is(capsys, tmp_path):
    folder = tmp_path / "acme-voice"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep")
    code, _out, err = studio(
        capsys, "plugins", "new", "acme-voice", "--panel", "voice", "--into", str(tmp_path)
    )
    assert code == 2 and "exists already" in err
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]


def test_the_written_files_are_formatted_and_clean(tmp_path):
    """An author who runs ruff on the new project starts from no complaints."""
    import subprocess
    import sys

    for panel in Panel:
        main(
            [
                "plugins",
                "new",
                f"acme-{panel.value}",
                "--panel",
                panel.value,
                "--into",
                str(tmp_path),
            ]
        )
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this Python")
    for args in (["format", "--check"], ["check", "--select", "E,F,W,I,B,UP"]):
        done = subprocess.run(
            [str(ruff), *args, "--line-length", "100", "--no-cache", str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
