"""The consent store: grant, revoke and check, keyed by content hash, kept in the data dir."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from studio.core.errors import UserError
from studio.core.paths import Paths
from studio.core.safety.consent import (
    CONSENT_FILE_NAME,
    Consent,
    ConsentKind,
    ConsentStore,
    content_hash,
    folder_code_hash,
)

UNPICKLE, REMOTE_CODE = ConsentKind.UNPICKLE, ConsentKind.REMOTE_CODE


@pytest.fixture
def store(tmp_path) -> ConsentStore:
    return ConsentStore(tmp_path / "data" / CONSENT_FILE_NAME)


@pytest.fixture
def weights(tmp_path) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x80\x02pretend pickle")
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "custom-model"
    (folder / "sub").mkdir(parents=True)
    (folder / "modeling_custom.py").write_text("class Model: pass\n")
    (folder / "sub" / "helpers.py").write_text("HELP = 1\n")
    (folder / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "x.Model"}}))
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "README.md").write_text("# A model\n")
    return folder


def test_the_store_lives_in_the_data_directory(studio_data_dir):
    store = ConsentStore.in_data_dir(Paths.from_environment())
    assert store.file == studio_data_dir / CONSENT_FILE_NAME


def test_grant_then_revoke_a_file(store, weights):
    assert not store.is_granted(UNPICKLE, weights)
    consent = store.grant(UNPICKLE, weights)
    assert consent.kind is UNPICKLE
    assert consent.path == weights
    assert consent.content_hash == content_hash(UNPICKLE, weights)
    assert store.is_granted(UNPICKLE, weights)
    assert not store.is_granted(REMOTE_CODE, weights.parent)

    assert store.revoke(UNPICKLE, weights) == (consent,)
    assert not store.is_granted(UNPICKLE, weights)
    assert store.list() == ()
    assert store.revoke(UNPICKLE, weights) == ()


def test_consent_follows_the_content_not_the_name(store, weights, tmp_path):
    store.grant(UNPICKLE, weights)
    moved = tmp_path / "renamed.pt"
    moved.write_bytes(weights.read_bytes())
    assert store.is_granted(UNPICKLE, moved)

    weights.write_bytes(b"\x80\x02other content")
    assert not store.is_granted(UNPICKLE, weights)
    assert store.is_granted(UNPICKLE, moved)


def test_a_changed_file_can_still_be_revoked_by_its_path(store, weights):
    store.grant(UNPICKLE, weights)
    old_hash = content_hash(UNPICKLE, weights)
    weights.write_bytes(b"changed")
    assert [c.content_hash for c in store.revoke(UNPICKLE, weights)] == [old_hash]
    assert not store.is_hash_granted(UNPICKLE, old_hash)


def test_a_deleted_file_can_still_be_revoked(store, weights):
    store.grant(UNPICKLE, weights)
    weights.unlink()
    assert not store.is_granted(UNPICKLE, weights)
    assert len(store.revoke(UNPICKLE, weights)) == 1
    assert store.list() == ()


def test_consents_survive_a_new_store_and_are_listed(store, weights, folder):
    store.grant(UNPICKLE, weights)
    store.grant(REMOTE_CODE, folder)
    again = ConsentStore(store.file)
    listed = again.list()
    assert [(c.kind, c.path) for c in listed] == [(UNPICKLE, weights), (REMOTE_CODE, folder)]
    assert all(c.granted_at.tzinfo is not None for c in listed)
    data = json.loads(store.file.read_text())
    assert data["version"] == 1
    assert {item["kind"] for item in data["consents"]} == {"unpickle", "remote-code"}


def test_granting_twice_keeps_one_record(store, weights):
    store.grant(UNPICKLE, weights)
    store.grant(UNPICKLE, weights)
    assert len(store.list()) == 1


def test_the_file_is_written_atomically(store, weights, monkeypatch):
    store.grant(UNPICKLE, weights)
    before = store.file.read_text()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    other = weights.with_name("other.bin")
    other.write_bytes(b"other")
    with pytest.raises(OSError, match="disk full"):
        store.grant(UNPICKLE, other)
    assert store.file.read_text() == before
    assert [p.name for p in store.file.parent.iterdir()] == [CONSENT_FILE_NAME]


def test_a_damaged_file_is_a_clear_error(store, weights):
    store.file.parent.mkdir(parents=True)
    store.file.write_text("{not json")
    with pytest.raises(UserError, match=r"consent file .* is damaged"):
        store.is_granted(UNPICKLE, weights)


def test_remote_code_consent_is_lost_when_code_changes(store, folder):
    store.grant(REMOTE_CODE, folder)
    assert store.is_granted(REMOTE_CODE, folder)
    (folder / "modeling_custom.py").write_text("import os; os.system('echo pwned')\n")
    assert not store.is_granted(REMOTE_CODE, folder)


@pytest.mark.parametrize(
    "change",
    [
        lambda f: (f / "sub" / "helpers.py").write_text("HELP = 2\n"),
        lambda f: (f / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "y.M"}})),
        lambda f: (f / "extra.py").write_text("X = 1\n"),
        lambda f: (f / "modeling_custom.py").rename(f / "modeling_other.py"),
        lambda f: (f / "sub" / "helpers.py").unlink(),
    ],
    ids=["nested code", "config", "new module", "renamed module", "removed module"],
)
def test_any_code_or_config_change_needs_consent_again(store, folder, change):
    store.grant(REMOTE_CODE, folder)
    change(folder)
    assert not store.is_granted(REMOTE_CODE, folder)


def test_weights_and_docs_do_not_change_a_folders_code_hash(folder):
    before = folder_code_hash(folder)
    (folder / "model.safetensors").write_bytes(b"new weights")
    (folder / "README.md").write_text("# Still the same code\n")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "note.json").write_text("{}")
    assert folder_code_hash(folder) == before


def test_a_copied_folder_keeps_its_consent(store, folder, tmp_path):
    import shutil

    store.grant(REMOTE_CODE, folder)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert store.is_granted(REMOTE_CODE, copy)


def test_remote_code_needs_a_folder_with_code(store, tmp_path, weights):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(UserError, match="no Python or JSON config files"):
        store.grant(REMOTE_CODE, empty)
    with pytest.raises(UserError, match="is not a folder"):
        store.grant(REMOTE_CODE, weights)
    assert not store.is_granted(REMOTE_CODE, empty)


def test_unpickle_needs_an_existing_file(store, tmp_path, folder):
    with pytest.raises(UserError, match=r"missing\.bin does not exist"):
        store.grant(UNPICKLE, tmp_path / "missing.bin")
    with pytest.raises(UserError, match="is not a file"):
        store.grant(UNPICKLE, folder)
    assert store.list() == ()


def test_a_consent_round_trips_through_json(weights, store):
    consent = store.grant(UNPICKLE, weights)
    assert Consent.from_json(consent.to_json()) == consent
