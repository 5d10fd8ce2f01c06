"""The diffusers plugin's number format: what ``auto`` means on this CPU and on one with bfloat16
hardware (faked), the bfloat16-autocast path against float32 on the tiny pipeline, and the
concrete choice recorded in the recipe and used again by a re-run.

bfloat16 runs on any x86 CPU (emulated, slowly, without AVX-512 BF16 or AMX), so the fast path
is tested here too by faking the CPU's flags."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
from PIL import Image
from studio_image_diffusers.loading import BF16_AUTOCAST, DTYPE_CHOICES
from studio_image_diffusers.plugin import DiffusersImage

from studio.builtin_support import cpu_features
from studio.cli.main import main
from studio.core.project.store import ProjectStore
from studio.core.services import build_core_services
from studio.plugin_api import ImageRequest, LoadContext, ResolvedModel, Result, RunContext
from tests.fixtures.tiny_models import tiny_sd_dir  # noqa: F401 (fixture)
from tests.plugins.test_builtin_cpu_features import EPYC_AVX2, SAPPHIRE_RAPIDS

PLUGIN_ID = "studio.image-diffusers"
MIN_PSNR_DB = 40.0
"""bfloat16-autocast against float32, same seed, tiny pipeline, 64 px, 4 steps of Euler a:
measured 46.5-46.9 dB (seeds 3, 7, 11, 12; at most 5-6 of 255 apart on a pixel). For scale,
float32 against itself with 3 or 5 steps instead of 4 is 31 and 35 dB, another seed 13 dB: 40 dB
fails anything that changes the picture, not only its rounding."""


@pytest.fixture
def cpu_with(tmp_path, monkeypatch):
    """Make the CPU look like one with the given /proc/cpuinfo text (the answer is cached, so
    the cache is cleared before and after)."""

    def fake(text: str) -> None:
        path = tmp_path / "cpuinfo"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setattr(cpu_features, "CPUINFO", path)
        cpu_features.fast_bfloat16_cpu.cache_clear()

    yield fake
    cpu_features.fast_bfloat16_cpu.cache_clear()


def resolved(dtype: str, device: str) -> str:
    options = DiffusersImage.load_options.validate({"model": "/m", "dtype": dtype})
    result = DiffusersImage.resolve_auto_options(options, device)
    assert result["model"] == "/m" and result["dtype"] in DTYPE_CHOICES
    return result["dtype"]


def test_auto_is_float32_on_an_avx2_cpu_and_autocast_with_amx_and_float16_on_a_gpu(cpu_with):
    cpu_with(EPYC_AVX2)
    assert resolved("auto", "cpu") == "float32"
    assert resolved("auto", "cuda:0") == "float16" and resolved("auto", "mps") == "float16"
    cpu_with(SAPPHIRE_RAPIDS)
    assert resolved("auto", "cpu") == BF16_AUTOCAST
    assert resolved("auto", "cuda:0") == "float16"
    for chosen in ("float32", "float16", "bfloat16", BF16_AUTOCAST):
        assert resolved(chosen, "cpu") == chosen  # a user's choice is never changed


def test_an_unreadable_cpuinfo_keeps_float32(cpu_with, tmp_path):
    cpu_with(SAPPHIRE_RAPIDS)
    (tmp_path / "cpuinfo").unlink()
    cpu_features.fast_bfloat16_cpu.cache_clear()
    assert resolved("auto", "cpu") == "float32"


def load(path, dtype: str = "auto"):
    plugin = DiffusersImage()
    options = plugin.load_options.validate({"dtype": dtype})
    return plugin, plugin.load(options, LoadContext(model=ResolvedModel(id="tiny", path=path)))


def draw(plugin, loaded, seed: int) -> np.ndarray:
    options = plugin.run_options.validate({"steps": 4, "seed": seed, "preview_every": 1})
    ctx = RunContext(model=ResolvedModel(id="tiny"))
    events = list(
        plugin.run(loaded, ImageRequest(prompt="an apple", negative_prompt="dark"), options, ctx)
    )
    (result,) = [e for e in events if isinstance(e, Result)]
    image = Image.open(io.BytesIO(result.assets[0].data)).convert("RGB")
    return np.asarray(image, dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_the_bfloat16_path_draws_what_float32_draws(cpu_with, tiny_sd_dir):
    """'auto' on a CPU with bfloat16 hardware (faked) loads float32 weights in channels-last
    layout and runs under bfloat16 autocast: the same seed gives nearly the same picture as
    float32 (PSNR above MIN_PSNR_DB), but not the identical one (autocast really ran)."""
    import torch

    cpu_with(SAPPHIRE_RAPIDS)
    plugin, fast = load(tiny_sd_dir)
    assert fast.autocast and fast.pipe.unet.dtype == torch.float32
    conv = fast.pipe.unet.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    cpu_with(EPYC_AVX2)
    _, exact = load(tiny_sd_dir)
    assert not exact.autocast and exact.pipe.unet.conv_in.weight.is_contiguous()
    for seed in (3, 7):
        reference, candidate = draw(plugin, exact, seed), draw(plugin, fast, seed)
        assert reference.std() > 10  # a picture, not a flat colour
        assert not np.array_equal(reference, candidate)
        assert psnr(reference, candidate) > MIN_PSNR_DB, f"seed {seed}"


def generate(capsys, *args: str) -> dict:
    code = main(["generate", "image", "--plugin", PLUGIN_ID, *args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    (made,) = json.loads(out.out)["assets"]
    return made


def test_the_recipe_records_the_concrete_format_and_a_rerun_uses_it(
    cpu_with, tiny_sd_dir, tmp_path, capsys, monkeypatch
):
    """``studio generate`` on a CPU with bfloat16 hardware (faked) records bfloat16-autocast;
    ``studio recipe rerun`` on one without makes the same image with it, where 'auto' would
    now be float32.

    The runs are in this process at one thread: the same computation splits its sums
    differently over another number of threads (float32 too), and the CPU lease gives a job
    as many threads as are free at that moment."""
    import torch

    services = build_core_services()
    services.settings_file.save(dataclasses.replace(services.settings, isolate_models=False))
    set_num_threads = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda threads: set_num_threads(1))
    project = str(tmp_path / "p.studio")
    settings = ["--project", project, "--set", f"model={tiny_sd_dir}", "--set", "prompt=a cat"]
    settings += ["--set", "steps=2", "--set", "seed=5", "--device", "cpu"]
    cpu_with(SAPPHIRE_RAPIDS)
    fast = generate(capsys, *settings)
    assert fast["recipe"]["load_options"]["dtype"] == BF16_AUTOCAST
    cpu_with(EPYC_AVX2)  # the re-run happens on a machine without bfloat16 hardware
    assert main(["recipe", "rerun", project, fast["asset_id"], "--json"]) == 0
    (again,) = json.loads(capsys.readouterr().out)["assets"]
    assert again["recipe"]["load_options"]["dtype"] == BF16_AUTOCAST
    exact = generate(capsys, *settings)  # 'auto' here is float32, and recorded so
    assert exact["recipe"]["load_options"]["dtype"] == "float32"
    store = ProjectStore.open(tmp_path / "p.studio", read_only=True)
    try:
        blobs = [store.read_blob(made["asset_id"]) for made in (fast, again, exact)]
    finally:
        store.close()
    assert blobs[1] == blobs[0]  # made again exactly, in bfloat16-autocast
    assert blobs[2] != blobs[0]  # float32 rounds differently
