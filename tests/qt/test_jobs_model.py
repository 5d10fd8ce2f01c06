"""The jobs model: every job of the watched runners as a row, driven by real runners running the
light test plugins; cancel by id (a queued job leaves the queue at once); re-run drafts."""

from __future__ import annotations

import dataclasses
import weakref

import pytest
from PySide6.QtCore import Qt

from studio.core.pipeline import Draft, JobPipeline
from studio.core.project.store import ProjectStore
from studio.core.recipe import RecipeInput
from studio.plugin_api import Panel
from studio.plugin_api.sample_media import encode_png
from studio.qt import jobs_model
from studio.qt.jobs_model import Column, JobsModel, JobState, summary_of
from studio.qt.panel_jobs import PanelJobRunner
from tests.support import make_executor


@pytest.fixture
def store(tmp_path):
    store = ProjectStore.create(tmp_path / "p.studio")
    yield store
    store.close()


@pytest.fixture
def runner(qtbot, tmp_path):
    runner = PanelJobRunner(make_executor(tmp_path)[0], "writing")
    yield runner
    assert runner.shutdown(5000)


@pytest.fixture
def pipeline(runner):
    return JobPipeline(runner.executor.registry, runner.executor.check)


@pytest.fixture
def model(qtbot, runner):
    model = JobsModel(runner.executor.registry)
    model.watch(Panel.WRITING, runner)
    return model


def echo(prompt="a b c d", **options) -> Draft:
    return Draft(
        plugin_id="studio-test.echo",
        panel=Panel.WRITING,
        fields={"prompt": prompt},
        run_options=options,
    )


def submit(runner, pipeline, store, draft: Draft) -> str:
    prepared = pipeline.run_ready(draft, store)
    return runner.submit(prepared, prepared.sink(store))


def text(model, job_id, column: Column) -> str:
    return model.index(model.row_of(job_id), column).data(Qt.ItemDataRole.DisplayRole)


def ended(model, job_id) -> bool:
    return not model.find(job_id).state.active


def test_a_job_goes_from_queued_to_running_to_done(qtbot, model, runner, pipeline, store):
    seen: list[JobState] = []
    find = weakref.WeakMethod(model.find)  # no cycle through the connection
    model.job_changed.connect(lambda job_id: seen.append(find()(job_id).state))
    job_id = submit(runner, pipeline, store, echo("a red square on white", delay_ms=100))
    assert model.rowCount() == 1
    job = model.job(0)
    assert (job.job_id, job.state, job.panel) == (job_id, JobState.QUEUED, Panel.WRITING)
    assert job.plugin_name == "Echo (test plugin)"
    assert text(model, job_id, Column.JOB) == "Echo (test plugin): a red square on white"
    assert text(model, job_id, Column.PANEL) == "Writing"
    assert text(model, job_id, Column.STATE) == "Queued"

    qtbot.waitUntil(lambda: job.message.startswith("word "), timeout=5000)
    assert text(model, job_id, Column.STATE) == "Running"
    assert text(model, job_id, Column.PROGRESS) == f"{job.fraction * 100:.0f}% · {job.message}"
    assert text(model, job_id, Column.STARTED) and not text(model, job_id, Column.ENDED)

    qtbot.waitUntil(lambda: ended(model, job_id), timeout=5000)
    (asset_id,) = job.asset_ids
    assert store.read_blob(asset_id) == b"a red square on white"
    assert job.state is JobState.DONE and job.fraction == 1.0 and job.error == ""
    assert job.started_at is not None and job.ended_at is not None
    assert job.queued_at <= job.started_at <= job.ended_at
    assert text(model, job_id, Column.STATE) == "Done"
    assert text(model, job_id, Column.RESULT) == "1 asset"
    assert text(model, job_id, Column.TIME_LEFT) == ""
    assert seen[0] is JobState.RUNNING and seen[-1] is JobState.DONE


