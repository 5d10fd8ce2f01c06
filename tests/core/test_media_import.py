"""Importing files: recognised by content, checked completely, refused with a reason."""

from __future__ import annotations

import codecs
import io
import os
import warnings
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from studio.core.media import detect
from studio.core.media.embedded_recipe import embed_recipe, sidecar_path, sidecar_text
from studio.core.media.importing import (
    ImportRefusedError,
    check_import,
    import_files,
    read_media_file,
)
from studio.core.media.png_text import with_texts
from studio.core.project import ProjectStore
from studio.core.recipe import Recipe, RecipeOrigin
from studio.plugin_api.kinds import AssetKind, Panel
from tests.core.fixtures.media_samples import audio_bytes, image_bytes, png_bytes


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "make", "fmt"),
    [
        ("a.png", png_bytes, detect.PNG),
        ("a.jpg", lambda: image_bytes("JPEG"), detect.JPEG),
        ("a.webp", lambda: image_bytes("WEBP"), detect.WEBP),
        ("a.gif", lambda: image_bytes("GIF"), detect.GIF),
        ("a.bmp", lambda: image_bytes("BMP"), detect.BMP),
        ("a.tiff", lambda: image_bytes("TIFF"), detect.TIFF),
        ("a.wav", lambda: audio_bytes("WAV"), detect.WAV),
        ("a.flac", lambda: audio_bytes("FLAC"), detect.FLAC),
        ("a.ogg", lambda: audio_bytes("OGG", "VORBIS"), detect.OGG),
        ("a.opus", lambda: audio_bytes("OGG", "OPUS"), detect.OGG),
        ("no_extension", png_bytes, detect.PNG),  # content decides
        ("a.txt", lambda: "Grüße aus Köln\n".encode(), detect.TEXT),
        ("a.md", lambda: b"# Title\n\nBody\n", detect.MARKDOWN),
        ("notes", lambda: b"plain words", detect.TEXT),
    ],
)
def test_supported_files_are_recognised(tmp_path: Path, name: str, make, fmt) -> None:
    media = read_media_file(write(tmp_path, name, make()))
    assert media.format is fmt
    assert media.kind is fmt.kind and media.media_type == fmt.media_type
    assert media.title == Path(name).stem
    if fmt.kind is AssetKind.IMAGE:
        assert (media.facts["width"], media.facts["height"]) == (16, 12)
    if fmt.kind is AssetKind.AUDIO:
        assert media.facts["frames"] == 8000 and media.facts["sample_rate"] == 16000


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (codecs.BOM_UTF8 + "café ☕".encode(), "utf-8-sig"),
        ("café ☕".encode("utf-16-le"), None),
        ("café ☕".encode("utf-16"), "utf-16"),
        ("café ☕".encode("utf-32"), "utf-32"),
        ("café ☕".encode(), "utf-8"),
    ],
)
def test_unicode_text_is_stored_as_utf8(tmp_path: Path, raw: bytes, encoding: str | None) -> None:
    path = write(tmp_path, "t.txt", raw)
    if encoding is None:  # UTF-16 without a byte order mark has NUL bytes: binary, refused
        refused(path, "binary data")
        return
    media = read_media_file(path)
    assert media.data == "café ☕".encode()
    assert media.facts["encoding"] == encoding


def test_cp1252_is_detected(tmp_path: Path) -> None:
    raw = ("Café crème, déjà vu: a naïve façade in Zürich. " * 4).encode("cp1252")
    media = read_media_file(write(tmp_path, "t.txt", raw))
    assert media.data.decode("utf-8").startswith("Café crème, déjà vu")
    assert media.facts["encoding"] == "cp1252"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет, мир! Как дела? Всё хорошо, спасибо.", "cp1251"),
        ("こんにちは、世界。今日はいい天気ですね。", "shift_jis"),
        ("Γειά σου Κόσμε, τι κάνεις σήμερα;", "cp1253"),
    ],
)
def test_non_western_legacy_encodings_are_detected(
    tmp_path: Path, text: str, encoding: str
) -> None:
    media = read_media_file(write(tmp_path, "t.txt", text.encode(encoding)))
    assert media.data.decode("utf-8") == text


