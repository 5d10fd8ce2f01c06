"""Plugins > Manage Plugins… with the real installer: a tiny folder plugin reviewed, installed
(in the list and its panel's picker without a restart), switched off (greyed in the picker with
the reason) and on, upgraded, uninstalled; a hostile zip refused with its sentence and nothing
installed; a conflicting requirement keeps Install disabled with the reason."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.app import build_app
from studio.core.plugin_install import InstallReview, PluginInstaller, Requirement
from studio.plugin_api import Panel, read_manifest
from studio.ui.plugin_review import NETWORK_BLOCKED, NETWORK_YES, ReviewView, Tone
from studio.ui.plugins_dialog import NAME, SOURCE, STATE, PluginsDialog
from tests.plugins.plugin_factory import PLUGIN_CODE, manifest_text, write_folder_plugin

PLUGIN_ID = "tiny-writer"


def offline(paths, tmp_path: Path) -> PluginInstaller:
    """The installer as the window builds it, with pip kept off the network (an empty local
    wheel folder is the only index)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    return PluginInstaller(paths, pip_args=("--no-index", "--find-links", str(wheels)))


def tiny_plugin(root: Path, version: str = "0.1.0", extra: str = "", **overrides) -> Path:
    text = manifest_text(PLUGIN_ID, "tiny_writer", name="Tiny writer", version=version, **overrides)
    return write_folder_plugin(root / version, "tiny_writer", manifest=text + extra)


@pytest.fixture
def studio(qtbot, services, tmp_path):
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    qtbot.waitUntil(
        lambda: app.window.panels[Panel.WRITING].current_plugin_id() is not None, timeout=10_000
    )
    app.window.installer = offline(services.paths, tmp_path)
    yield app
    app.shutdown()


@pytest.fixture
def dialog(qtbot, services, tmp_path):
    dialog = PluginsDialog(services.registry, offline(services.paths, tmp_path))
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    assert dialog.installs.wait(10)


