"""Jobs in a model process: same events and results as in-thread, cancel, errors, crashes."""

from __future__ import annotations

import os

import pytest

from studio.core.errors import UserError
from studio.core.jobs import Job, JobCancelled, JobFailed, Started, readable_error
from studio.core.process_host import ChildConfig, ModelProcessCrashed, ProcessExecutor
from studio.plugin_api import CancelToken, ImageRequest, Panel, Partial, Progress, TextRequest
from studio.plugin_api.testing import TEST_PLUGINS_DIR
from tests.plugins.plugin_factory import STUBBORN_CODE, write_folder_plugin
from tests.support import make_executor

CRASHER = """
import os
from studio.plugin_api import *

class Plugin(ModelPlugin):
    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        yield Progress(fraction=0.5, message="about to crash")
        os._exit(3)
"""


LOAD_COUNTER = """
import os, pathlib
from studio.plugin_api import *

class Plugin(ModelPlugin):
    load_options = OptionSet(TextOption(name="log", default=""))

    def load(self, options, ctx):
        with open(options["log"], "a") as log:
            log.write(("background" if ctx.background else "run") + f" {os.getpid()}\\n")
        return "loaded"

    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset.from_text(loaded),))
"""


@pytest.fixture
def host(tmp_path):
    write_folder_plugin(tmp_path / "extra", "crasher", code=CRASHER)
    write_folder_plugin(tmp_path / "extra", "stubborn", code=STUBBORN_CODE)
    write_folder_plugin(tmp_path / "extra", "counter", code=LOAD_COUNTER)
    dirs = (TEST_PLUGINS_DIR, tmp_path / "extra")
    local, sink = make_executor(tmp_path / "data", plugin_dirs=dirs, engine_checks=True)
    config = ChildConfig(data_dir=tmp_path / "data", plugin_dirs=dirs, environ=dict(os.environ))
    executor = ProcessExecutor(local, config, "test")
    yield executor, sink
    executor.shutdown()


def echo(prompt="one two three", **run_options) -> Job:
    return Job(
        plugin_id="studio-test.echo",
        panel=Panel.WRITING,
        request=TextRequest(prompt=prompt),
        run_options=run_options,
    )


def test_a_job_runs_in_another_process_with_the_same_events(host):
    executor, sink = host
    events = []
    outcome = executor.execute(echo(), CancelToken(), events.append)
    assert executor.child_pid not in (None, os.getpid())
    assert outcome.asset_ids == ("asset-1",)
    assert isinstance(events[0], Started)
    assert "".join(e.text for e in events if isinstance(e, Partial)) == "one two three"
    assert sink.produced[0].asset.data == b"one two three"
    pid = executor.child_pid
    executor.execute(echo("again"), CancelToken())
    assert executor.child_pid == pid  # the process (and its loaded models) is reused


def test_the_seed_recorded_is_the_seed_used(host):
    executor, sink = host
    job = Job(plugin_id="studio-test.gradient", panel=Panel.IMAGE, request=ImageRequest())
    executor.execute(job, CancelToken())
    executor.execute(
        Job(
            plugin_id="studio-test.gradient",
            panel=Panel.IMAGE,
            request=ImageRequest(),
            run_options={"seed": sink.produced[0].run_options["seed"]},
        ),
        CancelToken(),
    )
    first, second = sink.produced
    assert first.asset.seed == first.run_options["seed"]
    assert first.asset.data == second.asset.data


def test_cancel_reaches_the_child(host):
    executor, sink = host
    cancel = CancelToken()

    def on_event(event):
        if isinstance(event, Progress) and event.fraction:
            cancel.cancel()

    with pytest.raises(JobCancelled):
        executor.execute(echo(delay_ms=10_000), cancel, on_event)
    assert sink.produced == []
    executor.execute(echo("still works"), CancelToken())
    assert sink.produced[0].asset.data == b"still works"


def test_errors_come_back_readable(host):
    executor, _ = host
    with pytest.raises(JobFailed) as caught:
        executor.execute(echo(fail_at_step=1), CancelToken())
    assert readable_error(caught.value) == (
        "DeliberateFailure: The test plugin failed on purpose at step 1."
    )
    with pytest.raises(UserError, match="out of range"):
        executor.execute(echo(repeat=0), CancelToken())


def test_a_crashing_plugin_ends_only_the_child(host):
    executor, sink = host
    crash = Job(plugin_id="crasher", panel=Panel.WRITING, request=TextRequest(prompt="x"))
    with pytest.raises(ModelProcessCrashed, match="exit code 3"):
        executor.execute(crash, CancelToken())
    executor.execute(echo("after the crash"), CancelToken())
    assert sink.produced[-1].asset.data == b"after the crash"


