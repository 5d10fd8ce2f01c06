"""The one image opener every plugin uses (``studio.plugin_api.images``): photos turned upright
by their EXIF tag, 16-bit greys scaled rather than clipped, decompression bombs refused before
decoding, the first frame of an animation, RGB, RGBA and L; and each image plugin taking an
EXIF-rotated input upright. Tiny pictures, built here with Pillow."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from studio.plugin_api import (
    AssetKind,
    CancelToken,
    ImageRequest,
    InputError,
    InputMedia,
    KnownModel,
    LoadContext,
    ResolvedModel,
    Result,
    RunContext,
)
from studio.plugin_api.images import open_image, open_rgb

RED, BLUE = (230, 20, 20), (20, 20, 230)
ROTATE_CLOCKWISE = 6  # EXIF orientation: "turn me 90° clockwise to show me"


def sideways_photo(path: Path, width: int = 64, height: int = 32) -> Path:
    """A JPEG as a phone held on its side stores it: red on the left, blue on the right, and
    the tag that turns it upright (then it is ``height`` wide, red on top)."""
    stored = Image.new("RGB", (width, height), BLUE)
    stored.paste(RED, (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[0x0112] = ROTATE_CLOCKWISE
    stored.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def assert_upright(image: Image.Image, width: int = 32, height: int = 64) -> None:
    assert image.size == (width, height)
    top = image.convert("RGB").getpixel((width // 2, height // 4))
    bottom = image.convert("RGB").getpixel((width // 2, height * 3 // 4))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0], (top, bottom)


def png(width: int, height: int, depth: int, colour_type: int, rows: list[bytes]) -> bytes:
    """A PNG written by hand (Pillow cannot write 48-bit RGB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + row for row in rows))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------------------------
# The opener
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_an_exif_rotated_jpeg_comes_out_upright(tmp_path, mode):
    image = open_image(sideways_photo(tmp_path / "phone.jpg"), mode)
    assert image.mode == mode
    if mode == "L":
        assert image.size == (32, 64)
        assert image.getpixel((16, 16)) != image.getpixel((16, 48))
    else:
        assert_upright(image)
    assert_upright(open_rgb(tmp_path / "phone.jpg"))


def test_a_16_bit_grey_png_keeps_its_greys(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (4, 1))
    deep = Image.fromarray(ramp)
    assert deep.mode == "I;16"
    path = tmp_path / "deep.png"
    deep.save(path)
    for mode in ("RGB", "RGBA", "L"):
        image = open_image(path, mode)
        row = [image.getpixel((x, 2)) for x in (0, 32, 63)]
        greys = [value[0] if isinstance(value, tuple) else value for value in row]
        assert greys[0] < 5 and 120 < greys[1] < 136 and greys[2] > 250, (mode, greys)


def test_a_16_bit_rgb_png_keeps_its_colours(tmp_path):
    row = np.array([[0x2000, 0x8000, 0xF000]] * 4, dtype=">u2").tobytes()
    path = tmp_path / "deep-rgb.png"
    path.write_bytes(png(4, 2, 16, 2, [row, row]))
    r, g, b = open_image(path).getpixel((1, 1))
    assert abs(r - 32) <= 1 and abs(g - 128) <= 1 and abs(b - 240) <= 1


def test_a_picture_over_the_pixel_limit_is_refused_without_decoding(tmp_path, monkeypatch):
    # Only the headers are honest: decoding would fail, so a refusal comes first.
    big = tmp_path / "big.png"
    big.write_bytes(png(10_000, 10_000, 8, 0, [b"\x00" * 10_000]))
    with pytest.raises(ValueError, match=r"big\.png has 10000×10000 pixels.*not decoded"):
        open_image(big)
    huge = tmp_path / "huge.png"  # over twice the limit: Pillow itself refuses at open
    huge.write_bytes(png(20_000, 20_000, 8, 0, [b"\x00" * 20_000]))
    with pytest.raises(ValueError, match=r"huge\.png is too large to decode safely"):
        open_image(huge, "RGBA")
    small = tmp_path / "small.png"
    Image.new("RGB", (100, 100)).save(small)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)
    with pytest.raises(ValueError, match=r"small\.png has 100×100 pixels.*5,000"):
        open_image(small, "L")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # switched off: Pillow's default holds
    with pytest.raises(ValueError, match=r"huge\.png has 20000×20000 pixels.*89,478,485"):
        open_image(huge)


