"""Open any image a person hands a plugin as an 8-bit RGB picture, or say clearly why not
(for captioning and other image-reading plugins).

Pillow opens most things, but not all of them as a model expects: an animated GIF has many
frames (the first is described), a 16-bit TIFF or PNG holds values up to 65535 that Pillow's own
``convert("RGB")`` clips to white, a transparent image has no background, and a decompression
bomb would fill the memory. Every failure is a ``ValueError`` whose message names the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own limit, if someone switched it off


def open_rgb(path: Path | str) -> Any:
    """The image at ``path`` (its first frame) as a loaded 8-bit RGB ``PIL.Image``.

    Raises:
        ValueError: the file is missing, empty, not an image, truncated, or too large to
            decode safely; the message names the file and says which.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
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
                    raise ValueError(
                        f"{name} has {width}×{height} pixels, more than the limit of {limit:,} "
                        "(a possible decompression bomb); it was not decoded."
                    )
                image.seek(0)  # an animation: describe its first frame
                image.load()
                return to_rgb(image)
    except ValueError:
        raise
    except UnidentifiedImageError:
        raise ValueError(f"{name} is not an image Studio can read.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(
            f"{name} is too large to decode safely (a possible decompression bomb)."
        ) from None
    except (OSError, SyntaxError, EOFError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"{name} is damaged or truncated ({reason}).") from None
    except MemoryError:
        raise ValueError(f"{name} is too large to decode in the memory available.") from None


def to_rgb(image: Any) -> Any:
    """An 8-bit RGB copy of a loaded image: high bit depths scaled, transparency on white."""
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else float(max(values.max(), 1.0))
        if mode == "I" and top <= 255:
            top = 255.0
        grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "RGB":
        return image.copy()
    return image.convert("RGB")
