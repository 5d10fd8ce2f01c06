"""The recipe dialog: a readable form (labels from the plugin's options), inputs as thumbnails,
Re-run through the window's re-run path, Copy as Command Line, the folded JSON, and keys."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from studio.app import build_app
from studio.cli.main import main
from studio.core.project import ProjectStore
from studio.core.project.store import NewAsset
from studio.core.recipe import Recipe
from studio.core.recipe_command import command_for
from studio.plugin_api import Panel
from studio.plugin_api.kinds import AssetKind
from studio.plugin_api.sample_media import write_sample_png
from studio.ui.asset_browser import AssetBrowser
from studio.ui.recipe_dialog import THUMBNAIL, RecipeDialog
from tests.core.fixtures.media_samples import audio_bytes, png_bytes
from tests.core.test_recipe_command import write_knobs_plugin
from tests.plugins.plugin_factory import write_folder_plugin
from tests.qt.asset_samples import add


def generate(capsys, project: Path, *args: str) -> str:
    """Run ``studio generate`` into ``project``; the id of the asset made."""
    code = main(["generate", *args[:1], "--project", str(project), *args[1:], "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (asset,) = json.loads(captured.out)["assets"]
    return asset["asset_id"]


@pytest.fixture
def browser(qtbot, services, session):
    browser = AssetBrowser(session, registry=services.registry, search_delay_ms=20)
    qtbot.addWidget(browser)
    yield browser
    for dialog in list(browser._dialogs):
        dialog.close()
    browser.shutdown()


def open_dialog(qtbot, browser: AssetBrowser, asset_id: str) -> RecipeDialog:
    dialog = browser.show_recipe(asset_id)
    qtbot.waitExposed(dialog)
    return dialog


@pytest.fixture
def knobs_project(services, session, studio_data_dir, tmp_path, capsys) -> tuple[Path, str]:
    """A project with a caption made by the knobs plugin (options with labels of their own)
    from an image, opened in the session."""
    write_knobs_plugin(studio_data_dir)
    services.registry.discover()
    project = tmp_path / "knobs.studio"
    image = write_sample_png(tmp_path / "holiday.png")
    asset_id = generate(
        capsys,
        project,
        "caption",
        "--plugin",
        "knobs",
        "--input",
        f"image={image}",
        "--set",
        "guidance_scale=7.25",
        "--set",
        "hires_fix=true",
        "--set",
        "sampler=dpm++ 2m",
        "--set",
        "precision=fp32",
        "--set",
        "seed=99",
        "--set",
        "question=what is in it?",
    )
    session.open(project)
    return project, asset_id


# The form ---------------------------------------------------------------------------------


def test_settings_show_the_plugins_labels_and_values_in_words(qtbot, browser, knobs_project):
    _, asset_id = knobs_project
    dialog = open_dialog(qtbot, browser, asset_id)
    assert dialog.windowTitle() == "Recipe of “knobs”"
    made_by = dict(dialog.rows("Made by"))
    assert made_by["Plugin"] == "Knobs 0.1.0"
    assert made_by["Model"].startswith("none")
    assert dialog.rows("Settings") == [
        ("Seed", "99"),
        ("Precision", "fp32"),
        ("Guidance", "7.25"),
        ("High-res fix", "Yes"),
        ("Sampler", "dpm++ 2m"),
        ("Style note", "(empty)"),
        ("Passes", "1"),
    ]
    assert dialog.rows("Request") == [("Question", "what is in it?")]
    assert ("Device", "auto") in dialog.rows("Run")  # as asked for (the preference's default)
    assert dialog.summary.text() == "Made by Knobs 0.1.0."


def test_the_input_is_a_thumbnail_with_its_role_and_opens_its_own_recipe(
    qtbot, browser, knobs_project
):
    _, asset_id = knobs_project
    dialog = open_dialog(qtbot, browser, asset_id)
    (row,) = dialog.input_rows
    assert (row.role, row.title, row.kind) == ("image", "holiday", AssetKind.IMAGE)
    assert row.thumbnail is not None and not row.thumbnail.isNull()
    size = row.thumbnail.deviceIndependentSize()
    assert max(size.width(), size.height()) <= THUMBNAIL
    assert "holiday" in row.label.text() and row.asset_id in row.label.text()
    with qtbot.waitSignal(dialog.asset_requested) as requested:
        row.label.linkActivated.emit(row.asset_id)  # what a click on the title sends
    assert requested.args == [row.asset_id]
    opened = browser._dialogs[-1]
    assert opened is not dialog and opened.windowTitle() == "Recipe of “holiday”"
    assert dict(opened.rows("Imported"))["File"] == "holiday.png"


def test_other_inputs_show_their_kind_and_missing_ones_say_so(qtbot, browser, session, tmp_path):
    ProjectStore.create(tmp_path / "p.studio").close()
    session.open(tmp_path / "p.studio")
    store = session.store
    voice = add(store, AssetKind.AUDIO, audio_bytes("FLAC", frames=1600), title="a voice")
    gone = add(store, AssetKind.IMAGE, png_bytes(4, 4), title="purged later")
    made = add(
        store,
        AssetKind.AUDIO,
        audio_bytes("FLAC", frames=800),
        title="spoken",
        inputs=((voice.id, "reference"), (gone.id, "init")),
    )
    store.delete_asset(gone.id)
    store.purge_deleted()
    dialog = open_dialog(qtbot, browser, made.id)
    reference, missing = dialog.input_rows
    assert (reference.role, reference.kind, reference.thumbnail) == (
        "reference",
        AssetKind.AUDIO,
        None,
    )
    assert "Audio" in reference.label.text() and "a voice" in reference.label.text()
    assert (missing.role, missing.title, missing.kind) == ("init", "", None)
    assert "not in this project any more" in missing.label.text()
    assert gone.id in missing.label.text()


def options_recipe(plugin_id: str, run_options: dict) -> Recipe:
    return Recipe(
        panel=Panel.CAPTIONING,
        plugin_id=plugin_id,
        plugin_version="0.0.9",
        seed=4,
        run_options=run_options,
        request={"question": ""},
        details={"device": "cpu"},
    )


def add_recipe(store: ProjectStore, recipe: Recipe) -> str:
    (asset,) = store.add_assets(
        [
            NewAsset(
                kind=AssetKind.CAPTION,
                data=b"a caption",
                media_type="text/plain",
                recipe=recipe,
                title="old caption",
            )
        ]
    )
    return asset.id


def test_options_the_plugin_no_longer_has_keep_their_name_and_are_marked(
    qtbot, browser, knobs_project
):
    recipe = options_recipe("knobs", {"seed": 4, "guidance_scale": 3.0, "old_knob": 2})
    asset_id = add_recipe(browser.session.store, recipe)
    dialog = open_dialog(qtbot, browser, asset_id)
    settings = dict(dialog.rows("Settings"))
    assert settings["Guidance"] == "3"
    assert (
        settings["old_knob"].startswith("2")
        and "not an option of Knobs 0.1.0" in settings["old_knob"]
    )
    label, value = dialog.sections["Settings"].rows[-1]
    assert label.font().italic() and value.font().italic()
    assert not dialog.sections["Settings"].rows[1][1].font().italic()
    made_by = dict(dialog.rows("Made by"))
    assert made_by["Plugin"] == "Knobs 0.0.9 (version 0.1.0 is installed now)"


def test_a_plugin_that_is_not_installed_is_named_by_id_and_cannot_rerun(
    qtbot, browser, knobs_project
):
    recipe = options_recipe("someone.gone", {"seed": 4, "strength": 0.5})
    asset_id = add_recipe(browser.session.store, recipe)
    dialog = open_dialog(qtbot, browser, asset_id)
    assert dict(dialog.rows("Made by"))["Plugin"] == "someone.gone 0.0.9, not installed"
    assert dict(dialog.rows("Settings"))["strength"] == "0.5"
    assert not dialog.rerun_button.isEnabled()
    assert "someone.gone" in dialog.rerun_button.toolTip()
    assert dialog.command_button.isEnabled()  # the command still says what made it


def test_a_plugin_that_cannot_run_here_is_named_and_says_why(
    qtbot, browser, services, studio_data_dir, knobs_project
):
    write_folder_plugin(
        studio_data_dir / "plugins", "too_new", api_version=7, panels=["captioning"]
    )
    services.registry.discover()
    asset_id = add_recipe(browser.session.store, options_recipe("too-new", {"seed": 4}))
    dialog = open_dialog(qtbot, browser, asset_id)
    assert dict(dialog.rows("Made by"))["Plugin"] == "Too-New 0.0.9, cannot run here"
    assert not dialog.rerun_button.isEnabled()
    assert "update Studio" in dialog.rerun_button.toolTip()


def test_request_fields_in_the_panels_order_and_long_texts_shortened(
    qtbot, browser, session, tmp_path
):
    ProjectStore.create(tmp_path / "p.studio").close()
    session.open(tmp_path / "p.studio")
    long_prompt = "word " * 1000
    asset = add(
        session.store,
        AssetKind.IMAGE,
        png_bytes(),
        title="cat",
        request={"prompt": long_prompt, "negative_prompt": "dogs"},
    )
    dialog = open_dialog(qtbot, browser, asset.id)
    (prompt_label, prompt), negative = dialog.rows("Request")
    assert prompt_label == "Prompt" and negative == ("Negative prompt", "dogs")
    assert prompt.startswith(long_prompt[:2000]) and "3,000 more characters" in prompt
    assert long_prompt in dialog.json_text  # kept whole where it is copied from


# Buttons and keys ---------------------------------------------------------------------------


def test_rerun_goes_to_the_browsers_rerun_request_and_closes(qtbot, browser, knobs_project):
    _, asset_id = knobs_project
    dialog = open_dialog(qtbot, browser, asset_id)
    assert dialog.rerun_button.isVisible() and dialog.rerun_button.isEnabled()
    with qtbot.waitSignal(browser.rerun_requested) as rerun:
        qtbot.mouseClick(dialog.rerun_button, Qt.MouseButton.LeftButton)
    assert rerun.args == [asset_id]
    assert not dialog.isVisible()


def test_ctrl_r_reruns_and_escape_closes(qtbot, browser, knobs_project):
    _, asset_id = knobs_project
    dialog = open_dialog(qtbot, browser, asset_id)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    with qtbot.waitSignal(dialog.rerun_requested) as rerun:
        qtbot.keyClick(dialog, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert rerun.args == [asset_id]
    dialog = open_dialog(qtbot, browser, asset_id)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    with qtbot.assertNotEmitted(dialog.rerun_requested):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_enter_closes_rather_than_running_anything(qtbot, browser, knobs_project):
    _, asset_id = knobs_project
    dialog = open_dialog(qtbot, browser, asset_id)
    with qtbot.assertNotEmitted(dialog.rerun_requested):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert not dialog.isVisible()


def test_copy_as_command_line_puts_the_generate_line_on_the_clipboard(
    qtbot, browser, knobs_project
):
    project, asset_id = knobs_project
    dialog = open_dialog(qtbot, browser, asset_id)
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.command_button, Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().text()
    recipe = browser.session.asset(asset_id).recipe
    assert shlex.split(copied) == command_for(recipe, project)
    assert "--set 'sampler=dpm++ 2m'" in copied
    assert "Copied" in dialog.status_label.text()


def test_the_json_is_folded_until_asked_for_and_copied_whole(qtbot, browser, knobs_project):
    _, asset_id = knobs_project
    dialog = open_dialog(qtbot, browser, asset_id)
    recipe = browser.session.asset(asset_id).recipe
    assert not dialog.recipe_view.isVisible()
    qtbot.mouseClick(dialog.json_toggle, Qt.MouseButton.LeftButton)
    assert dialog.recipe_view.isVisible()
    assert dialog.recipe_view.toPlainText() == recipe.to_json_text(indent=2)
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == recipe.to_json_text(indent=2)
    qtbot.mouseClick(dialog.json_toggle, Qt.MouseButton.LeftButton)
    assert not dialog.recipe_view.isVisible()


def test_an_imported_asset_shows_its_file_and_has_no_rerun(qtbot, browser, session, tmp_path):
    ProjectStore.create(tmp_path / "p.studio").close()
    session.open(tmp_path / "p.studio")
    report = session.import_files([write_sample_png(tmp_path / "beach day.png")]).result()
    (asset,) = report.assets
    dialog = open_dialog(qtbot, browser, asset.id)
    rows = dict(dialog.rows("Imported"))
    assert rows["File"] == "beach day.png"
    assert rows["Imported"] == asset.recipe.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert (rows["Width"], rows["Height"]) == ("32", "32")
    assert dialog.summary.text() == "Imported from beach day.png."
    assert not dialog.rerun_button.isVisible() and not dialog.command_button.isVisible()
    assert dialog.copy_button.isVisible()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    with qtbot.assertNotEmitted(dialog.rerun_requested):
        qtbot.keyClick(dialog, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert dialog.isVisible()


def test_a_read_only_project_cannot_rerun(qtbot, browser, session, tmp_path):
    project = tmp_path / "p.studio"
    with ProjectStore.create(project) as store:
        asset = add(store, AssetKind.TEXT, b"words", title="words")
    project.chmod(0o444)
    try:
        session.open(project)
        assert session.store.read_only
        dialog = open_dialog(qtbot, browser, asset.id)
        assert dialog.rerun_button.isVisible() and not dialog.rerun_button.isEnabled()
        assert "read-only" in dialog.rerun_button.toolTip()
        dialog.close()
    finally:
        project.chmod(0o644)


def test_opening_another_project_closes_the_dialogs_of_the_last(
    qtbot, browser, session, knobs_project, tmp_path
):
    _, asset_id = knobs_project
    dialog = open_dialog(qtbot, browser, asset_id)
    ProjectStore.create(tmp_path / "other.studio").close()
    session.open(tmp_path / "other.studio")
    qtbot.waitUntil(lambda: not dialog.isVisible())
    with qtbot.assertNotEmitted(browser.rerun_requested):
        browser.rerun_asset(asset_id)  # not in this project: a message, not an error
    assert "not in this project" in browser.status_label.text()


# In the window ---------------------------------------------------------------------------


def test_rerun_from_the_dialog_makes_the_asset_again_in_its_panel(qtbot, services):
    # the shipped default: each panel's models run in a process of their own
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    try:
        window = app.window
        panel = window.panels[Panel.IMAGE]
        qtbot.waitUntil(lambda: panel.current_plugin_id() is not None, timeout=10_000)
        panel.prompt.setPlainText("a red square")
        with qtbot.waitSignal(app.runners[Panel.IMAGE].finished, timeout=10_000) as done:
            panel.run_button.click()
        (asset_id,) = done.args[1]
        dialog = window.browser.show_recipe(asset_id)
        with qtbot.waitSignal(app.runners[Panel.IMAGE].finished, timeout=10_000) as again:
            dialog.rerun_button.click()
        (rerun_id,) = again.args[1]
        store = app.session.store
        assert store.get_asset(rerun_id).recipe.details["rerun_of"] == asset_id
        assert store.read_blob(rerun_id) == store.read_blob(asset_id)
        assert window.tabs.currentWidget() is panel
    finally:
        app.shutdown()
