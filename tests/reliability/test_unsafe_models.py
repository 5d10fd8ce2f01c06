"""Hostile model folders: configs that name code to import, pickles, and files from the hub.

A canary module (written into tmp_path and put on ``sys.path``) creates a marker file when it is
imported; a model config naming it must be refused in one sentence without importing it. Pickle
weights are refused with Studio's own sentence and load after consent; a model that would fetch
files from the hub is refused without a network attempt.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from studio.core.errors import UserError
from studio.core.jobs import Job
from studio.core.safety.consent import ConsentKind
from studio.plugin_api import (
    CancelToken,
    ImageRequest,
    LoadContext,
    Panel,
    RemoteCodeRequired,
    ResolvedModel,
    SpeechRequest,
    UnsafeWeights,
)
from tests.core.pickle_helpers import TrainingCheckpoint
from tests.fixtures.tiny_models import (
    build_tiny_causal_lm,
    build_tiny_coqui_vits,
    build_tiny_sd_pipeline,
    network_blocked,
)
from tests.plugins.test_voice_coqui import consenting_executor


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """``(module name, marker)``: importing the module (on sys.path) creates the marker."""
    name = f"studio_canary_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "canary-was-imported"
    where = tmp_path / "canary-path"
    where.mkdir()
    code = f"from pathlib import Path\nPath({str(marker)!r}).touch()\nclass Zen:\n    pass\n"
    (where / f"{name}.py").write_text(code)
    monkeypatch.syspath_prepend(str(where))
    yield name, marker
    sys.modules.pop(name, None)


def assert_one_sentence(message: str) -> None:
    assert "\n" not in message and "\x1b" not in message
    assert message.endswith(".") and message.count(". ") == 0, message
    assert "weights_only" not in message and "Traceback" not in message


# Coqui TTS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vits_dir(tmp_path_factory):
    pytest.importorskip("TTS.api", reason="coqui-tts is not installed")
    with network_blocked():
        return build_tiny_coqui_vits(tmp_path_factory.mktemp("tiny-coqui-vits"))


def load_coqui(folder: Path):
    from studio_voice_coqui.plugin import CoquiVoice

    plugin = CoquiVoice()
    with network_blocked():
        return plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )


def with_config(source: Path, target: Path, change) -> Path:
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    change(config)
    (target / "config.json").write_text(json.dumps(config))
    return target


def test_a_coqui_class_path_to_any_module_is_refused_before_it_is_imported(
    vits_dir, tmp_path, canary
):
    name, marker = canary
    folder = with_config(
        vits_dir,
        tmp_path / "hostile",
        lambda c: c["characters"].update(characters_class=f"{name}.Zen"),
    )
    with pytest.raises(ValueError) as caught:
        load_coqui(folder)
    assert str(caught.value) == (
        f"{folder / 'config.json'} names characters.characters_class '{name}.Zen', which is "
        "not a class of Coqui TTS; Studio does not load it."
    )
    assert_one_sentence(str(caught.value).replace(str(folder / "config.json"), "config.json"))
    assert not marker.exists() and name not in sys.modules


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("characters.characters_class", "this.Zen"),
        ("characters.characters_class", "TTS.utils.generic_utils.importlib"),  # a module
        ("characters.characters_class", "TTS.no_such_module.Characters"),
        ("model_args.encoder_class", "os.path.Thing"),  # any *_class key, at any depth
        ("text_cleaner", "anyascii"),  # in Coqui's cleaners module, but not Coqui's
        ("text_cleaner", "__loader__"),
    ],
)
def test_other_names_outside_coqui_are_refused(vits_dir, tmp_path, key, value):
    def change(config):
        table, _, field = key.rpartition(".")
        (config[table] if table else config)[field] = value

    folder = with_config(vits_dir, tmp_path / "hostile", change)
    before = set(sys.modules)
    with pytest.raises(ValueError, match=f"names {key} '{value}', which is not a "):
        load_coqui(folder)
    assert not {"this", "os.path.Thing"} & (set(sys.modules) - before)


def test_a_coqui_model_that_downloads_is_refused_without_a_network_attempt(tmp_path):
    pytest.importorskip("TTS.api", reason="coqui-tts is not installed")
    from TTS.tts.configs.bark_config import BarkConfig

    folder = tmp_path / "bark"
    folder.mkdir()
    BarkConfig().save_json(str(folder / "config.json"))
    (folder / "model.pth").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as caught:
        load_coqui(folder)  # network_blocked fails the test on any connection attempt
    assert str(caught.value) == (
        f"The Coqui bark model needs files that are not in the folder {folder}: the Hugging "
        "Face models bert-base-multilingual-cased and facebook/encodec_24khz, which Coqui "
        "would download, and Studio never downloads."
    )


def build_tiny_glow_tts_with_stats(folder: Path) -> Path:
    """A tiny Glow-TTS whose config names mean-variance statistics (``scale_stats.npy``, a
    pickled dict, as Coqui's Tacotron 2 and Glow-TTS releases ship) by a relative path."""
    import numpy as np
    import torch
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.models.glow_tts import GlowTTS

    folder.mkdir(parents=True)
    characters = CharactersConfig(
        characters_class="TTS.tts.utils.text.characters.Graphemes",
        pad="_",
        eos="",
        bos="",
        blank=None,
        characters="abcdefghijklmnopqrstuvwxyz",
        punctuations="!'(),-.:;? ",
        phonemes="",
    )
    encoder = {"kernel_size": 3, "dropout_p": 0.1, "num_layers": 1, "num_heads": 2}
    config = GlowTTSConfig(
        use_phonemes=False,
        text_cleaner="basic_cleaners",
        characters=characters,
        hidden_channels_enc=16,
        hidden_channels_dec=16,
        hidden_channels_dp=16,
        num_flow_blocks_dec=2,
        num_block_layers=1,
        out_channels=16,
        encoder_params={**encoder, "hidden_channels_ffn": 16, "input_length": None},
    )
    config.audio.num_mels = 16
    bins = config.audio.fft_size // 2 + 1
    stats = {
        "mel_mean": np.zeros(16),
        "mel_std": np.ones(16),
        "linear_mean": np.zeros(bins),
        "linear_std": np.ones(bins),
        "audio_config": config.audio.to_dict(),
    }
    np.save(folder / "scale_stats.npy", np.array(stats, dtype=object), allow_pickle=True)
    config.audio.stats_path = str(folder / "scale_stats.npy")  # GlowTTS reads it when built
    torch.manual_seed(0)
    model = GlowTTS(config)
    config.audio.stats_path = "scale_stats.npy"
    config.save_json(str(folder / "config.json"))
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, folder / "model.pth")
    return folder


