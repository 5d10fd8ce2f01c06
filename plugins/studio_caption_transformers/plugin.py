"""The transformers captioning plugin: options, load and run.

No model ships with it (no captioning weights exist in any wheel): the user picks a local model
folder. Without one, Studio says to choose a model folder before anything is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from studio.plugin_api import (
    AssetKind,
    BoolOption,
    CaptioningPlugin,
    CaptionRequest,
    ChoiceOption,
    Event,
    FloatOption,
    InputSlot,
    IntOption,
    LoadContext,
    ModelOption,
    OptionSet,
    RunContext,
    SeedOption,
    TextOption,
)

from .captioning import run_request
from .loading import DTYPE_CHOICES, LoadedCaptioner, load_captioner


class TransformersCaptioner(CaptioningPlugin):
    """Captions images, or answers questions about them, with a local transformers model."""

    inputs = (
        InputSlot(
            role="image",
            label="Image",
            kind=AssetKind.IMAGE,
            required=True,
            description="The picture to caption or ask about.",
        ),
    )
    load_options = OptionSet(
        ModelOption(
            description="A Hugging Face model folder with config.json, safetensors weights and "
            "its processor files: BLIP or BLIP-2 (captions; BLIP VQA and BLIP-2 answer "
            "questions), ViT-GPT2 style VisionEncoderDecoder, or an image-text-to-text model."
        ),
        ChoiceOption(
            name="dtype",
            default="auto",
            choices=DTYPE_CHOICES,
            label="Number format",
            description="auto is float32 on the CPU and the model's own format on a GPU; "
            "bfloat16 halves the memory.",
            advanced=True,
        ),
    )
    run_options = OptionSet(
        IntOption(
            name="max_new_tokens",
            default=40,
            minimum=1,
            maximum=1024,
            label="Length (tokens)",
            description="How many tokens the caption or answer may have at most.",
        ),
        IntOption(
            name="num_beams",
            default=3,
            minimum=1,
            maximum=10,
            label="Beams",
            description="Beam search keeps this many candidate captions and returns the best; "
            "1 is plain greedy decoding (fastest). Ignored when sampling.",
        ),
        BoolOption(
            name="sampling",
            default=False,
            description="Pick words at random by their probability (varied captions) instead "
            "of the likeliest ones.",
        ),
        FloatOption(
            name="temperature",
            default=1.0,
            minimum=0.05,
            maximum=3.0,
            description="When sampling: higher is more surprising, lower more predictable.",
            advanced=True,
        ),
        SeedOption(),
        TextOption(
            name="prefix",
            default="",
            max_length=500,
            description='Text the caption starts with and continues ("a photograph of"); '
            "for chat models, the instruction. Empty: a plain caption.",
        ),
        TextOption(
            name="avoid_words",
            default="",
            max_length=2000,
            label="Words to avoid",
            description="Words or phrases the caption must not contain, separated by commas.",
        ),
    )

    def prepare(self) -> None:
        import torch  # noqa: F401 - imported ahead of the first run, in the model process
        import transformers  # noqa: F401
        from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: F401

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> LoadedCaptioner:
        import torch

        torch.set_num_threads(max(1, ctx.threads))
        if ctx.model.path is None:
            raise ValueError("No model was given: choose a captioning model folder.")
        ctx.report_progress(None, f"Loading {ctx.model.path.name}…")
        return load_captioner(
            ctx.model.path,
            options["dtype"],
            ctx.device,
            allow_remote_code=ctx.allow_remote_code,
            load_weights=ctx.load_weights,
        )

    def run(
        self,
        loaded: LoadedCaptioner,
        request: CaptionRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> Iterator[Event]:
        import torch

        torch.set_num_threads(max(1, ctx.threads))  # what the CPU lease gives this run
        return run_request(loaded, request, options, ctx)

    def unload(self, loaded: LoadedCaptioner) -> None:
        loaded.release()

    def memory_bytes(self, loaded: LoadedCaptioner) -> int:
        return loaded.parameter_bytes()
