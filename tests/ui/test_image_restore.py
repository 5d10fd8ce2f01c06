"""Drop a PNG on the Image panel to restore the settings it was made with (Studio, A1111,
ComfyUI); "use these settings" on an image asset; prompts hidden for plugins without one."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from studio.core.media import png_text
from studio.core.recipe import Recipe, RecipeOrigin
from studio.plugin_api import AssetKind
from studio.ui.panels.image import ImagePanel
from tests.ui.test_file_drops import drag

A1111 = (
    "a lighthouse at dusk\nNegative prompt: blurry\nSteps: 12, Sampler: DPM++ 2M, "
    "Schedule type: Karras, CFG scale: 6.5, Seed: 4242, Size: 64x64, Clip skip: 2"
)


def png_with(texts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(buffer, "PNG")
    return png_text.with_texts(buffer.getvalue(), texts)


@pytest.fixture
def panel(qtbot, services, session, runners):
    widget = ImagePanel(services, session, runners[ImagePanel.panel])
    qtbot.addWidget(widget)
    widget.refresh_plugins()
    widget.resize(1000, 700)
    widget.show()
    return widget


def test_a_dropped_a1111_png_restores_its_settings(panel, tmp_path):
    picture = tmp_path / "from-a1111.png"
    picture.write_bytes(png_with({"parameters": A1111}))
    (entered, shown, message), dropped = drag(panel, [picture])
    assert entered and shown and "restore the settings" in message
    assert dropped
    assert panel.current_plugin_id() == "studio.image-diffusers"
    assert panel.prompt.toPlainText() == "a lighthouse at dusk"
    assert panel.negative.text() == "blurry"
    values = panel.run_form.values()
    assert values["steps"] == 12 and values["scheduler"] == "DPM++ 2M Karras"
    assert values["guidance_scale"] == 6.5 and values["seed"] == 4242
    note = panel.restore_note.text()
    assert "AUTOMATIC1111" in note and "Clip skip 2" in note
    assert panel.init_input.path is None  # the settings, not the picture


def test_a_dropped_comfyui_png_restores_its_prompt(panel, tmp_path):
    graph = {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 7,
                "steps": 9,
                "cfg": 5.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "positive": ["6", 0],
                "negative": ["7", 0],
            },
        },
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "rain"}},
    }
    picture = tmp_path / "comfy.png"
    picture.write_bytes(png_with({"prompt": json.dumps(graph)}))
    drag(panel, [picture])
    assert panel.prompt.toPlainText() == "a fox" and panel.negative.text() == "rain"
    assert panel.run_form.values()["scheduler"] == "Euler"
    assert "ComfyUI" in panel.restore_note.text()


def test_a_png_without_settings_becomes_the_init_image(panel, tmp_path):
    picture = tmp_path / "plain.png"
    picture.write_bytes(png_with({}))
    (_, _, message), dropped = drag(panel, [picture])
    assert message == "Drop to use plain.png as the init image"
    assert dropped and panel.init_input.path == picture


def test_use_these_settings_on_an_imported_a1111_asset(panel, session):
    asset = session.store.add_asset(
        kind=AssetKind.IMAGE,
        data=png_with({"parameters": A1111}),
        media_type="image/png",
        recipe=Recipe(origin=RecipeOrigin.IMPORTED),
        title="imported",
    )
    summary = panel.restore_from_asset(asset)
    assert "AUTOMATIC1111" in summary
    assert panel.prompt.toPlainText() == "a lighthouse at dusk"
    plain = session.store.add_asset(
        kind=AssetKind.IMAGE,
        data=png_with({}),
        media_type="image/png",
        recipe=Recipe(origin=RecipeOrigin.IMPORTED),
        title="plain",
    )
    assert "carries no settings" in panel.restore_from_asset(plain)


def test_plugins_without_a_prompt_hide_the_prompt_boxes(panel):
    assert panel.select_plugin("studio.image-upscale")
    assert not panel.prompt.isVisible() and not panel.negative.isVisible()
    assert panel.select_plugin("studio.image-diffusers")
    assert panel.prompt.isVisible() and panel.negative.isVisible()


def test_use_these_settings_from_the_asset_browser(qtbot, services):
    from studio.app import build_app
    from studio.core.settings import Settings
    from studio.plugin_api import Panel

    services.settings = Settings(isolate_models=False)
    studio = build_app(services=services)
    qtbot.addWidget(studio.window)
    qtbot.waitUntil(
        lambda: studio.window.panels[Panel.IMAGE].current_plugin_id() is not None, timeout=10_000
    )
    asset = studio.session.store.add_asset(
        kind=AssetKind.IMAGE,
        data=png_with({"parameters": A1111}),
        media_type="image/png",
        recipe=Recipe(origin=RecipeOrigin.IMPORTED),
        title="from a1111",
    )
    studio.session.asset_added.emit(asset.id)  # as an import through the session does
    browser = studio.window.browser
    qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=10_000)
    browser.view.setCurrentIndex(browser.model.index(0))
    menu = browser.context_menu()
    assert "Use These Settings" in [a.text() for a in menu.actions()]
    browser.settings_action.trigger()
    image = studio.window.panels[Panel.IMAGE]
    assert studio.window.tabs.currentWidget() is image
    assert image.prompt.toPlainText() == "a lighthouse at dusk"
    assert "AUTOMATIC1111" in studio.window.statusBar().currentMessage()
    assert asset.id == browser.current_asset().id
    studio.shutdown()
