"""The panel job runner: Qt signals in the GUI thread, batching, cancel, errors, two panels."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, QThread, Slot

from studio.core.errors import UserError
from studio.core.pipeline import Draft, JobPipeline
from studio.core.project.store import ProjectStore
from studio.plugin_api import AssetKind, Panel
from studio.qt.panel_jobs import PanelJobRunner, _Stream
from tests.support import make_executor


class Recorder(QObject):
    """Receives every signal in the GUI thread and notes which thread delivered it."""

    def __init__(self, runner: PanelJobRunner) -> None:
        super().__init__()
        self.calls: list[tuple] = []
        self.threads: set[QThread] = set()
        for name in (
            "queued",
            "waiting",
            "started",
            "progress",
            "text",
            "preview",
            "finished",
            "failed",
            "cancelled",
        ):
            getattr(runner, name).connect(getattr(self, f"on_{name}"))

    def _note(self, *call) -> None:
        self.threads.add(QThread.currentThread())
        self.calls.append(call)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def of(self, name: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == name]

    @Slot(str)
    def on_queued(self, job_id):
        self._note("queued", job_id)

    @Slot(str, int)
    def on_waiting(self, job_id, position):
        self._note("waiting", job_id, position)

    @Slot(str)
    def on_started(self, job_id):
        self._note("started", job_id)

    @Slot(str, object, str, object)
    def on_progress(self, job_id, fraction, message, eta):
        self._note("progress", job_id, fraction, message)

    @Slot(str, str)
    def on_text(self, job_id, text):
        self._note("text", job_id, text)

    @Slot(str, bytes, str)
    def on_preview(self, job_id, data, media_type):
        self._note("preview", job_id, data, media_type)

    @Slot(str, object)
    def on_finished(self, job_id, ids):
        self._note("finished", job_id, ids)

    @Slot(str, str)
    def on_failed(self, job_id, message):
        self._note("failed", job_id, message)

    @Slot(str, object)
    def on_cancelled(self, job_id, ids):
        self._note("cancelled", job_id, ids)


@pytest.fixture
def runner_factory(qtbot, tmp_path):
    runners = []

    def make(name="writing", executor=None):
        executor = executor or make_executor(tmp_path)[0]
        runner = PanelJobRunner(executor, name)
        runners.append(runner)
        return runner, Recorder(runner)

    yield make
    for runner in runners:
        assert runner.shutdown(5000)


@pytest.fixture
def store(tmp_path):
    store = ProjectStore.create(tmp_path / "p.studio")
    yield store
    store.close()


def submit(runner, store, draft: Draft) -> str:
    """Through the pipeline, as a panel does: checked, prepared, committed by its sink."""
    pipeline = JobPipeline(runner.executor.registry, runner.executor.check)
    prepared = pipeline.run_ready(draft, store)
    return runner.submit(prepared, prepared.sink(store))


def echo(prompt="a b c d", **options) -> Draft:
    return Draft(
        plugin_id="studio-test.echo",
        panel=Panel.WRITING,
        fields={"prompt": prompt},
        run_options=options,
    )


def test_a_job_runs_on_the_worker_and_reports_in_the_gui_thread(qtbot, runner_factory, store):
    runner, rec = runner_factory()
    job_id = submit(runner, store, echo())
    qtbot.waitUntil(lambda: bool(rec.of("finished")), timeout=5000)
    assert rec.names()[:2] == ["queued", "started"]
    assert "".join(c[2] for c in rec.of("text")) == "a b c d"
    ((_, finished_id, (asset_id,)),) = rec.of("finished")
    assert finished_id == job_id and store.read_blob(asset_id) == b"a b c d"
    assert rec.threads == {QThread.currentThread()}
    assert [c[2] for c in rec.of("progress") if c[2] is not None][-1] == 1.0
    assert not runner.busy


def test_fast_streams_are_batched_into_few_updates(qtbot, runner_factory, store):
    runner, rec = runner_factory()
    words = " ".join(f"w{i}" for i in range(3000))
    submit(runner, store, echo(words))
    qtbot.waitUntil(lambda: bool(rec.of("finished")), timeout=20_000)
    texts = rec.of("text")
    assert "".join(c[2] for c in texts) == words
    assert len(texts) < 300  # 3000 pieces arrive in batches, never one signal per token
    progress = [c for c in rec.of("progress") if c[2] is not None]
    assert len(progress) < 300  # so does progress (each one repaints the panel)
    assert progress[-1][2] == 1.0  # the last one is never dropped


def test_the_first_piece_of_a_burst_is_shown_at_once(qtbot, runner_factory, monkeypatch):
    """No wait for the batching interval when nothing was shown lately: the first words or
    the first audio appear as soon as they are made; what follows within the interval waits."""
    from studio.plugin_api import Partial
    from studio.qt import panel_jobs

    monkeypatch.setattr(panel_jobs, "STREAM_INTERVAL_MS", 60_000)
    runner, rec = runner_factory()
    stream = runner._worker.streams.setdefault("job", _Stream())
    runner._worker._on_event("job", stream, Partial(text="first"))  # as the worker does
    qtbot.waitUntil(lambda: bool(rec.of("text")), timeout=5000)
    assert rec.of("text") == [("text", "job", "first")]
    runner._worker._on_event("job", stream, Partial(text=" second"))
    qtbot.waitUntil(runner._timer.isActive, timeout=5000)
    qtbot.wait(100)
    assert len(rec.of("text")) == 1  # within the interval: batched, not shown yet


def test_cancel_a_running_job(qtbot, runner_factory, store):
    runner, rec = runner_factory()
    job_id = submit(runner, store, echo("x y z", delay_ms=2000))
    qtbot.waitUntil(lambda: bool(rec.of("text")), timeout=5000)
    runner.cancel(job_id)
    qtbot.waitUntil(lambda: bool(rec.of("cancelled")), timeout=2000)
    assert rec.of("cancelled") == [("cancelled", job_id, ())]
    assert not rec.of("finished")
    assert store.count_assets() == 0


def test_cancel_a_queued_job_before_it_starts(qtbot, runner_factory, store):
    runner, rec = runner_factory()
    first = submit(runner, store, echo("slow one", delay_ms=300))
    second = submit(runner, store, echo("never"))
    runner.cancel(second)
    qtbot.waitUntil(lambda: len(rec.of("finished")) + len(rec.of("cancelled")) == 2, timeout=5000)
    assert [c[1] for c in rec.of("finished")] == [first]
    assert [c[1] for c in rec.of("cancelled")] == [second]


def test_errors_arrive_as_readable_messages(qtbot, runner_factory, store):
    runner, rec = runner_factory()
    submit(runner, store, echo(fail_at_step=2))
    qtbot.waitUntil(lambda: len(rec.of("failed")) == 1, timeout=5000)
    assert [c[2] for c in rec.of("failed")] == [
        "DeliberateFailure: The test plugin failed on purpose at step 2."
    ]
    # Options are checked once, by the pipeline, before anything is queued.
    with pytest.raises(UserError, match="Option 'repeat': 500 is out of range"):
        submit(runner, store, echo(repeat=500))


def test_two_panels_take_turns_on_the_cpu(qtbot, runner_factory, tmp_path, store):
    executor, _ = make_executor(tmp_path)
    writing, rec_w = runner_factory("writing", executor)
    image, rec_i = runner_factory("image", executor)
    submit(writing, store, echo("hold the cpu", delay_ms=150))
    qtbot.waitUntil(lambda: bool(rec_w.of("started")), timeout=5000)
    submit(image, store, Draft(plugin_id="studio-test.gradient", panel=Panel.IMAGE))
    qtbot.waitUntil(lambda: bool(rec_i.of("finished")), timeout=10_000)
    assert rec_i.of("waiting"), "the image job should have waited for the CPU"
    assert rec_i.of("preview") and rec_i.of("preview")[-1][3] == "image/png"
    # the writing job finished before the image job could start
    made = sorted(store.list_assets(), key=lambda a: (a.created_at, a.id))
    assert [a.kind for a in made] == [AssetKind.TEXT, AssetKind.IMAGE]
