"""Preferences: defaults, round trip, and a damaged file that is reported, not wiped."""

from __future__ import annotations

import json

import pytest

from studio.core.errors import UserError
from studio.core.settings import Settings, SettingsFile, Theme


def test_defaults_when_there_is_no_file(tmp_path):
    file = SettingsFile(tmp_path / "settings.json")
    assert file.load() == Settings()
    assert file.problem == ""
    assert Settings().memory_budget_bytes > 0


def test_round_trip(tmp_path):
    file = SettingsFile(tmp_path / "settings.json")
    chosen = Settings(device="cpu", memory_budget_gb=3.5, theme=Theme.DARK, projects_dir="/p")
    file.save(chosen)
    assert SettingsFile(tmp_path / "settings.json").load() == chosen
    assert chosen.memory_budget_bytes == int(3.5 * 2**30)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        '{"device": "tpu"}',
        '{"memory_budget_gb": "lots"}',
        '{"theme": "pink"}',
    ],
)
def test_a_bad_file_gives_defaults_with_a_reason_and_is_kept(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_text(content)
    file = SettingsFile(path)
    assert file.load() == Settings()
    assert "was not used" in file.problem
    assert path.read_text() == content  # never wiped by loading
    file.save(Settings(device="cpu"))
    assert (tmp_path / "settings.json.bak").read_text() == content
    assert json.loads(path.read_text())["device"] == "cpu"


def test_unknown_keys_from_a_newer_studio_are_ignored(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"device": "cpu", "future_thing": 1}')
    assert SettingsFile(path).load() == Settings(device="cpu")


def test_invalid_values_are_refused_on_save(tmp_path):
    with pytest.raises(UserError):
        SettingsFile(tmp_path / "s.json").save(Settings(memory_budget_gb=-1))
