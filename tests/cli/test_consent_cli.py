"""``studio consent grant|revoke|list`` and ``studio convert``, through their own parser.

main.py wires ``add_consent_commands`` in separately; these tests build a parser the same way
(argparse subcommands with handlers taking ``(args, services)``) and call the handlers.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from studio.cli.consent_commands import add_consent_commands
from studio.core.errors import UserError
from studio.core.paths import Paths
from studio.core.safety.consent import ConsentKind, ConsentStore
from studio.plugin_api.safe_loading import safe_torch_load
from tests.core.pickle_helpers import Canary, HyperParameters


@dataclass
class FakeServices:
    paths: Paths


@pytest.fixture
def services(studio_data_dir) -> FakeServices:
    return FakeServices(paths=Paths.from_environment())


def run(services, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="studio")
    add_consent_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args, services)


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A benign checkpoint torch will not load weights-only (it holds a dataclass)."""
    path = tmp_path / "model.ckpt"
    torch.save(
        {
            "state_dict": {"w": torch.arange(6.0).reshape(2, 3)},
            "hparams": HyperParameters(0.1, 2),
        },
        path,
    )
    return path


@pytest.fixture
def code_folder(tmp_path) -> Path:
    folder = tmp_path / "remote"
    folder.mkdir()
    (folder / "modeling.py").write_text("X = 1\n")
    (folder / "config.json").write_text("{}")
    return folder


def store(services) -> ConsentStore:
    return ConsentStore.in_data_dir(services.paths)


def test_grant_list_revoke_a_file(services, checkpoint, capsys):
    assert run(services, "consent", "grant", str(checkpoint)) == 0
    out = capsys.readouterr().out
    assert f"Allowed full unpickling of {checkpoint}" in out
    assert f"studio convert {checkpoint}" in out
    assert store(services).is_granted(ConsentKind.UNPICKLE, checkpoint)

    assert run(services, "consent", "list") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("unpickle") and line.endswith(str(checkpoint))

    assert run(services, "consent", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["kind"], c["path"]) for c in listed] == [("unpickle", str(checkpoint))]

    assert run(services, "consent", "revoke", str(checkpoint)) == 0
    assert "Withdrew consent for full unpickling" in capsys.readouterr().out
    assert not store(services).is_granted(ConsentKind.UNPICKLE, checkpoint)
    assert run(services, "consent", "list") == 0
    assert capsys.readouterr().out == "No consents recorded.\n"


def test_grant_and_revoke_remote_code(services, code_folder, capsys):
    assert run(services, "consent", "grant", "--remote-code", str(code_folder)) == 0
    assert "Allowed remote code" in capsys.readouterr().out
    assert store(services).is_granted(ConsentKind.REMOTE_CODE, code_folder)
    assert run(services, "consent", "revoke", str(code_folder), "--remote-code") == 0
    assert not store(services).is_granted(ConsentKind.REMOTE_CODE, code_folder)


def test_revoking_what_was_never_granted_is_an_error(services, checkpoint):
    with pytest.raises(UserError, match=r"No consent for full unpickling of .*model\.ckpt"):
        run(services, "consent", "revoke", str(checkpoint))


def test_granting_unpickling_of_a_folder_points_to_remote_code(services, code_folder):
    with pytest.raises(UserError, match="--remote-code"):
        run(services, "consent", "grant", str(code_folder))
    assert store(services).list() == ()


def test_safe_files_need_no_consent(services, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "model.bin"
    save_file({"w": torch.zeros(2)}, path)
    with pytest.raises(UserError, match=r"model\.bin is a safetensors file, not a pickle file"):
        run(services, "consent", "grant", str(path))


def test_granting_a_missing_file_names_it(services, tmp_path):
    with pytest.raises(UserError, match=r"nope\.bin does not exist"):
        run(services, "consent", "grant", str(tmp_path / "nope.bin"))


def test_convert_refuses_without_consent_and_never_runs_the_pickle(services, tmp_path):
    marker = tmp_path / "canary-ran"
    path = tmp_path / "weights.safetensors"
    torch.save({"w": torch.ones(1), "payload": Canary(marker)}, path)
    with pytest.raises(UserError, match="studio consent grant"):
        run(services, "convert", str(path))
    assert not marker.exists()


def test_convert_after_consent_prints_the_output(services, checkpoint, capsys):
    run(services, "consent", "grant", str(checkpoint))
    capsys.readouterr()
    assert run(services, "convert", str(checkpoint)) == 0
    captured = capsys.readouterr()
    output = Path(captured.out.strip())
    assert output.parent == services.paths.data_dir / "converted"
    assert output.suffix == ".safetensors"
    assert "Kept 1 tensor; dropped 1 other entry: hparams." in captured.err
    assert torch.equal(safe_torch_load(output)["w"], torch.arange(6.0).reshape(2, 3))


def test_consent_requires_a_subcommand(services):
    with pytest.raises(SystemExit):
        run(services, "consent")
