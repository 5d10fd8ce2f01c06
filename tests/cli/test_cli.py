"""The command line: version, plugin list, exit codes, and errors as one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from studio import __version__
from studio.cli import main as cli


def run_studio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``studio`` command in a child process."""
    studio = os.path.join(os.path.dirname(sys.executable), "studio")
    return subprocess.run(
        [studio, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_version():
    done = run_studio("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"studio {__version__}"


def test_plugins_list_json_lists_test_plugins_only_when_asked(test_plugins):
    done = run_studio("plugins", "list", "--json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    ids = {e["id"] for e in entries}
    assert {i for i in ids if i.startswith("studio-test.")} == {
        "studio-test.echo",
        "studio-test.gradient",
        "studio-test.tone",
        "studio-test.describe",
    }
    assert "studio.writer-transformers" in ids  # built-in plugins are always listed
    for entry in entries:
        assert set(entry) == {"id", "panel", "version", "enabled", "reason"}
        assert entry["enabled"] is True and entry["reason"] == "" and entry["version"] == "1.0.0"
    assert {e["panel"] for e in entries} == {"writing", "image", "voice", "captioning"}

    without = run_studio("plugins", "list", "--json", env={"STUDIO_PLUGIN_PATH": ""})
    assert not any(e["id"].startswith("studio-test.") for e in json.loads(without.stdout))


def test_disabled_plugins_show_their_reason(tmp_path, monkeypatch, capsys):
    from tests.plugins.plugin_factory import write_folder_plugin

    write_folder_plugin(tmp_path, "too_new", api_version=7)
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path))
    assert cli.main(["plugins", "list"]) == 0
    out = capsys.readouterr().out
    assert "too-new" in out and "disabled: it needs plugin API 7" in out
    assert cli.main(["plugins", "list", "--json"]) == 0
    (entry,) = [e for e in json.loads(capsys.readouterr().out) if e["id"] == "too-new"]
    assert entry["enabled"] is False and "plugin API 7" in entry["reason"]


@pytest.mark.parametrize(
    "args",
    [
        ["plugins"],
        ["plugins", "list", "--bogus"],
        ["doctor", "--nope"],
        ["frobnicate", "now"],
        ["not-a-project-or-command"],
    ],
)
def test_bad_usage_exits_2_with_one_sentence_and_no_traceback(args):
    done = run_studio(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("studio: ")
    assert "Traceback" not in done.stderr


def test_internal_errors_exit_1_and_log_the_traceback(monkeypatch, capsys, studio_data_dir):
    def explode(args, services):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cli, "cmd_plugins_list", explode)
    assert cli.main(["plugins", "list"]) == 1
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: kaboom)" in err
    assert "Traceback" not in err
    log_text = (studio_data_dir / "logs" / "studio.log").read_text()
    assert "Traceback" in log_text and "kaboom" in log_text


def test_help_exits_0(capsys):
    assert cli.main(["--help"]) == 0
    assert "doctor" in capsys.readouterr().out


def test_cli_sets_the_hub_offline_before_anything_imports_it():
    code = (
        "import os, sys\n"
        "os.environ.pop('HF_HUB_OFFLINE', None)\n"
        "from studio.cli.main import main\n"
        "main(['plugins', 'list', '--json'])\n"
        "assert os.environ['HF_HUB_OFFLINE'] == '1'\n"
        "assert 'huggingface_hub' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
