"""One rule for turning a title into a file name: readable, and safe on Windows, macOS and
Linux; project export and the Voice panel's take export both use it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from studio.core.media.audio_export import take_file_name
from studio.core.media.export import export_assets, export_name
from studio.core.media.file_names import NAME_LIMIT, file_name_for
from studio.core.project.store import ProjectStore
from studio.core.recipe import Recipe
from studio.plugin_api import AssetKind

WINDOWS_FORBIDDEN = set('<>:"/\\|?*') | {chr(c) for c in range(32)}


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Chapter 1: The sea", "Chapter 1 - The sea.txt"),  # a colon between words: a dash
        ("10:30 at AC/DC", "10-30 at AC-DC.txt"),  # inside a word: a plain dash
        ("Red / square?", "Red - square.txt"),
        ('She said "hi"', "She said 'hi'.txt"),
        ("<b>bold</b> * note", "bbold-b note.txt"),
        ("Lighthouse at dusk · seed 1234", "Lighthouse at dusk · seed 1234.txt"),  # kept as read
        (
            "“The keeper climbed the…” · Hibari heart",
            "“The keeper climbed the…” · Hibari heart.txt",
        ),
        ("Grüße aus Köln", "Grüße aus Köln.txt"),
        ("  many   spaces\nand lines ", "many spaces and lines.txt"),
        (".hidden", "hidden.txt"),
        ("- dashed", "dashed.txt"),
        ("The end...", "The end.txt"),  # Windows drops trailing dots
        ("evil\u202etxt.exe", "eviltxt.exe.txt"),  # no right-to-left override to hide a name
    ],
)
def test_titles_become_readable_safe_names(title, name):
    assert file_name_for(title, ".txt") == name


def test_the_same_rule_whatever_the_suffix_looks_like():
    assert file_name_for("Take", ".wav") == file_name_for("Take", "wav") == "Take.wav"
    assert file_name_for("Take") == "Take"
    assert file_name_for("Take", " (01abc).png") == "Take (01abc).png"  # kept whole


def test_nothing_left_gives_the_fallback():
    assert file_name_for("", ".wav", fallback="take") == "take.wav"
    assert file_name_for("???", ".wav", fallback="take") == "take.wav"
    assert file_name_for("...", ".wav", fallback="") == "untitled.wav"


def test_windows_device_names_are_avoided():
    assert file_name_for("CON", ".txt") == "CON_.txt"
    assert file_name_for("nul.old", ".txt") == "nul_.old.txt"
    assert file_name_for("Console", ".txt") == "Console.txt"


def test_long_titles_are_cut_at_a_word_and_fit_every_file_system():
    title = "The lighthouse keeper climbed the hundred and twelve steps " * 4
    name = file_name_for(title, ".flac")
    stem = name.removesuffix(".flac")
    assert len(stem) <= NAME_LIMIT and stem.endswith("…")
    assert " ".join(title.split()).startswith(stem[:-1])
    wide = file_name_for("漢字" * 200, ".flac")  # 3 bytes a character
    assert len(wide.encode("utf-8")) <= 255 and wide.endswith("….flac")


def test_any_title_gives_a_name_no_system_refuses(tmp_path):
    rng = random.Random(3)
    alphabet = 'ab :/\\|?*"<>.-·…é\n\t\u202e漢'
    for _ in range(300):
        title = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 120)))
        name = file_name_for(title, ".wav", fallback="take")
        stem = name.removesuffix(".wav")
        assert stem and not (set(name) & WINDOWS_FORBIDDEN)
        assert stem[0] not in ". -" and stem[-1] not in ". "
        assert len(name.encode("utf-8")) <= 255
        (tmp_path / name).write_bytes(b"")  # the local file system takes it too


def test_the_voice_export_uses_the_same_rule():
    assert take_file_name("“Chapter 1: The sea” · Hibari heart", "flac") == (
        "“Chapter 1 - The sea” · Hibari heart.flac"
    )
    assert take_file_name("", "ogg") == "take.ogg"


def test_project_export_names_files_by_the_same_rule_and_the_asset_id(tmp_path: Path):
    with ProjectStore.create(tmp_path / "p.studio") as store:
        asset = store.add_asset(
            kind=AssetKind.TEXT,
            data=b"the sea",
            media_type="text/plain",
            recipe=Recipe.for_import("notes.txt"),
            title="Chapter 1: The sea",
        )
        assert export_name(asset) == f"Chapter 1 - The sea ({asset.id.lower()}).txt"
        (exported,) = export_assets(store, tmp_path / "out")
        assert exported.path.name == export_name(asset)
        assert exported.path.read_bytes() == b"the sea"