def test_a_warm_up_loads_the_model_once_for_the_first_run(host, tmp_path):
    executor, sink = host
    log = tmp_path / "loads.txt"
    options = {"log": str(log)}
    executor.prepare_plugin("counter", options, "cpu")
    job = Job(plugin_id="counter", panel=Panel.WRITING, request=TextRequest(), load_options=options)
    executor.execute(job, CancelToken())  # sent at once: waits for the warm-up, then uses it
    assert sink.produced[0].asset.data == b"loaded"
    assert log.read_text().split() == ["background", str(executor.child_pid)]


def test_without_options_only_the_libraries_are_prepared(host, tmp_path):
    executor, _ = host
    log = tmp_path / "loads.txt"
    executor.prepare_plugin("counter")
    job = Job(
        plugin_id="counter",
        panel=Panel.WRITING,
        request=TextRequest(),
        load_options={"log": str(log)},
    )
    executor.execute(job, CancelToken())
    assert log.read_text().split()[0] == "run"


def test_a_failed_warm_up_is_quiet_and_the_run_reports_the_error(host, tmp_path):
    executor, _ = host
    bad = {"log": str(tmp_path / "no" / "such" / "dir" / "loads.txt")}
    executor.prepare_plugin("counter", bad, "cpu")
    job = Job(plugin_id="counter", panel=Panel.WRITING, request=TextRequest(), load_options=bad)
    # A file the load needs is missing: the user's to fix (exit code 2 on the command line).
    with pytest.raises(UserError, match="No such file"):
        executor.execute(job, CancelToken())


def test_a_model_that_crashes_the_process_twice_is_not_started_again(host):
    executor, sink = host
    crash = Job(plugin_id="crasher", panel=Panel.WRITING, request=TextRequest(prompt="x"))
    with pytest.raises(ModelProcessCrashed, match="the next job starts a new one"):
        executor.execute(crash, CancelToken())
    with pytest.raises(ModelProcessCrashed, match="crashed the model process twice"):
        executor.execute(crash, CancelToken())
    with pytest.raises(ModelProcessCrashed, match="not started into the same crash") as third:
        executor.execute(crash, CancelToken())
    assert executor.child_pid is None  # refused without starting a process
    assert "instead" in str(third.value)  # the panel's next plugin that works is offered
    executor.execute(echo("other plugins still run"), CancelToken())
    assert sink.produced[-1].asset.data == b"other plugins still run"


def start_stubborn(executor):
    """A job of a plugin that ignores cancel, running on a thread; returns (thread, cancel,
    outcome: a list that gets the exception it ended with)."""
    import threading

    running = threading.Event()
    cancel = CancelToken()
    ended: list[BaseException] = []
    job = Job(plugin_id="stubborn", panel=Panel.WRITING, request=TextRequest(prompt="x"))

    def run() -> None:
        try:
            executor.execute(
                job,
                cancel,
                lambda event: getattr(event, "message", "").startswith("working") and running.set(),
            )
        except BaseException as exc:
            ended.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert running.wait(30)
    return thread, cancel, ended


def test_a_plugin_that_ignores_cancel_is_stopped_by_force(host, monkeypatch):
    import time

    from studio.core import process_host

    monkeypatch.setattr(process_host, "FORCE_CANCEL_AFTER_S", 1.0)
    executor, sink = host
    thread, cancel, ended = start_stubborn(executor)
    first_child = executor.child_pid
    start = time.monotonic()
    cancel.cancel()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - start < 1.0 + 3  # grace, a margin
    (error,) = ended
    assert isinstance(error, JobCancelled) and error.forced and error.asset_ids == ()
    assert executor.child_pid is None  # ended; the device's slot and the lock are free again
    executor.execute(echo("next"), CancelToken())  # a new model process runs the next job
    assert executor.child_pid not in (None, first_child)
    assert sink.produced[-1].asset.data == b"next"


def test_shutdown_returns_while_a_plugin_ignores_cancel(host, monkeypatch):
    import time

    from studio.core import process_host

    monkeypatch.setattr(process_host, "STOP_WAIT_S", 0.5)
    executor, _ = host
    thread, _, ended = start_stubborn(executor)
    child = executor.child_pid
    start = time.monotonic()
    executor.shutdown()  # Quit
    assert time.monotonic() - start < 0.5 + 3
    thread.join(10)
    assert not thread.is_alive() and isinstance(ended[0], JobCancelled)
    assert executor.child_pid is None
    import os

    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # the model process is gone
