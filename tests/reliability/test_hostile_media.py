"""Nothing gets in: hostile media through every way in.

Truncated and corrupt files, decompression bombs, PNG chunks that declare a gigabyte, a zTXt
bomb, broken EXIF, a named pipe, ``/dev/zero``, a link loop, an empty file, a folder named like
an image, random bytes, a WAV with a bad header, an ICO and a fax TIFF libtiff calls damaged go
through ``studio project import``, a job's input (caption, style transfer, upscaling) and the
window's drop on the asset browser. Each is refused with one sentence that names the file
(exit 2 on the command line), nothing is written, nothing else reaches stderr (no traceback, no
Pillow or libtiff warning), and nothing hangs (a named pipe or a device is never opened).

The files are made here; the ``corpus`` tests take the real hostile files of
``../shared/corpus/hostile`` (Pillow's and libpng's crashers, PngSuite's corrupt files, faulty
WAVs and FLACs) through ``studio project import``: each is imported (some are valid after all)
or refused the same way, in a few seconds at most.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli.main import main
from studio.core.project import ProjectStore
from tests.core.fixtures.media_samples import audio_bytes, png_bytes
from tests.core.test_media_import import damaged_fax_tiff as _damaged_fax_tiff

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(sys.platform == "win32", reason="named pipes and /dev/zero are POSIX"),
]


# --------------------------------------------------------------------------------------------
# Hostile files, made on the fly
# --------------------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return struct.pack(">I", size) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with(extra: bytes) -> bytes:
    """A valid small PNG with ``extra`` chunks right after its header."""
    png = png_bytes(8, 8)
    header_end = 8 + 25  # signature, IHDR
    return png[:header_end] + extra + png[header_end:]


def _photo(fmt: str, **save: object) -> bytes:
    noise = np.random.default_rng(7).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, fmt, **save)
    return buffer.getvalue()


def _broken_exif_jpeg() -> bytes:
    """A JPEG whose EXIF segment holds no TIFF structure (Pillow: "not a TIFF file")."""
    payload = b"Exif\x00\x00" + b"not a TIFF header at all"
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    jpeg = _photo("JPEG")
    return jpeg[:2] + segment + jpeg[2:]


def _bad_wav_header() -> bytes:
    """RIFF/WAVE with a format chunk of zeros (format 0, no channels), then samples."""
    fmt = _riff_chunk(b"fmt ", bytes(16))
    data = _riff_chunk(b"data", bytes(800))
    return b"RIFF" + struct.pack("<I", 4 + len(fmt) + len(data)) + b"WAVE" + fmt + data


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body


def _ico() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buffer, "ICO")
    return buffer.getvalue()


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _write(data: bytes) -> Callable[[Path, str], Path]:
    def make(folder: Path, name: str) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def _fifo(folder: Path, name: str) -> Path:
    os.mkfifo(folder / name)
    return folder / name


def _loop(folder: Path, name: str) -> Path:
    (folder / name).symlink_to(folder / name)
    return folder / name


def _folder(folder: Path, name: str) -> Path:
    (folder / name).mkdir()
    return folder / name


def _dev_zero(folder: Path, name: str) -> Path:
    return Path("/dev/zero")


# id: (file name, maker, what the sentence says after "NAME cannot be imported: ")
HOSTILE: dict[str, tuple[str, Callable[[Path, str], Path], str]] = {
    "truncated png": ("cut.png", _write(_half(png_bytes(64, 64))), "it is not a readable PNG"),
    "truncated jpeg": ("cut.jpg", _write(_half(_photo("JPEG"))), "it is not a readable JPEG"),
    "truncated wav": ("cut.wav", _write(_half(audio_bytes("WAV"))), "it is truncated"),
    "truncated flac": ("cut.flac", _write(_half(audio_bytes("FLAC"))), "it is not a readable FLAC"),
    "png bomb": (
        "bomb.png",
        _write(
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(bytes(1000)))
            + _chunk(b"IEND", b"")
        ),
        "it is too large to decode safely",
    ),
    "png text of a gigabyte": (
        "gigatext.png",
        _write(_png_with(_chunk(b"tEXt", b"Comment\x00short", length=1 << 30))),
        "it is not a readable PNG",
    ),
    "ztxt bomb": (
        "ztxt.png",
        _write(_png_with(_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(16 << 20))))),
        "it is not a readable PNG",
    ),
    "damaged fax tiff": ("fax.tif", _write(_damaged_fax_tiff()), "it is not a readable TIFF"),
    "named pipe": ("pipe.png", _fifo, "it is a named pipe, not a file"),
    "/dev/zero": ("zero", _dev_zero, "it is a device, not a file"),
    "link loop": ("loop.png", _loop, "it is a link that leads round in a circle, not a file"),
    "empty file": ("empty.png", _write(b""), "it is empty"),
    "folder named like an image": ("folder.png", _folder, "it is a folder, not a file"),
    "random bytes": (
        "noise.png",
        _write(random.Random(7).randbytes(4096)),
        "its name promises a PNG image but it is not one",
    ),
    "wav with a bad header": ("header.wav", _write(_bad_wav_header()), "it is not a readable WAV"),
    "ico": ("icon.ico", _write(_ico()), "it is an ICO icon, which Studio does not import"),
}


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    """Every hostile file, made in a folder of its own."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    return {case: make(folder, name) for case, (name, make, _) in HOSTILE.items()}


