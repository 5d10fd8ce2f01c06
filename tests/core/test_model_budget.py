"""One memory budget across the window's own cache and every model process: the least recently
used model that no job uses is unloaded first, wherever it is; warm-ups count; a new budget
applies at once."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from studio.core.jobs import Job
from studio.core.model_budget import ModelBudget, OwnerReports
from studio.core.model_cache import CacheKey, ModelCache, NoRoom, process_memory_bytes
from studio.core.process_host import ChildConfig, ProcessExecutor
from studio.plugin_api import CancelToken, ModelPlugin, Panel, TextRequest
from studio.plugin_api.testing import TEST_PLUGINS_DIR
from tests.plugins.plugin_factory import write_folder_plugin
from tests.support import make_executor

MB = 2**20


class Recorder:
    """An owner that unloads when asked, unless it is busy."""

    def __init__(self, budget: ModelBudget, name: str, busy: bool = False) -> None:
        self.asked: list[str] = []
        self.busy = busy
        self.budget, self.name = budget, name
        budget.add_owner(name, self.unload)

    def unload(self, key: str) -> bool:
        self.asked.append(key)
        if self.busy:
            return False
        self.budget.unloaded(self.name, key)
        return True

    def load(self, key: str, size: int) -> list[str]:
        """As a cache does: its own models the budget names are unloaded (and reported)."""
        own = self.budget.before_load(self.name, key, key, size)
        for victim in own:
            self.budget.unloaded(self.name, victim)
        after = self.budget.loaded(self.name, key, key, size)
        for victim in after:
            self.budget.unloaded(self.name, victim)
        return own + after


def test_the_least_recently_used_model_elsewhere_goes_first() -> None:
    budget = ModelBudget(250 * MB)
    a, b, c = (Recorder(budget, name) for name in "abc")
    a.load("writer", 100 * MB)
    b.load("voice", 100 * MB)
    budget.used("a", "writer")  # the writer is used again: the voice is older now
    assert c.load("image", 100 * MB) == []
    assert b.asked == ["voice"] and a.asked == []
    assert {h.key for h in budget.held()} == {"writer", "image"}
    assert budget.total_bytes == 200 * MB


def test_room_is_made_before_the_load_from_its_size_last_time() -> None:
    budget = ModelBudget(150 * MB)
    a, b = Recorder(budget, "a"), Recorder(budget, "b")
    a.load("writer", 100 * MB)
    budget.unloaded("a", "writer")
    b.load("voice", 100 * MB)
    # Loading the writer again: its size is known, so the voice goes before the load starts.
    assert budget.before_load("a", "writer", "writer", 0) == []
    assert b.asked == ["voice"]


def test_a_busy_owner_is_skipped_and_the_requesters_own_models_come_back_to_it() -> None:
    budget = ModelBudget(250 * MB)
    busy, requester = Recorder(budget, "busy", busy=True), Recorder(budget, "req")
    busy.load("running", 100 * MB)
    requester.load("old", 100 * MB)
    assert requester.load("new", 100 * MB) == ["old"]  # it unloads its own, the other runs
    assert busy.asked == ["running"]


def test_a_smaller_budget_applies_at_once_and_a_model_loading_is_never_chosen() -> None:
    budget = ModelBudget(10_000 * MB)
    a, b = Recorder(budget, "a"), Recorder(budget, "b")
    a.load("writer", 100 * MB)
    budget.before_load("b", "voice", "voice", 100 * MB)  # loading now: pinned
    budget.budget_bytes = 50 * MB
    assert a.asked == ["writer"] and b.asked == []
    budget.forget_owner("b")  # its process ended
    assert budget.held() == []


class Sized(ModelPlugin):
    def load(self, options, ctx):
        return bytearray(b"\x01") * (40 * MB)

    def run(self, loaded, request, options, ctx):
        yield from ()


def test_the_windows_own_cache_reports_and_unloads_through_the_budget() -> None:
    budget = ModelBudget(60 * MB)
    cache = ModelCache(0, OwnerReports(budget, "window"))
    budget.add_owner("window", cache.unload)
    other = Recorder(budget, "process")
    other.load("voice", 40 * MB)
    plugin = Sized()
    key = CacheKey.make("sized", {}, "cpu")
    with cache.use(key, plugin, lambda: plugin.load({}, None), estimate=lambda: 40 * MB):
        assert other.asked == ["voice"]  # room made before the load
        budget.budget_bytes = 1  # in use: kept
        assert cache.cached_keys() == [key]
    budget.enforce()
    assert cache.cached_keys() == []
    assert budget.held() == []


# across real model processes -------------------------------------------------------------

MEMORY_HOG = """
import os
from studio.plugin_api import *