def test_a_second_job_waits_queued_behind_the_first(qtbot, model, runner, pipeline, store):
    first = submit(runner, pipeline, store, echo("one two three", delay_ms=150))
    second = submit(runner, pipeline, store, echo("after"))
    qtbot.waitUntil(lambda: model.find(first).state is JobState.RUNNING, timeout=5000)
    assert model.find(second).state is JobState.QUEUED
    qtbot.waitUntil(lambda: ended(model, second), timeout=10_000)
    assert [model.job(r).job_id for r in range(2)] == [first, second]
    assert [model.job(r).state for r in range(2)] == [JobState.DONE, JobState.DONE]
    assert model.find(first).ended_at <= model.find(second).started_at


def test_two_panels_one_device_the_second_waits(qtbot, tmp_path, store):
    executor, _ = make_executor(tmp_path)
    writing = PanelJobRunner(executor, "writing")
    image = PanelJobRunner(executor, "image")
    try:
        model = JobsModel(executor.registry)
        model.watch(Panel.WRITING, writing)
        model.watch(Panel.IMAGE, image)
        pipeline = JobPipeline(executor.registry, executor.check)
        first = submit(writing, pipeline, store, echo("hold the cpu", delay_ms=300))
        qtbot.waitUntil(lambda: model.find(first).state is JobState.RUNNING, timeout=5000)
        picture = Draft(plugin_id="studio-test.gradient", panel=Panel.IMAGE)
        second = submit(image, pipeline, store, picture)
        qtbot.waitUntil(lambda: model.find(second).state is JobState.WAITING, timeout=5000)
        assert [model.find(j).panel for j in (first, second)] == [Panel.WRITING, Panel.IMAGE]
        assert model.find(second).title == "Gradient (test plugin)"  # no prompt: the plugin
        assert text(model, second, Column.STATE) == "Waiting (next in line)"
        index = model.index(model.row_of(second), Column.STATE)
        assert index.data(Qt.ItemDataRole.ToolTipRole) == "Waiting for the device (next in line: 1)"
        qtbot.waitUntil(lambda: ended(model, second), timeout=10_000)
        assert model.find(second).state is JobState.DONE
        assert model.find(second).started_at is not None
        assert model.find(first).state is JobState.DONE
    finally:
        assert writing.shutdown(5000) and image.shutdown(5000)


def test_a_failed_job_keeps_its_error(qtbot, model, runner, pipeline, store):
    job_id = submit(runner, pipeline, store, echo(fail_at_step=2))
    qtbot.waitUntil(lambda: ended(model, job_id), timeout=5000)
    job = model.find(job_id)
    message = "DeliberateFailure: The test plugin failed on purpose at step 2."
    assert job.state is JobState.FAILED and job.error == message
    assert text(model, job_id, Column.STATE) == "Failed"
    assert text(model, job_id, Column.RESULT) == message
    index = model.index(model.row_of(job_id), Column.RESULT)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == message
    assert job.asset_ids == () and store.count_assets() == 0


def test_cancel_a_running_job(qtbot, model, runner, pipeline, store):
    job_id = submit(runner, pipeline, store, echo("x y z", delay_ms=2000))
    qtbot.waitUntil(lambda: model.find(job_id).state is JobState.RUNNING, timeout=5000)
    assert model.cancel(job_id)
    assert text(model, job_id, Column.STATE) == "Cancelling…"
    qtbot.waitUntil(lambda: ended(model, job_id), timeout=3000)
    job = model.find(job_id)
    assert job.state is JobState.CANCELLED and job.ended_at is not None
    assert text(model, job_id, Column.STATE) == "Cancelled"
    assert store.count_assets() == 0
    assert not model.cancel(job_id)  # ended: nothing to cancel


