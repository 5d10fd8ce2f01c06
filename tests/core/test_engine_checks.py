"""Engine self-checks: crashes and wrong answers are verdicts, cures are applied, verdicts are
cached per CPU, and an engine that failed here is never a default."""

from __future__ import annotations

import pytest

from studio.core import engine_checks as checks_module
from studio.core.engine_checks import EngineChecks, EngineUnusable, VerdictStore
from studio.core.jobs import Job
from studio.core.panel_defaults import alternative, check_default, usable_plugins
from studio.core.registry import PluginRegistry
from studio.plugin_api import CancelToken, Panel, TextRequest
from tests.plugins.plugin_factory import write_folder_plugin
from tests.support import make_executor

# One plugin module for every fake engine: the manifest id says how its check behaves.
ENGINE = """
import os, time
from studio.plugin_api import *

BEHAVIOUR = {behaviour!r}

class Plugin(ModelPlugin):
    load_options = OptionSet(ModelOption(description="a model"))
    engine_checks = (
        EngineCheck(id="engine", label="Fake engine", variants=("default", "cure"), timeout=20),
    )

    def check_engine(self, ctx):
        how = BEHAVIOUR.get(ctx.variant, "pass")
        if how == "abort":
            os.abort()
        if how == "wrong":
            raise EngineCheckFailed("wrote 'garbage', expected 'Paris'")
        if how == "hang":
            time.sleep(60)
        return f"ran as {{ctx.variant}}"

    def known_model_path(self, model, cache_dir):
        cache_dir.mkdir(parents=True, exist_ok=True)
        return cache_dir

    def load(self, options, ctx):
        return dict(ctx.engine_variants)

    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset.from_text(repr(loaded)),))
"""

MODELS = """
[[models]]
id = "first"
name = "First"
embedded = true

[[models]]
id = "second"
name = "Second"
embedded = true
"""

PER_MODEL = """
import os
from studio.plugin_api import *

class Plugin(ModelPlugin):
    load_options = OptionSet(ModelOption(description="a model"))
    engine_checks = (
        EngineCheck(id="first", label="First model", models=("first",)),
        EngineCheck(id="second", label="Second model", models=("second",)),
    )

    def check_engine(self, ctx):
        if ctx.check.id == "first":
            raise EngineCheckFailed("PSNR 7.3 dB against bicubic's 34.7 dB")
        return "fine"

    def known_model_path(self, model, cache_dir):
        cache_dir.mkdir(parents=True, exist_ok=True)
        return cache_dir

    def load(self, options, ctx):
        return ctx.model.id

    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset.from_text(loaded),))
"""


def plugin(root, name, behaviour, **manifest):
    write_folder_plugin(
        root, name, code=ENGINE.format(behaviour=behaviour), extra_manifest=MODELS, **manifest
    )


@pytest.fixture
def fakes(tmp_path):
    root = tmp_path / "plugins"
    plugin(root, "aborts", {"default": "abort", "cure": "abort"})
    plugin(root, "wrong", {"default": "wrong", "cure": "wrong"})
    plugin(root, "cured", {"default": "abort"})
    plugin(root, "fine", {})
    plugin(root, "hangs", {"default": "hang", "cure": "hang"})
    write_folder_plugin(root, "per_model", code=PER_MODEL, extra_manifest=MODELS)
    return root


def engine_checks(fakes, data_dir):
    registry = PluginRegistry(plugin_dirs=[fakes], entry_point_group=None)
    store = VerdictStore.in_data_dir(data_dir)
    return EngineChecks(registry, store, data_dir=data_dir, plugin_dirs=[fakes])


def check_of(checks, plugin_id):
    return checks.checks_of(plugin_id)[0]


def test_a_check_that_crashes_is_a_verdict_with_its_reason(fakes, tmp_path):
    checks = engine_checks(fakes, tmp_path / "data")
    verdict = checks.run("aborts", check_of(checks, "aborts"))
    assert not verdict.passed
    assert verdict.reason == "crashes on this CPU"
    assert [a.outcome for a in verdict.attempts] == ["crashed", "crashed"]
    assert "SIGABRT" in verdict.attempts[0].detail
    assert checks.unusable_reason("aborts") == "Fake engine crashes on this CPU"


def test_a_wrong_answer_is_refused_with_what_was_seen(fakes, tmp_path):
    checks = engine_checks(fakes, tmp_path / "data")
    verdict = checks.run("wrong", check_of(checks, "wrong"))
    assert not verdict.passed and verdict.reason == "gives wrong output on this CPU"
    assert "wrote 'garbage', expected 'Paris'" in verdict.summary()


