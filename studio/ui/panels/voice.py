"""The Voice panel: text in, speech out; see it, hear it, export it.

- The text box takes typed text, a dropped ``.txt``/``.md`` file, or text sent from the Writing
  panel (the take then records that text asset as its source).
- The voice is the plugin picker and its options (speed, speaker...); on first launch the
  embedded voice is picked. Plugins that clone voices get a reference-clip field.
- Speak (Ctrl+Enter) and Cancel (Esc); long texts are spoken sentence by sentence, with
  "sentence 7 of 42" and the time left, and the waveform grows while the take is made.
- The take: a waveform with a play head (click or drag to seek), Play/Pause, and Export as WAV,
  FLAC or Ogg at a chosen sample rate. Every take is an audio asset in the project.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from studio.core.durations import format_duration
from studio.core.errors import UserError
from studio.core.media.file_names import file_name_for
from studio.core.media.importing import read_media_file
from studio.core.pipeline import Draft
from studio.core.project.assets import Asset
from studio.core.recipe import RecipeOrigin
from studio.plugin_api import AssetKind, ModelSpec, Panel
from studio.qt.audio_player import AudioPlayer
from studio.ui.file_dialogs import choose_save_file
from studio.ui.panels.base import PanelWidget
from studio.ui.waveform import WaveformView
from studio.ui.widgets import FileInput

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
AUDIO_SUFFIXES = {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".opus"}
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.mp3);;All files (*)"
EXPORT_FILTERS = {
    "wav": "WAV audio (*.wav)",
    "flac": "FLAC audio (*.flac)",
    "ogg": "Ogg Vorbis audio (*.ogg)",
}


class VoicePanel(PanelWidget):
    panel = Panel.VOICE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_button.setText("Speak")
        self.run_button.setToolTip("Speak the text (Ctrl+Enter)")

    # request side ------------------------------------------------------------------------------

    def request_title(self) -> str:
        return "Text to speak"

    def output_title(self) -> str:
        return "Take"

    @property
    def source_asset_id(self) -> str | None:
        """The text asset of the project the text came from (its lineage), if any."""
        return self.model.source

    def build_request_area(self, layout: QVBoxLayout) -> None:
        self.text = QPlainTextEdit()
        self.text.setObjectName("text")
        self.text.setPlaceholderText(
            "Type or paste the text to speak, or drop a .txt or .md file. Long texts are spoken "
            "sentence by sentence. (Ctrl+Enter speaks)"
        )
        self.text.textChanged.connect(self._count)
        self.counts = QLabel()
        self.counts.setObjectName("text-counts")
        self.counts.setStyleSheet("color: palette(mid);")
        self.reference_input = FileInput(
            "Reference voice clip", AUDIO_FILTER, self.model, "reference"
        )
        self.reference_input.setObjectName("reference-input")
        self.reference_note = QLabel(
            "A clip of the voice to speak in (3-10 s of clear speech). Only with the speaker's "
            "consent: tick “I have the speaker's consent” below."
        )
        self.reference_note.setWordWrap(True)
        self.reference_note.setStyleSheet("color: palette(mid);")
        self.reference_input.hide()
        self.reference_note.hide()
        layout.addWidget(self.text, 1)
        layout.addWidget(self.counts)
        layout.addWidget(self.reference_input)
        layout.addWidget(self.reference_note)
        self.bind_text("text", self.text)
        self.setAcceptDrops(True)
        self._count()

    def _count(self) -> None:
        text = self.text.toPlainText()
        if not text.strip():
            self.model.source = None  # a new text: no longer the text asset it came from
        words = len(text.split())
        # About 150 words a minute: what a listener gets, before the first take says exactly.
        minutes = words / 150
        estimate = f" · about {format_duration(minutes * 60)} of speech" if words else ""
        source = " · from a text of the project" if self.source_asset_id else ""
        self.counts.setText(f"{words} words · {len(text)} characters{estimate}{source}")

    def restore_recipe(self, asset: Asset) -> list[str]:
        ignored = super().restore_recipe(asset)
        self._count()
        return ignored

    def file_inputs(self) -> dict[str, FileInput]:
        return {"reference": self.reference_input} if self.reference_input.isVisibleTo(self) else {}

    def build_draft(self) -> Draft:
        # Refuse a clip without consent before the clip is imported into the project.
        model = self.model
        has_clip = "reference" in model.input_roles() and not model.input("reference").empty
        spec = model.spec
        asks_consent = spec is not None and "speaker_consent" in spec.run_options
        if has_clip and asks_consent and not model.run_options.get("speaker_consent", False):
            raise UserError(
                "Speaking in the voice of a reference clip needs the speaker's consent: tick "
                "“I have the speaker's consent” if the person in the clip agreed, or remove "
                "the clip."
            )
        return super().build_draft()

    def plugin_selected(self, spec: ModelSpec | None) -> None:
        slot = spec.input_slot("reference") if spec is not None else None
        self.reference_input.setVisible(slot is not None)
        self.reference_note.setVisible(slot is not None)
        if slot is not None:
            self.reference_input.setToolTip(slot.description)
        else:
            self.reference_input.clear()

    def takes_text_assets(self) -> str:
        return "the text to speak"

    def take_text_asset(self, asset: Asset, text: str) -> bool:
        """A text or caption dragged from the asset browser (recorded as the source)."""
        self.open_text(text, source_asset_id=asset.id)
        return True

    def open_text(self, text: str, source_asset_id: str | None = None) -> None:
        """Put text in the box (undoable), remembering the text asset it came from."""
        self.model.source = None
        cursor = self.text.textCursor()
        cursor.select(cursor.SelectionType.Document)
        cursor.insertText(text)
        self.model.source = source_asset_id
        self._count()

    def open_text_file(self, path: Path) -> None:
        try:
            media = read_media_file(path)
            if media.kind is not AssetKind.TEXT:
                raise UserError(f"{path.name} is not a text file.")
        except UserError as exc:
            self.model.show_error(str(exc))
            return
        self.open_text(media.data.decode("utf-8"))

    # output side: the take ---------------------------------------------------------------------

    def build_output_area(self, layout: QVBoxLayout) -> None:
        self.take_asset: Asset | None = None
        self.take_data: bytes = b""
        self.take_rate = 0
        self._player_loaded = False
        self.info = QLabel("Takes you make appear here and in the project.")
        self.info.setObjectName("audio-info")
        self.info.setWordWrap(True)
        self.waveform = WaveformView()
        self.waveform.seek_requested.connect(self.seek)

        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("play")
        self.play_button.setToolTip("Play or pause the take (Ctrl+Space)")
        self.play_button.clicked.connect(self.toggle_playback)
        self.position_label = QLabel(format_duration(0, tenths=True))
        self.position_label.setObjectName("position")
        transport = QHBoxLayout()
        transport.addWidget(self.play_button)
        transport.addWidget(self.position_label)
        transport.addStretch(1)

        self.export_format = QComboBox()
        self.export_format.setObjectName("export-format")
        for key, label in (("wav", "WAV"), ("flac", "FLAC"), ("ogg", "Ogg Vorbis")):
            self.export_format.addItem(label, key)
        self.export_rate = QComboBox()
        self.export_rate.setObjectName("export-rate")
        self.export_rate.setToolTip("The sample rate of the exported file")
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("export")
        self.export_button.setToolTip("Save the take as a WAV, FLAC or Ogg file")
        self.export_button.clicked.connect(lambda: self.export_take())
        transport.addWidget(QLabel("Export as"))
        transport.addWidget(self.export_format)
        transport.addWidget(self.export_rate)
        transport.addWidget(self.export_button)
        self._fill_rates(0)

        self.playback_note = QLabel()
        self.playback_note.setObjectName("playback-note")
        self.playback_note.setWordWrap(True)
        self.playback_note.setStyleSheet("color: palette(mid);")
        self.playback_note.hide()

        layout.addWidget(self.info)
        layout.addWidget(self.waveform, 1)
        layout.addLayout(transport)
        layout.addWidget(self.playback_note)

        self.player = AudioPlayer(self)
        self.player.position_changed.connect(self._on_position)
        self.player.playing_changed.connect(self._on_playing)
        self.player.problem.connect(self._on_playback_problem)
        shortcut = QShortcut(QKeySequence("Ctrl+Space"), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.toggle_playback)
        self._set_take_controls(False)

    def _fill_rates(self, own_rate: int) -> None:
        from studio.core.media.audio_export import EXPORT_SAMPLE_RATES

        current = self.export_rate.currentData()
        self.export_rate.clear()
        self.export_rate.addItem(f"{own_rate} Hz (as made)" if own_rate else "as made", 0)
        for rate in EXPORT_SAMPLE_RATES:
            if rate != own_rate:
                self.export_rate.addItem(f"{rate} Hz", rate)
        index = self.export_rate.findData(current)
        self.export_rate.setCurrentIndex(max(index, 0))

    def _set_take_controls(self, enabled: bool) -> None:
        for widget in (self.play_button, self.export_button, self.export_format, self.export_rate):
            widget.setEnabled(enabled)

    def clear_output(self) -> None:
        self.player.stop()
        self.waveform.clear("Speaking… the waveform appears after the first sentence.")
        self.info.setText("Speaking…")

    def _decode(self, data: bytes) -> tuple[Any, int] | None:
        """16-bit samples (frames × channels) and the rate; cheap enough for the GUI thread
        (a minute of speech in a few milliseconds)."""
        import soundfile

        try:
            with soundfile.SoundFile(io.BytesIO(data)) as audio:
                samples = audio.read(dtype="int16", always_2d=True)
                rate = audio.samplerate
        except (RuntimeError, soundfile.LibsndfileError, TypeError) as exc:
            self.model.show_error(f"The audio cannot be decoded ({' '.join(str(exc).split())}).")
            return None
        if samples.shape[0] == 0:
            self.model.show_error("The audio holds no sound (0 seconds).")
            return None
        return samples, rate

    def show_preview(self, data: bytes, media_type: str) -> None:
        decoded = self._decode(data)
        if decoded is None:
            return
        samples, rate = decoded
        self.waveform.set_samples(samples, rate, preview=True)
        self.info.setText(f"Speaking… {format_duration(len(samples) / rate)} so far")

    def show_asset(self, asset: Asset, data: bytes) -> None:
        if asset.kind is not AssetKind.AUDIO:
            return
        self._show_audio(data, asset)

    def _show_audio(self, data: bytes, asset: Asset | None, name: str = "") -> bool:
        decoded = self._decode(data)
        if decoded is None:
            return False
        samples, rate = decoded
        self.take_asset, self.take_data, self.take_rate = asset, data, rate
        seconds = len(samples) / rate
        channels = samples.shape[1] if samples.ndim == 2 else 1
        facts = [
            format_duration(seconds, tenths=True),
            f"{rate} Hz",
            "mono" if channels == 1 else f"{channels} channels",
        ]
        title = name
        if asset is not None:
            title = asset.title
            details = asset.recipe.details
            if asset.recipe.origin is RecipeOrigin.GENERATED:
                voice = details.get("voice")
                if voice:
                    facts.insert(0, str(voice))
                sentences = details.get("sentences")
                if isinstance(sentences, int):
                    facts.append(f"{sentences} sentence{'s' if sentences != 1 else ''}")
                notes = details.get("notes")
                if isinstance(notes, list | tuple) and notes:
                    facts.append(str(notes[0]))
        self.info.setText(f"{title}\n{' · '.join(facts)}")
        self.waveform.set_samples(samples, rate)
        length = format_duration(seconds, tenths=True)
        self.position_label.setText(f"{format_duration(0, tenths=True)} / {length}")
        self._fill_rates(rate)
        self._set_take_controls(True)
        self.player.stop()
        self._player_loaded = False  # loaded on the first Play or seek: showing stays quick
        return True

    def _ensure_player(self) -> None:
        if not self._player_loaded and self.take_data:
            self._player_loaded = True
            self.player.load(self.take_data, self.waveform.duration)

    def _show_no_take(self, message: str) -> None:
        """After a failed or cancelled job: the preview was not kept, so do not show it."""
        if self.runner.busy:
            return
        self.waveform.clear(message)
        self.info.setText(message)
        self.take_asset, self.take_data = None, b""
        self._set_take_controls(False)

    @Slot(str, str)
    def _on_failed(self, job_id: str, message: str) -> None:
        super()._on_failed(job_id, message)
        self._show_no_take("The take failed: nothing was saved (see the message above).")

    @Slot(str, object)
    def _on_cancelled(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        super()._on_cancelled(job_id, asset_ids)
        if asset_ids:
            self.show_last_result(asset_ids)
        else:
            self._show_no_take("Cancelled: nothing was saved.")

    # playback ---------------------------------------------------------------------------------

    @Slot()
    def toggle_playback(self) -> None:
        if self.take_data:
            position = self.waveform.position
            if not self._player_loaded:
                self._ensure_player()
                self.player.seek(position)
            self.player.toggle()

    @Slot(float)
    def seek(self, seconds: float) -> None:
        if self._player_loaded:
            self.player.seek(seconds)
        else:  # nothing plays yet: only the play head moves
            self._on_position(max(0.0, min(seconds, self.waveform.duration)))

    @Slot(float)
    def _on_position(self, seconds: float) -> None:
        self.waveform.set_position(seconds)
        position = format_duration(seconds, tenths=True)
        length = format_duration(self.waveform.duration, tenths=True)
        self.position_label.setText(f"{position} / {length}")

    @Slot(bool)
    def _on_playing(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")

    @Slot(str)
    def _on_playback_problem(self, message: str) -> None:
        self.playback_note.setText(message)
        self.playback_note.show()

    # export -------------------------------------------------------------------------------------

    def export_take(
        self, path: Path | None = None, format_key: str | None = None, rate: int | None = None
    ) -> Path | None:
        """Write the take shown; asks for a file name when ``path`` is None."""
        from studio.core.media.audio_export import export_audio

        if not self.take_data:
            return None
        format_key = format_key or self.export_format.currentData()
        rate = rate if rate is not None else int(self.export_rate.currentData() or 0)
        if path is None:
            title = self.take_asset.title if self.take_asset else "take"
            path = choose_save_file(
                self,
                self.services.recent_folders,
                "export-take",
                "Export the take",
                file_name_for(title, f".{format_key}", "take"),
                EXPORT_FILTERS[format_key],
            )
            if path is None:
                return None
        try:
            written = export_audio(
                self.take_data,
                path,
                format_key=format_key,
                sample_rate=rate or None,
                recipe=self.take_asset.recipe if self.take_asset else None,
                title=self.take_asset.title if self.take_asset else "",
            )
        except UserError as exc:
            self.model.show_error(str(exc))
            return None
        self.model.set_status(f"Exported {written.name}")
        return written

    # drops ---------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if len(urls) == 1 and Path(urls[0].toLocalFile()).suffix.lower() in (
            TEXT_SUFFIXES | AUDIO_SUFFIXES
        ):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.open_file(Path(event.mimeData().urls()[0].toLocalFile()))
        event.acceptProposedAction()

    def open_file(self, path: Path) -> None:
        """A dropped file: text to speak, a reference clip (when the voice takes one), or
        audio to listen to."""
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            self.open_text_file(path)
            return
        if self.reference_input.isVisibleTo(self):
            self.reference_input.set_path(path)
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.model.show_error(f"{path.name} cannot be read ({exc.strerror}).")
            return
        if self._show_audio(data, None, name=f"{path.name} (a file, not in the project)"):
            self.take_asset = None

    def closeEvent(self, event) -> None:
        self.player.close()
        super().closeEvent(event)
