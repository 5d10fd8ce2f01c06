"""Open any image a person hands a plugin, the way a model expects it, or say clearly why not.

Every plugin that reads an input image opens it with :func:`open_image` (captioning plugins
with :func:`open_rgb`, the same in RGB), so one set of rules holds everywhere. Pillow opens most
things, but not all of them as a model expects:

- a phone stores a photo taken upright as it came off the sensor, with an EXIF tag that says
  how to turn it: the picture is turned upright;
- a 16-bit PNG or TIFF holds values up to 65535 that Pillow's own ``convert("RGB")`` clips to
  white: they are scaled to 8 bits;
- an animated GIF, APNG or WebP has many frames: the first is used;
- a transparent image has no background: in RGB it lies on white, as image editors show it;
- a decompression bomb (a small file that decodes to gigapixels) would fill the memory: a
  picture of more than Pillow's ``MAX_IMAGE_PIXELS`` (or its default, if someone switched the
  limit off) is refused before it is decoded.

Every failure is a ``ValueError`` whose message names the file and says what is wrong.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own limit, if someone switched it off

ImageMode = Literal["RGB", "RGBA", "L"]
"""The modes :func:`open_image` gives: RGB for most models, RGBA for a plugin that keeps
transparency, L for a mask (8 bits each)."""

MODES: tuple[ImageMode, ...] = ("RGB", "RGBA", "L")
_DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class _Refused(ValueError):
    """A refusal that already says what is wrong (not one of Pillow's own errors)."""


def open_image(path: Path | str, mode: ImageMode = "RGB") -> Any:
    """The image at ``path`` as a loaded 8-bit ``PIL.Image`` in ``mode``, turned upright.

    Args:
        path: the image file (any format Pillow reads).
        mode: ``"RGB"`` (transparency laid on white), ``"RGBA"`` (transparency kept; an
            opaque picture gets a fully opaque alpha channel) or ``"L"`` (grey, for a mask:
            the brightness of the pixels, whatever their transparency).

    Raises:
        ValueError: the file is missing, empty, not an image, damaged or truncated, or too
            large to decode safely; the message names the file and says which.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if mode not in MODES:
        raise ValueError(f"open_image gives the modes {', '.join(MODES)}, not {mode!r}.")
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist.") from None
    except OSError as exc:
        raise ValueError(f"{name} cannot be read ({exc.strerror or exc}).") from None
    if size == 0:
        raise ValueError(f"{name} is empty (0 bytes).")
    limit = Image.MAX_IMAGE_PIXELS or DEFAULT_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns at open; the explicit check below refuses with the size in pixels.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limit:
                    raise _Refused(
                        f"{name} has {width}×{height} pixels, more than the limit of {limit:,} "
                        "(a possible decompression bomb); it was not decoded."
                    )
                image.seek(0)  # an animation: its first frame
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # phones rotate by tag
                try:
                    return convert_image(image, mode)
                except ValueError:  # a colour mode Pillow has no conversion for
                    raise _Refused(
                        f"{name} is in a colour mode ({image.mode}) Studio cannot convert to "
                        f"{mode}."
                    ) from None
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    except UnidentifiedImageError:
        raise ValueError(f"{name} is not an image Studio can read.") from None
    except Image.DecompressionBombError as exc:  # Pillow's own refusal, at twice the limit
        raise ValueError(
            f"{name} is too large to decode safely (a possible decompression bomb): {exc}"
        ) from None
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"{name} is damaged or truncated ({reason}).") from None
    except MemoryError:
        raise ValueError(f"{name} is too large to decode in the memory available.") from None


def open_rgb(path: Path | str) -> Any:
    """The image at ``path`` as a loaded 8-bit RGB ``PIL.Image``: ``open_image(path, "RGB")``."""
    return open_image(path, "RGB")


def convert_image(image: Any, mode: ImageMode) -> Any:
    """An 8-bit copy of a loaded image in ``mode`` (see :func:`open_image`): high bit depths
    scaled rather than clipped, transparency on white in RGB, kept in RGBA, ignored in L."""
    from PIL import Image

    if image.mode in _DEEP_MODES:
        grey = _scaled_grey(image)
        return grey if mode == "L" else grey.convert(mode)
    if image.mode == "P":  # a palette's transparent entry becomes alpha
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "LAB":  # Pillow turns Lab into RGB by way of RGBA only
        image = image.convert("RGBA").convert("RGB")
    if mode == "RGB" and image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert(mode)  # a copy, also when it is in that mode already


def to_rgb(image: Any) -> Any:
    """An 8-bit RGB copy of a loaded image: ``convert_image(image, "RGB")``."""
    return convert_image(image, "RGB")


def _scaled_grey(image: Any) -> Any:
    """An 8-bit grey copy of a 16-bit, 32-bit or floating-point grey image, scaled to its
    bit depth (Pillow's own conversion clips everything above 255 to white)."""
    import numpy as np
    from PIL import Image

    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        top = 65535.0
    else:  # "I" or "F": the depth is not recorded; the values say which range they use
        peak = float(values.max()) if values.size else 0.0
        top = next((t for t in (1.0, 255.0, 65535.0) if peak <= t), peak)
        if image.mode == "I" and top == 1.0:
            top = 255.0  # integers 0 and 1 are black and near-black, not black and white
    grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(grey)  # 2-D uint8: mode L