class Plugin(ModelPlugin):
    load_options = OptionSet(
        IntOption(name="megabytes", default=50, minimum=1, maximum=4000, description="size"),
        TextOption(name="log", default="", description="where loads and unloads are written"),
    )

    def load(self, options, ctx):
        self._log(options["log"], ("warm " if ctx.background else "load ") + str(os.getpid()))
        return {"block": bytearray(b"\\x01") * (options["megabytes"] * 2**20),
                "log": options["log"]}

    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset.from_text(f"{len(loaded['block'])}"),))

    def unload(self, loaded):
        self._log(loaded["log"], f"unload {os.getpid()}")
        loaded["block"] = None

    def memory_bytes(self, loaded):
        return len(loaded["block"])

    @staticmethod
    def _log(path, line):
        with open(path, "a") as log:
            log.write(line + "\\n")
"""


@pytest.fixture
def processes(tmp_path: Path):
    write_folder_plugin(tmp_path / "extra", "hog", code=MEMORY_HOG)
    dirs = (TEST_PLUGINS_DIR, tmp_path / "extra")
    local, _sink = make_executor(tmp_path / "data", plugin_dirs=dirs)
    config = ChildConfig(data_dir=tmp_path / "data", plugin_dirs=dirs, environ=dict(os.environ))
    budget = ModelBudget(300 * MB)
    executors = [ProcessExecutor(local, config, name, budget) for name in ("one", "two")]
    yield executors, budget, tmp_path / "loads.log"
    for executor in executors:
        executor.shutdown()


def hog(log: Path, megabytes: int) -> Job:
    return Job(
        plugin_id="hog",
        panel=Panel.WRITING,
        request=TextRequest(prompt="x"),
        load_options={"megabytes": megabytes, "log": str(log)},
    )


def wait_for(condition, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_a_load_in_one_process_unloads_the_older_model_in_another(processes) -> None:
    (one, two), budget, log = processes
    one.execute(hog(log, 200), CancelToken())
    assert [h.size // (10 * MB) for h in budget.held()] == [20]  # what the process grew
    one_rss = process_memory_bytes(one.child_pid)
    assert one_rss > 200 * MB

    two.execute(hog(log, 200), CancelToken())
    lines = log.read_text().split()
    assert lines[:2] == ["load", str(one.child_pid)]
    assert ["unload", str(one.child_pid)] == lines[2:4]  # before process two loaded
    assert lines[4:6] == ["load", str(two.child_pid)]
    assert [(h.owner, h.size // (10 * MB)) for h in budget.held()] == [
        (f"model process 'two' (pid {two.child_pid})", 20)
    ]
    assert process_memory_bytes(one.child_pid) < one_rss - 150 * MB  # the memory went back


def test_a_warm_up_load_counts_and_a_smaller_budget_unloads_it(processes) -> None:
    (one, two), budget, log = processes
    one.execute(hog(log, 120), CancelToken())
    job = two.check(hog(log, 120))
    two.prepare_plugin("hog", job.load_options, "cpu")
    wait_for(lambda: len(budget.held()) == 2 and not two.warming)
    assert log.read_text().split()[2] == "warm"
    budget.budget_bytes = 130 * MB  # Preferences: applies at once
    assert len(budget.held()) == 1
    assert "unload" in log.read_text().split()


def test_an_ended_process_leaves_the_budget(processes) -> None:
    (one, _), budget, log = processes
    one.execute(hog(log, 20), CancelToken())
    assert 20 * MB <= budget.total_bytes < 30 * MB
    one.shutdown()
    wait_for(lambda: budget.total_bytes == 0)


def test_a_warm_up_that_does_not_fit_is_refused_and_pushes_nothing_out() -> None:
    budget = ModelBudget(150 * MB)
    a, b = Recorder(budget, "a"), Recorder(budget, "b")
    a.load("writer", 100 * MB)
    assert budget.before_load("b", "voice", "voice", 100 * MB, optional=True) is None
    assert a.asked == [] and [h.key for h in budget.held()] == ["writer"]
    assert budget.before_load("b", "small", "small", 40 * MB, optional=True) == []
    del b


def test_the_cache_does_not_load_a_warm_up_the_budget_refuses() -> None:
    budget = ModelBudget(50 * MB)
    cache = ModelCache(0, OwnerReports(budget, "window"))
    other = Recorder(budget, "process")
    other.load("voice", 40 * MB)
    plugin = Sized()
    key = CacheKey.make("sized", {}, "cpu")
    loads: list[int] = []
    load = lambda: loads.append(1)  # noqa: E731
    with (
        pytest.raises(NoRoom),
        cache.use(key, plugin, load, estimate=lambda: 40 * MB, optional=True),
    ):
        pass
    assert loads == [] and other.asked == [] and cache.cached_keys() == []


def test_a_reload_counts_the_most_the_model_ever_took() -> None:
    """Reloaded into memory the allocator kept, a process grows less than the model takes."""
    budget = ModelBudget(1000 * MB)
    a = Recorder(budget, "a")
    a.load("caption", 300 * MB)
    budget.unloaded("a", "caption")
    a.load("caption", 60 * MB)
    assert budget.total_bytes == 300 * MB


def test_an_unload_asked_for_a_model_the_process_no_longer_has_is_answered_at_once(
    processes,
) -> None:
    (one, _), _, log = processes
    one.execute(hog(log, 10), CancelToken())
    start = time.monotonic()
    assert one.unload_model("not a model it has")
    assert time.monotonic() - start < 5


def test_a_model_its_own_process_cannot_unload_stays_counted() -> None:
    """The requester's own model in use (a job holds it) is named, not forgotten: the
    budget counts it until the cache really unloads it."""
    budget = ModelBudget(150 * MB)
    requester = Recorder(budget, "req")
    budget.before_load("req", "in use", "in use", 100 * MB)
    budget.loaded("req", "in use", "in use", 100 * MB)
    assert budget.before_load("req", "new", "new", 100 * MB) == ["in use"]
    # the cache could not unload it (a job uses it): nothing reported, still counted
    assert budget.total_bytes == 200 * MB
    del requester


def test_a_warm_up_bigger_than_its_estimate_unloads_itself_not_others() -> None:
    budget = ModelBudget(150 * MB)
    a = Recorder(budget, "a")
    a.load("writer", 100 * MB)
    assert budget.before_load("b", "voice", "voice", 10 * MB, optional=True) == []
    assert budget.loaded("b", "voice", "voice", 100 * MB, optional=True) == ["voice"]
    assert a.asked == []


def test_the_user_unloads_one_model_but_not_one_a_job_is_loading() -> None:
    budget = ModelBudget(1000 * MB)
    a, b = Recorder(budget, "a"), Recorder(budget, "b", busy=True)
    a.load("writer", 100 * MB)
    b.load("voice", 100 * MB)
    budget.before_load("a", "image", "image", 10 * MB)  # pinned: it is loading
    assert budget.unload("a", "writer") and a.asked == ["writer"]
    assert not budget.unload("b", "voice")  # its owner is busy with a job
    assert not budget.unload("a", "image") and "image" not in a.asked
    assert not budget.unload("a", "no-such-model")
    assert {h.key for h in budget.held()} == {"voice", "image"}


def test_models_idle_for_the_set_time_are_unloaded_and_the_others_stay() -> None:
    budget = ModelBudget(1000 * MB)
    a = Recorder(budget, "a")
    a.load("old", 10 * MB)
    a.load("recent", 10 * MB)
    now = time.monotonic()
    held = {h.key: h for h in budget._held.values()}
    held["old"].last_used = now - 601
    held["recent"].last_used = now - 30
    assert budget.unload_idle(600, now=now) == ["old"]
    assert [h.key for h in budget.held()] == ["recent"]
    assert budget.unload_idle(600, now=now) == []
