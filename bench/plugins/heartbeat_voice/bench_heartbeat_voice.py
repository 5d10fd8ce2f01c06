"""A voice plugin for benchmarks: a second panel's model process that imports torch and loads.

``prepare()`` imports torch and transformers (as the real plugins do, when a panel warms its
model process up); ``load()`` builds a random GPT-2, CPU work like a real load but with no
model files; ``run()`` returns a short silence. Each step is marked with its time in the file
named by ``STUDIO_BENCH_EVENTS`` (see bench/bench_heartbeat.py, mode ``two-panels``), so the
benchmark can tell what this model process did while the other panel streamed.
"""

from __future__ import annotations

import io
import os
import sys
import time
import wave

from studio.plugin_api import AssetKind, GeneratedAsset, IntOption, ModelPlugin, OptionSet, Result

PLUGIN_ID = "bench.heartbeat-voice"


def mark(event: str, detail: str = "") -> None:
    """Note ``event`` with the system-wide monotonic clock (comparable between processes)."""
    path = os.environ.get("STUDIO_BENCH_EVENTS")
    if path:
        with open(path, "a", encoding="utf-8") as events:
            events.write(f"{time.monotonic():.6f} {PLUGIN_ID} {event} {detail}\n")


class HeartbeatVoice(ModelPlugin):
    load_options = OptionSet(
        IntOption(name="layers", default=6, minimum=1, maximum=48, description="Model depth."),
        IntOption(name="width", default=512, minimum=64, maximum=4096, description="Hidden size."),
    )

    def prepare(self) -> None:
        mark("import-start")
        import torch  # noqa: F401
        from transformers import GPT2Config, GPT2LMHeadModel  # noqa: F401

        mark("import-end")

    def load(self, options, ctx):
        if "transformers" not in sys.modules:  # a first job without a warm-up imports here
            self.prepare()
        mark("load-start")
        try:
            import torch
            from transformers import GPT2Config, GPT2LMHeadModel

            torch.set_num_threads(ctx.threads)
            torch.manual_seed(0)
            config = GPT2Config(
                vocab_size=8000,
                n_positions=1024,
                n_embd=options["width"],
                n_head=8,
                n_layer=options["layers"],
            )
            model = GPT2LMHeadModel(config).eval()
        except BaseException:
            mark("load-failed")
            raise
        mark("load-end", f"threads={ctx.threads}")
        return model

    def run(self, loaded, request, options, ctx):
        mark("run")
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            out.writeframes(b"\0\0" * 1600)
        yield Result(
            assets=(
                GeneratedAsset(
                    kind=AssetKind.AUDIO, data=buffer.getvalue(), media_type="audio/wav"
                ),
            )
        )
