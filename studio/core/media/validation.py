"""Full checks of media content before it becomes an asset.

Each check decodes the whole content, so a truncated or corrupt file is refused here and never
reaches a project. Failures raise :class:`MediaError` with a reason a person understands.

- Images go through Pillow with its decompression-bomb limit in force (``MAX_IMAGE_PIXELS``;
  the warning Pillow gives between the limit and twice the limit is an error here too), then
  ``verify()`` and a full ``load()`` of every frame. Pillow's other warnings are silenced, and
  an error libtiff reports while it decodes around damage refuses the TIFF
  (:func:`~studio.plugin_api.images.libtiff_errors`): the person sees Studio's sentence only.
- Audio goes through soundfile (libsndfile): every frame is decoded; empty audio is refused; a
  WAV file whose RIFF sizes promise more bytes than it has is refused as truncated.
- Text is UTF-8 (with or without a byte order mark), UTF-16/32 with a byte order mark,
  Windows-1252 when it reads as Western text, or else an encoding charset-normalizer detects;
  binary content is refused. Windows-1252 goes first because it is by far the most common
  legacy encoding and detectors cannot tell it from its Latin siblings in short texts (they
  turned "crème" into "crčme"); it is only taken when every accented letter sits in a word
  with plain letters too, which Cyrillic or CJK text read as Windows-1252 never does.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
import warnings
from contextlib import nullcontext
from dataclasses import dataclass

from studio.core.errors import UserError
from studio.core.media.detect import FLAC, OGG, TIFF, WAV, MediaFormat
from studio.plugin_api.images import libtiff_errors

DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # Pillow's own default, used if someone disabled it
# Pillow's format names; cameras write JPEGs with extra pictures, which Pillow calls MPO.
_PILLOW_FORMATS = {
    "image/png": {"PNG"},
    "image/jpeg": {"JPEG", "MPO"},
    "image/webp": {"WEBP"},
    "image/gif": {"GIF"},
    "image/bmp": {"BMP", "DIB"},
    "image/tiff": {"TIFF"},
}
_SOUNDFILE_FORMATS = {WAV: {"WAV", "WAVEX"}, FLAC: {"FLAC"}, OGG: {"OGG"}}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = set("\t\n\r\f\v\x1b")
# Decoders name the buffer they read ("<_io.BytesIO object at 0x7f...>"), not the file, and
# libsndfile starts its messages with "Error : ".
_DECODER_NOISE = re.compile(r"(Error opening )?<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")
_ERROR_PREFIX = re.compile(r"^Error\s*:\s*")


class MediaError(UserError):
    """Content that cannot become an asset; the message says why."""


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    """What decoding an image found."""

    width: int
    height: int
    mode: str
    frames: int


@dataclass(frozen=True, kw_only=True)
class AudioFacts:
    """What decoding audio found."""

    sample_rate: int
    channels: int
    frames: int
    subtype: str

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True, kw_only=True)
class DecodedText:
    """Text and the encoding it was read with."""

    text: str
    encoding: str


def check_image(data: bytes, expected: MediaFormat) -> ImageFacts:
    """Decode an image completely; raises :class:`MediaError` for anything wrong with it."""
    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS or DEFAULT_MAX_IMAGE_PIXELS
    damage: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TIFF tags past the end, a malformed MPO header...
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in _PILLOW_FORMATS.get(expected.media_type, set()):
                    found = image.format or "no image"
                    raise MediaError(f"it looks like a {expected.name} but reads as {found}")
                width, height = image.size
                if width * height > limit:
                    raise MediaError(
                        f"it has {width}x{height} pixels, more than the limit of {limit} "
                        "(a possible decompression bomb)"
                    )
                image.verify()
            with (
                libtiff_errors() if expected is TIFF else nullcontext(damage) as damage,
                Image.open(io.BytesIO(data)) as image,
            ):
                mode = image.mode
                frames = getattr(image, "n_frames", 1)
                for frame in range(frames):  # a later frame of an animation can be the broken one
                    image.seek(frame)
                    image.load()
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"it is too large to decode safely ({_reason(exc)})") from exc
    except UnidentifiedImageError as exc:  # no opener made sense of it: its header is broken
        raise MediaError(f"it is not a readable {expected.name} (its header is damaged)") from exc
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ValueError...)
        reason = _reason(damage[0] if damage else exc)  # libtiff's words say more
        raise MediaError(f"it is not a readable {expected.name} ({reason})") from exc
    if damage:  # libtiff decoded around the damage, and said so
        raise MediaError(f"it is not a readable {expected.name} ({_reason(damage[0])})")
    if width < 1 or height < 1:
        raise MediaError("it has no pixels")
    return ImageFacts(width=width, height=height, mode=mode, frames=frames)


def check_audio(data: bytes, expected: MediaFormat) -> AudioFacts:
    """Decode audio completely; raises :class:`MediaError` for anything wrong with it."""
    import soundfile

    if expected is WAV:
        _check_riff_sizes(data)
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            if sound.format not in _SOUNDFILE_FORMATS.get(expected, set()):
                raise MediaError(f"it looks like a {expected.name} but reads as {sound.format}")
            frames = sum(len(block) for block in sound.blocks(blocksize=65_536))
            facts = AudioFacts(
                sample_rate=sound.samplerate,
                channels=sound.channels,
                frames=frames,
                subtype=sound.subtype,
            )
            declared = sound.frames
    except MediaError:
        raise
    except Exception as exc:  # soundfile.LibsndfileError, RuntimeError, ValueError
        raise MediaError(f"it is not a readable {expected.name} ({_reason(exc)})") from exc
    if frames == 0:
        raise MediaError("it holds no audio (zero length)")
    if frames < declared:
        raise MediaError(f"it is truncated ({frames} of {declared} frames can be read)")
    return facts


def _reason(exc: BaseException | str) -> str:
    """A decoder's message as words inside a sentence: no buffer repr, one line, no full stop."""
    text = " ".join(_DECODER_NOISE.sub("", str(exc)).split())
    text = _ERROR_PREFIX.sub("", text).rstrip(".").strip()
    return text or type(exc).__name__


