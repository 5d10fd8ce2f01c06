"""The image's model found in the library by name and by each tool's hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from studio.core.hashing import sha256_file
from studio.core.image_settings.model_lookup import a1111_old_hash, find_model, model_file_stem
from studio.core.model_scan.catalog import scan_library
from studio.core.model_scan.places import Place
from studio.plugin_api import GenerationSettings, SettingsDialect
from tests.model_homes import SD1_KEYS


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "stable-diffusion-webui" / "models" / "Stable-diffusion"
    for seed, name in enumerate(("dreamy", "other", "sub/dreamy-v2")):
        path = folder / f"{name}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        weights = np.random.default_rng(seed).random(400_000, np.float32)  # 1.6 MB: past 1 MiB
        save_file({key: weights for key in SD1_KEYS[:1]} | {k: weights[:4] for k in SD1_KEYS[1:]},
                  str(path))  # fmt: skip
    return folder, scan_library([Place("automatic1111", folder.parent.parent)])


def settings(name="", hash_="", dialect=SettingsDialect.AUTOMATIC1111):
    return GenerationSettings(dialect=dialect, model_name=name, model_hash=hash_)


def test_a1111_hashes_are_what_a1111_computes(library):
    folder, _ = library
    path = folder / "dreamy.safetensors"
    data = path.read_bytes()
    assert a1111_old_hash(path) == hashlib.sha256(data[1 << 20 : (1 << 20) + 65536]).hexdigest()[:8]
    assert sha256_file(path)[:10] == hashlib.sha256(data).hexdigest()[:10]


def test_by_name_and_hash_by_hash_alone_and_a_name_whose_hash_differs(library):
    folder, entries = library
    dreamy, other = folder / "dreamy.safetensors", folder / "other.safetensors"
    new_hash = sha256_file(other)[:10]
    found = find_model(settings("dreamy", sha256_file(dreamy)[:10]), entries, sha256_file)
    assert (found.path, found.how) == (dreamy, "name and hash")
    found = find_model(settings("renamed-on-civitai", new_hash), entries, sha256_file)
    assert (found.path, found.how) == (other, "hash")
    found = find_model(settings("x", a1111_old_hash(other)), entries, sha256_file)
    assert found.path == other  # the old 8-hex hash
    full = find_model(settings("", sha256_file(other), SettingsDialect.INVOKEAI), entries,
                      sha256_file)  # fmt: skip
    assert full.path == other
    found = find_model(settings("dreamy", "0000000000"), entries, sha256_file)
    assert found.how == "name, though its hash differs"
    unknown = find_model(settings("dreamy", "0000000000"), entries, lambda path: "")
    assert (unknown.path, unknown.how) == (dreamy, "name; its hash is not checked yet")
    found = find_model(settings("Dreamy.safetensors", ""), entries, sha256_file)  # ComfyUI
    assert (found.path, found.how) == (dreamy, "name")
    assert find_model(settings("missing", "1234567890"), entries, sha256_file) is None
    assert find_model(settings("dreamy", "", SettingsDialect.NOVELAI), entries, sha256_file) is None


def test_names_with_folders_and_suffixes():
    assert model_file_stem("SDXL\\\\juggernaut.safetensors") == "juggernaut"
    assert model_file_stem("sub/dreamy-v2.ckpt") == "dreamy-v2"
    assert model_file_stem("dreamy") == "dreamy"
    assert Path("x").name == "x"
