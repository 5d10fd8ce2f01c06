"""``studio plugins install|uninstall|enable|disable``: the review, the question, refusals as
one sentence with exit code 2, and the installed example run by ``studio generate``.

pip only ever sees ``--no-index --find-links`` with wheels built here from ``examples/``."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.project.store import ProjectStore
from studio.core.registry import PluginRegistry, PluginSource, switched_off_reason
from tests.core.test_plugin_install import (
    BANNER,
    HI,
    PLUGIN_WHEEL,
    example_copy,
    example_wheels_in,
    hostile_zip,
    plugin_entries,
    snapshot,
)
from tests.plugins.plugin_factory import write_folder_plugin


@pytest.fixture
def wheels(tmp_path_factory) -> Path:
    return example_wheels_in(tmp_path_factory.getbasetemp())


class Terminal(io.StringIO):
    """stdin as a terminal that answers ``answer``."""

    def isatty(self) -> bool:
        return True


def studio(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(code: int, err: str) -> str:
    """The one sentence of a refusal."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("studio: "), err
    return lines[0].removeprefix("studio: ")


def new_paths(data_dir: Path, before: list[tuple[str, int]]) -> set[str]:
    """What is in the data dir now that was not before (Studio's log file is, after a
    command)."""
    return {path for path, _size in snapshot(data_dir)} - {path for path, _size in before}


def offline(wheels: Path) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(wheels), "-q")


def test_install_a_wheel_then_generate_with_it(capsys, wheels, tmp_path, studio_data_dir):
    code, out, err = studio(
        capsys, "plugins", "install", str(wheels / PLUGIN_WHEEL), "--yes", *offline(wheels)
    )
    assert code == 0, err
    assert out.startswith(f"Banner (example) 1.0.0 ({BANNER})\n")
    for line in (
        "  Author:       Studio examples",
        "  Licence:      Apache-2.0",
        "  Plugin API:   1",
        "  Panels:       writing",
        f"  From:         wheel {wheels / PLUGIN_WHEEL}",
        "  Network:      no: not declared, so its model process is kept off the network",
        "  Programs:     none",
        "  Python requirements:",
        "    studio-example-banner-font>=1.0: to install for this plugin alone: 1.0.0",
    ):
        assert line in out.splitlines(), out
    assert out.rstrip().endswith("It is in the writing panel now.")
    assert f"1 package for it alone in {studio_data_dir / 'plugin-packages' / BANNER}" in out

    code, out, err = studio(capsys, "plugins", "list", "--json")
    (listed,) = [p for p in json.loads(out) if p["id"] == BANNER]
    assert listed["enabled"] and listed["version"] == "1.0.0"

    project = tmp_path / "p.studio"
    code, out, err = studio(
        capsys, "generate", "writing", "--project", str(project), "--plugin", BANNER,
        "--set", "prompt=hi", "--set", "ink=#", "--json",
    )  # fmt: skip
    assert code == 0, err
    (asset,) = json.loads(out)["assets"]
    assert asset["recipe"]["plugin_id"] == BANNER
    store = ProjectStore.open(project, read_only=True)
    try:
        assert store.read_blob(asset["asset_id"]).decode() == HI
    finally:
        store.close()


def test_a_dry_run_prints_the_review_as_json_and_installs_nothing(
    capsys, wheels, tmp_path, studio_data_dir
):
    before = snapshot(studio_data_dir)
    folder = example_copy(tmp_path)
    code, out, err = studio(
        capsys, "plugins", "install", str(folder), "--dry-run", "--json", *offline(wheels)
    )
    assert code == 0, err
    review = json.loads(out)
    assert review == {
        "source": str(folder),
        "kind": "folder",
        "id": BANNER,
        "name": "Banner (example)",
        "version": "1.0.0",
        "author": "Studio examples",
        "licence": "Apache-2.0",
        "api_version": 1,
        "panels": ["writing"],
        "description": review["description"],
        "needs": {"network": False, "programs": [], "libraries": [], "files": []},
        "requirements": [
            {
                "text": "studio-example-banner-font>=1.0",
                "state": "install",
                "version": "1.0.0",
                "why": "",
            }
        ],
        "files": 4,
        "size": review["size"],
        "replaces": None,
        "can_install": True,
    }
    assert new_paths(studio_data_dir, before) <= {"logs", "logs/studio.log"}


def test_no_terminal_and_no_yes_is_refused(capsys, wheels, tmp_path, monkeypatch, studio_data_dir):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # piped: nobody answers
    code, out, err = studio(
        capsys, "plugins", "install", str(example_copy(tmp_path)), *offline(wheels)
    )
    assert out.startswith("Banner (example) 1.0.0")  # the review was shown
    assert refused(code, err) == (
        "The input is not a terminal, so nobody can answer; add --yes to go ahead."
    )
    assert not (studio_data_dir / "plugins").exists()
    assert not (studio_data_dir / ".plugin-staging").exists()


