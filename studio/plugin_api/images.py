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
  limit off) is refused before it is decoded;
- EXIF that cannot be read (cameras and editors write broken EXIF) leaves the picture as it is
  stored: only its orientation is lost. The picture given has no EXIF left, so that a library
  that turns pictures by their tag (or chokes on broken EXIF) leaves it as it is;
- a named pipe or a device is refused without being opened (:func:`file_problem`): reading a
  pipe waits forever and ``/dev/zero`` never ends;
- libtiff reports damage it decodes around (a fax-coded strip with bad code words) by writing
  to the process's stderr, not by failing: :func:`libtiff_errors` catches those lines, so the
  picture is refused as damaged and nothing is printed. Pillow's Python warnings (TIFF tags
  that point past the end of the file, a malformed MPO header) are silenced too.

Every failure is a ``ValueError`` whose message names the file and says what is wrong.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
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


def file_problem(path: Path | str) -> str | None:
    """Why ``path`` cannot be read as a file, as words that follow its name ("is a named pipe,
    not a file"), or None for a regular file (or a link to one). Only the file system is asked:
    nothing is opened, since a named pipe makes a read wait forever and a device such as
    ``/dev/zero`` never ends."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return "is a link to a file that does not exist"
        return "does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a link that leads round in a circle, not a file"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        what = "a folder"
    elif stat.S_ISFIFO(mode):
        what = "a named pipe"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "a device"
    elif stat.S_ISSOCK(mode):
        what = "a socket"
    else:
        what = "something other than a file"
    return f"is {what}, not a file"


_STDERR_LOCK = threading.Lock()


@contextmanager
def libtiff_errors() -> Iterator[list[str]]:
    """Collect the errors libtiff reports while a TIFF is decoded inside the block (the list
    fills when the block ends), and keep them and its warnings off the terminal.

    libtiff writes its errors to file descriptor 2 and goes on decoding around the damage, so
    they are the only sign of it. The descriptor is pointed at a temporary file for the block
    (one block at a time in the process): whatever else the process writes to stderr meanwhile
    is caught too, so keep the block to the decoding alone."""
    found: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as caught:
        if sys.stderr is not None:
            sys.stderr.flush()  # what Python wrote before goes where it was meant to
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all (a windowed process): nothing to catch
            yield found
            return
        os.dup2(caught.fileno(), 2)
        try:
            yield found
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode("utf-8", "replace").splitlines()
            # libtiff's own handlers write "Module: message." and "Module: Warning, message."
            found.extend(line.strip() for line in lines if line.strip() and "Warning," not in line)


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
    problem = file_problem(path)
    if problem == "does not exist":
        raise ValueError(f"{path} does not exist.")
    if problem:
        raise ValueError(f"{name} {problem}.")
    if path.stat().st_size == 0:
        raise ValueError(f"{name} is empty (0 bytes).")
    limit = Image.MAX_IMAGE_PIXELS or DEFAULT_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow's warnings are no news to a person (the explicit check below refuses a
            # bomb with its size in pixels).
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limit:
                    raise _Refused(
                        f"{name} has {width}×{height} pixels, more than the limit of {limit:,} "
                        "(a possible decompression bomb); it was not decoded."
                    )
                image.seek(0)  # an animation: its first frame
                tiff = image.format == "TIFF"
                with libtiff_errors() if tiff else nullcontext([]) as damage:
                    image.load()
                if damage:
                    raise _Refused(f"{name} is damaged ({damage[0].rstrip('.')}).")
                # Phones rotate by tag; EXIF Pillow cannot read (it raises many types of error
                # then) leaves the picture as stored.
                with suppress(Exception):
                    ImageOps.exif_transpose(image, in_place=True)
                image.info.pop("exif", None)  # upright now: nothing downstream turns it again
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
