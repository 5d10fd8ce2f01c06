"""Exporting a take as WAV, FLAC or Ogg Vorbis at a chosen sample rate (soundfile and soxr).

The Voice panel's Export: the file is written to a temporary name beside the target and renamed
into place, so a failed or interrupted export never leaves half a file. FLAC and Ogg files carry
the take's recipe in their Vorbis comments, like the project's File > Export.
soundfile, numpy and soxr are imported inside the functions (0.3 s), not at start-up.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import UserError
from studio.core.media.detect import FLAC, OGG
from studio.core.media.embedded_recipe import embed_recipe
from studio.core.media.file_names import file_name_for
from studio.core.recipe import Recipe


@dataclass(frozen=True)
class AudioFormat:
    """An export format: soundfile's format and subtype names, and the file extension."""

    name: str
    extension: str
    format: str
    subtype: str


AUDIO_EXPORT_FORMATS: dict[str, AudioFormat] = {
    "wav": AudioFormat("WAV (16-bit)", ".wav", "WAV", "PCM_16"),
    "flac": AudioFormat("FLAC (lossless)", ".flac", "FLAC", "PCM_16"),
    "ogg": AudioFormat("Ogg Vorbis", ".ogg", "OGG", "VORBIS"),
}
EXPORT_SAMPLE_RATES = (8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)


def take_file_name(title: str, format_key: str) -> str:
    """The file name the Export suggests for a take titled ``title`` in ``format_key`` (``wav``,
    ``flac``, ``ogg``): the project's one rule, :func:`~.file_names.file_name_for`."""
    return file_name_for(title, AUDIO_EXPORT_FORMATS[format_key].extension, fallback="take")


class AudioDataError(UserError):
    """Bytes that are not audio soundfile can decode, or hold no sound."""


def decode_audio(data: bytes, *, what: str = "The audio") -> tuple[Any, int]:
    """Decode audio bytes to float32 samples (frames × channels) and the sample rate."""
    import soundfile

    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError) as exc:
        raise AudioDataError(f"{what} cannot be decoded ({' '.join(str(exc).split())}).") from None
    if samples.shape[0] == 0:
        raise AudioDataError(f"{what} holds no sound (0 seconds).")
    return samples, int(rate)


def resample(samples: Any, source_rate: int, target_rate: int) -> Any:
    """``samples`` (frames × channels) at ``target_rate`` (soxr, high quality)."""
    if source_rate == target_rate:
        return samples
    import numpy as np
    import soxr

    return np.ascontiguousarray(soxr.resample(samples, source_rate, target_rate, quality="HQ"))


def export_audio(
    data: bytes,
    target: Path,
    *,
    format_key: str | None = None,
    sample_rate: int | None = None,
    recipe: Recipe | None = None,
    title: str = "",
) -> Path:
    """Write audio bytes (any format soundfile reads) to ``target`` in another format and rate.

    Args:
        data: the take (a WAV from a voice plugin, or any imported audio).
        target: the file to write; its extension picks the format unless ``format_key`` does.
        format_key: ``"wav"``, ``"flac"`` or ``"ogg"``.
        sample_rate: the rate to write at; None keeps the take's own.
        recipe, title: embedded in FLAC and Ogg files (Vorbis comments).

    Returns the path written. Raises :class:`UserError` with a clear message.
    """
    import soundfile

    target = Path(target)
    key = (format_key or target.suffix.lstrip(".")).lower()
    if key == "oga":
        key = "ogg"
    if key not in AUDIO_EXPORT_FORMATS:
        raise UserError(
            f"Studio exports audio as {', '.join(AUDIO_EXPORT_FORMATS)}, "
            f"not '{key or target.name}'."
        )
    fmt = AUDIO_EXPORT_FORMATS[key]
    if target.suffix.lower() != fmt.extension:
        target = target.with_name(target.name + fmt.extension)
    samples, rate = decode_audio(data)
    out_rate = int(sample_rate or rate)
    if not 1_000 <= out_rate <= 384_000:
        raise UserError(f"{out_rate} Hz is not a sample rate Studio exports.")
    samples = resample(samples, rate, out_rate)
    buffer = io.BytesIO()
    try:
        soundfile.write(buffer, samples, out_rate, format=fmt.format, subtype=fmt.subtype)
    except (RuntimeError, soundfile.LibsndfileError, ValueError) as exc:
        raise UserError(
            f"The take cannot be written as {fmt.name} at {out_rate} Hz "
            f"({' '.join(str(exc).split())})."
        ) from None
    content = buffer.getvalue()
    if recipe is not None and key in ("flac", "ogg"):
        content = embed_recipe(content, FLAC if key == "flac" else OGG, recipe, title) or content
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    try:
        partial.write_bytes(content)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"{target} cannot be written ({exc.strerror or exc}).") from None
    return target
