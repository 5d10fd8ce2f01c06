"""Every way a job starts goes through the one pipeline: a panel's Run, ``studio generate``, a
recipe run again, a caption batch. A refused input leaves the project file byte for byte as it
was (not even SQLite's change counter moves), and the same request gives the same recipe
whichever way it came."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.project.store import ProjectStore
from studio.core.settings import Settings
from studio.plugin_api import AssetKind, Panel
from studio.plugin_api.sample_media import write_sample_png
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.project_session import ProjectSession
from studio.ui.panels.captioning import CaptioningPanel

DESCRIBE = "studio-test.describe"

pytestmark = pytest.mark.usefixtures("test_plugins")


def file_state(project: Path) -> dict[str, bytes]:
    """The project's file and any journal beside it, byte for byte."""
    return {
        p.name: p.read_bytes()
        for p in sorted(project.parent.iterdir())
        if p.name.startswith(project.name)
    }


@pytest.fixture
def project(tmp_path) -> Path:
    path = tmp_path / "work.studio"
    with ProjectStore.create(path) as store:
        store.create_document("Something already in the project.")
    return path


@pytest.fixture
def truncated(tmp_path) -> Path:
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo.read_bytes()[:60])  # a PNG by its first bytes; its check fails later
    return cut


@pytest.fixture
def panel(qtbot, services, project):
    """The Captioning panel on ``project``, its jobs in a model process (the shipped default)."""
    services.settings = Settings()  # models in a separate process
    session = ProjectSession(services.paths.data_dir)
    session.open(project)
    runner = PanelJobRunner(services.panel_executor("captioning"), "captioning")
    widget = CaptioningPanel(services, session, runner)
    qtbot.addWidget(widget)
    widget.refresh_plugins()
    assert widget.select_plugin(DESCRIBE)
    yield widget
    assert runner.shutdown(10_000)
    runner.executor.shutdown()
    session.close()


def test_the_panel_refuses_inputs_without_touching_the_project(qtbot, panel, project, tmp_path):
    before = file_state(project)
    sound = tmp_path / "song.wav"
    sound.write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    panel.image_input.set_path(sound)
    panel.run()  # refused by the check, before anything is queued
    assert "song.wav is audio, but the 'image' input" in panel.error_banner.label.text()
    assert not panel.runner.busy
    assert file_state(project) == before


def test_the_panel_refuses_a_damaged_input_that_passed_its_first_bytes(
    qtbot, panel, project, truncated
):
    before = file_state(project)
    panel.image_input.set_path(truncated)
    with qtbot.waitSignal(panel.runner.failed, timeout=30_000) as failed:
        panel.run()  # the job starts at once; the input's complete check fails beside it
    assert "cut.png cannot be imported" in failed.args[1]
    assert file_state(project) == before
    panel.session.close()
    assert file_state(project) == before


def test_the_command_line_refuses_inputs_without_touching_the_project(project, truncated, capsys):
    before = file_state(project)
    code = main(
        ["generate", "caption", "--project", str(project), "--plugin", DESCRIBE,
         "--input", str(truncated)]
    )  # fmt: skip
    assert code == 2
    assert "cut.png cannot be imported" in capsys.readouterr().err
    assert file_state(project) == before


def test_a_batch_of_refused_images_leaves_the_project_as_it_was(project, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "empty.png").write_bytes(b"")
    (folder / "words.jpg").write_text("not a picture")
    before = file_state(project)
    code = main(
        ["generate", "caption", "--project", str(project), "--plugin", DESCRIBE,
         "--input-dir", str(folder)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and "0 captioned, 2 skipped" in err
    assert file_state(project) == before


def test_a_rerun_whose_input_is_gone_leaves_the_project_as_it_was(project, tmp_path, capsys):
    photo = write_sample_png(tmp_path / "photo.png", 20, 20)
    code = main(
        ["generate", "caption", "--project", str(project), "--plugin", DESCRIBE,
         "--input", str(photo), "--json"]
    )  # fmt: skip
    assert code == 0
    (made,) = json.loads(capsys.readouterr().out)["assets"]
    with ProjectStore.open(project) as store:
        (link,) = store.get_asset(made["asset_id"]).recipe.inputs
        store.delete_asset(link.asset_id)
        store.purge_deleted()
    before = file_state(project)
    code = main(["recipe", "rerun", str(project), made["asset_id"]])
    assert code == 2
    assert "is not in this project" in capsys.readouterr().err
    assert file_state(project) == before


def comparable(recipe) -> dict:
    data = recipe.to_json()
    for moment in ("created_at",):
        data.pop(moment)
    data["details"].pop("rerun_of", None)
    return data


def test_the_same_request_gives_the_same_recipe_from_every_entry_point(
    qtbot, panel, project, tmp_path, capsys
):
    photo = write_sample_png(tmp_path / "photo.png", 24, 16)
    # The panel (its model process).
    panel.image_input.set_path(photo)
    panel.question.setText("What is it?")
    with qtbot.waitSignal(panel.runner.finished, timeout=30_000) as finished:
        panel.run()
    (from_panel,) = finished.args[1]
    panel_recipe = panel.session.asset(from_panel).recipe
    panel.session.close()
    # The command line.
    code = main(
        ["generate", "caption", "--project", str(project), "--plugin", DESCRIBE,
         "--input", str(photo), "--set", "question=What is it?", "--json"]
    )  # fmt: skip
    assert code == 0
    (from_cli,) = json.loads(capsys.readouterr().out)["assets"]
    # The recipe run again.
    assert main(["recipe", "rerun", str(project), from_panel, "--json"]) == 0
    (from_rerun,) = json.loads(capsys.readouterr().out)["assets"]
    # A caption batch over a folder that holds the same picture.
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "photo.png").write_bytes(photo.read_bytes())
    code = main(
        ["generate", "caption", "--project", str(project), "--plugin", DESCRIBE,
         "--input-dir", str(folder), "--set", "question=What is it?", "--json"]
    )  # fmt: skip
    assert code == 0
    (from_batch,) = json.loads(capsys.readouterr().out)["assets"]
    made = (from_cli, from_rerun, from_batch)
    with ProjectStore.open(project, read_only=True) as store:
        recipes = [store.get_asset(a["asset_id"]).recipe for a in made]
        assert store.counts_by_kind()[AssetKind.IMAGE] == 1  # the same picture each time
        assert store.get_asset(from_rerun["asset_id"]).recipe.details["rerun_of"] == from_panel
    for recipe in recipes:
        assert comparable(recipe) == comparable(panel_recipe)
    assert panel_recipe.panel is Panel.CAPTIONING