def test_rgba_keeps_transparency_rgb_lays_it_on_white_l_ignores_it(tmp_path):
    path = tmp_path / "sticker.png"
    sticker = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    sticker.paste((255, 255, 255, 255), (0, 0, 4, 8))
    sticker.save(path)
    rgba = open_image(path, "RGBA")
    assert rgba.mode == "RGBA" and rgba.getpixel((6, 1)) == (0, 0, 0, 0)
    assert open_image(path, "RGB").getpixel((6, 1)) == (255, 255, 255)
    mask = open_image(path, "L")  # a mask painted white on a clear layer: clear is "keep"
    assert mask.mode == "L" and mask.getpixel((1, 1)) == 255 and mask.getpixel((6, 1)) == 0
    opaque = tmp_path / "opaque.jpg"
    Image.new("RGB", (4, 4), RED).save(opaque)
    assert open_image(opaque, "RGBA").getchannel("A").getextrema() == (255, 255)


def test_a_palette_with_a_transparent_entry_is_transparent(tmp_path):
    path = tmp_path / "icon.gif"
    icon = Image.new("P", (4, 4), 1)
    icon.putpalette([0, 0, 0, 255, 0, 0])
    icon.save(path, transparency=1)
    assert open_image(path, "RGBA").getpixel((1, 1))[3] == 0
    assert open_image(path, "RGB").getpixel((1, 1)) == (255, 255, 255)


def test_cmyk_and_lab_pictures_come_out_in_their_colours(tmp_path):
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "print.jpg")
    Image.new("LAB", (4, 4), (128, 188, 128)).save(tmp_path / "lab.tif")  # a deep pink
    red, green, blue = open_image(tmp_path / "print.jpg").getpixel((1, 1))
    assert red > 240 and green < 15 and blue < 15
    assert open_image(tmp_path / "lab.tif").getpixel((1, 1)) == (206, 63, 122)
    assert open_image(tmp_path / "lab.tif", "RGBA").getpixel((1, 1)) == (206, 63, 122, 255)


def test_an_animated_gif_gives_its_first_frame(tmp_path):
    gif = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, BLUE, BLUE)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    for mode in ("RGB", "RGBA"):
        red, _, blue = open_image(gif, mode).getpixel((8, 8))[:3]
        assert red > 200 and blue < 50


def test_bad_files_are_value_errors_that_name_the_file(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    good = io.BytesIO()
    Image.new("RGB", (64, 64), RED).save(good, "PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.getvalue()[:70])
    for path, message in (
        (tmp_path / "gone.png", r"gone\.png does not exist"),
        (empty, r"empty\.png is empty"),
        (notes, r"notes\.png is not an image"),
        (cut, r"cut\.png is damaged or truncated"),
    ):
        with pytest.raises(ValueError, match=message):
            open_image(path)
    with pytest.raises(ValueError, match="not 'CMYK'"):
        open_image(notes, "CMYK")  # type: ignore[arg-type]


def broken_exif_jpeg(path: Path) -> Path:
    """A JPEG whose EXIF segment holds no TIFF structure (Pillow: "not a TIFF file")."""
    payload = b"Exif\x00\x00not a TIFF header at all"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), RED).save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    path.write_bytes(
        jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]
    )
    return path


