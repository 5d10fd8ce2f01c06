"""The real engine checks on this machine: every panel gets a default that passed, and the
upscaler's default makes a picture close to bicubic or better (not noise, whatever the CPU)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from studio.core.jobs import Job
from studio.core.panel_defaults import check_default
from studio.core.services import build_core_services
from studio.plugin_api import AssetKind, CancelToken, ImageRequest, InputMedia, Panel
from studio.plugin_api.engine_checks import check_picture, psnr
from tests.support import MemorySink

pytestmark = pytest.mark.models


@pytest.fixture
def services(engine_verdicts):
    engine_verdicts.unlink()  # nothing checked yet: the checks run for real
    return build_core_services()


def test_every_panel_has_a_default_that_passed_its_checks_here(services):
    expected = {
        Panel.WRITING: {"studio.writer-llamacpp", "studio.writer-transformers"},
        Panel.VOICE: {"studio.voice-hibari"},
        Panel.CAPTIONING: {"studio.caption-ocr-tags"},
    }
    for panel, plugins in expected.items():
        assert check_default(services.registry, services.engine_checks, panel) in plugins
    for plugin_id, check in services.engine_checks.all_checks():
        verdict = services.engine_checks.cached(plugin_id, check)
        if verdict is not None and not verdict.passed:
            assert verdict.reason in ("crashes on this CPU", "gives wrong output on this CPU")


def test_the_upscalers_default_is_never_noise(services, tmp_path):
    original = check_picture(128)
    small = original.resize((64, 64), Image.Resampling.BICUBIC)
    small.save(tmp_path / "small.png")
    request = ImageRequest(
        inputs=(
            InputMedia(
                role="init",
                path=tmp_path / "small.png",
                kind=AssetKind.IMAGE,
                media_type="image/png",
            ),
        )
    )
    sink = MemorySink()
    job = Job(plugin_id="studio.image-upscale", panel=Panel.IMAGE, request=request)
    services.executor.execute(job, CancelToken(), sink=sink)
    produced = sink.produced[0]
    with Image.open(io.BytesIO(produced.asset.data)) as result:
        score = psnr(original, result.convert("RGB"))
    bicubic = psnr(original, small.resize(original.size, Image.Resampling.BICUBIC))
    assert score > bicubic - 6, f"{produced.model.id}: {score:.1f} dB, bicubic {bicubic:.1f} dB"
    assert services.engine_checks.default_model("studio.image-upscale") == produced.model.id