def test_coqui_statistics_are_unpickled_only_with_consent(tmp_path):
    pytest.importorskip("TTS.api", reason="coqui-tts is not installed")
    folder = build_tiny_glow_tts_with_stats(tmp_path / "glow")
    with pytest.raises(UnsafeWeights) as caught:
        load_coqui(folder)
    assert caught.value.path == folder / "scale_stats.npy"
    executor, sink, consents = consenting_executor(tmp_path)
    job = Job(
        plugin_id="studio.voice-coqui",
        panel=Panel.VOICE,
        request=SpeechRequest(text="Hello there."),
        load_options={"model": str(folder)},
        run_options={"seed": 1},
    )
    with pytest.raises(UserError, match=r"scale_stats\.npy needs full unpickling"):
        executor.execute(job, CancelToken())
    consents.grant(ConsentKind.UNPICKLE, folder / "scale_stats.npy")
    with network_blocked():
        executor.execute(job, CancelToken())
    (produced,) = sink.produced
    assert produced.asset.media_type == "audio/wav"
    executor.shutdown()


@pytest.mark.corpus
def test_corpus_coqui_configs_load_or_are_refused_and_import_only_coqui(
    corpus, monkeypatch, tmp_path
):
    pytest.importorskip("TTS.api", reason="coqui-tts is not installed")
    from studio_voice_coqui.config_check import check_config
    from studio_voice_coqui.loading import read_config
    from TTS.config import load_config
    from TTS.tts.utils.text.tokenizer import TTSTokenizer

    imported: list[str] = []
    real_import = importlib.import_module

    def recording_import(name, package=None):
        # Coqui's own imports by name (import_class, find_module), not its libraries' lazy ones.
        if sys._getframe(1).f_globals.get("__name__", "").startswith("TTS."):
            imported.append(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", recording_import)
    configs = sorted((corpus / "hostile" / "tts-configs").rglob("*.json"))
    assert configs
    loaded = 0
    for path in configs:
        try:
            config = read_config(path)
            check_config(config, path)
        except (ValueError, FileNotFoundError) as exc:
            assert_one_sentence(str(exc).replace(str(path), "config.json"))
            continue
        # Coqui reads it as Studio did (comments and all) and builds its tokenizer, where
        # class paths are imported (without phonemes: no espeak needed).
        coqui_config = load_config(str(path))
        if "characters" in coqui_config:
            coqui_config.use_phonemes = False
            # Some test configs list a character twice, which Coqui refuses after the import.
            with contextlib.suppress(AssertionError):
                TTSTokenizer.init_from_config(coqui_config)
        loaded += 1
    assert loaded >= 3  # Tacotron 2 DDC, the test configs with // comments
    assert imported and all(name.startswith("TTS.") for name in imported), imported


# diffusers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sd_dir(tmp_path_factory):
    pytest.importorskip("diffusers")
    with network_blocked():
        return build_tiny_sd_pipeline(tmp_path_factory.mktemp("tiny-sd"))


def load_diffusers(folder: Path):
    from studio_image_diffusers.plugin import DiffusersImage

    plugin = DiffusersImage()
    with network_blocked():
        return plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )


def with_index(source: Path, target: Path, **changes) -> Path:
    shutil.copytree(source, target)
    index = json.loads((target / "model_index.json").read_text())
    (target / "model_index.json").write_text(json.dumps(index | changes))
    return target


@pytest.mark.parametrize(
    "changes",
    [
        {"_class_name": "{canary}.Zen"},
        {"_class_name": ["{canary}", "Zen"]},  # a custom pipeline file in the folder
        {"unet": ["{canary}", "Zen"]},
        {"unet": ["diffusers", "{canary}.Zen"]},
        {"unet": ["transformers", "{canary}.Zen"]},
        {"unet": ["diffusers", "logging"]},  # an attribute of diffusers, not a class
        {"unet": ["unet", "Zen"]},  # a custom component: unet/unet.py
    ],
)
def test_a_diffusers_index_naming_other_code_is_refused_without_importing_it(
    sd_dir, tmp_path, canary, changes
):
    from studio_image_diffusers.loading import ModelFolderError

    name, marker = canary
    changes = json.loads(json.dumps(changes).replace("{canary}", name))
    folder = with_index(sd_dir, tmp_path / "hostile", **changes)
    canary_code = f"from pathlib import Path\nPath({str(marker)!r}).touch()\nclass Zen:\n    pass\n"
    (folder / f"{name}.py").write_text(canary_code)
    (folder / "unet" / f"{name}.py").write_text(canary_code)
    (folder / "unet" / "unet.py").write_text(canary_code)
    with pytest.raises(ModelFolderError) as caught:
        load_diffusers(folder)
    assert_one_sentence(str(caught.value).replace(str(folder), "F").replace(".json", "-json"))
    assert not marker.exists() and name not in sys.modules


