"""Dropped model files and folders go to the panel that loads them."""

from __future__ import annotations

import json

import pytest

from studio.core.model_files import model_panel
from studio.plugin_api import Panel


def folder_with(tmp_path, name, files):
    folder = tmp_path / name
    folder.mkdir()
    for file_name, content in files.items():
        (folder / file_name).write_text(
            json.dumps(content) if isinstance(content, dict) else content
        )
    return folder


@pytest.mark.parametrize(
    ("files", "panel"),
    [
        ({"model_index.json": {"_class_name": "StableDiffusionPipeline"}}, Panel.IMAGE),
        ({"config.json": {"architectures": ["GPT2LMHeadModel"]}}, Panel.WRITING),
        ({"config.json": {"architectures": ["LlamaForCausalLM"]}}, Panel.WRITING),
        ({"config.json": {"architectures": ["BlipForConditionalGeneration"]}}, Panel.CAPTIONING),
        ({"config.json": {"architectures": ["VisionEncoderDecoderModel"]}}, Panel.CAPTIONING),
        ({"config.json": {"model": "vits", "audio": {"sample_rate": 22050}}}, Panel.VOICE),
        ({"config.json": {"architectures": ["BertModel"]}}, None),
        ({"config.json": "{broken"}, None),
        ({"notes.txt": "hello"}, None),
    ],
)
def test_folders(tmp_path, files, panel):
    assert model_panel(folder_with(tmp_path, "m", files)) is panel


@pytest.mark.parametrize(
    ("name", "panel"),
    [
        ("gemma.gguf", Panel.WRITING),
        ("sd15.safetensors", Panel.IMAGE),
        ("old.ckpt", Panel.IMAGE),
        ("photo.png", None),
    ],
)
def test_files(tmp_path, name, panel):
    path = tmp_path / name
    path.write_bytes(b"x")
    assert model_panel(path) is panel
    assert model_panel(tmp_path / "missing.gguf") is None
