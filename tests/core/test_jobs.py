"""The job executor with the light test plugins: events, seeds, cancel, errors, commits."""

from __future__ import annotations

import threading

import pytest

from studio.core.errors import UserError
from studio.core.jobs import Job, JobCancelled, Started, readable_error
from studio.plugin_api import (
    CancelToken,
    ImageRequest,
    Panel,
    Partial,
    Progress,
    SpeechRequest,
    TextRequest,
)
from tests.support import make_executor


def echo_job(prompt="one two three", **run_options) -> Job:
    return Job(
        plugin_id="studio-test.echo",
        panel=Panel.WRITING,
        request=TextRequest(prompt=prompt),
        run_options=run_options,
    )


def test_a_job_streams_progress_and_text_then_commits(tmp_path):
    executor, sink = make_executor(tmp_path)
    events = []
    outcome = executor.execute(echo_job(), CancelToken(), events.append)
    assert outcome.asset_ids == ("asset-1",)
    assert isinstance(events[0], Started) and events[0].device == "cpu"
    assert "".join(e.text for e in events if isinstance(e, Partial)) == "one two three"
    fractions = [e.fraction for e in events if isinstance(e, Progress) and e.fraction is not None]
    assert fractions == pytest.approx([1 / 3, 2 / 3, 1.0])
    (produced,) = sink.produced
    assert produced.asset.data == b"one two three"
    assert produced.plugin_version == "1.0.0"
    assert produced.run_options == {
        "repeat": 1,
        "uppercase": False,
        "delay_ms": 0,
        "fail_at_step": -1,
    }


def test_seed_minus_one_becomes_a_recorded_concrete_seed(tmp_path):
    executor, sink = make_executor(tmp_path)
    job = Job(plugin_id="studio-test.gradient", panel=Panel.IMAGE, request=ImageRequest(prompt="x"))
    executor.execute(job, CancelToken())
    seed = sink.produced[0].run_options["seed"]
    assert 0 <= seed < 2**32
    assert sink.produced[0].asset.seed == seed
    again = Job(
        plugin_id="studio-test.gradient",
        panel=Panel.IMAGE,
        request=ImageRequest(prompt="x"),
        run_options={"seed": seed},
    )
    executor.execute(again, CancelToken())
    assert sink.produced[1].asset.data == sink.produced[0].asset.data


def test_cancel_midway_commits_nothing_and_stops_quickly(tmp_path):
    executor, sink = make_executor(tmp_path)
    cancel = CancelToken()

    def on_event(event):
        if isinstance(event, Progress) and event.fraction:
            cancel.cancel()

    with pytest.raises(JobCancelled) as caught:
        executor.execute(echo_job(delay_ms=5000), cancel, on_event)
    assert caught.value.asset_ids == ()
    assert sink.produced == []


def test_plugin_errors_propagate_with_a_readable_message(tmp_path):
    executor, sink = make_executor(tmp_path)
    with pytest.raises(RuntimeError) as caught:
        executor.execute(echo_job(fail_at_step=1), CancelToken())
    assert readable_error(caught.value) == (
        "DeliberateFailure: The test plugin failed on purpose at step 1."
    )
    with pytest.raises(ValueError) as caught:
        executor.execute(echo_job(prompt="   "), CancelToken())
    assert readable_error(caught.value) == "Type a prompt first: Echo repeats its words."
    assert sink.produced == []


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (
            Job(plugin_id="nope", panel=Panel.WRITING, request=TextRequest()),
            "No plugin with the id",
        ),
        (
            Job(plugin_id="studio-test.echo", panel=Panel.IMAGE, request=ImageRequest()),
            "serves writing, not image",
        ),
        (
            Job(plugin_id="studio-test.echo", panel=Panel.WRITING, request=SpeechRequest()),
            "needs a TextRequest",
        ),
        (echo_job(repeat=0), "Option 'repeat': 0 is out of range"),
        (echo_job(colour="red"), "Unknown option 'colour'"),
        (
            Job(
                plugin_id="studio-test.echo",
                panel=Panel.WRITING,
                request=TextRequest(prompt="a"),
                device="cuda:3",
            ),
            "cuda:3 is not available",
        ),
    ],
)
def test_bad_jobs_are_refused_before_anything_runs(tmp_path, job, message):
    executor, sink = make_executor(tmp_path)
    with pytest.raises(UserError, match=message):
        executor.execute(job, CancelToken())
    assert sink.produced == []


def test_models_load_once_and_are_reused(tmp_path, monkeypatch):
    executor, _ = make_executor(tmp_path)
    from studio.plugin_api.testing.echo import EchoWriter

    loads = []
    original = EchoWriter.load
    monkeypatch.setattr(
        EchoWriter, "load", lambda self, o, c: loads.append(1) or original(self, o, c)
    )
    executor.execute(echo_job(), CancelToken())
    executor.execute(echo_job(), CancelToken())
    assert loads == [1]


def test_two_threads_share_the_cpu_one_run_at_a_time(tmp_path):
    executor, sink = make_executor(tmp_path)
    running_at_start = []

    def watch(event):
        if isinstance(event, Started):
            running_at_start.append(executor.scheduler.running("cpu"))

    threads = [
        threading.Thread(
            target=executor.execute,
            args=(echo_job(f"job {i} a b", delay_ms=30), CancelToken(), watch),
        )
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(sink.produced) == 3
    assert running_at_start == [1, 1, 1]
