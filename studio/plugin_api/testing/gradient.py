"""Gradient: an image plugin with no model that paints a seeded gradient row band by band."""

from __future__ import annotations

import random

from studio.plugin_api import (
    AssetKind,
    Cancelled,
    GeneratedAsset,
    ImagePlugin,
    IntOption,
    OptionSet,
    Partial,
    Progress,
    Result,
    SeedOption,
)
from studio.plugin_api.testing.common import DELAY_OPTION, FAIL_OPTION, encode_png, fail_if_asked


class GradientImage(ImagePlugin):
    run_options = OptionSet(
        IntOption(name="width", default=64, minimum=8, maximum=1024, step=8, description="Pixels."),
        IntOption(
            name="height", default=64, minimum=8, maximum=1024, step=8, description="Pixels."
        ),
        IntOption(name="steps", default=4, minimum=1, maximum=100, description="Bands painted."),
        SeedOption(),
        DELAY_OPTION,
        FAIL_OPTION,
    )

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        seed = options["seed"] if options["seed"] >= 0 else random.randrange(2**32)
        rng = random.Random(seed)
        top = [rng.randrange(256) for _ in range(3)]
        bottom = [rng.randrange(256) for _ in range(3)]
        width, height, steps = options["width"], options["height"], options["steps"]
        pixels = bytearray(width * height * 3)
        for step in range(steps):
            ctx.cancel.raise_if_cancelled()
            fail_if_asked(options, step)
            for y in range(step * height // steps, (step + 1) * height // steps):
                t = y / max(1, height - 1)
                row = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
                pixels[y * width * 3 : (y + 1) * width * 3] = row * width
            yield Progress(fraction=(step + 1) / steps, message=f"step {step + 1} of {steps}")
            yield Partial(data=encode_png(width, height, bytes(pixels)), media_type="image/png")
            if options["delay_ms"] and ctx.cancel.wait(options["delay_ms"] / 1000):
                raise Cancelled()
        asset = GeneratedAsset(
            kind=AssetKind.IMAGE,
            data=encode_png(width, height, bytes(pixels)),
            media_type="image/png",
            title=request.prompt[:40] or "Gradient",
            seed=seed,
            input_roles=tuple(item.role for item in request.inputs),
        )
        yield Result(assets=(asset,))
