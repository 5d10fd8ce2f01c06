"""Panels never offer an engine that failed its self-check on this machine: the next in the
panel's order is picked, the failed one is listed greyed with the reason."""

from __future__ import annotations

import json

import pytest

from studio.core import panel_defaults
from studio.plugin_api import Panel
from studio.ui.panels.image import ImagePanel
from studio.ui.panels.writing import WritingPanel

PRODUCT_ORDER = dict(panel_defaults.PANEL_ORDER)


def fail(verdicts_file, key, outcome="crashed", detail="SIGSEGV while checking"):
    data = json.loads(verdicts_file.read_text())
    verdict = data["verdicts"][key]
    verdict.update(
        passed=False,
        variant="",
        attempts=[
            {"variant": "default", "outcome": outcome, "detail": detail, "seconds": 0.1},
            {"variant": "no-extra-buffers", "outcome": outcome, "detail": detail, "seconds": 0.1},
        ],
    )
    verdicts_file.write_text(json.dumps(data))


@pytest.fixture
def product_order(monkeypatch):
    for panel, order in PRODUCT_ORDER.items():
        monkeypatch.setitem(panel_defaults.PANEL_ORDER, panel, order)


def test_writing_skips_a_llama_cpp_that_crashes_here(
    qtbot, services, session, runners, engine_verdicts, product_order
):
    fail(engine_verdicts, "studio.writer-llamacpp/llama.cpp")
    panel = WritingPanel(services, session, runners[Panel.WRITING])
    qtbot.addWidget(panel)
    panel.refresh_plugins()
    assert panel.current_plugin_id() == "studio.writer-transformers"
    index = panel.plugin_combo.findData("studio.writer-llamacpp")
    assert panel.plugin_combo.itemText(index).endswith("(does not work here)")
    assert not panel.plugin_combo.model().item(index).isEnabled()
    tooltip = panel.plugin_combo.itemData(index, 3)  # Qt.ToolTipRole
    assert "llama.cpp crashes on this CPU" in tooltip


def test_the_current_plugin_found_failing_is_replaced_with_a_note(
    qtbot, services, session, runners, engine_verdicts, product_order
):
    panel = WritingPanel(services, session, runners[Panel.WRITING])
    qtbot.addWidget(panel)
    panel.refresh_plugins()
    assert panel.current_plugin_id() == "studio.writer-llamacpp"
    fail(engine_verdicts, "studio.writer-llamacpp/llama.cpp")
    panel.model._on_failed("job-1", "llama.cpp crashes on this CPU (SIGSEGV in its self-check)")
    assert panel.current_plugin_id() == "studio.writer-transformers"
    assert "switched to Transformers" in panel.error_banner.label.text()


def test_the_upscaler_default_is_the_first_model_that_passes(
    qtbot, services, session, runners, engine_verdicts, product_order
):
    fail(engine_verdicts, "studio.image-upscale/waifu2x-cunet", "wrong", "7.3 dB against 34.7")
    panel = ImagePanel(services, session, runners[Panel.IMAGE])
    qtbot.addWidget(panel)
    panel.refresh_plugins()
    # Stable Diffusion comes first in the order but waits for an imported model.
    assert panel.current_plugin_id() == "studio.image-style"
    assert panel.select_plugin("studio.image-upscale")
    combo = panel.load_form.editors["model"].widget.combo
    cunet = next(i for i in range(combo.count()) if "CUnet" in combo.itemText(i))
    assert combo.itemText(cunet).endswith("does not work here")
    assert not combo.model().item(cunet).isEnabled()
    assert combo.itemData(cunet) == "waifu2x-cunet"
    default = combo.findData("")
    assert "upconv_7 photo" in combo.itemText(default)
    assert combo.currentIndex() == default
    assert panel.load_form.values().get("model", "") == ""  # the default: resolved per machine
    assert services.engine_checks.default_model("studio.image-upscale") == "waifu2x-upconv7-photo"