def pickled_unet(source: Path, target: Path, *, full_pickle: bool) -> Path:
    """The tiny pipeline with its UNet weights in ``diffusion_pytorch_model.bin``; with
    ``full_pickle`` saved as a dict subclass, which torch's weights-only loader refuses."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(source, target)
    (weights,) = (target / "unet").glob("*.safetensors")
    state = load_file(weights)
    weights.unlink()
    torch.save(TrainingCheckpoint(state) if full_pickle else state, weights.with_suffix(".bin"))
    return target


def test_a_weights_only_bin_loads_like_safetensors(sd_dir, tmp_path):
    import torch

    folder = pickled_unet(sd_dir, tmp_path / "bin", full_pickle=False)
    loaded = load_diffusers(folder)
    reference = load_diffusers(sd_dir)
    for (key, mine), theirs in zip(
        loaded.pipe.unet.state_dict().items(),
        reference.pipe.unet.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(mine, theirs), key


def test_a_pickled_diffusers_bin_asks_for_consent_and_loads_after_it(sd_dir, tmp_path):
    folder = pickled_unet(sd_dir, tmp_path / "pickled", full_pickle=True)
    weights = folder / "unet" / "diffusion_pytorch_model.bin"
    with pytest.raises(UnsafeWeights) as caught:
        load_diffusers(folder)
    assert caught.value.path == weights
    message = str(caught.value)
    assert message == (
        f"diffusion_pytorch_model.bin needs full unpickling, which can run code; if you trust "
        f'it, allow it with "studio consent grant {weights}" and convert it to safetensors '
        f'with "studio convert {weights}".'
    )
    assert "\n" not in message and "\x1b" not in message and "weights_only" not in message

    executor, sink, consents = consenting_executor(tmp_path)
    job = Job(
        plugin_id="studio.image-diffusers",
        panel=Panel.IMAGE,
        request=ImageRequest(prompt="an apple"),
        load_options={"model": str(folder)},
        run_options={"steps": 2, "seed": 3},
        device="cpu",
    )
    with pytest.raises(UserError) as refused:
        executor.execute(job, CancelToken())
    assert str(refused.value) == message
    consents.grant(ConsentKind.UNPICKLE, weights)
    with network_blocked():
        executor.execute(job, CancelToken())
    (produced,) = sink.produced
    assert produced.asset.media_type == "image/png"
    assert list((tmp_path / "converted").glob("*.safetensors"))
    executor.shutdown()


@pytest.mark.corpus
def test_corpus_pickles_as_diffusers_weights_are_refused_and_never_run(corpus, sd_dir, tmp_path):
    from studio_image_diffusers.loading import ModelFolderError

    folder = pickled_unet(sd_dir, tmp_path / "corpus", full_pickle=False)
    weights = folder / "unet" / "diffusion_pytorch_model.bin"
    hostile = sorted(
        path
        for path in (corpus / "hostile" / "models").rglob("*")
        if path.is_file() and path.suffix in (".pkl", ".pt", ".pth", ".bin", ".ckpt")
    )
    assert hostile
    for path in hostile:
        shutil.copyfile(path, weights)
        with pytest.raises((UnsafeWeights, ModelFolderError)) as caught:
            load_diffusers(folder)
        assert "\n" not in str(caught.value) and "weights_only" not in str(caught.value)


# transformers -------------------------------------------------------------------------------


def test_an_auto_map_runs_no_code_without_consent(tmp_path, canary):
    pytest.importorskip("transformers")
    from studio_writer_transformers.plugin import TransformersWriter

    _name, marker = canary
    folder = build_tiny_causal_lm(tmp_path / "lm")
    canary_code = f"from pathlib import Path\nPath({str(marker)!r}).touch()\n"
    (folder / "acme_model.py").write_text(canary_code)
    config = json.loads((folder / "config.json").read_text())
    auto_map = {"AutoConfig": "acme_model.Config", "AutoModelForCausalLM": "acme_model.Model"}
    (folder / "config.json").write_text(json.dumps(config | {"auto_map": auto_map}))
    plugin = TransformersWriter()
    options = plugin.load_options.validate({"model": str(folder)})
    ctx = LoadContext(model=ResolvedModel(id="x", path=folder))
    with network_blocked():
        # GPT-2 is transformers' own: its class is used, the folder's code is not.
        plugin.unload(plugin.load(options, ctx))
        (folder / "config.json").write_text(
            json.dumps(config | {"model_type": "acme", "auto_map": auto_map})
        )
        with pytest.raises(RemoteCodeRequired):
            plugin.load(options, ctx)
    assert not marker.exists() and "acme_model" not in sys.modules