def test_a_check_that_hangs_is_stopped(fakes, tmp_path, monkeypatch):
    checks = engine_checks(fakes, tmp_path / "data")
    check = check_of(checks, "hangs")
    import dataclasses

    verdict = checks.run("hangs", dataclasses.replace(check, timeout=2, variants=("default",)))
    assert verdict.reason == "hangs on this CPU"


def test_a_cure_is_tried_when_the_normal_way_crashes_and_jobs_run_with_it(fakes, tmp_path):
    executor, sink = make_executor(tmp_path / "data", plugin_dirs=(fakes,), engine_checks=True)
    job = Job(plugin_id="cured", panel=Panel.WRITING, request=TextRequest(prompt="x"))
    executor.execute(job, CancelToken())
    assert sink.produced[0].asset.data == b"{'engine': 'cure'}"
    verdict = executor.engine_checks.cached("cured", check_of(executor.engine_checks, "cured"))
    assert verdict.passed and verdict.variant == "cure"
    assert "run as 'cure' because default crashes on this CPU" in verdict.summary()


def test_a_job_on_an_engine_that_failed_is_refused_with_the_reason(fakes, tmp_path):
    executor, sink = make_executor(tmp_path / "data", plugin_dirs=(fakes,), engine_checks=True)
    job = Job(plugin_id="wrong", panel=Panel.WRITING, request=TextRequest(prompt="x"))
    with pytest.raises(EngineUnusable, match="Fake engine gives wrong output on this CPU"):
        executor.execute(job, CancelToken())
    assert sink.produced == []


def test_verdicts_are_cached_and_keyed_on_the_cpu(fakes, tmp_path, monkeypatch):
    checks = engine_checks(fakes, tmp_path / "data")
    check = check_of(checks, "fine")
    assert checks.cached("fine", check) is None
    first = checks.ensure("fine", check)
    assert checks.ensure("fine", check) == first  # from the file, not run again
    monkeypatch.setattr(checks_module, "cpu_signature", lambda: "Another CPU (flags abc)")
    checks = engine_checks(fakes, tmp_path / "data")  # a process on another machine
    assert checks.cached("fine", check) is None  # another CPU: checked again on first use
    again = checks.ensure("fine", check)
    assert again.checked_at > first.checked_at


def test_the_default_is_the_first_plugin_in_order_that_passes(fakes, tmp_path, monkeypatch):
    monkeypatch.setitem(
        __import__("studio.core.panel_defaults").core.panel_defaults.PANEL_ORDER,
        Panel.WRITING,
        ("aborts", "wrong", "cured", "fine"),
    )
    checks = engine_checks(fakes, tmp_path / "data")
    assert check_default(checks.registry, checks, Panel.WRITING) == "cured"
    assert usable_plugins(checks.registry, checks, Panel.WRITING)[:2] == ["cured", "fine"]
    assert alternative(checks.registry, checks, Panel.WRITING, "cured").id == "fine"


def test_a_model_that_fails_its_check_is_skipped_for_the_next(fakes, tmp_path):
    executor, sink = make_executor(tmp_path / "data", plugin_dirs=(fakes,), engine_checks=True)
    job = Job(plugin_id="per-model", panel=Panel.WRITING, request=TextRequest(prompt="x"))
    executor.execute(job, CancelToken())
    assert sink.produced[0].asset.data == b"second"
    checks = executor.engine_checks
    assert checks.default_model("per-model") == "second"
    assert checks.unusable_reason("per-model", "first") == (
        "First model gives wrong output on this CPU"
    )
    assert checks.unusable_reason("per-model") == ""  # the plugin still works
    chosen = Job(
        plugin_id="per-model",
        panel=Panel.WRITING,
        request=TextRequest(prompt="x"),
        load_options={"model": "first"},
    )
    with pytest.raises(EngineUnusable, match="First model gives wrong output"):
        executor.execute(chosen, CancelToken())


def test_two_processes_meeting_an_unchecked_engine_run_its_check_once(fakes, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path\n"
        "from tests.core.test_engine_checks import engine_checks, check_of\n"
        "checks = engine_checks(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "print(checks.ensure('fine', check_of(checks, 'fine')).checked_at)\n"
    )
    args = [sys.executable, "-c", code, str(fakes), str(tmp_path / "data")]
    from tests.conftest import REPO_ROOT

    both = [
        subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT) for _ in range(2)
    ]
    stamps = {process.communicate(timeout=60)[0].strip() for process in both}
    assert len(stamps) == 1  # the second waited for the first's verdict
