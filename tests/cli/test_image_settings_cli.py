"""``studio image settings FILE [--plugin] [--json]``: what an image holds, what the image
plugin takes, the model found in the library by hash; bad input is one sentence, exit 2."""

from __future__ import annotations

import json

import pytest

from studio.cli.main import main
from studio.core.hashing import sha256_file
from tests.cli.test_models_cli import PLACE_VARIABLES
from tests.core.image_settings.builders import (
    jpeg_with_exif,
    plain_png,
    png_with,
    text_chunk,
    tiff,
    user_comment,
)
from tests.model_homes import SD1_KEYS, save_safetensors


def studio(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    for name in PLACE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    checkpoint = home / "ComfyUI" / "models" / "checkpoints" / "renamed.safetensors"
    save_safetensors(checkpoint, SD1_KEYS)
    return checkpoint


def test_a_jpeg_from_a1111_with_its_model_found_by_hash(capsys, home, tmp_path):
    text = (
        "a cat\nNegative prompt: dogs\nSteps: 20, Sampler: DPM++ SDE, Schedule type: Karras, "
        f"CFG scale: 7, Seed: 42, Size: 512x768, Model: dreamy, Model hash: "
        f"{sha256_file(home)[:10]}, Clip skip: 2"
    )
    image = tmp_path / "cat.jpg"
    image.write_bytes(jpeg_with_exif(tiff({}, {0x9286: (7, user_comment(text))})))
    code, out, _ = studio(capsys, "image", "settings", str(image))
    assert code == 0
    assert "cat.jpg: AUTOMATIC1111 parameters (JPEG EXIF UserComment)" in out
    assert "scheduler=DPM++ 2M SDE Karras" in out and "Clip skip 2" in out
    assert "the closest, DPM++ 2M SDE, is used" in out
    assert f"model={home}" in out and "(by hash)" in out

    code, out, _ = studio(capsys, "image", "settings", str(image), "--json")
    data = json.loads(out)
    assert data["source"] == "AUTOMATIC1111 parameters"
    assert data["settings"]["seed"] == 42 and data["settings"]["dialect"] == "automatic1111"
    assert data["plugin"] == "studio.image-diffusers"
    assert data["run_options"]["scheduler"] == "DPM++ 2M SDE Karras"
    assert data["model"] == {"path": str(home), "found_by": "hash"}


def test_a_seed_the_plugin_cannot_take_is_said(capsys, home, tmp_path):
    graph = {"3": {"class_type": "KSampler", "inputs": {"seed": 2**60, "steps": 4}},
             "9": {"class_type": "SaveImage", "inputs": {"images": ["3", 0]}}}  # fmt: skip
    image = tmp_path / "comfy.png"
    image.write_bytes(png_with(text_chunk("prompt", json.dumps(graph))))
    code, out, _ = studio(capsys, "image", "settings", str(image), "--json")
    data = json.loads(out)
    assert code == 0 and data["settings"]["seed"] == 2**60
    assert "seed" not in data["run_options"]
    assert any(line.startswith(f"seed {2**60} (") for line in data["not_used"])


def test_no_settings_and_bad_input(capsys, home, tmp_path):
    plain = tmp_path / "plain.png"
    plain.write_bytes(plain_png())
    code, out, _ = studio(capsys, "image", "settings", str(plain))
    assert code == 0 and "carries no generation settings" in out
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    before = text.stat().st_mtime_ns
    for path, said in ((tmp_path / "missing.png", "cannot be read"),
                       (text, "not a PNG, JPEG or WebP image"),
                       (tmp_path, "is not a file")):  # fmt: skip
        code, _, err = studio(capsys, "image", "settings", str(path))
        assert code == 2 and said in err and err.count("\n") == 1
    assert text.stat().st_mtime_ns == before
