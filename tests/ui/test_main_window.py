"""The whole window with the light test plugins: tabs, menus, a job into the project and the
browser, re-run from the browser, preferences, and nothing heavy imported while idle."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtWidgets import QDialog, QLabel

from studio.app import build_app
from studio.plugin_api import Panel
from studio.ui.main_window import PANEL_TITLES


@pytest.fixture
def studio(qtbot, services):
    # the shipped default: each panel's models run in a process of their own
    assert services.settings.isolate_models
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    qtbot.waitUntil(
        lambda: app.window.panels[Panel.WRITING].current_plugin_id() is not None, timeout=10_000
    )
    yield app
    app.shutdown()


def menu_texts(window) -> dict[str, list[str]]:
    menus = {}
    for action in window.menuBar().actions():
        menu = action.menu()
        menus[action.text().replace("&", "")] = [
            a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()
        ]
    return menus


def test_tabs_and_menus_exist(studio):
    window = studio.window
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs == list(PANEL_TITLES.values())
    menus = menu_texts(window)
    assert list(menus) == ["File", "Edit", "View", "Plugins", "Help"]
    assert menus["File"] == [
        "New Project",
        "Open…",
        "Open Recent",
        "Save As…",
        "Import Media…",
        "Export…",
        "Repair Project…",
        "Quit",
    ]
    undo, redo, preferences = menus["Edit"]
    assert undo.startswith("Undo") and redo.startswith("Redo") and preferences == "Preferences…"
    assert "Asset Browser" in menus["View"]
    assert menus["Help"] == ["Keyboard Shortcuts", "Welcome", "About Studio"]
    assert window.device_label.text() == "Device: cpu"
    assert window.jobs_label.text() == "No jobs"


def test_a_job_lands_in_the_project_and_the_browser_then_reruns(qtbot, studio):
    window = studio.window
    panel = window.panels[Panel.IMAGE]
    window.tabs.setCurrentWidget(panel)
    panel.prompt.setPlainText("a red square")
    with qtbot.waitSignal(studio.runners[Panel.IMAGE].finished, timeout=10_000) as done:
        panel.run_button.click()
    (asset_id,) = done.args[1]
    model = window.browser.model
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    assert studio.session.store.count_assets() == 1
    with qtbot.waitSignal(studio.runners[Panel.IMAGE].finished, timeout=10_000) as again:
        window.rerun_asset(asset_id)
    rerun = studio.session.asset(again.args[1][0])
    assert rerun.recipe.seed == studio.session.asset(asset_id).recipe.seed
    assert studio.session.store.read_blob(rerun.id) == studio.session.store.read_blob(asset_id)
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)


def test_opening_an_asset_switches_to_its_panel(qtbot, studio):
    window = studio.window
    writing = window.panels[Panel.WRITING]
    writing.open_text("hello window")
    with qtbot.waitSignal(studio.runners[Panel.WRITING].finished, timeout=10_000) as done:
        writing.run_button.click()
    writing.discard_pending()
    window.tabs.setCurrentIndex(3)
    writing.open_text("")
    window.open_asset(done.args[1][0])
    assert window.tabs.currentWidget() is writing
    assert writing.document.toPlainText() == "hello window"


def test_undo_redo_of_delete_through_the_edit_menu(qtbot, studio, tmp_path):
    from studio.plugin_api.sample_media import write_sample_png

    report = studio.session.import_files([write_sample_png(tmp_path / "x.png")]).result()
    assert report.refused == () and len(report.added) == 1
    studio.session.delete(list(report.added))
    assert studio.session.store.count_assets() == 0
    studio.session.undo_stack.undo()
    assert studio.session.store.count_assets() == 1


def test_the_idle_window_imports_no_model_library():
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from studio.app import build_app\n"
        "studio = build_app()\n"
        "studio.window.show()\n"
        "import time\n"
        "end = time.time() + 3\n"
        "while time.time() < end: app.processEvents()\n"
        "heavy = [m for m in ('torch', 'transformers', 'diffusers', 'TTS') if m in sys.modules]\n"
        "studio.shutdown()\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr


def test_a_panel_job_runs_in_a_model_process_by_default(qtbot, studio):
    writing = studio.window.panels[Panel.WRITING]
    writing.open_text("from another process")
    with qtbot.waitSignal(studio.runners[Panel.WRITING].finished, timeout=30_000) as done:
        writing.run_button.click()
    assert studio.executors[Panel.WRITING].child_pid is not None
    assert writing.document.toPlainText() == "from another process" * 2
    assert studio.session.asset(done.args[1][0]).recipe.plugin_id == "studio-test.echo"


def test_opening_a_project_checks_it_in_the_background(qtbot, studio, tmp_path):
    from studio.core.project.store import ProjectStore

    path = tmp_path / "fine.studio"
    ProjectStore.create(path).close()
    reports = []
    studio.session.integrity_problem.connect(reports.append)
    assert studio.window.open_project(path)
    qtbot.wait(300)
    assert studio.session.store.quick_check().result(5).ok
    assert reports == []
    assert studio.window.windowTitle() == "fine — Studio"


def test_damage_found_by_the_check_is_reported(qtbot, studio, monkeypatch):
    from concurrent.futures import Future

    from studio.core.project.checks import IntegrityReport
    from studio.ui import main_window

    warnings = []
    monkeypatch.setattr(main_window.QMessageBox, "warning", lambda *args: warnings.append(args))
    future: Future = Future()
    future.set_result(IntegrityReport(problems=("page 7 is corrupt",)))
    with qtbot.waitSignal(studio.session.integrity_problem) as reported:
        studio.session._quick_check_done(future)
    assert reported.args == ["page 7 is corrupt"]
    qtbot.waitUntil(lambda: bool(warnings), timeout=2000)
    assert "page 7 is corrupt" in warnings[0][2]


def test_a_second_launch_opens_its_project_in_this_window(qtbot, studio, tmp_path):
    """`studio P.studio` while Studio runs: the path goes to this window, the launch exits."""
    import os

    from studio.app import listen_for_launches
    from studio.core.project.store import ProjectStore
    from studio.qt.single_instance import server_name

    project = tmp_path / "double-clicked.studio"
    ProjectStore.create(project).close()
    server = listen_for_launches(studio, server_name(studio.services.paths.data_dir))
    second = subprocess.Popen(
        [sys.executable, "-c", "from studio.cli.main import run; run()", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    qtbot.waitUntil(lambda: second.poll() is not None, timeout=60_000)
    _, err = second.communicate()
    assert second.returncode == 0, err
    assert "already running" in err
    qtbot.waitUntil(lambda: studio.window.session.path == project, timeout=10_000)
    server.close()


def test_the_welcome_shows_once(qtbot, studio):
    from studio.ui.welcome import WELCOME_SHOWN_KEY

    window = studio.window
    studio.window.qsettings.remove(WELCOME_SHOWN_KEY)
    window.welcome_if_first_launch()
    dialogs = window.findChildren(QDialog, "welcome")
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    text = dialogs[0].findChild(QLabel).text()
    assert "Gemma 3 270M" in text and str(studio.services.paths.data_dir) in text
    dialogs[0].accept()
    window.welcome_if_first_launch()
    assert not any(d.isVisible() for d in window.findChildren(QDialog, "welcome"))


def drop_files(qtbot, widget, paths):
    """Drag these files over ``widget`` and drop them (as a file manager would)."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = widget.rect().center()
    enter = QDragEnterEvent(
        point,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(
        QPointF(point),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, drop)
    return enter, drop


def test_a_project_dropped_on_the_window_opens(qtbot, studio, tmp_path):
    from studio.core.project.store import ProjectStore

    project = tmp_path / "dropped.studio"
    ProjectStore.create(project).close()
    window = studio.window
    accepted, message = window.drop_answer([project])
    assert accepted and message == "Drop to open the project dropped.studio"
    enter, drop = drop_files(qtbot, window, [project])
    assert enter.isAccepted() and drop.isAccepted()
    assert window.session.path == project
    assert not window.drop_overlay.isVisible()


def test_what_the_window_cannot_take_is_refused_with_a_reason(qtbot, studio, tmp_path):
    photo = tmp_path / "notes.txt"
    photo.write_text("hello")
    window = studio.window
    before = window.session.path
    _enter, drop = drop_files(qtbot, window, [photo])
    assert not drop.isAccepted()
    assert "not a project or a model" in window.statusBar().currentMessage()
    assert window.session.path == before


def test_a_dropped_model_goes_to_the_panel_that_loads_it(qtbot, studio, tmp_path):
    import json

    from studio.plugin_api import Panel
    from tests.model_homes import save_safetensors

    model = tmp_path / "my-lm"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    save_safetensors(model / "model.safetensors", ["transformer.wte.weight"])
    window = studio.window
    accepted, message = window.drop_answer([model])
    assert accepted and "Writing panel" in message
    writing = window.panels[Panel.WRITING]
    window.take_drop([model])
    assert window.tabs.currentWidget() is writing
    if writing.load_form is not None and "model" in writing.load_form.editors:
        assert writing.load_form.values()["model"] == str(model)
    else:  # the light test plugin takes no model: the window says so
        assert "takes no model file" in window.statusBar().currentMessage()