def test_cancel_a_queued_job_by_id_drops_it_at_once(qtbot, model, runner, pipeline, store):
    cancelled: list[tuple] = []
    runner.cancelled.connect(lambda job_id, ids: cancelled.append((job_id, ids)))
    first = submit(runner, pipeline, store, echo("slow one two", delay_ms=400))
    second = submit(runner, pipeline, store, echo("never"))
    third = submit(runner, pipeline, store, echo("still runs"))
    qtbot.waitUntil(lambda: model.find(first).state is JobState.RUNNING, timeout=5000)

    assert runner.cancel_job(second)
    # at once, while the first job still runs: not when its turn would have come
    assert cancelled == [(second, ())]
    assert model.find(second).state is JobState.CANCELLED
    assert model.find(first).state is JobState.RUNNING
    assert runner.active_jobs == [first, third]
    assert not runner.cancel_job(second)  # gone from the queue
    assert not runner.cancel_job("no-such-job")

    qtbot.waitUntil(lambda: ended(model, third), timeout=10_000)
    assert model.find(first).state is JobState.DONE
    assert model.find(third).state is JobState.DONE
    assert model.find(second).started_at is None  # it never ran
    assert cancelled == [(second, ())]  # and was reported once
    texts = sorted(store.read_blob(a.id) for a in store.list_assets())
    assert texts == [b"slow one two", b"still runs"]


def test_rerun_a_failed_or_cancelled_job_as_it_was_asked(qtbot, model, runner, pipeline, store):
    failed = submit(runner, pipeline, store, echo("try again", fail_at_step=1))
    qtbot.waitUntil(lambda: ended(model, failed), timeout=5000)
    job = model.find(failed)
    how, draft = job.rerun_target()
    assert how == "draft"
    assert (draft.plugin_id, draft.panel, draft.fields["prompt"]) == (
        "studio-test.echo",
        Panel.WRITING,
        "try again",
    )
    assert draft.run_options["fail_at_step"] == 1
    assert draft.job_id != failed and job.rerun_target()[1].job_id != draft.job_id

    again = submit(runner, pipeline, store, draft)
    qtbot.waitUntil(lambda: ended(model, again), timeout=5000)
    assert model.rowCount() == 2
    assert model.find(again).state is JobState.FAILED  # the same options: the same end
    assert model.find(again).error == job.error

    # a random seed is chosen once, when the job is checked: the re-run keeps it
    picture = Draft(
        plugin_id="studio-test.gradient",
        panel=Panel.IMAGE,
        fields={"prompt": "dusk"},
        run_options={"seed": -1, "delay_ms": 2000},
    )
    cancelled = submit(runner, pipeline, store, picture)
    qtbot.waitUntil(lambda: model.find(cancelled).state is JobState.RUNNING, timeout=5000)
    model.cancel(cancelled)
    qtbot.waitUntil(lambda: ended(model, cancelled), timeout=3000)
    assert model.find(cancelled).state is JobState.CANCELLED
    how, draft = model.find(cancelled).rerun_target()
    seed = draft.run_options["seed"]
    assert how == "draft" and seed >= 0 and draft.fields["prompt"] == "dusk"
    quick = dataclasses.replace(draft, run_options={**draft.run_options, "delay_ms": 0})
    rerun = submit(runner, pipeline, store, quick)
    qtbot.waitUntil(lambda: ended(model, rerun), timeout=5000)
    (asset_id,) = model.find(rerun).asset_ids
    assert store.get_asset(asset_id).recipe.seed == seed


def test_a_finished_job_reruns_by_its_last_asset_and_active_ones_not(
    qtbot, model, runner, pipeline, store
):
    job_id = submit(runner, pipeline, store, echo("hello", delay_ms=300))
    assert model.find(job_id).rerun_target() is None  # queued
    qtbot.waitUntil(lambda: ended(model, job_id), timeout=5000)
    job = model.find(job_id)
    assert job.rerun_target() == ("asset", job.asset_ids[-1])