def _check_riff_sizes(data: bytes) -> None:
    if len(data) < 12:
        raise MediaError("it is too short to be a WAV file")
    riff_size = int.from_bytes(data[4:8], "little")
    if riff_size in (0, 0xFFFFFFFF):
        return  # written as a stream, sizes unknown; decoding every frame is the check
    riff_end = 8 + riff_size
    if riff_end > len(data):
        raise MediaError(
            f"it is truncated (its header promises {riff_end} bytes, it has {len(data)})"
        )
    position = 12
    while position + 8 <= riff_end:
        chunk_id = data[position : position + 4]
        chunk_size = int.from_bytes(data[position + 4 : position + 8], "little")
        if chunk_id == b"data":
            if position + 8 + chunk_size > len(data):
                raise MediaError("it is truncated (its audio data ends early)")
            return
        position += 8 + chunk_size + (chunk_size & 1)
    raise MediaError("it looks like a WAV file but has no audio data chunk")


def decode_text(data: bytes) -> DecodedText:
    """Decode text as UTF-8 or a detected encoding; raises :class:`MediaError` otherwise."""
    if not data.strip():
        raise MediaError("it is empty")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise MediaError(f"it starts like {encoding} text but is not ({exc})") from exc
            return DecodedText(text=_check_characters(text), encoding=encoding)
    if b"\x00" in data:
        raise MediaError("it is binary data, not text")
    try:
        return DecodedText(text=_check_characters(data.decode("utf-8")), encoding="utf-8")
    except UnicodeDecodeError:
        pass
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = ""
    if western and _reads_as_western_text(western):
        return DecodedText(text=_check_characters(western), encoding="cp1252")
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise MediaError("it is neither UTF-8 nor text in an encoding that can be recognised")
    return DecodedText(text=_check_characters(str(best)), encoding=best.encoding)


_WORD = re.compile(r"\w+")
_TYPOGRAPHY = set("€‚„…†‡ˆ‰‹›‘’“”•–—˜™¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿×÷\xa0\xad")


def _reads_as_western_text(text: str) -> bool:
    odd = [c for c in text if ord(c) > 127 and not (c.isalpha() or c in _TYPOGRAPHY)]
    if odd:
        return False
    accented = [w for w in _WORD.findall(text) if not w.isascii()]
    with_plain = [w for w in accented if any(c.isascii() and c.isalpha() for c in w)]
    return len(with_plain) >= 0.6 * len(accented)


def _check_characters(text: str) -> str:
    # Control characters (and unassigned code points) mean binary data decoded by accident.
    odd = sum(
        1
        for char in text
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) in ("Cc", "Cn", "Co")
    )
    if odd > max(2, len(text) // 1000):
        raise MediaError("it is binary data, not text")
    return text.removeprefix("\ufeff")
