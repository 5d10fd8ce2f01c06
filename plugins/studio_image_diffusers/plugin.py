"""The diffusers image plugin: options, inputs, load and run.

No text-to-image weights ship in any Python package (see MODELS.md), so there is no embedded
model: the user imports a Stable Diffusion or SDXL folder in the diffusers layout. Without one,
the job stops with a message that says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from studio.plugin_api import (
    AssetKind,
    ChoiceOption,
    Event,
    FloatOption,
    GenerationSettings,
    ImagePlugin,
    ImageRequest,
    InputSlot,
    IntOption,
    LoadContext,
    LoraOption,
    ModelOption,
    OptionSet,
    Panel,
    Request,
    RunContext,
    SeedOption,
    SettingsMapping,
)

from .generation import run_request
from .loading import (
    DTYPE_CHOICES,
    SCHEDULER_CHOICES,
    LoadedPipeline,
    concrete_dtype,
    load_pipeline,
)
from .settings import options_from_settings


class DiffusersImage(ImagePlugin):
    """Stable Diffusion 1.x/2.x and SDXL from a diffusers folder: txt2img, img2img, inpainting."""

    load_options = OptionSet(
        ModelOption(
            description=(
                "A Stable Diffusion or SDXL model: a folder in the diffusers layout (with "
                "model_index.json) or a single checkpoint file as AUTOMATIC1111 and ComfyUI "
                "keep them. Studio ships no text-to-image model: pick one from the library."
            )
        ),
        ChoiceOption(
            name="dtype",
            default="auto",
            choices=DTYPE_CHOICES,
            label="Number format",
            description=(
                "How the pipeline computes: auto is float16 on a GPU; on the CPU it is "
                "bfloat16-autocast where the CPU has bfloat16 in hardware (AMX or AVX-512 BF16, "
                "about 3x faster than float32) and float32 elsewhere. bfloat16-autocast keeps "
                "float32 weights and computes in bfloat16; bfloat16 also halves the memory. "
                "Both are slow on a CPU without bfloat16 hardware. The recipe records the "
                "format used."
            ),
            advanced=True,
        ),
    )
    run_options = OptionSet(
        IntOption(
            name="steps",
            default=20,
            minimum=1,
            maximum=150,
            label="Steps",
            description="Denoising steps: more is slower and usually finer; 20-30 suits most "
            "samplers.",
        ),
        FloatOption(
            name="guidance_scale",
            default=7.0,
            minimum=0.0,
            maximum=30.0,
            step=0.5,
            decimals=1,
            label="Guidance (CFG)",
            description="How closely the image follows the prompt; 5-9 is usual, 1 or less "
            "ignores the negative prompt.",
        ),
        ChoiceOption(
            name="scheduler",
            default="Euler a",
            choices=SCHEDULER_CHOICES,
            label="Sampler",
            description="The sampling method (A1111's names). Model default keeps the "
            "scheduler saved in the model folder.",
        ),
        IntOption(
            name="width",
            default=0,
            minimum=0,
            maximum=2048,
            step=64,
            description="Image width in pixels for text-to-image (a multiple of 8); 0 is the "
            "model's own size (512 for SD 1.x, 1024 for SDXL). With an init image its size is "
            "used.",
        ),
        IntOption(
            name="height",
            default=0,
            minimum=0,
            maximum=2048,
            step=64,
            description="Image height in pixels for text-to-image (a multiple of 8); 0 is the "
            "model's own size. With an init image its size is used.",
        ),
        LoraOption(),
        SeedOption(),
        IntOption(
            name="variations",
            default=1,
            minimum=1,
            maximum=16,
            label="Batch count",
            description="How many images to make, one after the other, with seeds seed, "
            "seed + 1, ...; each is kept as soon as it is finished.",
        ),
        FloatOption(
            name="strength",
            default=0.75,
            minimum=0.05,
            maximum=1.0,
            step=0.05,
            label="Denoising strength",
            description="With an init image: how much of it is repainted, from 0.05 (a touch) "
            "to 1 (ignore it). Only steps × strength steps run.",
        ),
        IntOption(
            name="preview_every",
            default=2,
            minimum=0,
            maximum=50,
            label="Preview every (steps)",
            description="Show a rough preview after the first step and then every this many "
            "steps; 0 shows none.",
            advanced=True,
        ),
    )
    inputs = (
        InputSlot(
            role="init",
            label="Init image",
            kind=AssetKind.IMAGE,
            description="Image-to-image: the picture to start from (denoising strength says "
            "how much changes). Its size sets the output size.",
        ),
        InputSlot(
            role="mask",
            label="Mask",
            kind=AssetKind.IMAGE,
            description="Inpainting: white where the init image is repainted, black where it "
            "is kept; the same size as the init image.",
        ),
    )

    @classmethod
    def resolve_auto_options(cls, load_options: Mapping[str, Any], device: str) -> dict[str, Any]:
        """``dtype`` auto made concrete for ``device`` (see :func:`.loading.auto_dtype`), so
        the recipe records the number format the image was made in."""
        options = dict(load_options)
        if "dtype" in options:
            options["dtype"] = concrete_dtype(options["dtype"], device)
        return options

    @classmethod
    def options_from_settings(cls, settings: GenerationSettings) -> SettingsMapping:
        """A1111 and ComfyUI settings onto steps, guidance, sampler, seed, size, strength."""
        return options_from_settings(settings)

    def prepare(self) -> None:
        import torch  # noqa: F401 - imported ahead of the first run, in the model process
        from diffusers import StableDiffusionPipeline  # noqa: F401

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> LoadedPipeline:
        import torch

        torch.set_num_threads(max(1, ctx.threads))
        ctx.report_progress(None, f"Loading {Path(ctx.model.path or ctx.model.id).name}…")
        return load_pipeline(
            ctx.model.path, options["dtype"], ctx.device, load_weights=ctx.load_weights
        )

    def run(
        self,
        loaded: LoadedPipeline,
        request: ImageRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> Iterator[Event]:
        return run_request(loaded, request, options, ctx)

    def unload(self, loaded: LoadedPipeline) -> None:
        loaded.release()

    def memory_bytes(self, loaded: LoadedPipeline) -> int:
        return loaded.parameter_bytes()

    def example_request(self, panel: Panel, workdir: Path) -> Request:
        return ImageRequest(prompt="a red apple on a table", negative_prompt="blurry")
