"""Drop a PNG on the Image panel to restore the settings it was made with (Studio, A1111,
ComfyUI); "use these settings" on an image asset; prompts hidden for plugins without one."""

from __future__ import annotations

import io
import json
import os

import pytest
from PIL import Image
from studio_image_diffusers.plugin import DiffusersImage

from studio.core.media import png_text
from studio.core.recipe import Recipe, RecipeOrigin
from studio.core.services import build_core_services
from studio.plugin_api import AssetKind, GenerationSettings, ModelPlugin, SettingsDialect
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.project_session import ProjectSession
from studio.ui.panels.image import ImagePanel
from tests.plugins.plugin_factory import write_folder_plugin
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
    assert (
        "AUTOMATIC1111" in note and "Not used by Stable Diffusion (diffusers): Clip skip 2" in note
    )
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
    from studio.plugin_api import Panel

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


SETTINGS_TAKER = '''
from studio.plugin_api import (
    GeneratedAsset, IntOption, ModelPlugin, OptionSet, Result, SeedOption, SettingsMapping,
)


class Plugin(ModelPlugin):
    """A third-party image plugin with options of its own names, reading only the prompt."""

    run_options = OptionSet(
        IntOption(name="passes", default=1, minimum=1, maximum=50, description="Passes."),
        SeedOption(),
    )
    request_fields = ("prompt",)
    received = []

    @classmethod
    def options_from_settings(cls, settings):
        cls.received.append(settings)
        return SettingsMapping(
            run_options={"passes": settings.steps, "seed": settings.seed},
            used=frozenset({"steps", "seed"}),
        )

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset.from_text("hi"),))
'''


@pytest.fixture
def taker_panel(qtbot, tmp_path, monkeypatch, test_plugins):
    write_folder_plugin(
        tmp_path / "plugins", "settings_taker", code=SETTINGS_TAKER, panels=["image"]
    )
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", f"{test_plugins}{os.pathsep}{tmp_path / 'plugins'}")
    services = build_core_services()
    services.registry.discover()
    session = ProjectSession(services.paths.data_dir)
    runner = PanelJobRunner(services.executor, "image")
    panel = ImagePanel(services, session, runner)
    qtbot.addWidget(panel)
    panel.refresh_plugins()
    panel.show()
    yield panel
    runner.shutdown()
    session.close()
    services.cache.unload_all()


def test_a_third_party_image_plugin_receives_the_settings_through_its_hook(taker_panel, tmp_path):
    panel = taker_panel
    assert panel.select_plugin("settings-taker")
    picture = tmp_path / "from-a1111.png"
    picture.write_bytes(png_with({"parameters": A1111}))
    drag(panel, [picture])
    assert panel.current_plugin_id() == "settings-taker"  # it takes some: it stays
    taker = panel.services.registry.plugin_class("settings-taker")
    (settings,) = taker.received
    assert settings == GenerationSettings(
        dialect=SettingsDialect.AUTOMATIC1111,
        prompt="a lighthouse at dusk",
        negative_prompt="blurry",
        steps=12,
        sampler="DPM++ 2M",
        schedule="Karras",
        guidance=6.5,
        seed=4242,
        width=64,
        height=64,
        other=(("Clip skip", "2"),),
    )
    assert panel.run_form.values()["passes"] == 12
    assert panel.run_form.values()["seed"] == 4242
    assert panel.prompt.toPlainText() == "a lighthouse at dusk"
    note = panel.restore_note.text()
    assert "Restored from the AUTOMATIC1111 parameters: Prompt, Passes, Seed." in note
    assert (
        "Not used by Settings-Taker: the negative prompt, guidance 6.5, sampler 'DPM++ 2M', "
        "the Karras schedule, width 64, height 64, Clip skip 2." in note
    )


def test_a_plugin_without_a_mapping_says_it_takes_none(panel, tmp_path, monkeypatch):
    # No image plugin maps settings: the current one (the gradient test plugin) keeps them.
    monkeypatch.setattr(DiffusersImage, "options_from_settings", ModelPlugin.options_from_settings)
    current = panel.current_plugin_id()
    name = panel.services.registry.get(current).name
    picture = tmp_path / "from-a1111.png"
    picture.write_bytes(png_with({"parameters": A1111}))
    drag(panel, [picture])
    assert panel.current_plugin_id() == current
    assert panel.prompt.toPlainText() == "a lighthouse at dusk"
    note = panel.restore_note.text()
    assert f"{name} takes none of these settings: " in note
    assert "steps 12" in note and "sampler 'DPM++ 2M'" in note and "Clip skip 2" in note


def test_a_dropped_jpeg_restores_and_the_model_is_chosen_from_the_library(
    panel, tmp_path, services
):
    """A JPEG's EXIF settings, and the model the image names found in the library by name
    with the hash Studio already knows (the window never hashes a whole checkpoint)."""
    from studio.core.model_scan.catalog import scan_library
    from studio.core.model_scan.places import Place
    from tests.core.image_settings.builders import jpeg_with_exif, tiff, user_comment
    from tests.model_homes import SD1_KEYS, save_safetensors

    folder = tmp_path / "models" / "Stable-diffusion"
    checkpoint = save_safetensors(folder / "dreamy.safetensors", SD1_KEYS)
    digest = services.hashes.file_sha256(checkpoint)  # known from an earlier run
    panel.model.set_library(scan_library([Place("automatic1111", tmp_path)]))
    text = A1111 + f", Model: dreamy, Model hash: {digest[:10]}"
    picture = tmp_path / "from-a1111.jpg"
    picture.write_bytes(jpeg_with_exif(tiff({}, {0x9286: (7, user_comment(text))})))
    (entered, _shown, message), dropped = drag(panel, [picture])
    assert entered and "restore the settings" in message and dropped
    assert panel.prompt.toPlainText() == "a lighthouse at dusk"
    assert panel.model.load_options["model"] == str(checkpoint)
    note = panel.restore_note.text()
    assert "dreamy.safetensors, was found in the model library (by name and hash)" in note


def test_a_lora_the_library_lacks_is_named_when_the_settings_are_restored(panel, tmp_path):
    picture = tmp_path / "with-lora.png"
    text = A1111.replace("a lighthouse at dusk", "a lighthouse at dusk <lora:nowhere:0.5>")
    picture.write_bytes(png_with({"parameters": text}))
    drag(panel, [picture])
    assert panel.prompt.toPlainText() == "a lighthouse at dusk <lora:nowhere:0.5>"
    assert "Not in the model library: LoRA nowhere." in panel.restore_note.text()
