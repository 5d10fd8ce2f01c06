"""View > Models: the library grouped by panel and source with each model's problems; Use,
Import, Add Folder and Convert; the loaded models with Unload, the idle unload setting and a
device per panel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from studio.app import build_app
from studio.core.safety.consent import ConsentKind
from studio.core.safety.converter import converted_dir
from studio.core.settings import SettingsFile
from studio.plugin_api import Panel
from studio.qt.model_scans import ModelScans
from studio.ui import models_view as models_view_module
from studio.ui.models_view import ModelsView
from tests.cli.test_models_cli import PLACE_VARIABLES
from tests.model_homes import LFS_POINTER, SD1_KEYS, save_safetensors


@pytest.fixture
def home(machine, monkeypatch):
    monkeypatch.setenv("HOME", str(machine))
    for name in PLACE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return machine


@pytest.fixture
def view(qtbot, services, home):
    scans = ModelScans(services.registry, services.model_library)
    view = ModelsView(services, scans)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: bool(scans.entries) and not scans.busy, timeout=20_000)
    yield view
    scans.wait()


def titles(view) -> list[str]:
    return [item.text(0) for item in view._items()]


def test_the_library_groups_models_by_panel_and_source_and_says_what_is_wrong(view, home):
    shown = titles(view)
    assert any(t.startswith("Writing (") for t in shown)
    assert {"Hugging Face cache (1)", "Ollama (1)", "LM Studio (1)", "Coqui TTS (1)"} <= set(shown)
    assert "tinyllama:latest" in shown and "acme/tiny-writer" in shown
    stub = home / "ComfyUI" / "models" / "loras" / "stub.safetensors"
    assert view.select(str(stub))
    assert "git lfs pull" in view.details.toPlainText()
    assert not view.use_button.isEnabled() and not view.import_button.isEnabled()

    view.search.setText("tinyllama")
    assert [t for t in titles(view) if not t.endswith(")")] == ["tinyllama:latest"]


def test_use_in_panel_and_import_put_a_usable_model_in_its_picker(qtbot, view, home, services):
    gguf = next(e for e in view.scans.entries if e.source == "ollama").facts.path
    assert view.select(str(gguf)) and view.use_button.isEnabled()
    with qtbot.waitSignal(view.use_model_requested) as used:
        view.use_button.click()
    assert used.args == [str(gguf)]
    view.import_button.click()
    assert [e.path for e in services.model_library.entries(Panel.WRITING)] == [str(gguf.resolve())]


def test_add_folder_scans_it_too(qtbot, view, tmp_path, monkeypatch, services):
    own = tmp_path / "mine"
    save_safetensors(own / "my-checkpoint.safetensors", SD1_KEYS)
    monkeypatch.setattr(models_view_module, "choose_folder", lambda *args: own)
    view.add_folder()
    qtbot.waitUntil(lambda: "my-checkpoint" in titles(view), timeout=20_000)
    assert services.model_library.folders() == [own.resolve()]


def test_a_clean_pickle_is_converted_after_the_user_allows_it(
    qtbot, view, home, monkeypatch, services
):
    checkpoint = home / "stable-diffusion-webui" / "models" / "Stable-diffusion" / "old.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.w": torch.ones(2, 2)}}, checkpoint)
    view.scans.scan()
    qtbot.waitUntil(lambda: view.select(str(checkpoint)), timeout=20_000)
    assert view.convert_button.isEnabled()
    monkeypatch.setattr(
        models_view_module.QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes
    )
    view.convert_selected()
    qtbot.waitUntil(lambda: "Converted old.ckpt" in view.notice.text(), timeout=60_000)
    (converted,) = services.model_library.entries(Panel.IMAGE)
    assert converted.path.endswith(".safetensors")

    # the consent shows with the model, and can be withdrawn
    qtbot.waitUntil(lambda: not view.scans.busy, timeout=20_000)
    assert view.select(str(checkpoint))
    assert "You allowed Studio to unpickle it" in view.details.toPlainText()
    assert view.revoke_button.isVisibleTo(view)
    view.revoke_button.click()
    assert not services.consents.is_granted(ConsentKind.UNPICKLE, checkpoint)
    assert "withdrawn" in view.notice.text() and not view.revoke_button.isVisibleTo(view)


def test_a_conversion_the_user_declines_grants_nothing_and_writes_nothing(
    qtbot, view, home, monkeypatch, services
):
    checkpoint = home / "stable-diffusion-webui" / "models" / "Stable-diffusion" / "old.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.w": torch.ones(2, 2)}}, checkpoint)
    view.scans.scan()
    qtbot.waitUntil(lambda: view.select(str(checkpoint)), timeout=20_000)
    monkeypatch.setattr(
        models_view_module.QMessageBox, "question", lambda *a: QMessageBox.StandardButton.No
    )
    view.convert_selected()
    assert services.consents.list() == ()
    assert not view.revoke_button.isVisibleTo(view)
    assert services.model_library.entries(Panel.IMAGE) == []
    assert not converted_dir(services.paths).exists() or not any(
        converted_dir(services.paths).iterdir()
    )


def test_the_loaded_tab_unloads_a_model_and_keeps_the_idle_and_device_settings(
    qtbot, view, services
):
    asked = []

    def unload(key: str) -> bool:
        asked.append(key)
        services.budget.unloaded("other", key)
        return True

    services.budget.add_owner("other", unload)
    services.budget.loaded("other", "plugin cpu {}", "A model", 5 * 2**20)
    view.refresh_loaded()
    assert view.loaded.item(0, 0).text() == "A model" and view.loaded.item(0, 2).text() == "cpu"
    view.loaded.cellWidget(0, 5).click()
    qtbot.waitUntil(lambda: asked == ["plugin cpu {}"], timeout=5000)
    qtbot.waitUntil(lambda: view.loaded.rowCount() == 0, timeout=5000)

    view.idle_minutes.setValue(15)
    box = view.device_boxes[Panel.IMAGE]
    box.setCurrentIndex(box.findData("cpu"))
    saved = SettingsFile(services.settings_file.path).load()
    assert saved.unload_idle_minutes == 15 and saved.device_for(Panel.IMAGE) == "cpu"
    assert saved.device_for(Panel.WRITING) == saved.device == "auto"
    assert json.loads(services.settings_file.path.read_text())["panel_devices"] == {"image": "cpu"}


def test_a_model_dropped_on_the_window_that_cannot_be_used_is_refused_with_the_reason(
    qtbot, services, tmp_path, monkeypatch
):
    from studio.ui import main_window

    clone = tmp_path / "sd-clone"
    clone.mkdir()
    (clone / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    (clone / "unet").mkdir()
    (clone / "unet" / "diffusion_pytorch_model.safetensors").write_text(LFS_POINTER)
    warnings = []
    monkeypatch.setattr(main_window.QMessageBox, "warning", lambda *args: warnings.append(args))
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    try:
        assert not app.window.take_drop([clone])
        assert "git lfs pull" in warnings[0][2]
        assert services.model_library.entries(Panel.IMAGE) == []
        view = app.window.show_models()
        assert view.isVisible()
    finally:
        app.shutdown()


def test_each_panels_model_picker_lists_the_library_models_its_plugin_can_load_by_source(
    qtbot, services, home
):
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    try:
        window = app.window
        window.discover_plugins()
        writing = window.panels[Panel.WRITING]
        assert writing.model.select_plugin("studio.writer-llamacpp")
        qtbot.waitUntil(
            lambda: len(writing.options.model_picker.found_values()) == 2, timeout=20_000
        )
        window.model_scans.wait()
        picker = writing.options.model_picker
        texts = [picker.combo.itemText(i) for i in range(picker.combo.count())]
        # GGUFs only (llama.cpp's manifest says so), each under where it was found
        assert texts.index("— LM Studio —") < texts.index("acme/tiny-GGUF · tiny-Q8")
        assert texts.index("— Ollama —") < texts.index("tinyllama:latest")
        assert not any("tiny-writer" in text for text in texts)
        ollama = next(v for v in picker.found_values() if "blobs" in v)
        picker.combo.setCurrentIndex(picker.combo.findData(ollama))
        assert writing.model.load_options["model"] == ollama

        # the transformers writer takes the Hugging Face folder and the GGUFs
        assert writing.model.select_plugin("studio.writer-transformers")
        picker = writing.options.model_picker
        assert any(
            v.endswith("tiny-writer") or "acme--tiny-writer" in v for v in picker.found_values()
        )

        # Stable Diffusion: the two checkpoints, not the LoRA nor the LFS stub
        image = window.panels[Panel.IMAGE]
        assert image.model.select_plugin("studio.image-diffusers")
        names = [Path(v).name for v in image.options.model_picker.found_values()]
        assert sorted(names) == ["comfy-sd.safetensors", "dreamy.safetensors"]
        # ... and its LoRAs in the LoRA option's menu (the LFS stub is not one)
        loras = image.options.lora_editor
        assert [a.text() for a in loras.menu.actions()] == ["ink"]
        loras.menu.actions()[0].trigger()
        loras.add("grain", 0.5)
        assert image.model.run_options["loras"] == "ink:1; grain:0.5"

        # a rescan keeps the chosen model chosen
        writing.model.select_plugin("studio.writer-llamacpp")
        picker = writing.options.model_picker
        picker.set_value(ollama)
        window.model_scans.scan()
        window.model_scans.wait()
        qtbot.wait(50)
        assert picker.value() == ollama and len(picker.found_values()) == 2
    finally:
        app.shutdown()
