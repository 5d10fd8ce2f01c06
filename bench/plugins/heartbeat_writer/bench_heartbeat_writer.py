"""A writing plugin for benchmarks: real transformers import, model build and streamed generation.

The weights are random (no model files needed), but the work on the worker thread is what a
real writer does: import torch and transformers, build a model, generate token by token.
With ``STUDIO_BENCH_EVENTS`` set, each step is marked with its time in that file (the two-panel
mode of bench/bench_heartbeat.py uses it).
"""

from __future__ import annotations

import os
import threading
import time

from studio.plugin_api import (
    GeneratedAsset,
    IntOption,
    ModelPlugin,
    OptionSet,
    Partial,
    Progress,
    Result,
)

PLUGIN_ID = "bench.heartbeat-writer"


def mark(event: str, detail: str = "") -> None:
    """Note ``event`` with the system-wide monotonic clock (comparable between processes)."""
    path = os.environ.get("STUDIO_BENCH_EVENTS")
    if path:
        with open(path, "a", encoding="utf-8") as events:
            events.write(f"{time.monotonic():.6f} {PLUGIN_ID} {event} {detail}\n")


class HeartbeatWriter(ModelPlugin):
    load_options = OptionSet(
        IntOption(name="layers", default=6, minimum=1, maximum=48, description="Model depth."),
        IntOption(name="width", default=512, minimum=64, maximum=4096, description="Hidden size."),
    )
    run_options = OptionSet(
        IntOption(name="tokens", default=200, minimum=1, maximum=4096, description="Tokens."),
    )

    def load(self, options, ctx):
        mark("load-start")
        ctx.report_progress(None, "phase:import")
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        torch.set_num_threads(ctx.threads)
        ctx.report_progress(None, "phase:load")
        torch.manual_seed(0)
        config = GPT2Config(
            vocab_size=8000,
            n_positions=1024,
            n_embd=options["width"],
            n_layer=options["layers"],
            n_head=8,
        )
        model = GPT2LMHeadModel(config).eval()
        mark("load-end", f"threads={ctx.threads}")
        return model

    def run(self, loaded, request, options, ctx):
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        yield Progress(fraction=0.0, message="phase:generate")

        class Cancel(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return ctx.cancel.cancelled

        class Tokens:  # a streamer needs a tokenizer; decode token ids as numbers
            def decode(self, ids, **kwargs):
                return " ".join(str(i) for i in ids)

        streamer = TextIteratorStreamer(Tokens(), skip_prompt=True)
        prompt = torch.tensor([[1, 2, 3, 4]])
        worker = threading.Thread(
            target=loaded.generate,
            kwargs=dict(
                input_ids=prompt,
                max_new_tokens=options["tokens"],
                min_new_tokens=options["tokens"],
                do_sample=False,
                streamer=streamer,
                pad_token_id=0,
                stopping_criteria=StoppingCriteriaList([Cancel()]),
            ),
        )
        worker.start()
        pieces = []
        for count, piece in enumerate(streamer, start=1):
            if count == 1:
                mark("generate-start")
            pieces.append(piece)
            yield Partial(text=piece)
            yield Progress(fraction=min(1.0, count / options["tokens"]), message="phase:generate")
        worker.join()
        mark("generate-end", f"pieces={len(pieces)} threads={torch.get_num_threads()}")
        ctx.cancel.raise_if_cancelled()
        yield Result(assets=(GeneratedAsset.from_text("".join(pieces) or "(empty)"),))
