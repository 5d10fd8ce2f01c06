"""Stable Diffusion 1.5 on the CPU: float32 against the diffusers plugin's 'auto' number format.

Builds SD 1.5's full-size UNet (860 M parameters) and VAE (84 M) from the configs Studio ships
(``resources/diffusers/sd15``) with random weights (no model is downloaded: speed does not
depend on the weights' values), then times, in interleaved rounds (float32, auto, float32,
auto, ...):

- a denoising step: one UNet call on a batch of 2 (the prompt and the negative prompt, as
  classifier-free guidance runs it) at ``--size`` px, with 77 text tokens;
- the VAE decode of one latent to a ``--size`` px image.

'auto' is what the plugin picks on this machine (:func:`studio_image_diffusers.loading.auto_dtype`):
``bfloat16-autocast`` (channels-last UNet and VAE, ``torch.autocast(bfloat16)``) where the CPU
has AMX or AVX-512 BF16, float32 elsewhere (then the ratio is ~1.0 by construction).
``--candidate bfloat16-autocast`` times that path whatever the CPU (slow without bfloat16
hardware: torch emulates it). It prints the CPU's relevant flags, the choice, per-round times,
medians, the ratio candidate / float32, and how far the candidate's UNet output is from
float32's.

    .venv/bin/python bench/bench_sd_precision.py [--size 512] [--steps 3] [--rounds 2]
    .venv/bin/python bench/bench_sd_precision.py --size 192 --steps 2 --rounds 2   # 2 cores

Reference (issue 20, a Xeon with AMX, 512 px): 7.0 s a step in float32, 2.56 s under bfloat16
autocast, 2.25 s with channels-last as well; VAE decode 10-13 s against 5.5-6 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SD15 = ROOT / "resources" / "diffusers" / "sd15"
SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_summary() -> str:
    from studio.builtin_support.cpu_features import read_cpu_flags

    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.partition(":")[2].strip()
                break
    flags = read_cpu_flags()
    shown = " ".join(f"{flag}={'yes' if flag in flags else 'no'}" for flag in SHOWN_FLAGS)
    return f"{name}, {os.cpu_count()} CPUs; {shown}"


def build_models() -> SimpleNamespace:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    def config(name: str) -> dict[str, Any]:
        return json.loads((SD15 / name / "config.json").read_text(encoding="utf-8"))

    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(config("unet")).eval()
    vae = AutoencoderKL.from_config(config("vae")).eval()
    unet.requires_grad_(False)
    vae.requires_grad_(False)
    return SimpleNamespace(unet=unet, vae=vae)


class Mode:
    """float32, or a number format of the plugin (set up as its loading does)."""

    def __init__(self, choice: str, label: str) -> None:
        self.choice = choice
        self.label = label

    def enter(self, models: SimpleNamespace) -> contextlib.AbstractContextManager[Any]:
        import torch
        from studio_image_diffusers.loading import (
            BF16_AUTOCAST,
            bfloat16_autocast,
            use_channels_last,
        )

        if self.choice == BF16_AUTOCAST:
            use_channels_last(models)
            return bfloat16_autocast("cpu")
        if self.choice != "float32":
            raise SystemExit(f"the bench times float32 and {BF16_AUTOCAST}, not {self.choice}")
        for module in (models.unet, models.vae):
            module.to(memory_format=torch.contiguous_format)
        return contextlib.nullcontext()


def inputs(size: int) -> SimpleNamespace:
    import torch

    generator = torch.Generator("cpu").manual_seed(1)
    side = size // 8
    return SimpleNamespace(
        latents=torch.randn(2, 4, side, side, generator=generator),
        text=torch.randn(2, 77, 768, generator=generator),
        timestep=torch.tensor(500),
        decode=torch.randn(1, 4, side, side, generator=generator) / 0.18215,
    )


def unet_step(models: SimpleNamespace, data: SimpleNamespace) -> Any:
    return models.unet(data.latents, data.timestep, encoder_hidden_states=data.text).sample


def time_round(
    models: SimpleNamespace, mode: Mode, data: SimpleNamespace, steps: int
) -> tuple[float, float]:
    """Mean seconds per step over ``steps`` UNet calls, and one VAE decode's seconds."""
    import torch

    with torch.inference_mode(), mode.enter(models):
        started = time.perf_counter()
        for _ in range(steps):
            unet_step(models, data)
        per_step = (time.perf_counter() - started) / steps
        started = time.perf_counter()
        models.vae.decode(data.decode)
        decode = time.perf_counter() - started
    return per_step, decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="image side in px (default 512)")
    parser.add_argument("--steps", type=int, default=3, help="UNet calls timed per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each, interleaved")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all CPUs)")
    parser.add_argument(
        "--candidate",
        default="auto",
        choices=("auto", "bfloat16-autocast"),
        help="what is timed against float32 (default: the plugin's auto on this CPU)",
    )
    args = parser.parse_args()
    if args.size % 64:
        parser.error("--size must be a multiple of 64")

    import torch
    from studio_image_diffusers.loading import auto_dtype

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    auto = auto_dtype("cpu")
    if args.candidate == "auto":
        candidate = Mode(auto, f"auto ({auto})")
    else:
        candidate = Mode(args.candidate, args.candidate)
    baseline = Mode("float32", "float32")
    print(f"CPU: {cpu_summary()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"'auto' on this CPU: {auto}; timed against float32: {candidate.label}")
    print(f"SD 1.5 UNet + VAE, random weights, {args.size} px, batch 2 per step")

    started = time.perf_counter()
    models = build_models()
    data = inputs(args.size)
    print(f"built in {time.perf_counter() - started:.1f} s")

    # Warm-up (first calls set up oneDNN kernels), and how far the candidate's output is.
    outputs = []
    for mode in (baseline, candidate) if candidate.choice != "float32" else (baseline,):
        with torch.inference_mode(), mode.enter(models):
            started = time.perf_counter()
            outputs.append(unet_step(models, data).float())
            print(f"warm-up step, {mode.label}: {time.perf_counter() - started:.2f} s")
    reference, other = outputs[0], outputs[-1]
    error = float((other - reference).norm() / reference.norm())
    print(f"UNet output, {candidate.label} against float32: relative error {error:.2e}")

    times: dict[str, list[tuple[float, float]]] = {baseline.label: [], candidate.label: []}
    print(f"\n{'round':>5}  {'format':<26} {'s/step':>8} {'decode s':>9}")
    for round_number in range(1, args.rounds + 1):
        for mode in (baseline, candidate):
            per_step, decode = time_round(models, mode, data, args.steps)
            times[mode.label].append((per_step, decode))
            print(f"{round_number:>5}  {mode.label:<26} {per_step:>8.2f} {decode:>9.2f}")

    def medians(mode: Mode) -> tuple[float, float]:
        rows = times[mode.label]
        return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)

    base_step, base_decode = medians(baseline)
    cand_step, cand_decode = medians(candidate)
    print(
        f"\nmedian float32: {base_step:.2f} s/step, decode {base_decode:.2f} s; "
        f"{candidate.label}: {cand_step:.2f} s/step, decode {cand_decode:.2f} s"
    )
    print(
        f"ratio {candidate.label} / float32: step {cand_step / base_step:.2f}, "
        f"decode {cand_decode / base_decode:.2f}"
    )


if __name__ == "__main__":
    main()
