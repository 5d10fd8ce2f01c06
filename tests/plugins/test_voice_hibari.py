"""The embedded hibari voice, and the sentence-by-sentence speech module both voice plugins share.

The tests that speak with the real voice (7.9 MB ONNX in the hibari-tts wheel, ~1 s per test)
are marked ``models``; the rest need neither hibari nor numpy models.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from studio.core.jobs import Job
from studio.plugin_api import (
    AssetKind,
    Cancelled,
    CancelToken,
    InputMedia,
    LoadContext,
    Panel,
    Progress,
    ResolvedModel,
    Result,
    RunContext,
    SpeechRequest,
)
from studio.plugin_api.testing import check_plugin
from tests.support import make_executor

PLUGINS = Path(__file__).parents[2] / "plugins"
MANIFEST = PLUGINS / "studio_voice_hibari" / "studio-plugin.toml"


def test_both_voice_plugins_speak_through_the_one_shared_module():
    from studio_voice_coqui import plugin as coqui
    from studio_voice_hibari import plugin as hibari

    from studio.plugin_api import speech

    assert coqui.speak_sentences is hibari.speak_sentences is speech.speak_sentences
    assert coqui.prepare_text is hibari.prepare_text is speech.prepare_text


# the speech module ----------------------------------------------------------------------------


def test_sentences_keep_paragraphs_and_cut_long_ones():
    from studio.plugin_api.speech import MAX_SENTENCE_CHARACTERS, prepare_text

    text = (
        "Dr. Smith went to Washington. He arrived at 3 p.m. on Friday!\n\n"
        "A new paragraph. " + "word, " * 200 + "end.\nA heading line"
    )
    prepared = prepare_text(text)
    texts = [s.text for s in prepared.sentences]
    assert texts[0] == "Dr. Smith went to Washington."
    assert texts[1] == "He arrived at 3 p.m. on Friday!"
    assert prepared.sentences[1].paragraph_end and not prepared.sentences[0].paragraph_end
    assert texts[-1] == "A heading line"
    assert all(len(t) <= MAX_SENTENCE_CHARACTERS for t in texts)
    assert "".join(texts).count("word") == 200  # cut, never dropped


def test_bad_text_gets_clear_messages():
    from studio.plugin_api.speech import MAX_CHARACTERS, prepare_text

    with pytest.raises(ValueError, match="no text to speak"):
        prepare_text(" \n\t ")
    with pytest.raises(ValueError, match="at most 50,000"):
        prepare_text("x" * (MAX_CHARACTERS + 1))
    with pytest.raises(ValueError, match="nothing the voice can say"):
        prepare_text("😀 🎉 … ☃️ ***")
    prepared = prepare_text("Hi 👋🏽 there\u200d! Ok.\x07")
    assert [s.text for s in prepared.sentences] == ["Hi there !", "Ok."]
    assert "👋" in prepared.removed and "cannot say" in prepared.notes[0]


def test_a_failed_sentence_is_named_and_nothing_is_kept():
    from studio.plugin_api.speech import SentenceFailed, prepare_text, speak_sentences

    def speak(text):
        if "broken" in text:
            raise RuntimeError("the model fell over")
        return np.zeros(100, np.float32) + 0.1

    prepared = prepare_text("Fine one. A broken sentence here. Never reached.")
    events = []
    with pytest.raises(SentenceFailed, match=r"Sentence 2 of 3 .*fell over.*“A broken sentence"):
        for event in speak_sentences(
            prepared, speak, 16_000, RunContext(model=ResolvedModel(id="x"))
        ):
            events.append(event)
    assert not any(isinstance(e, Result) for e in events)


def test_pauses_join_sentences_and_longer_between_paragraphs():
    from studio.plugin_api.speech import (
        PARAGRAPH_PAUSE_S,
        SENTENCE_PAUSE_S,
        prepare_text,
        speak_sentences,
    )

    prepared = prepare_text("One. Two.\n\nThree.")
    generator = speak_sentences(
        prepared,
        lambda t: np.full(1000, 0.5, np.float32),
        10_000,
        RunContext(model=ResolvedModel(id="x")),
    )
    try:
        while True:
            next(generator)
    except StopIteration as stop:
        spoken = stop.value
    expected = 3 * 1000 + round(SENTENCE_PAUSE_S * 10_000) + round(PARAGRAPH_PAUSE_S * 10_000)
    assert spoken.frames == expected
    data, rate = soundfile.read(io.BytesIO(spoken.wav()))
    assert rate == 10_000 and len(data) == expected
    assert data[1000:3500].max() == 0 and abs(data[0] - 0.5) < 1e-3


# the real embedded voice ---------------------------------------------------------------------

needs_hibari = pytest.mark.skipif(
    importlib.util.find_spec("hibari") is None, reason="hibari-tts is not installed"
)


@pytest.fixture(scope="module")
def voice():
    pytest.importorskip("hibari")
    from studio_voice_hibari.plugin import HibariVoice

    plugin = HibariVoice()
    loaded = plugin.load(
        plugin.load_options.validate({}), LoadContext(model=ResolvedModel(id="hibari-heart"))
    )
    return plugin, loaded


def speak(voice, text, cancel=None, **options):
    plugin, loaded = voice
    ctx = RunContext(model=ResolvedModel(id="hibari-heart"), cancel=cancel or CancelToken())
    return plugin.run(
        loaded, SpeechRequest(text=text), plugin.run_options.validate({"seed": 5, **options}), ctx
    )


@needs_hibari
def test_only_voices_that_ship_in_the_package_are_offered():
    from hibari.voices import VOICES
    from studio_voice_hibari.plugin import HibariVoice

    choices = HibariVoice.load_options["voice"].choices
    assert "heart" in choices
    assert all(VOICES[name].get("bundled") for name in choices)
    assert "emma" not in choices  # downloaded on first use by hibari: never offered


@pytest.mark.models
@needs_hibari
def test_contract():
    check_plugin(MANIFEST, model=ResolvedModel(id="hibari-heart"))


@pytest.mark.models
@needs_hibari
def test_speaks_a_sentence_with_a_plausible_duration_and_sound(voice):
    events = list(speak(voice, "The quick brown fox jumps over the lazy dog."))
    (asset,) = events[-1].assets
    assert asset.kind is AssetKind.AUDIO and asset.media_type == "audio/wav"
    data, rate = soundfile.read(io.BytesIO(asset.data))
    assert rate == 24_000
    seconds = len(data) / rate
    assert 1.5 < seconds < 5.0  # nine words at a natural pace
    assert np.sqrt(np.mean(data**2)) > 0.01  # speech, not silence
    assert asset.details["voice"] == "hibari/heart" and asset.details["sentences"] == 1
    assert asset.title == "“The quick brown fox jumps over the lazy dog.” · Hibari heart"
    # the same seed gives the same take; speed changes the length
    again = soundfile.read(
        io.BytesIO(
            list(speak(voice, "The quick brown fox jumps over the lazy dog."))[-1].assets[0].data
        )
    )[0]
    assert np.array_equal(data, again)
    fast = list(speak(voice, "The quick brown fox jumps over the lazy dog.", speed=1.6))
    assert len(soundfile.read(io.BytesIO(fast[-1].assets[0].data))[0]) < 0.8 * len(data)


@pytest.mark.models
@needs_hibari
def test_long_text_progress_and_cancel(voice):
    text = " ".join(f"This is sentence number {n}." for n in range(1, 8))
    token = CancelToken()
    seen = []
    with pytest.raises(Cancelled):
        for event in speak(voice, text, cancel=token):
            if isinstance(event, Progress):
                seen.append(event.message)
                if event.message == "sentence 3 of 7":
                    token.cancel()
    assert seen[-1] == "sentence 3 of 7"


@pytest.mark.models
@needs_hibari
def test_emoji_are_left_out_and_a_reference_clip_is_refused(voice, tmp_path):
    (asset,) = list(speak(voice, "Good morning ☀️ everyone 🎉!"))[-1].assets
    assert "☀" in asset.details["removed_characters"]
    plugin, loaded = voice
    clip = InputMedia(role="reference", path=tmp_path / "x.wav", kind=AssetKind.AUDIO)
    with pytest.raises(ValueError, match="cannot imitate a reference clip"):
        list(
            plugin.run(
                loaded,
                SpeechRequest(text="Hi.", inputs=(clip,)),
                plugin.run_options.validate({}),
                RunContext(model=ResolvedModel(id="x")),
            )
        )


@pytest.mark.models
@needs_hibari
def test_the_embedded_voice_is_the_default_model(tmp_path):
    from studio.core.registry import PluginRegistry
    from studio.plugin_api import ENTRY_POINT_GROUP

    executor, sink = make_executor(tmp_path, plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=(), entry_point_group=ENTRY_POINT_GROUP)
    job = Job(
        plugin_id="studio.voice-hibari",
        panel=Panel.VOICE,
        request=SpeechRequest(text="Hello from the embedded voice."),
    )
    executor.execute(job, CancelToken())
    (produced,) = sink.produced
    assert produced.model.id == "hibari-heart" and produced.model.embedded
    assert produced.model.path.name == "hibari.onnx"
    executor.shutdown()


@pytest.mark.models
@needs_hibari
def test_studio_generate_speech_on_the_command_line(tmp_path, capsys):
    import json

    from studio.cli.main import main
    from studio.core.project.store import ProjectStore

    project = tmp_path / "P.studio"
    code = main(
        [
            "generate",
            "speech",
            "--project",
            str(project),
            "--plugin",
            "studio.voice-hibari",
            "--set",
            "text=Hello from the command line. A second sentence.",
            "--set",
            "speed=1.1",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (asset,) = json.loads(captured.out)["assets"]
    assert asset["kind"] == "audio"
    assert asset["recipe"]["run_options"]["speed"] == 1.1
    assert asset["recipe"]["details"]["sentences"] == 2
    # Progress lines closer than 0.5 s apart are thinned out; the last one is always written.
    assert captured.err.strip().splitlines()[-1].endswith("joined 2 sentences")
    store = ProjectStore.open(project)
    try:
        data, rate = soundfile.read(io.BytesIO(store.read_blob(asset["asset_id"])))
        assert rate == 24_000 and len(data) / rate > 1.5
    finally:
        store.close()
    assert (
        main(
            [
                "generate",
                "speech",
                "--project",
                str(project),
                "--plugin",
                "studio.voice-hibari",
                "--set",
                "text= ",
            ]
        )
        != 0
    )
    assert "no text to speak" in capsys.readouterr().err
