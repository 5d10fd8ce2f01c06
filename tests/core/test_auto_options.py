"""ModelPlugin.resolve_auto_options: JobExecutor.check makes a machine-dependent 'auto' load
option concrete, with the concrete device, so the job (and its recipe) carries the choice."""

from __future__ import annotations

import sys

import pytest

from studio.core.device import Devices
from studio.core.errors import UserError
from studio.core.jobs import Job
from studio.plugin_api import CancelToken, Panel, TextRequest
from tests.plugins.plugin_factory import write_folder_plugin
from tests.support import make_executor

CODE = """
from studio.plugin_api import ChoiceOption, GeneratedAsset, ModelPlugin, OptionSet, Result

SEEN = []
LOADS = []

class Plugin(ModelPlugin):
    load_options = OptionSet(
        ChoiceOption(name="precision", default="auto", choices=("auto", "low", "high", "odd"))
    )

    @classmethod
    def resolve_auto_options(cls, load_options, device):
        SEEN.append((dict(load_options), device))
        if load_options["precision"] == "odd":
            return {**load_options, "precision": "not a choice"}
        if load_options["precision"] != "auto":
            return dict(load_options)
        return {**load_options, "precision": "low" if device == "cpu" else "high"}

    def load(self, options, ctx):
        LOADS.append(dict(options))
        return options["precision"]

    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset.from_text(loaded),))
"""


@pytest.fixture
def executor(tmp_path):
    folder = write_folder_plugin(tmp_path / "plugins", "precise", code=CODE)
    executor, sink = make_executor(tmp_path / "data", plugin_dirs=(folder.parent,))
    return executor, sink


def job(device="auto", **load_options) -> Job:
    return Job(
        plugin_id="precise",
        panel=Panel.WRITING,
        request=TextRequest(prompt="x"),
        load_options=load_options,
        device=device,
    )


def test_auto_is_made_concrete_for_the_resolved_device_and_loaded_so(executor):
    executor, sink = executor
    checked = executor.check(job())
    assert checked.load_options == {"precision": "low"} and checked.device == "auto"
    module = sys.modules[executor.registry.plugin_class("precise").__module__]
    assert module.SEEN[-1] == ({"precision": "auto"}, "cpu")
    executor.execute(job(), CancelToken())
    (produced,) = sink.produced
    assert produced.load_options == {"precision": "low"} and produced.asset.data == b"low"


def test_a_gpu_gets_its_own_choice_and_a_users_choice_is_kept(executor):
    executor, _ = executor
    executor.devices = Devices(cuda_count=1)
    assert executor.check(job()).load_options == {"precision": "high"}
    assert executor.check(job("cpu")).load_options == {"precision": "low"}
    assert executor.check(job(precision="high", device="cpu")).load_options == {"precision": "high"}


def test_a_resolved_value_that_is_not_a_choice_is_refused(executor):
    executor, _ = executor
    with pytest.raises(UserError, match="not a choice"):
        executor.check(job(precision="odd"))


def test_the_default_hook_changes_nothing(tmp_path):
    executor, _ = make_executor(tmp_path)
    checked = executor.check(
        Job(plugin_id="studio-test.echo", panel=Panel.WRITING, request=TextRequest(prompt="x"))
    )
    plugin_class = executor.registry.plugin_class("studio-test.echo")
    assert checked.load_options == plugin_class.load_options.validate({})


def test_a_warm_up_load_is_the_one_the_job_uses(executor):
    executor, _ = executor
    assert executor.preload("precise", {}, "cpu", CancelToken())
    executor.execute(job(), CancelToken())
    module = sys.modules[executor.registry.plugin_class("precise").__module__]
    assert module.LOADS == [{"precision": "low"}]