def assert_one_sentence(err: str, name: str, says: str = "") -> str:
    """``err`` is one line, Studio's sentence about ``name`` and nothing else (no traceback,
    no warning from a decoder, no repr of a buffer); returns the sentence."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    (sentence,) = lines
    assert sentence.startswith(f"studio: {name} "), sentence
    assert sentence.endswith("."), sentence
    assert says in sentence, sentence
    for leak in ("Traceback", "internal error", "Error opening", "object at 0x", "Warning"):
        assert leak not in sentence, sentence
    return sentence


# --------------------------------------------------------------------------------------------
# studio project import
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(HOSTILE))
def test_project_import_refuses_with_one_sentence_and_creates_nothing(
    case: str, hostile: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path, says = hostile[case], HOSTILE[case][2]
    project = tmp_path / "new.studio"
    code = main(["project", "import", str(project), str(path)])
    out, err = capfd.readouterr()
    assert code == 2
    assert_one_sentence(err, path.name, f"{path.name} cannot be imported: {says}")
    assert out == ""
    assert not project.exists()


def test_importing_them_all_into_a_project_leaves_it_unchanged(
    hostile: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "kept.studio"
    good = tmp_path / "good.png"
    good.write_bytes(png_bytes())
    assert main(["project", "import", str(project), str(good)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("kept.studio*")}
    capfd.readouterr()
    code = main(["project", "import", str(project), *map(str, hostile.values())])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    sentence = assert_one_sentence(err, "Nothing", "Nothing was imported, because")
    assert f"{len(HOSTILE)} of {len(HOSTILE)} files cannot be" in sentence
    assert {p.name: p.read_bytes() for p in tmp_path.glob("kept.studio*")} == before


# --------------------------------------------------------------------------------------------
# A job's input
# --------------------------------------------------------------------------------------------

JOBS = {  # job: (kind, plugin, the input's role)
    "caption": ("caption", "studio.caption-ocr-tags", "image"),
    "style": ("image", "studio.image-style", "init"),
    "upscale": ("image", "studio.image-upscale", "init"),
}


def job_command(job: str, project: Path, path: Path) -> list[str]:
    kind, plugin, role = JOBS[job]
    return [
        *("generate", kind, "--project", str(project)),
        *("--plugin", plugin, "--input", f"{role}={path}"),
    ]


AUDIO = {"truncated wav", "truncated flac", "wav with a bad header"}
NOT_FILES = {"named pipe", "/dev/zero", "link loop", "folder named like an image"}
FOLDER = "folder named like an image"


@pytest.mark.parametrize(
    ("job", "case"),
    [(job, case) for job in JOBS for case in HOSTILE if (job, case) != ("caption", FOLDER)],
)
def test_a_job_refuses_each_as_its_input_with_one_sentence_and_writes_nothing(
    job: str, case: str, hostile: dict[str, Path], tmp_path: Path, capfd
) -> None:
    path, says = hostile[case], HOSTILE[case][2]
    project = tmp_path / "job.studio"
    code = main(job_command(job, project, path))
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    sentence = assert_one_sentence(err, path.name)
    if case in AUDIO:  # refused by its kind before it is decoded
        assert f"{path.name} is audio, but the '" in sentence
    elif case not in NOT_FILES:  # worded by the job pipeline itself (see below)
        assert f"{path.name} cannot be imported: {says}" in sentence
    assert not project.exists()


@pytest.mark.parametrize("case", sorted(NOT_FILES))
def test_a_job_says_what_an_input_that_is_no_file_is(
    case: str, hostile: dict[str, Path], tmp_path: Path, capfd
) -> None:
    path, says = hostile[case], HOSTILE[case][2]
    assert main(job_command("style", tmp_path / "job.studio", path)) == 2
    assert f"{path.name} cannot be imported: {says}." in capfd.readouterr().err


def test_caption_refuses_an_empty_folder_named_like_an_image(
    hostile: dict[str, Path], tmp_path: Path, capfd
) -> None:
    project = tmp_path / "batch.studio"
    code = main(job_command("caption", project, hostile[FOLDER]))
    out, err = capfd.readouterr()
    assert code == 2 and out == "" and len(err.splitlines()) == 1, (code, out, err)
    assert not project.exists()


@pytest.mark.parametrize("job", list(JOBS))
def test_a_jpeg_with_broken_exif_imports_and_works_as_every_input(
    job: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "broken-exif.jpg"
    photo.write_bytes(_broken_exif_jpeg())
    project = tmp_path / "exif.studio"
    assert main(["project", "import", str(project), str(photo)]) == 0
    capfd.readouterr()
    code = main([*job_command(job, project, photo), "--json"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "Traceback" not in err and "not a TIFF file" not in err
    (made,) = json.loads(out)["assets"]
    assert made["kind"] == ("caption" if job == "caption" else "image")


# --------------------------------------------------------------------------------------------
# The window: files dropped on the asset browser
# --------------------------------------------------------------------------------------------


def test_the_window_refuses_each_dropped_file_by_name_and_stores_nothing(
    qtbot, studio_data_dir: Path, hostile: dict[str, Path], tmp_path: Path, capfd
) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from studio.qt.project_session import ProjectSession
    from studio.ui.asset_browser import AssetBrowser

    ProjectStore.create(tmp_path / "window.studio").close()
    session = ProjectSession(studio_data_dir)
    try:
        session.open(tmp_path / "window.studio")
        browser = AssetBrowser(session, search_delay_ms=20)
        qtbot.addWidget(browser)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in hostile.values()])
        drop = QDropEvent(
            QPointF(10, 10),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        capfd.readouterr()
        with qtbot.waitSignal(session.files_imported, timeout=30_000):
            browser.dropEvent(drop)
        qtbot.waitUntil(lambda: "refused" in browser.status_label.text())
        assert browser.status_label.text() == f"{len(HOSTILE)} files refused."
        details = browser.status_label.toolTip().splitlines()
        assert len(details) == len(HOSTILE)
        for (case, path), line in zip(hostile.items(), details, strict=True):
            assert line.startswith(f"{path.name}: "), line
            assert HOSTILE[case][2] in line, line
            assert "object at 0x" not in line and "\n" not in line
        assert sum(session.store.stats().assets.values()) == 0
        browser.shutdown()
    finally:
        session.close()
    _, err = capfd.readouterr()
    assert "Warning" not in err and "Fax4Decode" not in err and "Traceback" not in err, err


# --------------------------------------------------------------------------------------------
# The real hostile files of the corpus
# --------------------------------------------------------------------------------------------

_NOT_MEDIA = ("LICENSE", "README", ".LICENSE", ".README")
SECONDS_EACH = 5.0


def corpus_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(p.name.startswith(n) or p.name.endswith(n) for n in _NOT_MEDIA)
    )


def import_each(files: list[Path], tmp_path: Path, capfd) -> dict[str, str]:
    """Every file through ``studio project import`` into a project of its own: imported, or
    refused with one sentence, exit 2 and no project; returns name: "imported" or the
    sentence."""
    outcome = {}
    for number, path in enumerate(files):
        project = tmp_path / f"{number}.studio"
        started = time.perf_counter()
        code = main(["project", "import", str(project), str(path)])
        seconds = time.perf_counter() - started
        out, err = capfd.readouterr()
        assert seconds < SECONDS_EACH, (path, seconds)
        if code == 0:
            assert err == "" and f"Imported {path.name} as " in out, (path, out, err)
            outcome[path.name] = "imported"
        else:
            assert code == 2, (path, code, err)
            sentence = assert_one_sentence(err, path.name, f"{path.name} cannot be imported: ")
            assert out == "" and not project.exists(), path
            outcome[path.name] = sentence
    return outcome


@pytest.mark.corpus
def test_pillows_hostile_images_are_imported_or_refused_cleanly(corpus, tmp_path, capfd):
    files = corpus_files(corpus / "hostile" / "images-pillow")
    outcome = import_each(files, tmp_path, capfd)
    assert len(outcome) == len(files) >= 30
    for bomb in ("decompression_bomb.gif", "decompression_bomb_extents.gif", "reallybig.bmp"):
        assert "too large to decode safely" in outcome[bomb]
    assert "an ICO icon, which Studio does not import" in outcome["decompression_bomb.ico"]
    assert "Fax4Decode" in outcome["crash-0da013a13571cc8eb457a39fee8db18f8a3c7127.tif"]
    for cut in ("truncated_image.png", "truncated_jpeg.jpg", "png_decompression_dos.png"):
        assert "not a readable" in outcome[cut]
    for valid in ("invalid-exif.jpg", "hopper_bad_exif.jpg", "exif-dpi-zerodivision.jpg"):
        assert outcome[valid] == "imported"  # broken EXIF, sound pictures


@pytest.mark.corpus
def test_corrupt_pngs_are_refused_cleanly(corpus, tmp_path, capfd):
    files = [p for p in corpus_files(corpus / "hostile" / "png-corrupt") if p.suffix == ".png"]
    outcome = import_each(files, tmp_path, capfd)
    assert len(outcome) == len(files) >= 30
    refused = {name for name, said in outcome.items() if said != "imported"}
    assert refused == set(outcome)  # every one of them is corrupt
    assert "not a readable PNG image" in outcome["huge_zTXt_chunk.png"]


@pytest.mark.corpus
def test_faulty_audio_is_imported_or_refused_cleanly(corpus, tmp_path, capfd):
    files = [p for p in corpus_files(corpus / "hostile" / "audio") if p.suffix != ".txt"]
    outcome = import_each(files, tmp_path, capfd)
    assert len(outcome) == len(files) >= 20
    assert "it is truncated" in outcome["test-44100Hz-le-1ch-4bytes-early-eof.wav"]
    assert "not a readable FLAC" in outcome["06_missing_streaminfo_metadata_block.flac"]
    assert outcome["test-44100Hz-le-1ch-4bytes.wav"] == "imported"
