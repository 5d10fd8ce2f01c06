"""Model files and other tools' model folders for tests: safetensors with the tensor names of
a Stable Diffusion checkpoint or a LoRA, a Git LFS pointer, a pickle that would run a command,
and ``machine``: a home folder where the Hugging Face cache, AUTOMATIC1111, ComfyUI, LM Studio,
Ollama and Coqui have each left a model or two."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:19da7aaa4b880e59d56843f1fcb4dd9b599c28a1d9d9af7c1143057c8ffae9f1\n"
    "size 4265146304\n"
)


def save_safetensors(path: Path, names: list[str], shape=(4, 4), metadata=None) -> Path:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: np.ones(shape, np.float32) for name in names}, str(path), metadata=metadata)
    return path


SD1_KEYS = [
    "model.diffusion_model.input_blocks.0.0.weight",
    "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
    "first_stage_model.decoder.conv_in.weight",
]
LORA_KEYS = [
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight",
]


class RunsACommand:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def hf_cache_repo(cache: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """A Hugging Face cache entry as huggingface_hub writes it: blobs, a ref, linked files."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / revision
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, (snapshot / name).parent), snapshot / name)
    return snapshot


def ollama_model(root: Path, name: str, gguf_file: Path) -> None:
    data = gguf_file.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / f"sha256-{digest}").write_bytes(data)
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / name / "latest"
    manifest.parent.mkdir(parents=True)
    layers = [
        {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"},
        {"mediaType": "application/vnd.ollama.image.license", "digest": "sha256:00"},
    ]
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))


@pytest.fixture
def machine(tmp_path, tiny_causal_lm_dir, tiny_causal_lm_gguf) -> Path:
    """A home folder where every peer has left a model or two."""
    home = tmp_path / "home"
    hf_cache_repo(
        home / ".cache" / "huggingface" / "hub",
        "acme/tiny-writer",
        {p.name: p.read_bytes() for p in tiny_causal_lm_dir.iterdir() if p.is_file()},
    )
    a1111 = home / "stable-diffusion-webui" / "models"
    save_safetensors(a1111 / "Stable-diffusion" / "dreamy.safetensors", SD1_KEYS)
    save_safetensors(a1111 / "Lora" / "ink.safetensors", LORA_KEYS)
    comfy = home / "ComfyUI" / "models"
    save_safetensors(comfy / "checkpoints" / "sub" / "comfy-sd.safetensors", SD1_KEYS)
    (comfy / "loras").mkdir(parents=True)
    (comfy / "loras" / "stub.safetensors").write_text(LFS_POINTER)
    lm = home / ".lmstudio" / "models" / "acme" / "tiny-GGUF"
    lm.mkdir(parents=True)
    shutil.copy(tiny_causal_lm_gguf, lm / "tiny-Q8.gguf")
    ollama_model(home / ".ollama" / "models", "tinyllama", tiny_causal_lm_gguf)
    voice = home / ".local" / "share" / "tts" / "tts_models--en--acme--vits"
    voice.mkdir(parents=True)
    (voice / "config.json").write_text(
        json.dumps({"model": "vits", "audio": {"sample_rate": 16000}})
    )
    import torch

    torch.save({"model": {"w": torch.zeros(2)}}, voice / "model_file.pth")
    return home
