"""The Jobs view in the whole window, with the light test plugins in their model processes: the
status bar's job count and View > Jobs open it; Cancel, Re-run and Clear Finished; a failed
job's error in full; a double-click shows a finished job's asset."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from studio.app import build_app
from studio.core.pipeline import Draft
from studio.plugin_api import Panel
from studio.qt.jobs_model import JobState


@pytest.fixture
def studio(qtbot, services):
    app = build_app(services=services)
    qtbot.addWidget(app.window)
    qtbot.waitUntil(
        lambda: app.window.panels[Panel.WRITING].current_plugin_id() is not None, timeout=10_000
    )
    yield app
    app.shutdown()


def echo(prompt: str, **options) -> Draft:
    return Draft(
        plugin_id="studio-test.echo",
        panel=Panel.WRITING,
        fields={"prompt": prompt},
        run_options=options,
    )


def gradient(prompt: str, **options) -> Draft:
    return Draft(
        plugin_id="studio-test.gradient",
        panel=Panel.IMAGE,
        fields={"prompt": prompt},
        run_options=options,
    )


def last_job(window):
    return window.jobs.job(window.jobs.rowCount() - 1)


def ended(job) -> bool:
    return not job.state.active


def test_the_job_count_and_the_view_menu_open_the_jobs_view(qtbot, studio):
    window = studio.window
    assert window.jobs_view is None
    qtbot.mouseClick(window.jobs_label, Qt.MouseButton.LeftButton)
    view = window.jobs_view
    assert view is not None and view.isVisible() and not view.isModal()
    assert view.table.model() is window.jobs
    view.close()

    (action,) = [a for a in window.findChildren(QAction) if a.text() == "&Jobs"]
    assert action.shortcut() == QKeySequence("Ctrl+J")
    action.trigger()
    assert window.jobs_view is view and view.isVisible()  # the same window again


def test_jobs_of_every_panel_are_listed(qtbot, studio):
    window = studio.window
    view = window.show_jobs()
    assert view.counts.text() == "No jobs yet"
    window.run_draft(echo("hello there"))
    window.run_draft(gradient("a red square"))
    jobs = window.jobs.jobs()
    assert [(j.panel, j.title) for j in jobs] == [
        (Panel.WRITING, "Echo (test plugin): hello there"),
        (Panel.IMAGE, "Gradient (test plugin): a red square"),
    ]
    qtbot.waitUntil(lambda: all(ended(j) for j in jobs), timeout=20_000)
    assert [j.state for j in jobs] == [JobState.DONE, JobState.DONE]
    assert view.counts.text() == "2 done"
    assert window.jobs_label.text() == "No jobs"


def test_cancel_a_queued_and_a_running_job(qtbot, studio):
    window = studio.window
    view = window.show_jobs()
    window.run_draft(echo("one two three four", delay_ms=2000))
    running = last_job(window)
    window.run_draft(echo("waits its turn"))
    queued = last_job(window)
    qtbot.waitUntil(lambda: running.state is JobState.RUNNING, timeout=20_000)
    assert queued.state is JobState.QUEUED

    assert view.select_job(queued.job_id)
    assert view.cancel_button.isEnabled() and not view.rerun_button.isEnabled()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert queued.state is JobState.CANCELLED  # at once: it left the queue
    assert running.state is JobState.RUNNING
    assert not view.cancel_button.isEnabled() and view.rerun_button.isEnabled()

    assert view.select_job(running.job_id)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ended(running), timeout=10_000)
    assert running.state is JobState.CANCELLED
    assert studio.session.store.count_assets() == 0
    assert "Cancelled" in view.details.toPlainText()


def test_a_failed_job_shows_its_error_and_reruns_as_it_was_asked(qtbot, studio):
    window = studio.window
    view = window.show_jobs()
    window.run_draft(echo("not this time", fail_at_step=1))
    failed = last_job(window)
    qtbot.waitUntil(lambda: ended(failed), timeout=20_000)
    assert failed.state is JobState.FAILED
    view.select_job(failed.job_id)
    message = "DeliberateFailure: The test plugin failed on purpose at step 1."
    assert failed.error == message
    assert view.details.toPlainText().endswith(f"Failed:\n{message}")

    assert view.rerun_button.isEnabled() and not view.cancel_button.isEnabled()
    qtbot.mouseClick(view.rerun_button, Qt.MouseButton.LeftButton)
    again = last_job(window)
    assert again.job_id != failed.job_id and again.title == failed.title
    qtbot.waitUntil(lambda: ended(again), timeout=20_000)
    assert again.state is JobState.FAILED and again.error == message


def test_rerun_a_cancelled_and_a_finished_job(qtbot, studio):
    window = studio.window
    view = window.show_jobs()
    store = studio.session.store
    window.run_draft(gradient("dusk", seed=-1, delay_ms=3000))
    cancelled = last_job(window)
    qtbot.waitUntil(lambda: cancelled.state is JobState.RUNNING, timeout=20_000)
    view.select_job(cancelled.job_id)
    view.cancel_selected()
    qtbot.waitUntil(lambda: ended(cancelled), timeout=10_000)
    assert cancelled.state is JobState.CANCELLED and store.count_assets() == 0

    # its draft again: the same prompt and seed (and the same delay, so it takes a moment)
    qtbot.mouseClick(view.rerun_button, Qt.MouseButton.LeftButton)
    rerun = last_job(window)
    assert rerun.job_id != cancelled.job_id and window.jobs.rowCount() == 2
    qtbot.waitUntil(lambda: ended(rerun), timeout=30_000)
    (made,) = rerun.asset_ids
    asset = studio.session.asset(made)
    assert asset.recipe.seed == cancelled.draft.run_options["seed"]
    assert asset.recipe.request["prompt"] == "dusk"

    # a finished job: its asset's recipe again
    view.select_job(rerun.job_id)
    assert view.rerun_button.isEnabled()
    qtbot.mouseClick(view.rerun_button, Qt.MouseButton.LeftButton)
    second = last_job(window)
    assert second.job_id != rerun.job_id
    qtbot.waitUntil(lambda: ended(second), timeout=30_000)
    (again,) = second.asset_ids
    recipe = studio.session.asset(again).recipe
    assert recipe.details["rerun_of"] == made and recipe.seed == asset.recipe.seed
    assert store.read_blob(again) == store.read_blob(made)

    assert view.clear_button.isEnabled()
    qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    assert window.jobs.rowCount() == 0 and not view.clear_button.isEnabled()


def test_double_click_shows_a_finished_jobs_asset(qtbot, studio):
    window = studio.window
    view = window.show_jobs()
    # seeds a spin box holds: opening an asset puts its settings back in the panel's form
    window.run_draft(gradient("first light", seed=11))
    first = last_job(window)
    window.run_draft(gradient("second light", seed=12))
    second = last_job(window)
    qtbot.waitUntil(lambda: ended(first) and ended(second), timeout=20_000)
    image = window.panels[Panel.IMAGE]
    qtbot.waitUntil(lambda: image.caption.text().startswith("second light"), timeout=5000)
    window.tabs.setCurrentWidget(window.panels[Panel.WRITING])

    row = window.jobs.row_of(first.job_id)
    table = view.table
    rect = table.visualRect(window.jobs.index(row, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.tabs.currentWidget() is image
    assert image.caption.text().startswith("first light")
