"""The model library: models recognised by content, vetted, and found where other tools keep
them (fake Hugging Face cache, AUTOMATIC1111, ComfyUI, LM Studio, Ollama and Coqui layouts
with tiny models), never reading whole weight files."""

from __future__ import annotations

import json
import pickle
import shutil
import struct
from pathlib import Path

import pytest

from studio.core.model_library import ModelLibrary
from studio.core.model_scan.catalog import scan_library, scan_machine
from studio.core.model_scan.describe import describe
from studio.core.model_scan.headers import CountingReader
from studio.core.model_scan.places import Place, default_places
from studio.core.registry import PluginRegistry
from studio.plugin_api import Panel
from tests.model_homes import LFS_POINTER, LORA_KEYS, SD1_KEYS, RunsACommand, save_safetensors


def problem_kinds(path: Path) -> list[str]:
    return [problem.kind for problem in describe(path).problems]


# --- recognised by content ---------------------------------------------------------------


def test_a_gguf_is_described_from_its_header(tiny_causal_lm_gguf):
    facts = describe(tiny_causal_lm_gguf)
    assert facts.format == "GGUF" and facts.panels == (Panel.WRITING,)
    assert facts.architecture == "llama" and facts.kind == "language model"
    assert facts.parameters and facts.parameters > 10_000
    assert facts.quantisation and facts.usable and facts.problems == ()


def test_a_gguf_cut_short_and_a_vocabulary_only_gguf_are_named(tiny_causal_lm_gguf, tmp_path):
    data = tiny_causal_lm_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) * 2 // 3])
    assert problem_kinds(cut) == ["truncated"]
    assert "cut short" in describe(cut).problems[0].message

    import gguf

    vocab = tmp_path / "vocab.gguf"
    writer = gguf.GGUFWriter(str(vocab), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(["a", "b", "c"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    facts = describe(vocab)
    assert [p.kind for p in facts.problems] == ["vocab-only"] and not facts.usable
    assert "only a vocabulary" in facts.problems[0].message


def test_a_gguf_that_declares_a_gigantic_string_is_damaged_not_allocated(tmp_path):
    bomb = tmp_path / "bomb.gguf"
    # version 3, 0 tensors, 1 metadata entry whose key declares 2**62 bytes
    bomb.write_bytes(b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 2**62) + b"x" * 64)
    facts = describe(bomb)
    assert [p.kind for p in facts.problems] == ["damaged"]
    counts = tmp_path / "counts.gguf"
    counts.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**40, 2**40) + b"x" * 64)
    assert "more than the file could hold" in describe(counts).problems[0].message


def test_safetensors_checkpoints_and_loras_are_told_apart_by_their_tensors(tmp_path):
    sd = describe(save_safetensors(tmp_path / "any-name.safetensors", SD1_KEYS))
    assert (sd.kind, sd.architecture, sd.panels) == (
        "checkpoint",
        "Stable Diffusion 1",
        (Panel.IMAGE,),
    )
    assert sd.parameters == 48 and sd.usable
    lora = describe(save_safetensors(tmp_path / "model.safetensors", LORA_KEYS))
    assert lora.kind == "LoRA" and lora.panels == (Panel.IMAGE,)
    licensed = save_safetensors(
        tmp_path / "l.safetensors", SD1_KEYS, metadata={"modelspec.license": "MIT"}
    )
    assert describe(licensed).licence == "MIT"


def test_a_safetensors_file_cut_short_or_with_a_header_bomb_is_named(tmp_path):
    whole = save_safetensors(tmp_path / "whole.safetensors", SD1_KEYS, shape=(64, 64))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(whole.read_bytes()[:-1000])
    assert problem_kinds(cut) == ["truncated"]
    bomb = tmp_path / "bomb.safetensors"
    bomb.write_bytes(struct.pack("<Q", 10**12) + b'{"a": 1}')
    assert problem_kinds(bomb) == ["damaged"]


def test_a_git_lfs_pointer_says_to_run_git_lfs_pull_where_the_clone_is(tmp_path):
    clone = tmp_path / "sd-clone"
    (clone / ".git").mkdir(parents=True)
    (clone / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    for part in ("unet", "vae", "text_encoder"):
        (clone / part).mkdir()
        (clone / part / "diffusion_pytorch_model.safetensors").write_text(LFS_POINTER)
    facts = describe(clone)
    assert not facts.usable and facts.architecture == "StableDiffusionPipeline"
    (problem,) = facts.problems
    assert problem.kind == "lfs-pointer" and "3 of its weight files" in problem.message
    assert f"git lfs pull` in {clone}" in problem.message


def test_a_pickle_that_runs_code_is_refused_and_names_the_call(tmp_path):
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(pickle.dumps(RunsACommand()))  # written, never loaded
    facts = describe(bad)
    assert facts.format == "pickle" and not facts.usable
    assert "posix.system" in facts.pickle_findings or "nt.system" in facts.pickle_findings
    assert "would run code" in facts.problems[0].message


def test_a_clean_pickle_is_usable_with_consent(tmp_path):
    import torch

    clean = tmp_path / "pytorch_model.bin"
    torch.save({"weight": torch.zeros(2, 2)}, clean)
    facts = describe(clean)
    assert facts.usable and [p.kind for p in facts.problems] == ["pickle"]
    assert "consent" in facts.problems[0].message


def test_model_folders_say_their_panel_architecture_and_licence(
    tiny_causal_lm_dir, tiny_sd_dir, tmp_path
):
    writer = describe(tiny_causal_lm_dir)
    assert writer.panels == (Panel.WRITING,) and writer.format == "transformers"
    assert writer.parameters and writer.usable
    image = describe(tiny_sd_dir)
    assert image.panels == (Panel.IMAGE,) and image.kind == "pipeline" and image.usable

    folder = shutil.copytree(tiny_causal_lm_dir, tmp_path / "custom")
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# A model\n")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "x.Y"}}))
    facts = describe(folder)
    assert facts.licence == "apache-2.0"
    assert [(p.kind, p.blocking) for p in facts.problems] == [("remote-code", False)]
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "no-such-arch"}))
    assert problem_kinds(folder) == ["unknown-architecture"]


