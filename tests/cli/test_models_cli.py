"""``studio models list|show|import|folders``: the library on the command line; an unusable or
unsafe model is refused with one sentence and exit 2, and nothing is written."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest

from studio.cli.main import main
from studio.core.model_library import ModelLibrary
from studio.plugin_api import Panel
from tests.model_homes import (
    LFS_POINTER,
    SD1_KEYS,
    RunsACommand,
    save_safetensors,
)

PLACE_VARIABLES = (
    "HF_HOME",
    "HF_HUB_CACHE",
    "OLLAMA_MODELS",
    "TTS_HOME",
    "XDG_DATA_HOME",
    "INVOKEAI_ROOT",
)


def studio(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def home(machine, monkeypatch):
    monkeypatch.setenv("HOME", str(machine))
    for name in PLACE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return machine


def test_models_list_shows_every_source_per_panel(capsys, home):
    code, out, err = studio(capsys, "models", "list", "--json")
    assert code == 0, err
    models = json.loads(out)["models"]
    sources = {model["source"] for model in models}
    assert {
        "embedded",
        "hf-cache",
        "automatic1111",
        "comfyui",
        "lm-studio",
        "ollama",
        "coqui",
    } <= sources
    stub = next(m for m in models if m["name"] == "stub")
    assert not stub["usable"] and stub["problems"][0]["kind"] == "lfs-pointer"

    code, out, _ = studio(capsys, "models", "list", "--panel", "writing")
    assert code == 0
    assert "tinyllama:latest  (Ollama)" in out and "GGUF, language model, llama" in out
    assert "Gemma 3 270M" in out and "(Embedded)" in out
    code, out, _ = studio(capsys, "models", "list", "--problems")
    assert "cannot be used: stub.safetensors is a Git LFS pointer" in out
    assert "dreamy" not in out


def test_models_import_adds_a_usable_model_to_its_panel(
    capsys, tiny_causal_lm_gguf, studio_data_dir
):
    code, out, err = studio(capsys, "models", "import", str(tiny_causal_lm_gguf))
    assert code == 0, err
    assert "for the writing panel (GGUF" in out
    library = ModelLibrary(studio_data_dir / "models" / "library.json")
    assert [e.path for e in library.entries(Panel.WRITING)] == [str(tiny_causal_lm_gguf.resolve())]


@pytest.mark.parametrize("what", ["lfs", "code", "cut", "nothing"])
def test_models_import_refuses_what_cannot_be_used_and_writes_nothing(
    capsys, tmp_path, studio_data_dir, what
):
    if what == "lfs":
        path = tmp_path / "model.safetensors"
        path.write_text(LFS_POINTER)
        expected = "is a Git LFS pointer"
    elif what == "code":
        path = tmp_path / "model.ckpt"
        path.write_bytes(pickle.dumps(RunsACommand()))
        expected = "would run code when it is loaded"
    elif what == "cut":
        whole = save_safetensors(tmp_path / "w.safetensors", SD1_KEYS, shape=(64, 64))
        path = tmp_path / "cut.safetensors"
        path.write_bytes(whole.read_bytes()[:-500])
        expected = "is cut short"
    else:
        path = tmp_path / "missing.gguf"
        expected = "does not exist"
    before = sorted(p for p in studio_data_dir.rglob("*") if p.name != "studio.log")
    code, _out, err = studio(capsys, "models", "import", str(path))
    assert code == 2 and expected in err
    assert len(err.strip().splitlines()) == 1
    after = sorted(p for p in studio_data_dir.rglob("*") if p.name != "studio.log")
    assert [p for p in after if "logs" not in p.parts] == [
        p for p in before if "logs" not in p.parts
    ]


def test_models_show_describes_one_model(capsys, tiny_causal_lm_dir):
    code, out, err = studio(capsys, "models", "show", str(tiny_causal_lm_dir), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["format"] == "transformers" and data["panels"] == ["writing"]
    assert data["parameters"] > 0 and data["usable"]


def test_models_folders_add_list_remove(capsys, tmp_path, home):
    own = tmp_path / "mine"
    save_safetensors(own / "mine.safetensors", SD1_KEYS)
    code, out, _ = studio(capsys, "models", "folders", "add", str(own))
    assert code == 0 and str(own) in out
    code, out, _ = studio(capsys, "models", "folders")
    assert f"Your folders: {own}" in out and "AUTOMATIC1111:" in out
    code, out, _ = studio(capsys, "models", "list", "--source", "folder", "--json")
    assert [m["name"] for m in json.loads(out)["models"]] == ["mine"]
    code, _out, _ = studio(capsys, "models", "folders", "remove", str(own))
    assert code == 0
    code, _out, err = studio(capsys, "models", "folders", "remove", str(own))
    assert code == 2 and "is not one of your model folders" in err
    shutil.rmtree(own)
