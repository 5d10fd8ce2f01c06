"""Known-answer self-checks of the native engines a plugin runs.

Native code is compiled for, or picks its kernels by, the CPU it runs on: the same llama.cpp
crashed on a CPU with AMX, the same ncnn upscaler wrote noise on one CPU and not another. A
plugin therefore declares an :class:`EngineCheck` for each engine (and, where it matters, each
packaged model) and implements :meth:`~studio.plugin_api.ModelPlugin.check_engine`: a small run
with a known answer, compared with something (a reference computed another way, a PSNR against
bicubic, text rendered and read back). Studio runs the check in a process of its own on first
use on a machine (a crash is a result, not the end of Studio), caches the verdict by CPU and
package versions, never offers an engine that failed as a default, and passes the variant that
passed to :meth:`~studio.plugin_api.ModelPlugin.load` (``ctx.engine_variants``).

The helpers here compare pictures and make the test picture the image checks use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.plugin_api.context import LoadContext, ResolvedModel, RunContext
from studio.plugin_api.events import GeneratedAsset, Result
from studio.plugin_api.options import choose_seed

if TYPE_CHECKING:
    from studio.plugin_api.plugin import ModelPlugin
    from studio.plugin_api.requests import Request

DEFAULT_VARIANT = "default"


@dataclass(frozen=True, kw_only=True)
class EngineCheck:
    """One engine a plugin runs, and how to check it.

    Attributes:
        id: unique within the plugin (``"llama.cpp"``, ``"waifu2x-cunet"``).
        label: how people call it (``"llama.cpp"``, ``"waifu2x CUnet"``).
        models: the known model ids (manifest ``[[models]]``) this check covers; empty means
            every model of the plugin, including the user's own files.
        packages: the Python distributions whose versions decide the verdict (a new version
            is checked again).
        variants: ways of running the engine, tried in this order until one passes; the first
            is the normal way, later ones are cures (a setting that avoids a broken kernel).
        timeout: seconds after which a check that has not answered counts as hanging.
    """

    id: str
    label: str
    models: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    variants: tuple[str, ...] = (DEFAULT_VARIANT,)
    timeout: float = 180.0

    def covers(self, model_id: str) -> bool:
        """Whether this check decides if ``model_id`` (a known id, or a path) can run here."""
        return not self.models or model_id in self.models


class EngineCheckFailed(Exception):
    """The engine ran but its answer was wrong; the message says what was expected and seen."""


@dataclass(frozen=True, kw_only=True)
class CheckContext:
    """Given to :meth:`~studio.plugin_api.ModelPlugin.check_engine`.

    Attributes:
        check: the check to run; ``variant``: which of its variants.
        workdir: an empty temporary folder for sample files.
        cache_dir: the plugin's own cache folder (the one :meth:`known_model_path` gets).
        threads: CPU threads the check may use.
    """

    check: EngineCheck
    variant: str
    workdir: Path
    cache_dir: Path
    threads: int = max(1, os.cpu_count() or 1)

    def load_context(self, model: ResolvedModel) -> LoadContext:
        """A load context for the model the check runs, with this check's variant."""
        return LoadContext(
            model=model,
            threads=self.threads,
            engine_variants={self.check.id: self.variant},
        )

    def run_context(self, model: ResolvedModel) -> RunContext:
        return RunContext(model=model, threads=self.threads)


def run_plugin(
    plugin: ModelPlugin,
    model: ResolvedModel,
    request: Request | Sequence[Request],
    ctx: CheckContext,
    *,
    load_options: Mapping[str, Any] | None = None,
    run_options: Mapping[str, Any] | None = None,
) -> list[GeneratedAsset]:
    """Load ``model`` once and run ``request`` (or each of several) through the plugin's own
    ``load`` and ``run`` (the path users' jobs take), with the check's variant; the assets
    made, in order."""
    requests = list(request) if isinstance(request, Sequence) else [request]
    loaded = plugin.load(
        type(plugin).load_options.validate(load_options or {}), ctx.load_context(model)
    )
    try:
        options = choose_seed(type(plugin).run_options.validate(run_options or {}))
        assets: list[GeneratedAsset] = []
        for one in requests:
            for event in plugin.run(loaded, one, options, ctx.run_context(model)):
                if isinstance(event, Result):
                    assets.extend(event.assets)
        return assets
    finally:
        plugin.unload(loaded)


def psnr(reference: Any, image: Any) -> float:
    """Peak signal-to-noise ratio in dB of two same-sized 8-bit pictures (PIL or arrays)."""
    import numpy as np

    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(image, dtype=np.float64)
    if a.shape != b.shape:
        raise EngineCheckFailed(f"the result is {b.shape[1::-1]} pixels, expected {a.shape[1::-1]}")
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


def check_picture(size: int = 96) -> Any:
    """A deterministic photo-like RGB picture (smooth shading, soft and hard edges, texture):
    enough structure that an upscaler that works scores near bicubic or better against it, and
    one that writes noise scores far below."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack(
        [
            0.55 + 0.35 * np.sin(2.1 * x + 1.3 * y),
            0.45 + 0.30 * np.cos(1.7 * y - 0.8 * x),
            0.50 + 0.25 * np.sin(3.0 * x * y + 0.5),
        ],
        axis=-1,
    )
    texture = 0.04 * np.sin(37 * x) * np.sin(29 * y)
    picture = Image.fromarray(np.uint8(np.clip(base + texture[..., None], 0, 1) * 255))
    draw = ImageDraw.Draw(picture)
    s = size / 96
    draw.ellipse((14 * s, 18 * s, 50 * s, 54 * s), fill=(200, 60, 50))
    draw.rectangle((56 * s, 40 * s, 84 * s, 80 * s), fill=(40, 70, 150))
    draw.line((6 * s, 88 * s, 90 * s, 8 * s), fill=(245, 235, 200), width=max(1, round(2 * s)))
    return picture.filter(ImageFilter.GaussianBlur(0.6))


def judge_speech(wav: bytes, text: str) -> str:
    """Raise :class:`EngineCheckFailed` unless ``wav`` (16-bit PCM) sounds like ``text`` being
    spoken: a plausible length for its words (0.15-1.5 s a word) and level (-40 to -3 dBFS RMS,
    no long clipping); one line on what was heard otherwise."""
    import io
    import wave

    import numpy as np

    with wave.open(io.BytesIO(wav)) as clip:
        rate = clip.getframerate()
        samples = np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2") / 32768.0
    seconds = len(samples) / rate if rate else 0.0
    words = max(1, len(text.split()))
    rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    level = 20 * np.log10(rms) if rms > 0 else -120.0
    clipped = float(np.mean(np.abs(samples) > 0.999)) if len(samples) else 0.0
    if not 0.15 * words <= seconds <= 1.5 * words + 0.5:
        raise EngineCheckFailed(f"{words} words took {seconds:.2f} s: not speech")
    if not -40 <= level <= -3 or clipped > 0.01:
        raise EngineCheckFailed(
            f"the level is {level:.0f} dBFS with {clipped:.1%} clipped: silence or noise"
        )
    return f"{words} words in {seconds:.2f} s at {level:.0f} dBFS"