# --- found where other tools keep them ---------------------------------------------------


def test_every_peer_layout_is_found_with_the_names_the_peer_uses(machine):
    places = default_places({"HOME": str(machine)}, machine)
    assert {place.source for place in places} == {
        "hf-cache",
        "automatic1111",
        "comfyui",
        "lm-studio",
        "ollama",
        "coqui",
    }
    entries = scan_library(places)
    found = {(e.source, e.name): e for e in entries}
    assert set(found) == {
        ("hf-cache", "acme/tiny-writer"),
        ("automatic1111", "dreamy"),
        ("automatic1111", "ink"),
        ("comfyui", "comfy-sd"),
        ("comfyui", "stub"),
        ("lm-studio", "acme/tiny-GGUF · tiny-Q8"),
        ("ollama", "tinyllama:latest"),
        ("coqui", "tts_models--en--acme--vits"),
    }
    assert found["hf-cache", "acme/tiny-writer"].panels == (Panel.WRITING,)
    assert found["automatic1111", "ink"].facts.kind == "LoRA"
    assert found["ollama", "tinyllama:latest"].facts.format == "GGUF"
    assert found["coqui", "tts_models--en--acme--vits"].panels == (Panel.VOICE,)
    assert not found["comfyui", "stub"].usable
    assert all(e.usable for key, e in found.items() if key != ("comfyui", "stub"))


def test_a_scan_reads_headers_never_whole_weight_files(machine):
    before = CountingReader.total_bytes_read
    entries = scan_library(default_places({"HOME": str(machine)}, machine))
    read = CountingReader.total_bytes_read - before
    weights = sum(e.facts.size for e in entries if e.facts is not None)
    assert read < weights / 2, (read, weights)


def test_the_library_lists_embedded_imported_and_the_users_folders(machine, tmp_path, tiny_sd_dir):
    library = ModelLibrary(tmp_path / "library.json")
    library.remember(tiny_sd_dir, Panel.IMAGE)
    own = tmp_path / "my-models"
    save_safetensors(own / "mine.safetensors", SD1_KEYS)
    library.add_folder(own)
    entries = scan_machine(PluginRegistry(), library, {"HOME": str(machine)}, machine)
    by_source = {}
    for entry in entries:
        by_source.setdefault(entry.source, []).append(entry.name)
    assert "Gemma 3 270M" in " ".join(by_source["embedded"])
    assert by_source["imported"] == [tiny_sd_dir.name]
    assert by_source["folder"] == ["mine"]
    assert library.remove_folder(own) and library.folders() == []


def test_a_model_reached_twice_is_listed_once(tmp_path, tiny_causal_lm_gguf):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(tiny_causal_lm_gguf, folder / "a.gguf")
    entries = scan_library(
        [Place("folder", folder), Place("folder", folder)], imported=[folder / "a.gguf"]
    )
    assert [(e.source, e.name) for e in entries] == [("imported", "a.gguf")]


# --- the corpus: real hostile files --------------------------------------------------------


@pytest.mark.corpus
def test_every_malicious_pickle_in_the_corpus_is_refused(corpus):
    files = sorted(
        p
        for p in (corpus / "hostile" / "models").rglob("*")
        if p.is_file() and ("malicious" in p.name or "unsafe" in p.name)
    )
    assert len(files) > 30
    for path in files:
        facts = describe(path)
        assert not facts.usable, (path.name, facts.problems)


@pytest.mark.corpus
def test_the_corpus_ggufs_are_vocabulary_only_or_damaged(corpus):
    folder = corpus / "hostile" / "gguf"
    for path in sorted(folder.rglob("*.gguf")):
        kinds = problem_kinds(path)
        expected = "damaged" if "mangled" in path.name else "vocab-only"
        assert kinds == [expected], (path.name, kinds)


@pytest.mark.corpus
def test_the_corpus_sd_clone_without_lfs_is_named_with_the_fix(corpus):
    folder = corpus / "hostile" / "hf-lfs-pointer-stubs-sd15"
    facts = describe(folder)
    assert not facts.usable and facts.panels == (Panel.IMAGE,)
    (problem,) = facts.problems
    assert problem.kind == "lfs-pointer" and "git lfs pull" in problem.message
    assert facts.licence == "creativeml-openrail-m"
