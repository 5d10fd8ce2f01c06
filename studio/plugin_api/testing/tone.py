"""Tone: a voice plugin with no model that turns each sentence into a short sine tone."""

from __future__ import annotations

import io
import math
import re
import struct
import wave

from studio.plugin_api import (
    AssetKind,
    Cancelled,
    FloatOption,
    GeneratedAsset,
    IntOption,
    OptionSet,
    Progress,
    Result,
    VoicePlugin,
)
from studio.plugin_api.testing.common import DELAY_OPTION, FAIL_OPTION, fail_if_asked

SAMPLE_RATE = 16_000


def split_sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in re.split(r"(?<=[.!?])\s+", text)) if s]


class ToneVoice(VoicePlugin):
    run_options = OptionSet(
        FloatOption(
            name="speed", default=1.0, minimum=0.25, maximum=4.0, description="Faster is shorter."
        ),
        IntOption(
            name="pitch_hz", default=220, minimum=50, maximum=2000, description="Tone pitch."
        ),
        DELAY_OPTION,
        FAIL_OPTION,
    )

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        sentences = split_sentences(request.text)
        if not sentences:
            raise ValueError("Type some text to speak.")
        samples: list[int] = []
        for index, sentence in enumerate(sentences):
            ctx.cancel.raise_if_cancelled()
            fail_if_asked(options, index)
            seconds = 0.06 * len(sentence.split()) / options["speed"]
            count = max(1, int(seconds * SAMPLE_RATE))
            step = 2 * math.pi * options["pitch_hz"] / SAMPLE_RATE
            samples.extend(int(8000 * math.sin(step * i)) for i in range(count))
            samples.extend([0] * (SAMPLE_RATE // 10))
            yield Progress(
                fraction=(index + 1) / len(sentences),
                message=f"sentence {index + 1} of {len(sentences)}",
            )
            if options["delay_ms"] and ctx.cancel.wait(options["delay_ms"] / 1000):
                raise Cancelled()
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
        asset = GeneratedAsset(
            kind=AssetKind.AUDIO,
            data=buffer.getvalue(),
            media_type="audio/wav",
            title=request.text[:40],
            details={"sample_rate": SAMPLE_RATE, "sentences": len(sentences)},
        )
        yield Result(assets=(asset,))
