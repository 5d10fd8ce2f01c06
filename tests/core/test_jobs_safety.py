"""Jobs meet unsafe weights: consent decides, the converter converts, a canary never runs."""

from __future__ import annotations

import pytest
import torch

from studio.core.errors import UserError
from studio.core.jobs import Job
from studio.core.safety.consent import ConsentKind, ConsentStore
from studio.plugin_api import CancelToken, Panel, TextRequest
from tests.core.pickle_helpers import Canary, HyperParameters, TrainingCheckpoint
from tests.plugins.plugin_factory import write_folder_plugin
from tests.support import make_executor

WEIGHTS_PLUGIN = """
from studio.plugin_api import *

class Plugin(ModelPlugin):
    load_options = OptionSet(ModelOption())

    def load(self, options, ctx):
        return ctx.load_weights(ctx.model.path)

    def run(self, loaded, request, options, ctx):
        ctx.cancel.raise_if_cancelled()
        names = ",".join(sorted(loaded))
        yield Result(assets=(GeneratedAsset.from_text(names),))
"""

REMOTE_CODE_PLUGIN = """
from studio.plugin_api import *
from studio.plugin_api.safe_loading import RemoteCodeRequired

class Plugin(ModelPlugin):
    load_options = OptionSet(ModelOption())

    def load(self, options, ctx):
        if not ctx.allow_remote_code:
            raise RemoteCodeRequired(ctx.model.path)
        return "trusted"

    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset.from_text(loaded),))
"""


@pytest.fixture
def setup(tmp_path):
    def make(code: str, name: str):
        write_folder_plugin(tmp_path / "plugins", name, code=code)
        consents = ConsentStore(tmp_path / "consents.json")
        executor, sink = make_executor(tmp_path / "data", plugin_dirs=(tmp_path / "plugins",))
        executor.consents = consents
        executor.converted_dir = tmp_path / "converted"
        return executor, sink, consents

    return make


def job(plugin_id: str, model) -> Job:
    return Job(
        plugin_id=plugin_id,
        panel=Panel.WRITING,
        request=TextRequest(prompt="x"),
        load_options={"model": str(model)},
    )


def test_a_pickle_canary_never_runs_without_consent(setup, tmp_path):
    executor, sink, _ = setup(WEIGHTS_PLUGIN, "weights_plugin_a")
    marker = tmp_path / "canary-ran"
    bad = tmp_path / "innocent.safetensors"
    torch.save({"w": torch.zeros(2), "payload": Canary(marker)}, bad)
    with pytest.raises(UserError, match=r"needs full unpickling.*studio consent grant"):
        executor.execute(job("weights-plugin-a", bad), CancelToken())
    assert not marker.exists()
    assert sink.produced == []


def test_consent_lets_the_converter_turn_a_pickle_into_safetensors(setup, tmp_path):
    executor, sink, consents = setup(WEIGHTS_PLUGIN, "weights_plugin_b")
    checkpoint = tmp_path / "model.bin"
    data = TrainingCheckpoint(weight=torch.ones(3), bias=torch.zeros(1))
    data["hyper"] = HyperParameters(learning_rate=0.1, epochs=3)  # not a tensor: dropped
    torch.save(data, checkpoint)
    with pytest.raises(UserError, match="needs full unpickling"):
        executor.execute(job("weights-plugin-b", checkpoint), CancelToken())
    consents.grant(ConsentKind.UNPICKLE, checkpoint)
    executor.execute(job("weights-plugin-b", checkpoint), CancelToken())
    assert sink.produced[0].asset.data == b"bias,weight"
    assert list((tmp_path / "converted").glob("*.safetensors"))

    consents.revoke(ConsentKind.UNPICKLE, checkpoint)
    executor.cache.unload_all()
    with pytest.raises(UserError, match="needs full unpickling"):
        executor.execute(job("weights-plugin-b", checkpoint), CancelToken())


def test_remote_code_needs_consent_for_that_folder(setup, tmp_path):
    executor, sink, consents = setup(REMOTE_CODE_PLUGIN, "remote_plugin")
    folder = tmp_path / "model-with-code"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "modeling_custom.py").write_text("X = 1\n")
    with pytest.raises(UserError, match="studio consent grant"):
        executor.execute(job("remote-plugin", folder), CancelToken())
    consents.grant(ConsentKind.REMOTE_CODE, folder)
    executor.execute(job("remote-plugin", folder), CancelToken())
    assert sink.produced[0].asset.data == b"trusted"
    (folder / "modeling_custom.py").write_text("X = 2  # changed after consent\n")
    executor.cache.unload_all()
    with pytest.raises(UserError, match="studio consent grant"):
        executor.execute(job("remote-plugin", folder), CancelToken())
