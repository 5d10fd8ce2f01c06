"""A panel's executor follows the "run models in a separate process" preference job by job:
no restart, and the model process (with its memory) goes when the preference turns it off."""

from __future__ import annotations

import os

from studio.core.executor import Executor, PanelExecutor
from studio.core.jobs import Job
from studio.core.process_host import ChildConfig, ProcessExecutor
from studio.plugin_api import CancelToken, ImageRequest, Panel, TextRequest
from studio.plugin_api.testing import TEST_PLUGINS_DIR
from tests.support import make_executor


def echo(prompt: str) -> Job:
    return Job(
        plugin_id="studio-test.echo", panel=Panel.WRITING, request=TextRequest(prompt=prompt)
    )


def test_the_preference_applies_to_the_next_job(tmp_path):
    local, sink = make_executor(tmp_path / "data")
    config = ChildConfig(
        data_dir=tmp_path / "data",
        plugin_dirs=(TEST_PLUGINS_DIR,),
        environ=dict(os.environ),
    )
    started: list[ProcessExecutor] = []

    def start_process(name: str) -> ProcessExecutor:
        started.append(ProcessExecutor(local, config, name))
        return started[-1]

    isolate = [True]
    executor = PanelExecutor(local, lambda: isolate[0], start_process, name="writing")
    typed: Executor = executor  # one protocol for both (checked by the type checker)
    assert typed is executor
    try:
        executor.execute(executor.check(echo("one")), CancelToken())
        first_child = executor.child_pid
        assert first_child is not None and first_child != os.getpid()
        assert len(started) == 1

        isolate[0] = False  # the user unticks the preference: the next job runs here
        executor.execute(executor.check(echo("two")), CancelToken())
        assert executor.child_pid is None
        assert started[0].child_pid is None  # the model process ended, its memory went back

        isolate[0] = True  # ticked again: a new model process for the next job
        executor.execute(executor.check(echo("three")), CancelToken())
        assert executor.child_pid not in (None, first_child) and len(started) == 2
        assert [a.asset.data for a in sink.produced] == [b"one", b"two", b"three"]
    finally:
        executor.shutdown()
    assert executor.child_pid is None


def echo_third_party(tmp_path, isolated: bool):
    """A writing panel's executor where the echo plugin counts as third-party; the names of
    the model processes it starts, and the sink of its results."""
    local, sink = make_executor(tmp_path / "data")
    config = ChildConfig(
        data_dir=tmp_path / "data", plugin_dirs=(TEST_PLUGINS_DIR,), environ=dict(os.environ)
    )
    names: list[str] = []

    def start_process(name: str) -> ProcessExecutor:
        names.append(name)
        return ProcessExecutor(local, config, name)

    executor = PanelExecutor(
        local,
        lambda: isolated,
        start_process,
        name="writing",
        third_party=lambda plugin_id: plugin_id == "studio-test.echo",
    )
    return executor, names, sink


def test_a_third_party_plugin_runs_in_a_model_process_of_its_own(tmp_path):
    """Built-in plugins share the panel's process; a third-party plugin's crash or libraries
    never reach it."""
    executor, names, _ = echo_third_party(tmp_path, isolated=True)
    try:
        executor.execute(executor.check(echo("one")), CancelToken())
        gradient = Job(
            plugin_id="studio-test.gradient", panel=Panel.IMAGE, request=ImageRequest(prompt="x")
        )
        executor.execute(executor.check(gradient), CancelToken())
        assert names == ["writing-studio-test.echo", "writing"]
        assert len(set(executor.child_pids)) == 2
        assert executor.process_name("studio-test.gradient") == "writing"
    finally:
        executor.shutdown()
    assert executor.child_pids == []


def test_a_third_party_plugin_keeps_its_own_process_with_the_preference_off(tmp_path):
    """Only in its own process are its private packages on the path and its network blocked:
    the preference moves the built-ins into this process, never a third-party plugin."""
    executor, names, sink = echo_third_party(tmp_path, isolated=False)
    try:
        executor.execute(executor.check(echo("own")), CancelToken())
        gradient = Job(
            plugin_id="studio-test.gradient", panel=Panel.IMAGE, request=ImageRequest(prompt="x")
        )
        executor.execute(executor.check(gradient), CancelToken())
        assert names == ["writing-studio-test.echo"]  # the built-in ran here
        assert executor.current("studio-test.gradient") is executor.local
        assert len(executor.child_pids) == 1 and executor.child_pids[0] != os.getpid()
        assert sink.produced[0].asset.data == b"own"
    finally:
        executor.shutdown()