def open_from_menu(window) -> PluginsDialog:
    (menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&Plugins"]
    (action,) = [a for a in menu.actions() if a.text() == "&Manage Plugins…"]
    action.trigger()
    assert window.plugins_dialog is not None and window.plugins_dialog.isVisible()
    return window.plugins_dialog


def review(qtbot, dialog: PluginsDialog, source) -> None:
    with qtbot.waitSignal(dialog.installs.reviewed, timeout=30_000):
        dialog.review_source(source)
    assert dialog.pages.currentIndex() == 1


def change(qtbot, dialog: PluginsDialog, click) -> None:
    """Do what changes the plugins; return when the dialog (and the window) refreshed."""
    with qtbot.waitSignal(dialog.plugins_changed, timeout=60_000):
        click()
    assert not dialog.error.message


def cells(dialog: PluginsDialog, plugin_id: str) -> dict[int, str] | None:
    item = dialog.item(plugin_id)
    if item is None:
        return None
    return {column: item.text(column) for column in (NAME, SOURCE, STATE)}


def picker(window, plugin_id: str) -> tuple[bool, str] | None:
    """Whether the Writing panel's picker offers ``plugin_id`` (usable) and its tooltip."""
    combo = window.panels[Panel.WRITING].plugin_combo
    index = combo.findData(plugin_id)
    if index < 0:
        return None
    enabled = combo.model().item(index).isEnabled()
    return enabled, str(combo.itemData(index, Qt.ItemDataRole.ToolTipRole) or "")


def answer_next_question(button: QMessageBox.StandardButton) -> None:
    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            box.button(button).click()
        else:
            QTimer.singleShot(20, answer)

    QTimer.singleShot(0, answer)


def test_install_disable_enable_upgrade_uninstall_without_a_restart(qtbot, studio, tmp_path):
    window = studio.window
    dialog = open_from_menu(window)
    assert cells(dialog, PLUGIN_ID) is None and picker(window, PLUGIN_ID) is None
    builtin = next(row for row in dialog.rows if row.source == "Built-in")
    dialog.select(builtin.id)
    assert not dialog.uninstall_button.isEnabled()
    assert "cannot be uninstalled" in dialog.uninstall_button.toolTip()
    assert dialog.enable_button.isEnabled() and dialog.enable_button.text() == "Disable"

    source = tiny_plugin(tmp_path / "src")
    review(qtbot, dialog, source)
    view = dialog.review_view
    assert view.title.text() == "Tiny writer 0.1.0"
    assert view.plugin.value("Id") == PLUGIN_ID
    assert view.plugin.value("Panels") == "Writing"
    assert view.plugin.value("Licence") == "MIT"
    assert view.needs.value("Network") == NETWORK_BLOCKED
    assert view.needs.tone("Network") is Tone.SAFE
    assert view.replaces.isHidden()
    assert dialog.install_button.isEnabled() and not dialog.refusal.text()

    change(qtbot, dialog, dialog.install_button.click)
    assert dialog.pages.currentIndex() == 0
    assert cells(dialog, PLUGIN_ID) == {NAME: "Tiny writer", SOURCE: "Installed", STATE: "Enabled"}
    assert dialog.selected_id() == PLUGIN_ID
    assert "Installed Tiny writer 0.1.0" in dialog.notice.text()
    assert picker(window, PLUGIN_ID) == (True, "")
    assert dialog.enable_button.text() == "Disable" and dialog.enable_button.isEnabled()

    change(qtbot, dialog, dialog.enable_button.click)
    assert cells(dialog, PLUGIN_ID)[STATE] == "Switched off"
    enabled, tooltip = picker(window, PLUGIN_ID)
    assert not enabled and "switched off" in tooltip
    assert dialog.enable_button.text() == "Enable"

    change(qtbot, dialog, dialog.enable_button.click)
    assert cells(dialog, PLUGIN_ID)[STATE] == "Enabled"
    assert picker(window, PLUGIN_ID) == (True, "")

    # a newer version says what it replaces, and declares the network
    review(qtbot, dialog, tiny_plugin(tmp_path / "src", "0.2.0", "[needs]\nnetwork = true\n"))
    assert view.replaces.text() == "Replaces version 0.1.0, installed now."
    assert view.needs.value("Network") == NETWORK_YES
    assert view.needs.tone("Network") is Tone.WARN
    change(qtbot, dialog, dialog.install_button.click)
    assert dialog.row(PLUGIN_ID).version == "0.2.0"

    folder = dialog.row(PLUGIN_ID).installed.folder
    answer_next_question(QMessageBox.StandardButton.Yes)
    change(qtbot, dialog, dialog.uninstall_button.click)
    assert cells(dialog, PLUGIN_ID) is None
    assert picker(window, PLUGIN_ID) is None
    assert not folder.exists()


def test_a_hostile_zip_is_refused_with_its_sentence_and_nothing_installed(
    qtbot, dialog, services, tmp_path
):
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("tiny_writer/studio-plugin.toml", manifest_text(PLUGIN_ID, "tiny_writer"))
        zf.writestr("tiny_writer/tiny_writer.py", PLUGIN_CODE)
        zf.writestr("../evil.py", "print('owned')\n")
    rows_before = [row.id for row in dialog.rows]
    changed: list[object] = []
    dialog.plugins_changed.connect(lambda: changed.append(True))
    with qtbot.waitSignal(dialog.installs.failed, timeout=30_000):
        dialog.review_source(archive)
    sentence = dialog.error.message
    assert "evil" in sentence and "\n" not in sentence and "Traceback" not in sentence
    assert dialog.pages.currentIndex() == 0 and dialog.review is None
    assert [row.id for row in dialog.rows] == rows_before and changed == []
    assert not (tmp_path / "evil.py").exists()
    plugins_dir = services.paths.plugins_dir
    assert not plugins_dir.exists() or not any(
        p.name.startswith("tiny") for p in plugins_dir.iterdir()
    )


def test_a_conflict_keeps_install_disabled_with_its_reason(qtbot, dialog, services, tmp_path):
    # Studio has packaging 2x; a plugin asking for packaging<1 cannot have it without changing
    # Studio's own packages.
    review(qtbot, dialog, tiny_plugin(tmp_path / "src", requires=["packaging<1"]))
    (line,) = dialog.review_view.requirement_lines()
    assert line.startswith("packaging<1: Conflict:")
    assert dialog.review_view.requirements.tone("packaging<1") is Tone.BAD
    assert not dialog.install_button.isEnabled()
    assert dialog.refusal.text().startswith("Cannot install:")
    assert dialog.install_button.toolTip() == dialog.refusal.text()
    staging = dialog.review.staging
    dialog.cancel_button.click()
    assert dialog.pages.currentIndex() == 0 and dialog.review is None
    qtbot.waitUntil(lambda: not dialog.installs.busy, timeout=10_000)
    assert staging is not None and not staging.exists()
    assert dialog.row(PLUGIN_ID) is None


def test_closing_the_dialog_discards_the_review(qtbot, dialog, tmp_path):
    review(qtbot, dialog, tiny_plugin(tmp_path / "src"))
    staging = dialog.review.staging
    dialog.close()
    assert dialog.review is None
    qtbot.waitUntil(lambda: not dialog.installs.busy, timeout=10_000)
    assert staging is not None and not staging.exists()
    assert dialog.row(PLUGIN_ID) is None


def test_the_review_says_what_installing_does_about_each_requirement(qtbot, tmp_path):
    manifest = read_manifest(tiny_plugin(tmp_path) / "studio-plugin.toml")
    requirements = (
        Requirement("packaging>=23", "met", "26.0"),
        Requirement("banner-font>=1.0", "install", "1.0.2"),
    )
    view = ReviewView()
    qtbot.addWidget(view)
    view.show_review(InstallReview("tiny", manifest, "Ada", requirements, 3, 2048))
    assert view.plugin.value("Author") == "Ada"
    assert view.plugin.value("Size") == "3 files, 2.0 KB"
    assert view.requirement_lines() == [
        "packaging>=23: Met by Studio's own packages (26.0)",
        "banner-font>=1.0: To install 1.0.2 into its private folder",
    ]
    assert view.requirements.tone("banner-font>=1.0") is Tone.WARN
    assert view.requirements_note.text().startswith("Installing adds 1 package to a folder")