def test_broken_exif_leaves_the_picture_as_stored_and_none_of_it_comes_along(tmp_path):
    from PIL import ImageOps

    image = open_image(broken_exif_jpeg(tmp_path / "odd.jpg"))
    assert image.size == (64, 32)
    assert "exif" not in image.info  # a library that turns by the tag finds nothing to trip on
    assert ImageOps.exif_transpose(image).size == (64, 32)
    assert "exif" not in open_image(sideways_photo(tmp_path / "phone.jpg")).info


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="POSIX named pipes")
def test_a_named_pipe_or_a_device_is_refused_without_being_opened(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.png")  # opening it would wait for a writer forever
    with pytest.raises(ValueError, match=r"^pipe\.png is a named pipe, not a file\.$"):
        open_image(tmp_path / "pipe.png")
    with pytest.raises(ValueError, match=r"^zero is a device, not a file\.$"):
        open_image("/dev/zero")
    with pytest.raises(ValueError, match=r"is a folder, not a file"):
        open_image(tmp_path)


def test_a_tiff_libtiff_reports_damaged_is_refused_quietly(tmp_path, capfd):
    picture = Image.new("1", (64, 64), 1)
    buffer = io.BytesIO()
    picture.save(buffer, "TIFF", compression="group4")
    data = bytearray(buffer.getvalue())
    with Image.open(io.BytesIO(bytes(data))) as tiff:
        start, length = tiff.tag_v2[273][0], tiff.tag_v2[279][0]
    data[start + length // 3 : start + length // 3 + 6] = b"\x55" * 6  # bad code words
    (tmp_path / "fax.tif").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"^fax\.tif is damaged \(Fax"):
        open_image(tmp_path / "fax.tif")
    assert capfd.readouterr().err == ""  # libtiff's own line was caught, not printed


# --------------------------------------------------------------------------------------------
# Every image plugin takes an EXIF-rotated input upright
# --------------------------------------------------------------------------------------------


def image_input(role: str, path: Path) -> InputMedia:
    return InputMedia(role=role, path=path, kind=AssetKind.IMAGE, media_type="image/jpeg")


def result_image(plugin, loaded, request, **options) -> Image.Image:
    ctx = RunContext(model=ResolvedModel(id="m"), cancel=CancelToken())
    events = list(plugin.run(loaded, request, plugin.run_options.validate(options), ctx))
    assert isinstance(events[-1], Result)
    (asset,) = events[-1].assets
    return Image.open(io.BytesIO(asset.data))


def test_style_transfer_takes_a_rotated_photo_upright(tmp_path):
    from studio_image_style.plugin import EMBEDDED_MODEL_ID, StyleTransferPlugin

    plugin = StyleTransferPlugin()
    loaded = plugin.load({}, LoadContext(model=ResolvedModel(id=EMBEDDED_MODEL_ID), threads=1))
    photo = sideways_photo(tmp_path / "phone.jpg")
    request = ImageRequest(inputs=(image_input("init", photo),))
    styled = result_image(plugin, loaded, request, style="0", max_size=64)
    assert styled.size == (32, 64)  # stored 64 x 32: turned before stylizing


def test_the_upscaler_takes_a_rotated_photo_upright(tmp_path):
    from studio_image_upscale.plugin import DEFAULT_MODEL_ID, NcnnUpscaler

    plugin = NcnnUpscaler()
    known = KnownModel(id=DEFAULT_MODEL_ID, name=DEFAULT_MODEL_ID)
    model = ResolvedModel(id=DEFAULT_MODEL_ID, path=plugin.known_model_path(known, tmp_path))
    loaded = plugin.load({}, LoadContext(model=model, threads=1))
    photo = sideways_photo(tmp_path / "phone.jpg", 32, 16)
    request = ImageRequest(inputs=(image_input("init", photo),))
    assert_upright(result_image(plugin, loaded, request, scale="2"), 32, 64)


def test_the_upscaler_turns_an_unreadable_input_into_an_input_error(tmp_path):
    from studio_image_upscale.plugin import read_input_image

    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    request = ImageRequest(inputs=(image_input("init", notes),))
    with pytest.raises(InputError, match=r"input image cannot be used: notes\.png is not"):
        read_input_image(request, "init", "The upscaler")


def test_stable_diffusion_takes_a_rotated_init_image_and_mask_upright(tmp_path):
    from studio_image_diffusers.generation import plan_job
    from studio_image_diffusers.plugin import DiffusersImage

    photo = sideways_photo(tmp_path / "phone.jpg")
    stored_mask = Image.new("L", (64, 32), 0)
    stored_mask.paste(255, (0, 0, 32, 32))  # the left of the stored picture: the top upright
    exif = Image.Exif()
    exif[0x0112] = ROTATE_CLOCKWISE
    stored_mask.save(tmp_path / "mask.png", exif=exif.tobytes())
    request = ImageRequest(
        prompt="a pear",
        inputs=(image_input("init", photo), image_input("mask", tmp_path / "mask.png")),
    )
    loaded = SimpleNamespace(size_multiple=8, default_size=64)  # all planning reads
    options = DiffusersImage.run_options.validate({})
    job = plan_job(loaded, request, options)  # type: ignore[arg-type]
    assert job.mode == "inpaint" and (job.width, job.height) == (32, 64)
    assert_upright(job.init)
    assert job.mask.mode == "L"
    assert job.mask.getpixel((16, 8)) == 255 and job.mask.getpixel((16, 56)) == 0
