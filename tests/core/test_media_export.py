"""Export: recipes embedded in PNG, FLAC and Ogg, sidecars for the rest, and reading them back."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.media import detect, png_text
from studio.core.media.a1111 import parameters_from_recipe, parse_parameters
from studio.core.media.embedded_recipe import (
    RecipeLocation,
    embed_recipe,
    read_embedded,
    read_recipe,
    sidecar_path,
)
from studio.core.media.export import ExportError, export_assets, export_name
from studio.core.media.vorbis_comments import (
    ogg_crc,
    parse_ogg_pages,
    read_flac_comments,
    read_ogg_comments,
)
from studio.core.project import ProjectStore
from studio.core.recipe import Recipe, RecipeInput
from studio.plugin_api.kinds import AssetKind, Panel
from tests.core.fixtures.media_samples import audio_bytes, decode_audio, image_bytes, png_bytes


def image_recipe(**fields) -> Recipe:
    values = dict(
        panel=Panel.IMAGE,
        plugin_id="diffusers-image",
        plugin_version="0.3",
        model_id="sd-turbo",
        model_sha256="0123456789abcdef" * 4,
        request={"prompt": "a red fox, in snow", "negative_prompt": "blurry"},
        run_options={"num_inference_steps": 20, "guidance_scale": 7.0, "scheduler": "Euler a"},
        seed=123,
    )
    values.update(fields)
    return Recipe(**values)


def test_a1111_parameters_text() -> None:
    text = parameters_from_recipe(image_recipe(), (512, 384))
    assert text == (
        "a red fox, in snow\n"
        "Negative prompt: blurry\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x384, "
        "Model hash: 0123456789, Model: sd-turbo, Version: Studio 0.1.0"
    )
    parsed = parse_parameters(text)
    assert parsed.prompt == "a red fox, in snow" and parsed.negative_prompt == "blurry"
    assert parsed.settings["Steps"] == "20" and parsed.settings["Size"] == "512x384"


def test_denoising_strength_only_for_images_made_from_an_image() -> None:
    options = {"steps": 20, "strength": 0.6}
    assert "Denoising strength" not in parameters_from_recipe(image_recipe(run_options=options))
    from_init = image_recipe(run_options=options, inputs=(RecipeInput(asset_id="a1", role="init"),))
    assert "Denoising strength: 0.6" in parameters_from_recipe(from_init)


def test_a1111_values_with_commas_are_quoted_and_unquoted() -> None:
    text = parameters_from_recipe(
        image_recipe(request={"prompt": "p"}, model_id="org/model, v2: final"), None
    )
    assert 'Model: "org/model, v2: final"' in text
    assert "Negative prompt" not in text
    assert parse_parameters(text).settings["Model"] == "org/model, v2: final"


def test_a1111_needs_a_prompt_and_reads_prompt_only_texts() -> None:
    assert parameters_from_recipe(Recipe.for_import("x.png")) is None
    parsed = parse_parameters("just a prompt\nover two lines")
    assert parsed.prompt == "just a prompt\nover two lines" and parsed.settings == {}


def test_png_gets_parameters_and_recipe_and_keeps_its_pixels() -> None:
    original = png_bytes(20, 10, "blue")
    recipe = image_recipe(request={"prompt": "ein Fuchs im Schnee ❄", "negative_prompt": ""})
    exported = embed_recipe(original, detect.PNG, recipe, "Fox")
    with Image.open(io.BytesIO(exported)) as image:
        assert image.text["parameters"].startswith("ein Fuchs im Schnee ❄\nSteps: 20")
        assert "Size: 20x10" in image.text["parameters"]
        assert image.text["Title"] == "Fox"
        assert json.loads(image.text["studio-recipe"])["seed"] == 123
        exported_pixels = np.asarray(image)
    with Image.open(io.BytesIO(original)) as image:
        assert np.array_equal(exported_pixels, np.asarray(image))
    found = read_embedded(exported, detect.PNG)
    assert found.recipe == recipe and found.title == "Fox"
    assert found.location is RecipeLocation.PNG_CHUNK
    # Embedding again replaces the chunks instead of adding more.
    again = embed_recipe(exported, detect.PNG, image_recipe(seed=5), "Fox 2")
    keywords = [
        png_text.decode_text_chunk(kind, body)[0]
        for kind, body in png_text.iter_chunks(again)
        if kind in png_text.TEXT_CHUNKS
    ]
    assert sorted(keywords) == ["Title", "parameters", "studio-recipe"]
    assert read_embedded(again, detect.PNG).recipe.seed == 5


def test_png_reader_handles_compressed_and_corrupt_chunks() -> None:
    recipe = image_recipe()
    info = PngInfo()
    info.add_itxt("studio-recipe", recipe.to_json_text(), zip=True)  # compressed iTXt
    info.add_text("Title", "Zipped", zip=True)  # zTXt
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(png_bytes())) as image:
        image.save(buffer, "PNG", pnginfo=info)
    found = read_embedded(buffer.getvalue(), detect.PNG)
    assert found.recipe == recipe and found.title == "Zipped"
    broken = bytearray(buffer.getvalue())
    broken[40] ^= 0xFF  # inside a chunk: its CRC no longer matches
    assert read_embedded(bytes(broken), detect.PNG) is None


@pytest.mark.parametrize(("fmt", "subtype"), [("FLAC", None), ("OGG", "VORBIS"), ("OGG", "OPUS")])
def test_audio_gets_vorbis_comments_and_keeps_its_samples(fmt: str, subtype: str | None) -> None:
    original = audio_bytes(fmt, subtype)
    media_format = detect.FLAC if fmt == "FLAC" else detect.OGG
    recipe = Recipe(
        panel=Panel.VOICE,
        plugin_id="tone",
        request={"text": "Beep. Boop."},
        details={"long": "x" * 100_000},  # the comment header spans many Ogg pages
        inputs=(RecipeInput(asset_id="01HZZZZZZZ0000000000000001", role="reference"),),
    )
    exported = embed_recipe(original, media_format, recipe, "Beeps")
    assert np.array_equal(decode_audio(exported), decode_audio(original))
    with soundfile.SoundFile(io.BytesIO(exported)) as sound:
        assert sound.title == "Beeps"
    found = read_embedded(exported, media_format)
    assert found.recipe == recipe and found.title == "Beeps"
    assert found.location is RecipeLocation.VORBIS_COMMENT
    comments = dict(read_flac_comments(exported) if fmt == "FLAC" else read_ogg_comments(exported))
    assert comments["COMMENT"].startswith("Made with Studio")
    # Re-embedding replaces our comments and keeps the file readable.
    smaller = embed_recipe(exported, media_format, Recipe.for_import("a.ogg"), "Again")
    assert read_embedded(smaller, media_format).title == "Again"
    assert np.array_equal(decode_audio(smaller), decode_audio(original))


def reference_ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def test_rewritten_ogg_pages_are_valid() -> None:
    exported = embed_recipe(
        audio_bytes("OGG", "VORBIS", frames=48000),
        detect.OGG,
        Recipe.for_import("x", {"pad": "y" * 70_000}),
        "t",
    )
    pages = parse_ogg_pages(exported)
    assert [p.sequence for p in pages] == list(range(len(pages)))
    position = 0
    for page in pages:
        raw = page.to_bytes()
        assert exported[position : position + len(raw)] == raw
        stored = struct.unpack("<I", raw[22:26])[0]
        zeroed = raw[:22] + b"\0\0\0\0" + raw[26:]
        assert stored == ogg_crc(zeroed) == reference_ogg_crc(zeroed)
        position += len(raw)
    assert position == len(exported)


def test_formats_without_room_get_no_embedding() -> None:
    assert embed_recipe(audio_bytes("WAV"), detect.WAV, Recipe.for_import("a"), "t") is None
    assert embed_recipe(image_bytes("JPEG"), detect.JPEG, Recipe.for_import("a"), "t") is None
    assert embed_recipe(b"not a png", detect.PNG, Recipe.for_import("a"), "t") is None


@pytest.fixture
def project(tmp_path: Path):
    with ProjectStore.create(tmp_path / "p.studio") as store:
        yield store


def add(store: ProjectStore, kind: AssetKind, data: bytes, media_type: str, title: str, recipe):
    return store.add_asset(kind=kind, data=data, media_type=media_type, recipe=recipe, title=title)


def test_export_writes_every_kind_and_reads_the_recipes_back(
    project: ProjectStore, tmp_path: Path
) -> None:
    writing = Recipe(panel=Panel.WRITING, plugin_id="echo", request={"prompt": "hi"}, seed=3)
    assets = [
        add(project, AssetKind.IMAGE, png_bytes(), "image/png", "Red / square?", image_recipe()),
        add(project, AssetKind.IMAGE, image_bytes("JPEG"), "image/jpeg", "Photo", image_recipe()),
        add(project, AssetKind.AUDIO, audio_bytes("FLAC"), "audio/flac", "Flac", writing),
        add(project, AssetKind.AUDIO, audio_bytes("OGG", "VORBIS"), "audio/ogg", "Ogg", writing),
        add(project, AssetKind.AUDIO, audio_bytes("WAV"), "audio/wav", "Wav", writing),
        add(project, AssetKind.TEXT, "Grüße".encode(), "text/plain", "Greeting", writing),
        add(project, AssetKind.CAPTION, b"a red square", "text/plain", "Caption", writing),
    ]
    deleted = add(project, AssetKind.TEXT, b"gone", "text/plain", "Gone", writing)
    project.delete_asset(deleted.id)

    exported = export_assets(project, tmp_path / "out")
    assert [e.asset_id for e in exported] == [a.id for a in assets]  # oldest first, live only
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(names) == 7 + 4  # JPEG, WAV, text and caption have sidecars
    by_id = {e.asset_id: e for e in exported}
    assert by_id[assets[0].id].path.name == f"Red - square ({assets[0].id.lower()}).png"
    assert by_id[assets[5].id].path.read_text(encoding="utf-8") == "Grüße"
    for asset in assets:
        item = by_id[asset.id]
        fmt = detect.format_for_media_type(asset.media_type)
        has_room = fmt in (detect.PNG, detect.FLAC, detect.OGG)
        assert (item.sidecar is None) == has_room
        found = read_recipe(item.path)
        assert found is not None and found.recipe == asset.recipe
        assert found.title == asset.title
        if not has_room:
            assert item.path.read_bytes() == project.read_blob(asset.id)
            sidecar = json.loads(item.sidecar.read_text())
            assert sidecar["file"] == item.path.name and sidecar["asset_id"] == asset.id


def test_export_refuses_to_replace_files_unless_asked(
    project: ProjectStore, tmp_path: Path
) -> None:
    asset = add(project, AssetKind.TEXT, b"one", "text/plain", "One", Recipe.for_import("1.txt"))
    out = tmp_path / "out"
    out.mkdir()
    taken = out / export_name(asset)
    taken.write_bytes(b"mine")
    with pytest.raises(ExportError, match="already has"):
        export_assets(project, out)
    assert sorted(p.name for p in out.iterdir()) == [taken.name]
    assert taken.read_bytes() == b"mine"
    export_assets(project, out, overwrite=True)
    assert taken.read_bytes() == b"one"
    assert sidecar_path(taken).is_file()


def test_a_sidecar_of_another_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    sidecar_path(path).write_text(json.dumps({"file": "notes.png", "recipe": {}}))
    assert read_recipe(path) is None


def test_an_export_removes_what_a_killed_export_left_and_only_that(
    project: ProjectStore, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    add(project, AssetKind.TEXT, b"one", "text/plain", "One", Recipe.for_import("1.txt"))
    out = tmp_path / "out"
    out.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    left = out / f".One-x.png.{gone}-0123abcd.part"  # a killed export's half file
    running = out / f".Two-x.png.{os.getpid()}-89abcdef.part"  # an export still writing
    mine = out / ".notes.part"  # not Studio's
    for path in (left, running, mine):
        path.write_bytes(b"half")
    export_assets(project, out)
    assert not left.exists() and running.exists() and mine.exists()
