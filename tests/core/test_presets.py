"""Instruct presets: built-ins, user edits saved as JSON, bad files reported, templates checked."""

from __future__ import annotations

import json

import pytest

from studio.core.errors import UserError
from studio.core.presets import BUILTIN_PRESETS, Preset, PresetStore


def test_builtins_cover_the_common_tasks(tmp_path):
    names = [p.name for p in PresetStore(tmp_path / "presets.json").load()]
    assert names == [
        "Summarise",
        "Translate",
        "Answer a question",
        "Extract as JSON",
        "Write code",
        "Brainstorm an outline",
    ]
    for preset in BUILTIN_PRESETS:
        assert preset.validated().template.format(instruction="I", text="T")


def test_edits_and_new_presets_round_trip(tmp_path):
    store = PresetStore(tmp_path / "presets.json")
    presets = store.load()
    presets[1] = Preset("Translate", "Translate into German.", presets[1].template)
    presets.append(Preset("Haiku", "Write a haiku about the text.", "{text}\n{instruction}\n"))
    store.save(presets)
    saved = json.loads((tmp_path / "presets.json").read_text())["presets"]
    assert [p["name"] for p in saved] == ["Translate", "Haiku"]  # unchanged built-ins not copied
    again = PresetStore(tmp_path / "presets.json").load()
    assert again[1].instruction == "Translate into German."
    assert again[-1].name == "Haiku"


@pytest.mark.parametrize(
    ("preset", "message"),
    [
        (Preset("", "x"), "needs a name"),
        (Preset("A", "x", "no placeholders"), "must contain"),
        (Preset("A", "x", "{text} {other}"), "placeholder other than"),
    ],
)
def test_bad_presets_are_refused(tmp_path, preset, message):
    with pytest.raises(UserError, match=message):
        PresetStore(tmp_path / "p.json").save([preset])


def test_a_damaged_file_is_reported_and_kept(tmp_path):
    path = tmp_path / "presets.json"
    path.write_text("{broken")
    store = PresetStore(path)
    assert len(store.load()) == len(BUILTIN_PRESETS)
    assert "was not used" in store.problem
    assert path.read_text() == "{broken"
