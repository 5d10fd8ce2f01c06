"""One image request on a loaded pipeline: text-to-image, image-to-image or inpainting.

The mode follows the request's inputs: a ``mask`` (with its ``init`` image) means inpainting,
an ``init`` image alone means image-to-image, no input means text-to-image. Each image of a
batch is its own pipeline call with seed ``seed + i`` and its own :class:`Result`, so a cancel
keeps the finished ones and re-running one image from its recipe makes exactly it again.

The pipeline runs on a helper thread; its ``callback_on_step_end`` hands progress and previews
to the generator through a queue. A cancel (or the reader going away) raises :class:`Cancelled`
from that callback and from hooks before each UNet and VAE decoder block, so it stops within a
fraction of a step and nothing of that image is kept. torch, PIL and diffusers are imported
inside the functions.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.plugin_api import (
    AssetKind,
    Cancelled,
    Event,
    GeneratedAsset,
    ImageRequest,
    LoraOption,
    Partial,
    Progress,
    Result,
    RunContext,
)
from studio.plugin_api.images import ImageMode, open_image
from studio.plugin_api.titles import input_name, join_title

from .loading import LoadedPipeline
from .loras import apply_loras
from .previews import preview_png

log = logging.getLogger(__name__)

SEED_RANGE = 2**32
MAX_SIDE = 2048
"""Longest side of an image this plugin makes; a bigger init image is scaled down to it."""
MODE_NAMES = {"text": "text-to-image", "image": "image-to-image", "inpaint": "inpainting"}
_NEUTRAL_GREY = (127, 127, 127)


@dataclass(frozen=True, kw_only=True)
class ImageJob:
    """The settings of one run, checked (see the plugin's ``run_options``)."""

    mode: str
    prompt: str
    negative_prompt: str
    width: int
    height: int
    steps: int
    guidance_scale: float
    scheduler: str
    seed: int
    variations: int
    strength: float
    preview_every: int
    init: Any = None  # PIL image, RGB, at width x height
    mask: Any = None  # PIL image, L, at width x height

    @property
    def steps_run(self) -> int:
        """How many denoising steps actually run (image-to-image skips the first ones)."""
        if self.mode == "text":
            return self.steps
        return min(int(self.steps * self.strength), self.steps)


def _round_down(value: int, multiple: int) -> int:
    return max(multiple, value // multiple * multiple)


def read_image(path: Path, what: str, mode: ImageMode) -> Any:
    """An input image, upright, in ``mode`` (RGB with transparency on white, or L for a
    mask); ``ValueError`` naming the input and the file otherwise."""
    try:
        return open_image(path, mode)
    except ValueError as exc:
        raise ValueError(f"The {what} cannot be used: {exc}") from None


def plan_job(loaded: LoadedPipeline, request: ImageRequest, options: Mapping[str, Any]) -> ImageJob:
    """The checked settings of a request; ``ValueError`` with a clear reason otherwise."""
    init_input, mask_input = request.input("init"), request.input("mask")
    multiple = loaded.size_multiple
    init = mask = None
    if mask_input is not None and init_input is None:
        raise ValueError("Inpainting needs an init image as well as the mask.")
    if init_input is not None:
        init = read_image(init_input.path, "init image", "RGB")
        width, height = init.size
        if max(width, height) > MAX_SIDE:
            scale = MAX_SIDE / max(width, height)
            width, height = round(width * scale), round(height * scale)
        width, height = _round_down(width, multiple), _round_down(height, multiple)
        if mask_input is not None:
            mask = read_image(mask_input.path, "mask", "L")
            if mask.size != init.size:
                raise ValueError(
                    f"The mask is {mask.size[0]}×{mask.size[1]} pixels but the init image is "
                    f"{init.size[0]}×{init.size[1]}: a mask must have the init image's size."
                )
            if mask.getbbox() is None:
                raise ValueError("The mask is empty: paint the area to change first.")
        from PIL import Image

        if init.size != (width, height):
            init = init.resize((width, height), Image.Resampling.LANCZOS)
            if mask is not None:
                mask = mask.resize((width, height), Image.Resampling.NEAREST)
        mode = "inpaint" if mask is not None else "image"
    else:
        width = _round_down(options["width"] or loaded.default_size, multiple)
        height = _round_down(options["height"] or loaded.default_size, multiple)
        mode = "text"
    job = ImageJob(
        mode=mode,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        width=width,
        height=height,
        steps=options["steps"],
        guidance_scale=options["guidance_scale"],
        scheduler=options["scheduler"],
        seed=options["seed"],
        variations=options["variations"],
        strength=options["strength"],
        preview_every=options["preview_every"],
        init=init,
        mask=mask,
    )
    if job.mode != "text" and job.steps_run < 1:
        raise ValueError(
            f"With {job.steps} steps and strength {job.strength:g} no step would run: "
            "raise the steps or the strength."
        )
    return job


def pipeline_arguments(loaded: LoadedPipeline, job: ImageJob, seed: int) -> dict[str, Any]:
    """The keyword arguments of the pipeline call for one image (also used by benchmarks)."""
    import torch

    arguments: dict[str, Any] = {
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt or None,
        "num_inference_steps": job.steps,
        "guidance_scale": job.guidance_scale,
        "width": job.width,
        "height": job.height,
        # A CPU generator gives the same image for the same seed on every device.
        "generator": torch.Generator("cpu").manual_seed(seed),
        "output_type": "pil",
    }
    if job.mode == "text" and loaded.inpaint_unet:
        from PIL import Image

        arguments["image"] = Image.new("RGB", (job.width, job.height), _NEUTRAL_GREY)
        arguments["mask_image"] = Image.new("L", (job.width, job.height), 255)
        arguments["strength"] = 1.0
    elif job.mode == "image":
        arguments["image"] = job.init
        arguments["strength"] = job.strength
        if loaded.inpaint_unet:
            from PIL import Image

            arguments["mask_image"] = Image.new("L", (job.width, job.height), 255)
        else:
            del arguments["width"], arguments["height"]  # img2img takes the init image's size
    elif job.mode == "inpaint":
        arguments["image"] = job.init
        arguments["mask_image"] = job.mask
        arguments["strength"] = job.strength
    return arguments


def encode_png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def cancel_points(pipe: Any) -> list[Any]:
    """The UNet's and the VAE decoder's blocks: a cancel is checked before each of them runs,
    so it takes effect within a fraction of a step (and during the final decode), not only at
    the end of the step that ``callback_on_step_end`` sees."""
    blocks: list[Any] = []
    unet = getattr(pipe, "unet", None)
    if unet is not None:
        blocks += [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    decoder = getattr(getattr(pipe, "vae", None), "decoder", None)
    if decoder is not None:
        blocks += [decoder.mid_block, *decoder.up_blocks]
    return [block for block in blocks if block is not None]


class _Stop(Exception):
    """The reader went away: end the pipeline call at the next step."""


_DONE = object()


def generate_image(
    loaded: LoadedPipeline,
    job: ImageJob,
    index: int,
    ctx: RunContext,
) -> Iterator[Progress | Partial | Any]:
    """Run one image on a helper thread; yields progress and previews, then the PIL image.

    Raises :class:`Cancelled` when cancelled (nothing of this image is returned).
    """
    pipe = loaded.pipeline_for(job.mode)
    loaded.set_scheduler(pipe, job.scheduler)
    seed = (job.seed + index) % SEED_RANGE
    arguments = pipeline_arguments(loaded, job, seed)
    events: queue.Queue[Any] = queue.Queue()
    abandoned = threading.Event()
    label = f"image {index + 1} of {job.variations}: " if job.variations > 1 else ""

    def on_step_end(pipeline: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict:
        if ctx.cancel.cancelled:
            raise Cancelled()
        if abandoned.is_set():
            raise _Stop()
        steps = int(getattr(pipeline, "num_timesteps", 0) or job.steps_run)
        done = min(step + 1, steps)
        fraction = min(1.0, (index + done / max(1, steps)) / job.variations)
        events.put(Progress(fraction=fraction, message=f"{label}step {done} of {steps}"))
        every = job.preview_every
        if every and done < steps and (done == 1 or done % every == 0):
            latents = kwargs.get("latents")
            if latents is not None:
                events.put(
                    Partial(data=preview_png(latents, loaded.family), media_type="image/png")
                )
        return {}

    def check(module: Any, inputs: Any) -> None:
        if ctx.cancel.cancelled:
            raise Cancelled()
        if abandoned.is_set():
            raise _Stop()

    def work() -> None:
        import torch

        torch.set_num_threads(max(1, ctx.threads))  # the device slot's budget, in this thread too
        hooks = [block.register_forward_pre_hook(check) for block in cancel_points(pipe)]
        try:
            with loaded.precision():  # bfloat16 autocast is per thread: entered here
                output = pipe(
                    **arguments,
                    callback_on_step_end=on_step_end,
                    callback_on_step_end_tensor_inputs=["latents"],
                )
            events.put(("image", output.images[0]))
        except BaseException as exc:  # handed to the reading thread, raised there
            events.put(("error", exc))
        finally:
            for hook in hooks:
                hook.remove()
            events.put(_DONE)

    thread = threading.Thread(target=work, name="studio-diffusers-generate", daemon=True)
    thread.start()
    image = None
    error: BaseException | None = None
    try:
        while True:
            item = events.get()
            if item is _DONE:
                break
            if isinstance(item, tuple):
                kind, value = item
                if kind == "image":
                    image = value
                else:
                    error = value
                continue
            yield item
    finally:
        abandoned.set()
        thread.join()
    if error is not None:
        if isinstance(error, Cancelled | _Stop):
            raise Cancelled() from None
        raise error
    ctx.cancel.raise_if_cancelled()
    yield ("image", image)


def run_request(
    loaded: LoadedPipeline, request: ImageRequest, options: Mapping[str, Any], ctx: RunContext
) -> Iterator[Event]:
    """The plugin's ``run()``: each image of the batch, one :class:`Result` as it is done."""
    import torch

    torch.set_num_threads(max(1, ctx.threads))
    ctx.cancel.raise_if_cancelled()
    job = plan_job(loaded, request, options)
    loras = LoraOption.uses(options.get("loras", ""))
    if loras:
        yield Progress(fraction=0.0, message=f"Applying {len(loras)} LoRA(s)…")
    apply_loras(loaded.pipe, loaded.loras, loras)
    roles = {"text": (), "image": ("init",), "inpaint": ("init", "mask")}[job.mode]
    yield Progress(fraction=0.0, message=f"{MODE_NAMES[job.mode]}, {job.width}×{job.height}")
    for index in range(job.variations):
        ctx.cancel.raise_if_cancelled()
        started = time.perf_counter()
        image = None
        for item in generate_image(loaded, job, index, ctx):
            if isinstance(item, tuple):
                image = item[1]
            else:
                yield item
        seed = (job.seed + index) % SEED_RANGE
        details: dict[str, Any] = {
            "mode": MODE_NAMES[job.mode],
            "width": image.width,
            "height": image.height,
            "sampler": job.scheduler,
            "steps_run": job.steps_run,
            "seconds": round(time.perf_counter() - started, 3),
        }
        if loras:
            details["loras"] = [
                {"name": Path(use.name).stem, "strength": use.strength} for use in loras
            ]
        if job.variations > 1:
            details["variation"] = index + 1
        init_input = request.input("init")
        source = {"image": "from", "inpaint": "painted into"}.get(job.mode)
        title = join_title(
            job.prompt or MODE_NAMES[job.mode].capitalize(),
            f"{source} {input_name(init_input)}" if source and init_input else "",
            f"seed {seed}",
        )
        yield Result(
            assets=(
                GeneratedAsset(
                    kind=AssetKind.IMAGE,
                    data=encode_png(image),
                    media_type="image/png",
                    title=title,
                    seed=seed,
                    details=details,
                    input_roles=roles,
                ),
            )
        )