@pytest.mark.parametrize(("answer", "installed"), [("y\n", True), ("\n", False), ("no\n", False)])
def test_the_question_on_a_terminal(
    capsys, wheels, tmp_path, monkeypatch, studio_data_dir, answer, installed
):
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    code, out, err = studio(
        capsys, "plugins", "install", str(example_copy(tmp_path)), *offline(wheels)
    )
    assert "Install? [y/N] " in out
    if installed:
        assert code == 0, err
        assert (studio_data_dir / "plugins" / BANNER / "studio-plugin.toml").is_file()
    else:
        assert refused(code, err) == "Not installed: the answer was no."
        assert not (studio_data_dir / "plugins").exists()
    assert not (studio_data_dir / ".plugin-staging").exists()


def test_refusals_are_one_sentence_and_exit_2(capsys, wheels, tmp_path, studio_data_dir):
    before = snapshot(studio_data_dir)
    evil = hostile_zip(tmp_path / "evil.zip", [*plugin_entries(), ("../evil.py", b"x", 0)])
    code, _out, err = studio(capsys, "plugins", "install", str(evil), "--yes", *offline(wheels))
    assert refused(code, err) == (
        "evil.zip has an entry that climbs out of its folder (../evil.py); Studio refuses it."
    )
    assert not (tmp_path.parent / "evil.py").exists()

    link = hostile_zip(
        tmp_path / "link.zip", [*plugin_entries(), ("x", b"/etc/passwd", stat.S_IFLNK | 0o777)]
    )
    code, _out, err = studio(capsys, "plugins", "install", str(link), "--yes", *offline(wheels))
    assert refused(code, err) == "link.zip holds a link (x); Studio refuses links in archives."

    old = write_folder_plugin(tmp_path, "acme_old", requires=["numpy==1.0.0"])
    code, out, err = studio(capsys, "plugins", "install", str(old), "--yes", *offline(wheels))
    assert "numpy==1.0.0: CONFLICT: it needs numpy==1.0.0, Studio has numpy " in out
    assert refused(code, err).startswith("Acme-Old cannot be installed: numpy==1.0.0: it needs")

    future = hostile_zip(tmp_path / "future.zip", plugin_entries(api_version=2))
    code, _out, err = studio(capsys, "plugins", "install", str(future), "-y", *offline(wheels))
    assert refused(code, err) == (
        "Acme.Tiny (acme.tiny) cannot be installed: it needs plugin API 2, this Studio provides "
        "1; update Studio."
    )

    code, _out, err = studio(capsys, "plugins", "install", "no-such-plugin", *offline(wheels))
    assert refused(code, err).startswith("pip could not download no-such-plugin: ")

    code, _out, err = studio(
        capsys, "plugins", "install", str(old), "--find-links", str(tmp_path / "nowhere")
    )
    assert refused(code, err) == f"--find-links {tmp_path / 'nowhere'}: no such folder."

    assert new_paths(studio_data_dir, before) <= {"logs", "logs/studio.log"}


def test_disable_enable_uninstall(capsys, wheels, tmp_path, monkeypatch, studio_data_dir):
    folder = write_folder_plugin(tmp_path, "acme_flat")
    assert studio(capsys, "plugins", "install", str(folder), "-y", *offline(wheels))[0] == 0

    code, out, err = studio(capsys, "plugins", "disable", "acme-flat")
    assert (code, out) == (
        0,
        "Switched acme-flat off; 'studio plugins enable acme-flat' switches it on again.\n",
    )
    # every command builds its services anew: a restart
    code, out, err = studio(capsys, "plugins", "list")
    (line,) = [line for line in out.splitlines() if line.startswith("acme-flat")]
    assert line.endswith("disabled: " + switched_off_reason("acme-flat"))
    assert studio(capsys, "plugins", "disable", "acme-flat")[1] == "acme-flat was off already.\n"
    assert studio(capsys, "plugins", "enable", "acme-flat")[1] == "Switched acme-flat on.\n"
    code, out, err = studio(capsys, "plugins", "list", "--json")
    assert [p["enabled"] for p in json.loads(out) if p["id"] == "acme-flat"] == [True]

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = studio(capsys, "plugins", "uninstall", "acme-flat")
    assert "add --yes" in refused(code, err)
    code, out, err = studio(capsys, "plugins", "uninstall", "acme-flat", "--yes")
    assert (code, out) == (0, "Uninstalled acme-flat 0.1.0.\n")
    assert not (studio_data_dir / "plugins").exists()
    code, out, err = studio(capsys, "plugins", "uninstall", "acme-flat", "--yes")
    assert refused(code, err) == (
        "No plugin with the id 'acme-flat' is installed (see 'studio plugins list')."
    )
    code, out, err = studio(capsys, "plugins", "enable", "acme-nothing")
    assert refused(code, err).startswith("No plugin with the id 'acme-nothing' is installed")


def test_a_builtin_cannot_be_uninstalled_but_can_be_switched_off(capsys):
    builtin = next(r.id for r in PluginRegistry().records() if r.source is PluginSource.BUILTIN)
    code, out, err = studio(capsys, "plugins", "uninstall", builtin, "--yes")
    assert refused(code, err) == (
        f"'{builtin}' is built into Studio and cannot be uninstalled; 'studio plugins disable "
        f"{builtin}' switches it off."
    )
    assert studio(capsys, "plugins", "disable", builtin)[0] == 0
    code, out, err = studio(capsys, "plugins", "show", builtin, "--json")
    shown = json.loads(out)
    assert not shown["enabled"]
    assert shown["reason"] == switched_off_reason(builtin)
