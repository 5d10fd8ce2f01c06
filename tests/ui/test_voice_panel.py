"""The Voice panel: the embedded voice picked first, takes as audio assets with recipe and
lineage, the waveform and play head, playback that fails softly, export round trips, drops."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from studio.core.durations import format_duration
from studio.core.errors import UserError
from studio.core.media.audio_export import decode_audio, export_audio
from studio.core.media.detect import FLAC
from studio.core.media.embedded_recipe import read_embedded
from studio.plugin_api import AssetKind, Panel
from studio.ui.panels.voice import VoicePanel
from studio.ui.waveform import envelope

TONE = "studio-test.tone"


@pytest.fixture
def panel(qtbot, services, session, runners):
    widget = VoicePanel(services, session, runners[Panel.VOICE])
    qtbot.addWidget(widget)
    widget.refresh_plugins()
    widget.resize(1000, 600)
    widget.show()
    yield widget
    widget.player.close()


def speak(qtbot, panel, text="Hello there. How are you? Fine."):
    panel.text.setPlainText(text)
    with qtbot.waitSignal(panel.runner.finished, timeout=20_000) as done:
        panel.run_button.click()
    return done.args[1]


def drop(panel, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(QPoint(5, 5)),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    panel.dropEvent(event)


def test_the_embedded_voice_is_picked_on_first_launch(panel):
    assert panel.current_plugin_id() == "studio.voice-hibari"
    assert panel.run_button.text() == "Speak"
    assert not panel.reference_input.isVisibleTo(panel)
    assert "speed" in panel.run_form.editors


def test_a_take_is_an_audio_asset_shown_as_a_waveform(qtbot, panel):
    assert panel.select_plugin(TONE)
    (asset_id,) = speak(qtbot, panel)
    asset = panel.session.asset(asset_id)
    assert asset.kind is AssetKind.AUDIO and asset.media_type == "audio/wav"
    assert asset.recipe.request["text"] == "Hello there. How are you? Fine."
    assert asset.recipe.details["sentences"] == 3
    assert panel.waveform.has_audio and panel.waveform.duration > 0.3
    assert panel.export_button.isEnabled() and panel.play_button.isEnabled()
    assert "16000 Hz" in panel.info.text()
    assert panel.progress.label.text().startswith("Done")


def test_seek_moves_the_play_head_and_playback_never_crashes(qtbot, panel):
    panel.select_plugin(TONE)
    speak(qtbot, panel)
    duration = panel.waveform.duration
    qtbot.mouseClick(
        panel.waveform, Qt.MouseButton.LeftButton, pos=QPoint(panel.waveform.width() // 2, 20)
    )
    assert panel.waveform.position == pytest.approx(duration / 2, rel=0.05)
    assert panel.position_label.text().startswith(
        format_duration(panel.waveform.position, tenths=True)
    )
    panel.toggle_playback()  # without a sound card: silent or a soft note, never an error
    qtbot.wait(200)
    assert not panel.error_banner.isVisible()
    if panel.player.last_problem:
        assert panel.playback_note.isVisible()


def test_text_from_a_text_asset_is_recorded_as_the_source(qtbot, panel):
    panel.select_plugin(TONE)
    report = panel.session.import_files([write(panel, "story.txt", "Once. Twice.")]).result()
    (text_id,) = report.added
    panel.open_text("Once. Twice.", source_asset_id=text_id)
    (asset_id,) = speak(qtbot, panel, "Once. Twice.")
    links = panel.session.asset(asset_id).recipe.inputs
    assert [(link.asset_id, link.role) for link in links] == [(text_id, "source")]


def write(panel, name: str, text: str) -> Path:
    path = Path(panel.services.paths.data_dir) / name
    path.write_text(text, encoding="utf-8")
    return path


def test_dropping_a_text_file_fills_the_text_box(panel):
    drop(panel, write(panel, "speech.md", "# Title\n\nSome words to say."))
    assert panel.text.toPlainText() == "# Title\n\nSome words to say."
    assert "6 words" in panel.counts.text()


def test_dropping_audio_plays_it_or_sets_the_reference_clip(panel, tmp_path):
    clip = tmp_path / "voice.wav"
    soundfile.write(clip, np.zeros(8000, np.float32) + 0.1, 8000)
    panel.select_plugin(TONE)
    drop(panel, clip)
    assert panel.waveform.duration == pytest.approx(1.0)
    assert "not in the project" in panel.info.text()
    if panel.select_plugin("studio.voice-coqui"):  # when coqui-tts is installed
        assert panel.reference_input.isVisibleTo(panel)
        drop(panel, clip)
        assert panel.reference_input.path == clip
        assert "reference" in panel.file_inputs()


def test_bad_text_shows_the_plugins_message(qtbot, panel):
    panel.select_plugin(TONE)
    panel.text.setPlainText("")
    with qtbot.waitSignal(panel.runner.failed, timeout=10_000):
        panel.run_button.click()
    assert "text" in panel.error_banner.message.lower()
    assert panel.session.store.count_assets() == 0  # nothing half-saved


# export --------------------------------------------------------------------------------------


@pytest.fixture
def take() -> bytes:
    rate = 24_000
    t = np.arange(rate * 2) / rate
    buffer = io.BytesIO()
    soundfile.write(
        buffer, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format="WAV"
    )
    return buffer.getvalue()


@pytest.mark.parametrize("key", ["wav", "flac", "ogg"])
@pytest.mark.parametrize("rate", [None, 16_000, 44_100])
def test_export_round_trip(take, tmp_path, key, rate):
    written = export_audio(take, tmp_path / f"take.{key}", sample_rate=rate)
    info = soundfile.info(str(written))
    expected_rate = rate or 24_000
    assert written.suffix == f".{key}"
    assert info.samplerate == expected_rate and info.channels == 1
    assert info.frames == pytest.approx(2 * expected_rate, abs=expected_rate // 100)
    data, _ = soundfile.read(str(written))
    assert 0.2 < np.abs(data).max() < 0.35  # the tone survived resampling and encoding
    assert not list(tmp_path.glob(".*partial"))


def test_flac_export_carries_the_recipe_and_bad_audio_is_refused(qtbot, panel, tmp_path):
    panel.select_plugin(TONE)
    speak(qtbot, panel)
    written = panel.export_take(tmp_path / "out", "flac", 22_050)
    assert written == tmp_path / "out.flac"
    embedded = read_embedded(written.read_bytes(), FLAC)
    assert embedded is not None and embedded.recipe.plugin_id == TONE
    with pytest.raises(UserError, match="cannot be decoded"):
        decode_audio(b"RIFF\x10\x00\x00\x00WAVEfmt nonsense")
    empty = io.BytesIO()
    soundfile.write(empty, np.zeros(0, np.float32), 16_000, format="WAV")
    with pytest.raises(UserError, match="holds no sound"):
        export_audio(empty.getvalue(), tmp_path / "empty.wav")
    with pytest.raises(UserError, match="not 'mp3'"):
        export_audio(panel.take_data, tmp_path / "take.mp3")
    assert not (tmp_path / "empty.wav").exists()


def test_envelope_keeps_peaks():
    samples = np.zeros(100_000, np.float32)
    samples[12_345] = 0.9
    low, high = envelope(samples, 1000)
    assert len(high) == 1000 and high.max() == pytest.approx(0.9) and low.min() == 0


@pytest.mark.models
def test_speaks_with_the_embedded_voice_through_the_panel(qtbot, panel):
    (asset_id,) = speak(qtbot, panel, "Good morning. This is the embedded voice.")
    asset = panel.session.asset(asset_id)
    assert asset.recipe.plugin_id == "studio.voice-hibari"
    assert asset.recipe.model_id == "hibari-heart"
    assert asset.recipe.details["voice"] == "hibari/heart"
    assert 1.5 < panel.waveform.duration < 8


def test_send_to_voice_from_the_writing_panel(qtbot, services):
    from studio.app import build_app

    app = build_app(services=services)
    qtbot.addWidget(app.window)
    try:
        window = app.window
        writing, voice = window.panels[Panel.WRITING], window.panels[Panel.VOICE]
        writing.open_text("Read this aloud. Please.")
        writing.send_to_voice_button.click()
        assert window.tabs.currentWidget() is voice
        assert voice.text.toPlainText() == "Read this aloud. Please."
        document = writing.documents.document_id  # saved before it was sent
        assert document is not None and voice.source_asset_id == document
        assert app.session.store.read_blob(document) == b"Read this aloud. Please."
    finally:
        app.shutdown()


def test_a_cloned_take_records_consent_and_the_clip_as_lineage(qtbot, panel, tmp_path):
    pytest.importorskip("TTS.api")
    from tests.fixtures.tiny_models import build_tiny_coqui_vits

    model = build_tiny_coqui_vits(tmp_path / "clone", clones_voices=True)
    assert panel.select_plugin("studio.voice-coqui")
    panel.load_form.set_values({"model": str(model)})
    clip = tmp_path / "me.wav"
    soundfile.write(clip, (np.sin(np.arange(40_000) / 9) * 0.3).astype(np.float32), 16_000)
    panel.reference_input.set_path(clip)
    panel.text.setPlainText("Hello there.")
    panel.run_button.click()  # refused before anything is imported or run
    assert "consent" in panel.error_banner.message
    assert not panel.runner.busy and panel.session.store.count_assets() == 0
    panel.run_form.set_values({"speaker_consent": True})
    (asset_id,) = speak(qtbot, panel, "Hello there.")
    recipe = panel.session.asset(asset_id).recipe
    (link,) = recipe.inputs
    assert link.role == "reference"
    assert panel.session.asset(link.asset_id).kind is AssetKind.AUDIO
    assert recipe.run_options["speaker_consent"] is True
    assert recipe.details["speaker_consent"] is True
    assert len(recipe.details["reference_sha256"]) == 64


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"RIFF\x00\x00\x00\x00WAVEnot audio", "not a readable WAV"), (None, "holds no audio")],
)
def test_a_bad_reference_clip_is_refused_and_stops_the_job(
    qtbot, panel, tmp_path, content, message
):
    if not panel.select_plugin("studio.voice-coqui"):
        pytest.skip("coqui-tts is not installed")
    clip = tmp_path / "clip.wav"
    if content is None:
        soundfile.write(clip, np.zeros(0, np.float32), 16_000)
    else:
        clip.write_bytes(content)
    panel.load_form.set_values({"model": str(tmp_path)})
    panel.run_form.set_values({"speaker_consent": True})
    panel.reference_input.set_path(clip)
    panel.text.setPlainText("Hello.")
    # A WAV header passes the first look, so the clip is checked beside the job, which the
    # check stops with its message.
    with qtbot.waitSignal(panel.runner.failed, timeout=10_000):
        panel.run_button.click()
    assert message in panel.error_banner.message
    assert not panel.runner.busy and panel.session.store.count_assets() == 0


def test_cancel_keeps_nothing_and_says_so(qtbot, panel):
    panel.select_plugin(TONE)
    panel.run_form.set_values({"delay_ms": 300})
    panel.text.setPlainText("One. Two. Three. Four. Five. Six.")
    with qtbot.waitSignal(panel.runner.cancelled, timeout=10_000):
        panel.run_button.click()
        qtbot.waitUntil(lambda: "sentence 2" in panel.progress.label.text(), timeout=5_000)
        panel.cancel_button.click()
    assert panel.session.store.count_assets() == 0
    assert "nothing was saved" in panel.info.text()
    assert not panel.export_button.isEnabled()