def refused(path: Path, match: str) -> None:
    with pytest.raises(ImportRefusedError, match=match):
        read_media_file(path)


def test_content_contradicting_the_extension_is_refused(tmp_path: Path) -> None:
    refused(
        write(tmp_path, "photo.png", image_bytes("JPEG")),
        r"photo\.png cannot be imported: "
        r"its name promises a PNG image but it holds a JPEG image \(rename it to photo\.jpg\)",
    )
    refused(
        write(tmp_path, "song.wav", audio_bytes("FLAC")),
        "promises a WAV file but it holds a FLAC file",
    )
    refused(
        write(tmp_path, "fake.wav", b"not audio at all, just words"),
        "name promises a WAV file but it is not one",
    )
    refused(write(tmp_path, "pic.txt", png_bytes()), "promises a text file but it holds a PNG")


def test_broken_media_is_refused(tmp_path: Path) -> None:
    png = png_bytes(64, 64)
    refused(write(tmp_path, "cut.png", png[: len(png) * 2 // 3]), "not a readable PNG image")
    jpeg = image_bytes("JPEG", 64, 64)
    refused(write(tmp_path, "cut.jpg", jpeg[: len(jpeg) * 2 // 3]), "not a readable JPEG")
    wav = audio_bytes("WAV")
    refused(write(tmp_path, "cut.wav", wav[: len(wav) // 2]), "truncated")
    refused(write(tmp_path, "silence.wav", audio_bytes("WAV", frames=0)), "zero length")
    riff_junk = b"RIFF" + (1000).to_bytes(4, "little") + b"WAVE" + os.urandom(1000)
    refused(write(tmp_path, "junk.wav", riff_junk), "cannot be imported")
    ogg = audio_bytes("OGG", "VORBIS")
    refused(write(tmp_path, "cut.ogg", ogg[: len(ogg) // 2]), "not a readable Ogg file")
    flac = audio_bytes("FLAC")
    refused(write(tmp_path, "cut.flac", flac[: len(flac) // 2]), "not a readable FLAC file")


def animated_gif() -> bytes:
    frames = []
    for i in range(5):
        frame = Image.new("RGB", (40, 40), "white")
        ImageDraw.Draw(frame).rectangle([i * 5, i * 5, i * 5 + 10, i * 5 + 10], fill="red")
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def test_every_frame_of_an_animation_is_checked(tmp_path: Path) -> None:
    gif = animated_gif()
    assert read_media_file(write(tmp_path, "ok.gif", gif)).facts["frames"] == 5
    refused(write(tmp_path, "cut.gif", gif[:-20]), "not a readable GIF image")


def test_decompression_bombs_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "big.png", png_bytes(100, 100))  # 10,000 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6_000)  # Pillow warns above, errors above 2x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the check must not depend on the warning filters
        refused(path, "too large to decode safely")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4_000)
    refused(path, "too large to decode safely")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # someone disabled the limit
    monkeypatch.setattr("studio.core.media.validation.DEFAULT_MAX_IMAGE_PIXELS", 5_000)
    refused(path, "more than the limit of 5000")


def test_junk_and_unsupported_files_are_refused(tmp_path: Path) -> None:
    refused(write(tmp_path, "noise.bin", os.urandom(4096)), "cannot be imported")
    refused(write(tmp_path, "nul.txt", b"text with \x00 inside"), "binary data, not text")
    refused(write(tmp_path, "empty.txt", b""), "it is empty")
    refused(write(tmp_path, "blank.txt", b"  \n\n "), "it is empty")
    refused(write(tmp_path, "controls.txt", bytes(range(1, 32)) * 20), "binary data")
    refused(
        write(tmp_path, "tune.mp3", b"ID3\x04" + os.urandom(100)),
        "it is an MP3 file, which Studio does not import",
    )
    refused(write(tmp_path, "doc.pdf", b"%PDF-1.4 whatever"), "PDF document")
    refused(tmp_path / "missing.png", "does not exist")
    refused(tmp_path, "not a file")
    refused(write(tmp_path, "x.recipe.json", b"{}"), "recipe file")


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and /dev/zero are POSIX")
def test_what_is_not_a_file_is_refused_by_what_it_is_and_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")  # reading it would wait forever
    refused(
        tmp_path / "pipe.png", r"pipe\.png cannot be imported: it is a named pipe, not a file\."
    )
    refused(Path("/dev/zero"), r"zero cannot be imported: it is a device, not a file\.")
    (tmp_path / "folder.png").mkdir()
    refused(tmp_path / "folder.png", r"it is a folder, not a file\.")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    refused(tmp_path / "loop.png", r"it is a link that leads round in a circle, not a file\.")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    refused(tmp_path / "dangling.png", r"it is a link to a file that does not exist\.")
    (tmp_path / "link.png").symlink_to(write(tmp_path, "real.png", png_bytes()))
    assert read_media_file(tmp_path / "link.png").format is detect.PNG


def test_an_ico_is_named_not_called_binary_text(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buffer, "ICO")
    message = r"it is an ICO icon, which Studio does not import\.$"
    refused(write(tmp_path, "favicon.ico", buffer.getvalue()), message)
    refused(write(tmp_path, "favicon.bin", buffer.getvalue()), message)


def test_reasons_quote_the_decoder_not_its_buffer(tmp_path: Path) -> None:
    png = bytearray(png_bytes())
    png[29] ^= 0xFF  # the header's checksum: no opener makes sense of it
    with pytest.raises(ImportRefusedError) as caught:
        read_media_file(write(tmp_path, "header.png", bytes(png)))
    assert str(caught.value) == (
        "header.png cannot be imported: it is not a readable PNG image (its header is damaged)."
    )
    wav = bytearray(audio_bytes("WAV"))
    wav[20:22] = b"\x99\x99"  # a format tag libsndfile does not know
    with pytest.raises(ImportRefusedError) as caught:
        read_media_file(write(tmp_path, "odd.wav", bytes(wav)))
    assert "object at 0x" not in str(caught.value)
    assert "Error opening" not in str(caught.value)
    assert str(caught.value).startswith("odd.wav cannot be imported: it is not a readable WAV")


def damaged_fax_tiff() -> bytes:
    """A CCITT group 4 TIFF with bad code words: libtiff says so on stderr and decodes on."""
    picture = Image.new("1", (64, 64), 1)
    ImageDraw.Draw(picture).ellipse((8, 8, 56, 56), fill=0)
    buffer = io.BytesIO()
    picture.save(buffer, "TIFF", compression="group4")
    data = bytearray(buffer.getvalue())
    with Image.open(io.BytesIO(bytes(data))) as tiff:
        start, length = tiff.tag_v2[273][0], tiff.tag_v2[279][0]  # its one strip
    data[start + length // 3 : start + length // 3 + 6] = b"\x55" * 6
    return bytes(data)


def test_a_tiff_libtiff_reports_damaged_is_refused_and_nothing_is_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    refused(write(tmp_path, "fax.tif", damaged_fax_tiff()), r"not a readable TIFF image \(Fax")
    assert capfd.readouterr().err == ""
    sound = Image.new("1", (64, 64), 1)
    buffer = io.BytesIO()
    sound.save(buffer, "TIFF", compression="group4")
    assert read_media_file(write(tmp_path, "fine.tif", buffer.getvalue())).format is detect.TIFF
    assert capfd.readouterr().err == ""


def test_for_the_command_line_one_bad_file_means_nothing_is_imported(tmp_path: Path) -> None:
    good = write(tmp_path, "good.png", png_bytes())
    bad = write(tmp_path, "bad.png", b"\x89PNG\r\n\x1a\n broken")
    worse = write(tmp_path, "worse.wav", b"words")
    with pytest.raises(ImportRefusedError) as caught:
        check_import([good, bad, worse])
    assert "Nothing was imported, because 2 of 3 files cannot be" in str(caught.value)
    assert [name for name, _ in caught.value.reasons] == ["bad.png", "worse.wav"]


def test_the_window_keeps_the_files_that_pass_and_lists_the_others(tmp_path: Path) -> None:
    good = write(tmp_path, "good.png", png_bytes())
    bad = write(tmp_path, "bad.png", b"\x89PNG\r\n\x1a\n broken")
    worse = write(tmp_path, "worse.wav", b"words")
    with ProjectStore.create(tmp_path / "p.studio") as store:
        report = import_files(store, [good, bad, worse])
        assert [a.title for a in report.assets] == ["good"]
        assert report.added == (report.assets[0].id,)
        assert [name for name, _ in report.refused] == ["bad.png", "worse.wav"]
        assert store.count_assets() == 1


def test_importing_again_stores_nothing_twice(tmp_path: Path) -> None:
    first = write(tmp_path, "a.png", png_bytes())
    again = write(tmp_path, "b.png", png_bytes())  # the same picture under another name
    with ProjectStore.create(tmp_path / "p.studio") as store:
        one = import_files(store, [first, again])
        assert len(one.assets) == 2 and one.assets[0].id == one.assets[1].id
        assert one.added == (one.assets[0].id,)
        two = import_files(store, [first])
        assert two.added == () and two.assets[0].id == one.assets[0].id
        assert store.count_assets() == 1


def test_a_large_import_commits_whole_chunks(tmp_path: Path, monkeypatch) -> None:
    from studio.core.media import importing

    monkeypatch.setattr(importing, "CHUNK_BYTES", 1)  # a transaction per file
    files = [write(tmp_path, f"{n}.png", png_bytes(10 + n, 10)) for n in range(3)]
    with ProjectStore.create(tmp_path / "p.studio") as store:
        calls = []
        add_assets = store.add_assets
        monkeypatch.setattr(store, "add_assets", lambda items: calls.append(1) or add_assets(items))
        report = import_files(store, files)
        assert len(report.added) == 3 and len(calls) == 3


KILLED_IMPORT = """
import sys
from pathlib import Path
from studio.core.media import importing
from studio.core.project import ProjectStore

importing.CHUNK_BYTES = 1  # a transaction per file
store = ProjectStore.open(Path(sys.argv[1]))
add_assets = store.add_assets
commits = []

def add_and_say(items):
    print("committing", flush=True)  # the third time, the parent kills this process now
    stored = add_assets(items)
    commits.append(1)
    print("committed", flush=True)
    if len(commits) == 2:
        sys.stdin.readline()
    return stored

store.add_assets = add_and_say
importing.import_files(store, [Path(p) for p in sys.argv[2:]])
"""


def test_a_killed_import_leaves_whole_files_and_importing_again_adds_the_rest(
    tmp_path: Path,
) -> None:
    """kill -9 while a multi-file import commits: the project opens whole, holds only files
    committed in full, and the same import again adds what is missing, once."""
    import subprocess
    import sys

    project = tmp_path / "p.studio"
    ProjectStore.create(project).close()
    files = [write(tmp_path, f"{n}.png", png_bytes(10 + n, 10)) for n in range(5)]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_IMPORT, str(project), *map(str, files)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    said = [child.stdout.readline().strip() for _ in range(4)]
    assert said == ["committing", "committed"] * 2
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "committing"
    child.kill()  # SIGKILL in the middle of the third file's transaction (or just before it)
    child.wait(30)
    with ProjectStore.open(project) as store:
        assert store.quick_check().result(30).ok
        kept = store.count_assets()
        assert kept in (2, 3)  # whole files only
        report = import_files(store, files)
        assert len(report.added) == 5 - kept and store.count_assets() == 5


def test_import_stores_assets_with_import_recipes(tmp_path: Path) -> None:
    files = [
        write(tmp_path, "red.png", png_bytes()),
        write(tmp_path, "tone.flac", audio_bytes("FLAC")),
        write(tmp_path, "poem.txt", "Roses are red\n".encode("utf-16")),
    ]
    with ProjectStore.create(tmp_path / "p.studio") as store:
        report = import_files(store, files)
        image, audio, text = report.assets
        assert [a.kind for a in report.assets] == [AssetKind.IMAGE, AssetKind.AUDIO, AssetKind.TEXT]
        assert store.read_blob(image.id) == files[0].read_bytes()
        assert store.read_blob(text.id) == b"Roses are red\n"
        assert text.recipe.origin is RecipeOrigin.IMPORTED
        assert text.recipe.request["file_name"] == "poem.txt"
        assert text.recipe.details["file"]["encoding"] == "utf-16"
        assert audio.recipe.details["file"]["sample_rate"] == 16000
        assert image.title == "red"


def generated_recipe() -> Recipe:
    return Recipe(
        panel=Panel.IMAGE,
        plugin_id="painter",
        request={"prompt": "a red square", "negative_prompt": "blue"},
        run_options={"steps": 20},
        seed=5,
    )


def test_a_recipe_inside_the_file_is_kept_in_the_import_recipe(tmp_path: Path) -> None:
    original = generated_recipe()
    png = write(tmp_path, "made.png", embed_recipe(png_bytes(), detect.PNG, original, "Made"))
    flac = write(
        tmp_path, "said.flac", embed_recipe(audio_bytes("FLAC"), detect.FLAC, original, "Said")
    )
    text = write(tmp_path, "words.txt", b"some words")
    sidecar = sidecar_path(text)
    sidecar.write_text(
        sidecar_text(
            file_name="words.txt",
            data=b"some words",
            recipe=original,
            title="Words",
            kind="text",
            asset_id="01HZZZZZZZ0000000000000001",
        )
    )
    plan = check_import([png, flac, text, sidecar])
    assert plan.sidecars == (sidecar,) and plan.media == (png, flac, text)
    for path, title, found_in in [
        (png, "Made", "png-chunk"),
        (flac, "Said", "vorbis-comment"),
        (text, "Words", "sidecar"),
    ]:
        media = read_media_file(path)
        assert media.title == title
        recipe = media.recipe()
        assert recipe.details["found_in"] == found_in
        assert Recipe.from_json(recipe.details["embedded_recipe"]) == original
        assert recipe.inputs == ()  # foreign lineage is not this project's lineage


def test_a1111_parameters_are_read_on_import(tmp_path: Path) -> None:
    parameters = (
        "a castle\nNegative prompt: fog\nSteps: 30, Sampler: DPM++ 2M, Seed: 9, Size: 16x12"
    )
    path = write(tmp_path, "a1111.png", with_texts(png_bytes(), {"parameters": parameters}))
    recipe = read_media_file(path).recipe()
    assert recipe.details["a1111_parameters"] == parameters
    assert recipe.details["a1111"]["prompt"] == "a castle"
    assert recipe.details["a1111"]["negative_prompt"] == "fog"
    assert recipe.details["a1111"]["settings"]["Sampler"] == "DPM++ 2M"
    assert "embedded_recipe" not in recipe.details


def test_a_broken_embedded_recipe_does_not_block_the_import(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.png", with_texts(png_bytes(), {"studio-recipe": "{not json"}))
    media = read_media_file(path)
    assert media.embedded is None
