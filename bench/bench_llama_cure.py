"""The llama.cpp writer with its AMX cure applied, against raw llama-cpp-python with the same
settings, interleaved in one run.

On CPUs with AMX, ggml's extra CPU buffer types crash (the AMX matmul kernel faults), so the
writer's engine check passes with the variant ``no-extra-buffers`` and every load runs that way.
This measures what the cure costs and what the plugin adds, on the embedded Gemma 3 270M (or
``--model FILE.gguf``), greedy, the same prompt and length for every path:

- writer + cure: the plugin's own ``load`` (variant ``no-extra-buffers``) and ``run``;
- raw + cure: ``Llama.create_completion`` on a model loaded with ``use_extra_bufts = False``;
- raw default: ``create_completion`` as llama-cpp-python loads by default (on a CPU with AMX
  this path crashes; elsewhere it shows what the cure costs).

    python bench/bench_llama_cure.py [--tokens 200] [--rounds 5] [--threads N] [--no-default]

Ratios are medians of per-round ratios (the machine is shared: rounds are interleaved).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

PROMPT = "The old lighthouse keeper climbed the stairs every evening, and"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", default="", help="a .gguf file (default: the embedded Gemma)")
    parser.add_argument("--no-default", action="store_true", help="skip the uncured raw path")
    args = parser.parse_args()

    from studio_writer_llamacpp.generation import ENGINE_CHECK_ID, NO_EXTRA_BUFFERS, open_llama
    from studio_writer_llamacpp.plugin import LlamaCppWriter

    from studio.builtin_support.packaged_models import GEMMA_3_270M, assemble_packaged_file
    from studio.plugin_api import LoadContext, ResolvedModel, RunContext, TextRequest
    from studio.plugin_api.events import Result

    cache = Path(tempfile.gettempdir()) / "studio-bench-gguf"
    path = Path(args.model) if args.model else assemble_packaged_file(GEMMA_3_270M, cache)
    settings = dict(
        n_ctx=8192,
        n_batch=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        n_gpu_layers=0,
        verbose=False,
    )

    plugin = LlamaCppWriter()
    model = ResolvedModel(id=str(path), path=path)
    load_ctx = LoadContext(
        model=model, threads=args.threads, engine_variants={ENGINE_CHECK_ID: NO_EXTRA_BUFFERS}
    )
    loaded = plugin.load(LlamaCppWriter.load_options.validate({}), load_ctx)
    options = LlamaCppWriter.run_options.validate(
        {"max_new_tokens": args.tokens, "temperature": 0.0, "repetition_penalty": 1.0}
    )

    def writer() -> float:
        start = time.perf_counter()
        tokens = 0
        for event in plugin.run(
            loaded,
            TextRequest(prompt=PROMPT),
            options,
            RunContext(model=model, threads=args.threads),
        ):
            if isinstance(event, Result):
                tokens = int(event.assets[0].details["tokens"])
        return tokens / (time.perf_counter() - start)

    def raw_path(llama):
        def raw() -> float:
            start = time.perf_counter()
            out = llama.create_completion(
                PROMPT,
                max_tokens=args.tokens,
                temperature=0.0,
                top_k=0,
                top_p=1.0,
                min_p=0.0,
                repeat_penalty=1.0,
            )
            return out["usage"]["completion_tokens"] / (time.perf_counter() - start)

        return raw

    paths = {
        "writer + cure": writer,
        "raw + cure": raw_path(open_llama(path, NO_EXTRA_BUFFERS, **settings)),
    }
    if not args.no_default:
        paths["raw default"] = raw_path(open_llama(path, "default", **settings))
    for run in paths.values():
        run()  # warm: first evaluation, caches
    measured: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.rounds):
        for name, run in paths.items():
            measured[name].append(run())
    print(
        f"llama.cpp, {path.name}, {args.tokens} greedy tokens, {args.threads} threads, "
        f"{args.rounds} interleaved rounds:"
    )
    for name, values in measured.items():
        rounded = [round(v, 1) for v in values]
        print(f"  {name:14} {statistics.median(values):5.1f} tokens/s {rounded}")

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(measured[a], measured[b], strict=True))

    print(
        f"  writer + cure / raw + cure:  {ratio('writer + cure', 'raw + cure'):.3f} (goal >= 0.95)"
    )
    if "raw default" in measured:
        print(
            f"  raw + cure / raw default:    {ratio('raw + cure', 'raw default'):.3f}"
            " (the cure's cost)"
        )


if __name__ == "__main__":
    main()