def test_the_draft_keeps_input_files_and_project_assets(qtbot, tmp_path, store):
    executor, _ = make_executor(tmp_path)
    runner = PanelJobRunner(executor, "captioning")
    try:
        model = JobsModel(executor.registry)
        model.watch(Panel.CAPTIONING, runner)
        pipeline = JobPipeline(executor.registry, executor.check)
        picture = tmp_path / "photo.png"
        picture.write_bytes(encode_png(2, 2, bytes([200, 10, 10] * 4)))
        from_file = Draft(
            plugin_id="studio-test.describe", panel=Panel.CAPTIONING, files=(("image", picture),)
        )
        first = submit(runner, pipeline, store, from_file)
        assert model.find(first).summary == "photo.png"  # no question: the file's name
        qtbot.waitUntil(lambda: ended(model, first), timeout=5000)
        draft = model.find(first).draft
        assert draft.files == (("image", picture),) and draft.assets == ()

        (stored,) = [a for a in store.list_assets() if a.kind.value == "image"]
        from_asset = Draft(
            plugin_id="studio-test.describe",
            panel=Panel.CAPTIONING,
            fields={"question": "What colour?"},
            assets=(RecipeInput(asset_id=stored.id, role="image"),),
        )
        second = submit(runner, pipeline, store, from_asset)
        qtbot.waitUntil(lambda: ended(model, second), timeout=5000)
        job = model.find(second)
        assert job.state is JobState.DONE and job.summary == "What colour?"
        assert job.draft.files == ()
        assert job.draft.assets == (RecipeInput(asset_id=stored.id, role="image"),)
        assert job.draft.fields["question"] == "What colour?"
    finally:
        assert runner.shutdown(5000)


class TwoEchoes:
    """A batch of two echo jobs (a JobSource, as a caption batch is one)."""

    def __init__(self, pipeline, store) -> None:
        self.jobs = [pipeline.run_ready(echo(p), store) for p in ("first", "second")]
        self.store = store

    def next_job(self, cancel):
        if cancel.cancelled or not self.jobs:
            return None
        prepared = self.jobs.pop(0)
        return prepared, prepared.sink(self.store)

    def job_ended(self, prepared, outcome, error):
        return True


def test_a_batch_is_one_row(qtbot, model, runner, pipeline, store):
    batch_id = runner.submit_batch("batch-1", TwoEchoes(pipeline, store))
    assert model.rowCount() == 1
    job = model.job(0)
    assert job.batch and job.job_id == batch_id and job.title == "Batch: batch"
    qtbot.waitUntil(lambda: ended(model, batch_id), timeout=5000)
    assert job.state is JobState.DONE and len(job.asset_ids) == 2
    assert text(model, batch_id, Column.RESULT) == "2 assets"
    assert job.rerun_target() is None


def test_clear_ended_keeps_the_active_jobs(qtbot, model, runner, pipeline, store):
    done = submit(runner, pipeline, store, echo("quick"))
    qtbot.waitUntil(lambda: ended(model, done), timeout=5000)
    running = submit(runner, pipeline, store, echo("a b c", delay_ms=2000))
    queued = submit(runner, pipeline, store, echo("later"))
    assert model.clear_ended() == 1
    assert [j.job_id for j in model.jobs()] == [running, queued]
    model.cancel(queued)
    model.cancel(running)
    qtbot.waitUntil(lambda: ended(model, running), timeout=3000)
    assert model.clear_ended() == 2 and model.rowCount() == 0


def test_old_ended_jobs_go_beyond_the_limit(qtbot, model, runner, pipeline, store, monkeypatch):
    monkeypatch.setattr(jobs_model, "MAX_ENDED", 2)
    ids = []
    for word in ("one", "two", "three"):
        ids.append(submit(runner, pipeline, store, echo(word)))
        qtbot.waitUntil(lambda: ended(model, ids[-1]), timeout=5000)
    last = submit(runner, pipeline, store, echo("four"))
    assert [j.job_id for j in model.jobs()] == [*ids[1:], last]
    qtbot.waitUntil(lambda: ended(model, last), timeout=5000)


def test_summary_says_what_was_asked():
    assert summary_of({"prompt": "the doc", "instruction": "Shorten it", "mode": "x"}, []) == (
        "Shorten it"
    )
    assert summary_of({"prompt": "  two\n  lines ", "mode": "continue"}, []) == "two lines"
    assert summary_of({"question": ""}, ["a.png", "b.png"]) == "a.png, b.png"
    long = summary_of({"text": "word " * 40}, [])
    assert len(long) == jobs_model.SUMMARY_LENGTH and long.endswith("…")
