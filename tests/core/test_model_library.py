"""Imported models are remembered per panel, most recent first, and vanish when deleted."""

from __future__ import annotations

from studio.core.model_library import MAX_PER_PANEL, ModelLibrary
from studio.plugin_api import Panel


def test_remembered_models_are_listed_per_panel(tmp_path):
    library = ModelLibrary(tmp_path / "data" / "library.json")
    sd = tmp_path / "sd15"
    sd.mkdir()
    checkpoint = tmp_path / "dream.safetensors"
    checkpoint.write_bytes(b"x")
    gguf = tmp_path / "lm.gguf"
    gguf.write_bytes(b"x")
    library.remember(sd, Panel.IMAGE)
    library.remember(checkpoint, Panel.IMAGE)
    library.remember(gguf, Panel.WRITING)
    library.remember(sd, Panel.IMAGE)  # again: moves to the top, no duplicate
    image = library.entries(Panel.IMAGE)
    assert [e.path for e in image] == [str(sd), str(checkpoint)]
    assert [e.label for e in image] == ["sd15 (folder)", "dream.safetensors (safetensors)"]
    assert [e.path for e in ModelLibrary(library.file).entries(Panel.WRITING)] == [str(gguf)]
    checkpoint.unlink()
    assert [e.path for e in library.entries(Panel.IMAGE)] == [str(sd)]
    library.forget(sd, Panel.IMAGE)
    assert library.entries(Panel.IMAGE) == []


def test_a_damaged_library_starts_afresh(tmp_path):
    file = tmp_path / "library.json"
    file.write_text("{broken")
    library = ModelLibrary(file)
    assert library.entries(Panel.IMAGE) == []
    library.remember(tmp_path, Panel.IMAGE)
    assert len(library.entries(Panel.IMAGE)) == 1


def test_the_list_is_bounded(tmp_path):
    library = ModelLibrary(tmp_path / "library.json")
    for index in range(MAX_PER_PANEL + 5):
        folder = tmp_path / f"m{index}"
        folder.mkdir()
        library.remember(folder, Panel.IMAGE)
    entries = library.entries(Panel.IMAGE)
    assert len(entries) == MAX_PER_PANEL
    assert entries[0].name == f"m{MAX_PER_PANEL + 4}"
