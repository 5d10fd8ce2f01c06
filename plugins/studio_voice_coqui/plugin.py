"""The Coqui TTS plugin: speech from a local Coqui model (VITS, Tacotron/Glow-TTS with a vocoder,
multi-speaker and multilingual models, XTTS v2), with voice cloning only on consent."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from studio.plugin_api import (
    AssetKind,
    BoolOption,
    Event,
    FloatOption,
    GeneratedAsset,
    InputSlot,
    LoadContext,
    ModelOption,
    OptionSet,
    Result,
    RunContext,
    SeedOption,
    SpeechRequest,
    TextOption,
    VoicePlugin,
)
from studio.plugin_api.speech import prepare_text, speak_sentences, take_details, take_title
from studio.plugin_api.titles import input_name

from .loading import LoadedCoqui, load_coqui, load_reference_clip, use_soundfile_for_xtts_clips

# Synthesizer.tts appends this much silence after every call (TTS.utils.synthesizer).
_SYNTHESIZER_PAD = 10_000
_MIN_REFERENCE_SECONDS = 1.0


def _listed(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class CoquiVoice(VoicePlugin):
    """Text to speech with a Coqui TTS model from a local folder."""

    load_options = OptionSet(
        ModelOption(
            description="The Coqui model's folder (config.json and a checkpoint such as "
            "model.pth, best_model.pth or checkpoint_<step>.pth), or its checkpoint file. XTTS v2 "
            "folders work as they are. Nothing is downloaded."
        ),
        TextOption(
            name="vocoder",
            default="",
            label="Vocoder folder",
            description="For Tacotron and Glow-TTS models: the folder of a Coqui vocoder "
            "(config.json and checkpoint, such as HiFi-GAN). Empty uses the model's own "
            "decoder (VITS, XTTS) or the Griffin-Lim fallback.",
            advanced=True,
        ),
    )
    run_options = OptionSet(
        TextOption(
            name="speaker",
            default="",
            max_length=200,
            description="For multi-speaker models: the speaker's name (a wrong name lists the "
            "model's speakers). Empty uses the first speaker, or the reference clip.",
        ),
        TextOption(
            name="language",
            default="",
            max_length=20,
            description="For multilingual models such as XTTS: the language of the text "
            "(en, de, fr, es...). Empty: English if the model has it, else its first language.",
        ),
        FloatOption(
            name="speed",
            default=1.0,
            minimum=0.5,
            maximum=2.0,
            step=0.05,
            description="How fast the voice speaks (1 is the model's pace); VITS, Glow-TTS and "
            "XTTS models support it.",
        ),
        BoolOption(
            name="speaker_consent",
            default=False,
            label="I have the speaker's consent",
            description="Needed to speak in the voice of a reference clip: confirm that the "
            "person in the clip agreed to have their voice cloned. Recorded in the take's recipe "
            "with the clip's SHA-256.",
        ),
        SeedOption(),
    )
    inputs = (
        InputSlot(
            role="reference",
            label="Reference voice clip",
            kind=AssetKind.AUDIO,
            description="A few seconds of clear speech (WAV, FLAC or OGG) whose voice models "
            "that clone voices (XTTS, YourTTS) speak in; needs the speaker's consent.",
        ),
    )

    def prepare(self) -> None:
        import torch  # noqa: F401 - imported ahead of the first run, in the model process
        from TTS.utils.synthesizer import Synthesizer  # noqa: F401

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> LoadedCoqui:
        import torch

        torch.set_num_threads(max(1, ctx.threads))
        loaded = load_coqui(ctx, options["vocoder"])
        if loaded.files.is_xtts:
            use_soundfile_for_xtts_clips()
        return loaded

    def run(
        self,
        loaded: LoadedCoqui,
        request: SpeechRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> Iterator[Event]:
        import numpy as np
        import torch

        torch.set_num_threads(max(1, ctx.threads))  # what the CPU lease gives this run
        speaker = self._speaker(loaded, options["speaker"].strip(), request)
        language = self._language(loaded, options["language"].strip())
        reference, consent = self._reference(loaded, request, options)
        speed = float(options["speed"])
        control = loaded.speed_control
        if speed != 1.0 and not control:
            raise ValueError(
                f"This {loaded.files.model_type} model cannot change its speed; set speed to 1."
            )
        alphabet = loaded.alphabet()
        speakable = None
        if alphabet is not None:
            known = alphabet | {c.upper() for c in alphabet} | {c.lower() for c in alphabet}

            def speakable(char: str) -> bool:
                return char.isalnum() or char in known

        prepared = prepare_text(request.text, language=language or "en", speakable=speakable)
        seed = options["seed"]
        torch.manual_seed(seed)
        model = loaded.model
        synthesizer = loaded.synthesizer
        kwargs: dict[str, Any] = {}
        if control == "speed":
            kwargs["speed"] = speed
        base_scale = getattr(model, "length_scale", None)

        def speak(sentence: str) -> Any:
            with torch.inference_mode():
                wav = synthesizer.tts(
                    text=sentence,
                    speaker_name=speaker,
                    language_name=language,
                    speaker_wav=str(reference) if reference is not None else None,
                    split_sentences=False,
                    **kwargs,
                )
            samples = np.asarray(wav, dtype=np.float32)
            if len(samples) >= _SYNTHESIZER_PAD and not samples[-_SYNTHESIZER_PAD:].any():
                samples = samples[:-_SYNTHESIZER_PAD]
            return samples

        try:
            if control == "length_scale" and base_scale is not None:
                model.length_scale = base_scale / speed
            spoken = yield from speak_sentences(prepared, speak, loaded.sample_rate, ctx)
        finally:
            if control == "length_scale" and base_scale is not None:
                model.length_scale = base_scale
        voice = loaded.files.folder.name + (f"/{speaker}" if speaker else "")
        facts: dict[str, Any] = {"voice": voice, "model_type": loaded.files.model_type}
        if speed != 1.0:
            facts["speed"] = speed
        if language:
            facts["language"] = language
        if loaded.vocoder is not None:
            facts["vocoder"] = str(loaded.vocoder)
        facts.update(consent)
        yield Result(
            assets=(
                GeneratedAsset(
                    kind=AssetKind.AUDIO,
                    data=spoken.wav(),
                    media_type="audio/wav",
                    title=take_title(
                        request.text,
                        f"voice of {input_name(clip)}"
                        if reference is not None and (clip := request.input("reference"))
                        else speaker or loaded.files.folder.name,
                        "" if speed == 1.0 else f"{speed:g}× speed",
                    ),
                    seed=seed,
                    details=take_details(prepared, spoken, **facts),
                ),
            )
        )

    # options checked against the loaded model -------------------------------------------------

    @staticmethod
    def _speaker(loaded: LoadedCoqui, speaker: str, request: SpeechRequest) -> str | None:
        speakers = loaded.speakers
        if speaker:
            if speaker in speakers:
                return speaker
            if not speakers:
                raise ValueError(
                    f"This model has no named speakers, so the speaker '{speaker}' cannot be "
                    "used; leave the speaker empty."
                )
            raise ValueError(
                f"The model has no speaker '{speaker}'. Its speakers: {_listed(speakers)}."
            )
        if request.input("reference") is not None or not speakers:
            return None
        return speakers[0]

    @staticmethod
    def _language(loaded: LoadedCoqui, language: str) -> str | None:
        languages = loaded.languages
        if not languages:
            if language and language.lower() not in ("en", "english"):
                log_language = f"'{language}'"
                raise ValueError(
                    f"This model speaks one language and cannot be switched to {log_language}; "
                    "leave the language empty."
                )
            return None
        if not language:
            return "en" if "en" in languages else languages[0]
        if language in languages:
            return language
        raise ValueError(
            f"The model does not speak '{language}'. Its languages: {_listed(languages, 30)}."
        )

    @staticmethod
    def _reference(
        loaded: LoadedCoqui, request: SpeechRequest, options: Mapping[str, Any]
    ) -> tuple[Path | None, dict[str, Any]]:
        clip = request.input("reference")
        if clip is None:
            return None, {}
        if not options["speaker_consent"]:
            raise ValueError(
                "Speaking in the voice of a reference clip needs the speaker's consent: tick "
                '"I have the speaker\'s consent" (speaker_consent) if the person in the clip '
                "agreed, or remove the clip."
            )
        samples, rate = load_reference_clip(clip.path)
        seconds = len(samples) / rate
        if seconds < _MIN_REFERENCE_SECONDS:
            raise ValueError(
                f"The reference clip {clip.path.name} is {seconds:.2f} s long; give at least "
                f"{_MIN_REFERENCE_SECONDS:.0f} s of clear speech (3-10 s works best)."
            )
        if not loaded.clones_voices:
            raise ValueError(
                f"This {loaded.files.model_type} model cannot speak in the voice of a reference "
                "clip; use a model that clones voices (XTTS v2, YourTTS), or remove the clip."
            )
        with open(clip.path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return clip.path, {
            "speaker_consent": True,
            "reference_sha256": digest,
            "reference_seconds": round(seconds, 3),
        }

    def unload(self, loaded: LoadedCoqui) -> None:
        loaded.release()

    def memory_bytes(self, loaded: LoadedCoqui) -> int:
        return loaded.parameter_bytes()
