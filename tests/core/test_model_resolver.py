"""The model resolver: embedded default, known ids, local paths, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.errors import UserError
from studio.core.model_resolver import ModelResolver
from studio.core.paths import Paths
from studio.plugin_api import KnownModel, Manifest, ModelOption, ModelPlugin, OptionSet, Panel


class Plugin(ModelPlugin):
    load_options = OptionSet(ModelOption())

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        yield from ()

    def known_model_path(self, model, cache_dir):
        if model.id not in self.files:
            raise FileNotFoundError(f"The package with '{model.id}' is not installed.")
        return self.files[model.id]


def manifest(*models: KnownModel) -> Manifest:
    return Manifest(
        id="acme",
        name="Acme",
        version="1",
        api_version=1,
        panels=(Panel.WRITING,),
        licence="MIT",
        entry="acme:Plugin",
        models=models,
    )


@pytest.fixture
def resolver(tmp_path):
    return ModelResolver(Paths(data_dir=tmp_path / "data"), hasher=lambda p: f"sha:{p.name}")


def test_empty_means_the_embedded_default(resolver, tmp_path):
    weights = tmp_path / "small.gguf"
    weights.write_bytes(b"GGUF")
    models = (
        KnownModel(id="big", name="Big"),
        KnownModel(id="small", name="Small", licence="Gemma", embedded=True),
    )
    resolved = resolver.resolve(manifest(*models), Plugin({"small": weights}), "")
    assert (resolved.id, resolved.path, resolved.sha256) == ("small", weights, "sha:small.gguf")
    assert resolved.embedded and resolved.licence == "Gemma"


def test_known_ids_and_local_paths(resolver, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    plugin = Plugin({"big": folder})
    by_id = resolver.resolve(manifest(KnownModel(id="big", name="Big")), plugin, "big")
    assert by_id.path == folder and not by_id.embedded
    by_path = resolver.resolve(manifest(), plugin, str(folder))
    assert by_path.id == str(folder.resolve()) and by_path.sha256 == "sha:my-model"


@pytest.mark.parametrize(
    ("value", "models", "message"),
    [
        ("", (), "has no embedded model: choose a model folder or file"),
        (
            "/nowhere/model.safetensors",
            (),
            "The model file or folder /nowhere/model.safetensors does not exist",
        ),
        ("./missing-dir", (), "does not exist"),
        ("mystery", (KnownModel(id="big", name="Big"),), r"Unknown model 'mystery' .* \(big\)"),
        ("big", (KnownModel(id="big", name="Big"),), "The package with 'big' is not installed"),
    ],
)
def test_clear_errors(resolver, value, models, message):
    with pytest.raises(UserError, match=message):
        resolver.resolve(manifest(*models), Plugin({}), value)


def test_plugins_without_a_model_option_need_no_model(resolver):
    class NoModel(Plugin):
        load_options = OptionSet()

    assert resolver.resolve(manifest(), NoModel({}), "").path is None
