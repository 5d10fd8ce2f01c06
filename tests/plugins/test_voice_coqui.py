"""The Coqui TTS plugin on a tiny random VITS voice built from a config (no download, no espeak)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from studio.core.device import Devices
from studio.core.errors import UserError
from studio.core.jobs import Job, JobExecutor
from studio.core.model_cache import ModelCache
from studio.core.model_resolver import ModelResolver
from studio.core.paths import Paths
from studio.core.registry import PluginRegistry
from studio.core.safety.consent import ConsentKind, ConsentStore
from studio.core.scheduler import DeviceScheduler
from studio.plugin_api import (
    ENTRY_POINT_GROUP,
    AssetKind,
    Cancelled,
    CancelToken,
    InputMedia,
    LoadContext,
    Panel,
    Partial,
    Progress,
    ResolvedModel,
    Result,
    RunContext,
    SpeechRequest,
    UnsafeWeights,
)
from studio.plugin_api.testing import check_plugin
from tests.core.pickle_helpers import TrainingCheckpoint
from tests.fixtures.tiny_models import (
    COQUI_VITS_SAMPLE_RATE,
    COQUI_VITS_SPEAKERS,
    build_tiny_coqui_vits,
    network_blocked,
)
from tests.support import MemorySink

pytest.importorskip("TTS.api", reason="coqui-tts is not installed")

from studio_voice_coqui.plugin import CoquiVoice

from studio.plugin_api.speech import MAX_CHARACTERS

MANIFEST = Path(__file__).parents[2] / "plugins" / "studio_voice_coqui" / "studio-plugin.toml"
THREE_SENTENCES = "Hello there. This is a small test. Goodbye now!"


@pytest.fixture(scope="module")
def vits_dir(tmp_path_factory):
    with network_blocked():
        return build_tiny_coqui_vits(tmp_path_factory.mktemp("tiny-coqui-vits"))


@pytest.fixture(scope="module")
def clone_dir(tmp_path_factory):
    """A tiny model that clones voices (d-vectors from a tiny speaker encoder)."""
    with network_blocked():
        return build_tiny_coqui_vits(tmp_path_factory.mktemp("coqui-clone"), clones_voices=True)


@pytest.fixture(scope="module")
def plugin():
    return CoquiVoice()


@pytest.fixture(scope="module")
def loaded(plugin, vits_dir):
    model = ResolvedModel(id="tiny", path=vits_dir)
    with network_blocked():
        loaded = plugin.load(plugin.load_options.validate({}), LoadContext(model=model))
    yield loaded
    plugin.unload(loaded)


@pytest.fixture(scope="module")
def multi_speaker_dir(tmp_path_factory):
    with network_blocked():
        return build_tiny_coqui_vits(
            tmp_path_factory.mktemp("coqui-ms"),
            speakers=COQUI_VITS_SPEAKERS,
            trained_elsewhere=True,
        )


def run(plugin, loaded, text=THREE_SENTENCES, cancel=None, inputs=(), **options):
    ctx = RunContext(model=ResolvedModel(id="tiny"), cancel=cancel or CancelToken())
    request = SpeechRequest(text=text, inputs=tuple(inputs))
    return plugin.run(loaded, request, plugin.run_options.validate({"seed": 7, **options}), ctx)


def audio_of(events):
    result = events[-1]
    assert isinstance(result, Result)
    (asset,) = result.assets
    data, rate = soundfile.read(io.BytesIO(asset.data))
    return asset, data, rate


def test_contract(vits_dir):
    check_plugin(MANIFEST, model=ResolvedModel(id="tiny", path=vits_dir))


def test_speaks_each_sentence_with_progress_and_a_plausible_length(plugin, loaded):
    with network_blocked():
        events = list(run(plugin, loaded))
    messages = [e.message for e in events if isinstance(e, Progress)]
    assert messages[:3] == ["sentence 1 of 3", "sentence 2 of 3", "sentence 3 of 3"]
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(isinstance(e, Partial) and e.media_type == "audio/wav" for e in events)
    asset, data, rate = audio_of(events)
    assert asset.kind is AssetKind.AUDIO and asset.media_type == "audio/wav"
    assert rate == COQUI_VITS_SAMPLE_RATE and data.ndim == 1
    # A random VITS says each short sentence in roughly 0.3-3 s; two pauses of 0.25 s join them.
    assert 1.0 < len(data) / rate < 12.0
    assert np.abs(data).max() > 0.001
    assert asset.details["sentences"] == 3
    assert asset.details["sample_rate"] == rate
    assert asset.details["voice"] == "tiny-coqui-vits0"
    assert asset.title == "“Hello there. This is a small test. Goodbye now!” · tiny-coqui-vits0"
    assert asset.seed == 7


def test_same_seed_same_audio_and_speed_changes_the_length(plugin, loaded):
    first = audio_of(list(run(plugin, loaded, "Hello there friend.")))[1]
    again = audio_of(list(run(plugin, loaded, "Hello there friend.")))[1]
    fast = audio_of(list(run(plugin, loaded, "Hello there friend.", speed=2.0)))[1]
    slow = audio_of(list(run(plugin, loaded, "Hello there friend.", speed=0.5)))[1]
    assert np.array_equal(first, again)
    assert len(fast) < len(first) < len(slow)


def test_cancel_stops_between_sentences(plugin, loaded):
    token = CancelToken()
    seen = []
    with pytest.raises(Cancelled):
        for event in run(plugin, loaded, "One. Two. Three. Four. Five.", cancel=token):
            assert not isinstance(event, Result)
            if isinstance(event, Progress):
                seen.append(event.message)
                if event.message == "sentence 2 of 5":
                    token.cancel()
    assert seen[-1] == "sentence 2 of 5"


def test_multi_speaker_model_trained_elsewhere(plugin, multi_speaker_dir):
    model = ResolvedModel(id="ms", path=multi_speaker_dir)
    loaded = plugin.load(plugin.load_options.validate({}), LoadContext(model=model))
    try:
        assert loaded.speakers == list(COQUI_VITS_SPEAKERS)
        asset = audio_of(list(run(plugin, loaded, "Hi there.")))[0]
        assert asset.details["voice"].endswith("/alice")  # the first speaker by default
        bob = audio_of(list(run(plugin, loaded, "Hi there.", speaker="bob")))
        assert bob[0].details["voice"].endswith("/bob")
        with pytest.raises(ValueError, match=r"no speaker .carol.*alice, bob"):
            list(run(plugin, loaded, "Hi there.", speaker="carol"))
        with pytest.raises(ValueError, match="one language"):
            list(run(plugin, loaded, "Hi there.", language="de"))
    finally:
        plugin.unload(loaded)


def test_cloning_with_consent_records_the_consent_and_the_clip(plugin, clone_dir, tmp_path):
    import hashlib

    folder = clone_dir
    loaded = plugin.load(
        plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
    )
    try:
        assert loaded.clones_voices
        clip = tmp_path / "me.wav"
        soundfile.write(clip, (np.sin(np.arange(40_000) / 9) * 0.3).astype(np.float32), 16_000)
        reference = InputMedia(role="reference", path=clip, kind=AssetKind.AUDIO)
        with pytest.raises(ValueError, match="speaker's consent"):
            list(run(plugin, loaded, "Hello there.", inputs=[reference]))
        asset = audio_of(
            list(run(plugin, loaded, "Hello there.", inputs=[reference], speaker_consent=True))
        )[0]
        assert asset.details["speaker_consent"] is True
        assert asset.details["reference_sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
        assert asset.details["reference_seconds"] == 2.5
    finally:
        plugin.unload(loaded)


def test_a_config_that_would_download_is_refused(plugin, clone_dir, tmp_path):
    folder = copy_model(clone_dir, tmp_path / "url")
    config = json.loads((folder / "config.json").read_text())
    config["model_args"]["speaker_encoder_model_path"] = "https://example.org/se/model_se.pth.tar"
    (folder / "config.json").write_text(json.dumps(config))
    with network_blocked(), pytest.raises(FileNotFoundError, match="never downloads"):
        plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )
    # The file of that name in the model folder is used instead.
    (folder / "encoder.pth").rename(folder / "model_se.pth.tar")
    with network_blocked():
        loaded = plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )
    assert loaded.clones_voices
    plugin.unload(loaded)


# bad input ----------------------------------------------------------------------------------


def test_empty_text_is_refused(plugin, loaded):
    with pytest.raises(ValueError, match="no text to speak"):
        list(run(plugin, loaded, "   \n "))


def test_a_megabyte_of_text_is_refused_with_the_limit(plugin, loaded):
    with pytest.raises(ValueError, match=f"{MAX_CHARACTERS:,}"):
        list(run(plugin, loaded, "All work and no play. " * 48_000))


def test_emoji_and_unknown_characters_are_left_out_with_a_note(plugin, loaded):
    asset = audio_of(list(run(plugin, loaded, "Hello 😀 world ☃️. Fine → thanks!")))[0]
    assert set("😀☃→") <= set(asset.details["removed_characters"])
    assert "cannot say" in asset.details["notes"][0]
    with pytest.raises(ValueError, match="nothing the voice can say"):
        list(run(plugin, loaded, "😀 🎉 ☃️"))


def test_cloning_needs_consent_and_a_real_clip(plugin, loaded, tmp_path):
    clip = tmp_path / "voice.wav"
    soundfile.write(clip, np.sin(np.linspace(0, 800, 32_000)).astype(np.float32) * 0.3, 16_000)
    reference = InputMedia(role="reference", path=clip, kind=AssetKind.AUDIO)
    with pytest.raises(ValueError, match="speaker's consent"):
        list(run(plugin, loaded, inputs=[reference]))
    # With consent, this VITS model (no speaker encoder) says it cannot clone.
    with pytest.raises(ValueError, match="cannot speak in the voice of a reference clip"):
        list(run(plugin, loaded, inputs=[reference], speaker_consent=True))

    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio at all")
    with pytest.raises(ValueError, match="not an audio file"):
        list(
            run(
                plugin,
                loaded,
                inputs=[InputMedia(role="reference", path=fake, kind=AssetKind.AUDIO)],
                speaker_consent=True,
            )
        )
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, np.float32), 16_000)
    with pytest.raises(ValueError, match="holds no audio"):
        list(
            run(
                plugin,
                loaded,
                inputs=[InputMedia(role="reference", path=empty, kind=AssetKind.AUDIO)],
                speaker_consent=True,
            )
        )


def copy_model(source: Path, target: Path) -> Path:
    """A copy of a model folder whose config names the copy's files, not the original's."""
    shutil.copytree(source, target)
    config = target / "config.json"
    config.write_text(config.read_text().replace(str(source), str(target)))
    return target


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("{ this is not json", "cannot be read as JSON"),
        ('{"audio": {}}', "does not say which model"),
        ('{"model": "vits", "audio": "broken"}', "cannot be loaded"),
    ],
)
def test_a_broken_config_is_a_clear_error(plugin, vits_dir, tmp_path, config_text, message):
    folder = copy_model(vits_dir, tmp_path / "broken")
    (folder / "config.json").write_text(config_text)
    with pytest.raises(ValueError, match=message):
        plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )


def test_missing_files_are_named(plugin, vits_dir, tmp_path):
    folder = copy_model(vits_dir, tmp_path / "no-checkpoint")
    (folder / "model.pth").unlink()
    with pytest.raises(FileNotFoundError, match="has no checkpoint"):
        plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"has no config\.json"):
        plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )


# checkpoints that need full unpickling ------------------------------------------------------


def full_pickle_model(source: Path, target: Path) -> Path:
    """The tiny model with its checkpoint saved as a dict subclass: weights_only refuses it."""
    import torch

    folder = copy_model(source, target)
    state = torch.load(folder / "model.pth", weights_only=True)
    torch.save(TrainingCheckpoint(model=state["model"], step=3), folder / "model.pth")
    return folder


def test_a_full_pickle_checkpoint_raises_unsafe_weights(plugin, vits_dir, tmp_path):
    folder = full_pickle_model(vits_dir, tmp_path / "pickled")
    with pytest.raises(UnsafeWeights) as caught:
        plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )
    assert caught.value.path == folder / "model.pth"


def consenting_executor(tmp_path: Path) -> tuple[JobExecutor, MemorySink, ConsentStore]:
    consents = ConsentStore(tmp_path / "consents.json")
    sink = MemorySink()
    executor = JobExecutor(
        registry=PluginRegistry(plugin_dirs=(), entry_point_group=ENTRY_POINT_GROUP),
        resolver=ModelResolver(Paths(data_dir=tmp_path / "data"), hasher=lambda p: "sha"),
        cache=ModelCache(2**40),
        scheduler=DeviceScheduler(),
        devices=Devices(),
        sink=sink,
        consents=consents,
        converted_dir=tmp_path / "converted",
    )
    return executor, sink, consents


def test_consent_converts_a_full_pickle_checkpoint_and_it_speaks(vits_dir, tmp_path):
    folder = full_pickle_model(vits_dir, tmp_path / "pickled")
    executor, sink, consents = consenting_executor(tmp_path)
    job = Job(
        plugin_id="studio.voice-coqui",
        panel=Panel.VOICE,
        request=SpeechRequest(text="Hello there."),
        load_options={"model": str(folder)},
        run_options={"seed": 1},
    )
    with pytest.raises(UserError, match="needs full unpickling"):
        executor.execute(job, CancelToken())
    consents.grant(ConsentKind.UNPICKLE, folder / "model.pth")
    executor.execute(job, CancelToken())
    (produced,) = sink.produced
    assert produced.asset.media_type == "audio/wav"
    assert list((tmp_path / "converted").glob("*.safetensors"))
    executor.shutdown()


def test_an_unsafe_speaker_encoder_is_named_and_converted_with_consent(plugin, clone_dir, tmp_path):
    import torch

    folder = copy_model(clone_dir, tmp_path / "clone")
    encoder = folder / "encoder.pth"
    state = torch.load(encoder, weights_only=True)
    torch.save(TrainingCheckpoint(model=state["model"]), encoder)
    with pytest.raises(UnsafeWeights) as caught:
        plugin.load(
            plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="x", path=folder))
        )
    assert caught.value.path == encoder  # the encoder, not the (safe) model checkpoint
    executor, sink, consents = consenting_executor(tmp_path)
    consents.grant(ConsentKind.UNPICKLE, encoder)
    clip = tmp_path / "me.wav"
    soundfile.write(clip, (np.sin(np.arange(40_000) / 9) * 0.3).astype(np.float32), 16_000)
    job = Job(
        plugin_id="studio.voice-coqui",
        panel=Panel.VOICE,
        request=SpeechRequest(
            text="Hello there.",
            inputs=(InputMedia(role="reference", path=clip, kind=AssetKind.AUDIO),),
        ),
        load_options={"model": str(folder)},
        run_options={"seed": 1, "speaker_consent": True},
    )
    executor.execute(job, CancelToken())
    (produced,) = sink.produced
    assert produced.asset.details["speaker_consent"] is True
    executor.shutdown()


def test_the_plugin_is_listed_disabled_without_coqui(monkeypatch):
    from studio.core import registry as registry_module

    real = registry_module.unmet_requirement

    def without_coqui(text):
        return (
            "it needs the Python package coqui-tts (not installed)"
            if "coqui" in text
            else real(text)
        )

    monkeypatch.setattr(registry_module, "unmet_requirement", without_coqui)
    registry = PluginRegistry(plugin_dirs=(), entry_point_group=ENTRY_POINT_GROUP)
    record = registry.get("studio.voice-coqui")
    assert not record.enabled and "coqui-tts" in record.reason
    assert registry.get("studio.voice-hibari").enabled


def test_manifest_requires_the_coqui_stack():
    import tomllib

    from packaging.requirements import Requirement

    requires = tomllib.loads(MANIFEST.read_text())["requires"]
    names = {Requirement(text).name for text in requires}
    assert {"coqui-tts", "torchaudio", "torchcodec"} <= names


# what a config may name ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "coqui"),
    [
        ("TTS.tts.models.vits.VitsCharacters", True),
        ("TTS.tts.utils.text.characters.Graphemes", True),
        ("TTS.tts.utils.text.characters.IPAPhonemes", True),
        ("this.Zen", False),  # any installed module: its import prints the Zen of Python
        ("TTSx.Zen", False),
        ("TTS.tts.models.vits.torch", False),  # a module Coqui imports, not a class
        ("TTS.tts.models.vits.no_such_class", False),
        ("TTS.no_such_module.Characters", False),
        ("TTS.tts.models.vits..Vits", False),
        ("TTS.tts.models.vits.VitsCharacters ", False),
    ],
)
def test_only_classes_of_coqui_are_class_paths(path, coqui):
    from studio_voice_coqui.config_check import is_coqui_class

    assert is_coqui_class(path) is coqui


def test_class_paths_are_found_at_any_depth_and_cleaners_must_be_coqui_functions():
    from studio_voice_coqui.config_check import class_paths, is_coqui_cleaner

    config = {
        "characters": {"characters_class": "TTS.tts.models.vits.VitsCharacters"},
        "model_args": {"parts": [{"decoder_class": "evil.Decoder"}]},
        "wavlm": {"tokenizer_class": "Wav2Vec2CTCTokenizer"},  # no module to import
    }
    assert list(class_paths(config)) == [
        ("characters.characters_class", "TTS.tts.models.vits.VitsCharacters"),
        ("model_args.parts[0].decoder_class", "evil.Decoder"),
    ]
    assert is_coqui_cleaner("basic_cleaners") and is_coqui_cleaner("english_cleaners")
    assert not is_coqui_cleaner("anyascii")  # imported into the module from another package
    assert not is_coqui_cleaner("re") and not is_coqui_cleaner("os.system")


def test_models_that_download_are_named_with_what_they_fetch():
    from studio_voice_coqui.config_check import hub_files

    assert hub_files({"model": "vits"}) == ()
    assert "facebook/encodec_24khz" in hub_files({"model": "Bark"})
    assert hub_files({"model": "tortoise"})  # redaction is on by default
    assert hub_files({"model": "tortoise", "model_args": {"enable_redaction": False}}) == ()


def test_configs_with_comments_are_read_as_coqui_reads_them(vits_dir, tmp_path):
    from studio_voice_coqui.loading import read_config

    folder = copy_model(vits_dir, tmp_path / "commented")
    original = json.loads((folder / "config.json").read_text())
    text = (folder / "config.json").read_text()
    text = text.replace('"model": "vits",', '"model": "vits", // the model, "not" a string')
    (folder / "config.json").write_text(text)
    assert read_config(folder / "config.json") == original
    with network_blocked():
        loaded = CoquiVoice().load(
            CoquiVoice.load_options.validate({}),
            LoadContext(model=ResolvedModel(id="x", path=folder)),
        )
    assert loaded.sample_rate == COQUI_VITS_SAMPLE_RATE
