"""File and model-folder hashes, and their cache keyed by path, size and mtime."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from studio.core import hashing
from studio.core.hashing import HashCache, model_files, sha256_bytes, sha256_file
from studio.core.paths import Paths


def test_file_hash_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"weights" * 1000)
    expected = hashlib.sha256(b"weights" * 1000).hexdigest()
    assert sha256_file(path) == expected == sha256_bytes(b"weights" * 1000)
    assert HashCache(tmp_path / "cache.sqlite").file_sha256(path) == expected


def test_cache_lives_in_data_dir(studio_data_dir: Path) -> None:
    cache = HashCache.in_data_dir(Paths.from_environment())
    assert cache.cache_file.is_relative_to(studio_data_dir)


def test_cache_is_used_until_size_or_mtime_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"one")
    cache = HashCache(tmp_path / "cache.sqlite")
    first = cache.file_sha256(path)

    calls = []
    real = hashing.sha256_file
    monkeypatch.setattr(hashing, "sha256_file", lambda p: calls.append(p) or real(p))
    assert HashCache(tmp_path / "cache.sqlite").file_sha256(path) == first  # new object, same file
    assert calls == []

    stat = path.stat()
    path.write_bytes(b"two")  # same size; move mtime on so the change is visible
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cache.file_sha256(path) == hashlib.sha256(b"two").hexdigest()
    assert len(calls) == 1


def test_a_broken_cache_file_does_not_stop_hashing(tmp_path: Path) -> None:
    cache_file = tmp_path / "cache.sqlite"
    cache_file.write_bytes(b"this is not sqlite" * 100)
    path = tmp_path / "m.onnx"
    path.write_bytes(b"x")
    assert HashCache(cache_file).file_sha256(path) == hashlib.sha256(b"x").hexdigest()


def make_model_folder(root: Path) -> Path:
    (root / "unet").mkdir(parents=True)
    (root / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"unet weights")
    (root / "model_index.json").write_text('{"a": 1}')
    (root / "README.md").write_text("# card")
    (root / ".cache").mkdir()
    (root / ".cache" / "lock").write_text("x")
    return root


def test_folder_hash_definition(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    files = model_files(folder)
    assert [p.relative_to(folder).as_posix() for p in files] == [
        "model_index.json",
        "unet/diffusion_pytorch_model.safetensors",
    ]
    index_sha = sha256_bytes(b'{"a": 1}')
    unet_sha = sha256_bytes(b"unet weights")
    expected = hashlib.sha256(
        b"studio-folder-v1\n"
        + f"model_index.json\0{index_sha}\n".encode()
        + f"unet/diffusion_pytorch_model.safetensors\0{unet_sha}\n".encode()
    ).hexdigest()
    cache = HashCache(tmp_path / "cache.sqlite")
    assert cache.folder_sha256(folder) == expected
    assert cache.model_sha256(folder) == expected


def test_folder_hash_ignores_docs_and_hidden_files_but_not_weights(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    cache = HashCache(tmp_path / "cache.sqlite")
    before = cache.folder_sha256(folder)
    (folder / "README.md").write_text("# a new model card")
    (folder / ".cache" / "other").write_text("y")
    assert cache.folder_sha256(folder) == before
    (folder / "unet" / "config.json").write_text("{}")
    assert cache.folder_sha256(folder) != before


def test_folder_hash_does_not_depend_on_location(tmp_path: Path) -> None:
    cache = HashCache(tmp_path / "cache.sqlite")
    one = cache.folder_sha256(make_model_folder(tmp_path / "one"))
    two = cache.folder_sha256(make_model_folder(tmp_path / "two"))
    assert one == two


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        HashCache(tmp_path / "cache.sqlite").folder_sha256(tmp_path / "empty")
