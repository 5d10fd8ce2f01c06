"""The hibari voice: Studio's embedded default for the Voice panel.

hibari-tts ships one voice ("heart") inside its wheel; its other voices are downloaded from the
internet on first use. Studio never lets it download: the ``voice`` option lists only the voices
whose files are in the package, and loading asks hibari with ``download_missing=False``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.plugin_api import (
    AssetKind,
    ChoiceOption,
    EngineCheck,
    Event,
    FloatOption,
    GeneratedAsset,
    KnownModel,
    LoadContext,
    OptionSet,
    ResolvedModel,
    Result,
    RunContext,
    SeedOption,
    SpeechRequest,
    VoicePlugin,
)
from studio.plugin_api.engine_checks import CheckContext, judge_speech, run_plugin
from studio.plugin_api.speech import prepare_text, speak_sentences, take_details, take_title

EMBEDDED_MODEL_ID = "hibari-heart"
PACKAGE = "hibari-tts"
DEFAULT_VOICE = "heart"


def _voice_registry() -> dict[str, dict[str, Any]]:
    """hibari's voices.json, read without importing hibari (or {} when it is missing)."""
    try:
        spec = importlib.util.find_spec("hibari")
    except (ImportError, ValueError):
        return {}
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "voices.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def bundled_voices() -> tuple[str, ...]:
    """The voices whose model file ships inside the hibari package."""
    registry = _voice_registry()
    names = tuple(
        name for name, facts in registry.items() if isinstance(facts, dict) and facts.get("bundled")
    )
    return names or (DEFAULT_VOICE,)


def _voice_label(name: str) -> str:
    facts = _voice_registry().get(name, {})
    parts = [facts.get("accent", ""), facts.get("gender", "")]
    return f"{name} ({', '.join(p for p in parts if p)})" if any(parts) else name


_VOICES = bundled_voices()


@dataclass
class LoadedHibari:
    """The hibari engine and the voice it speaks."""

    tts: Any
    voice: str
    model_path: Path

    @property
    def sample_rate(self) -> int:
        return int(self.tts.sample_rate)


class HibariVoice(VoicePlugin):
    """English text to speech with the voices that ship in hibari-tts."""

    load_options = OptionSet(
        ChoiceOption(
            name="voice",
            default=DEFAULT_VOICE if DEFAULT_VOICE in _VOICES else _VOICES[0],
            choices=_VOICES,
            description="The voice: "
            + ", ".join(_voice_label(v) for v in _VOICES)
            + ". Only voices that ship inside the hibari-tts package are offered; its other "
            "voices would be downloaded.",
        ),
    )
    run_options = OptionSet(
        FloatOption(
            name="speed",
            default=1.0,
            minimum=0.5,
            maximum=2.0,
            step=0.05,
            description="How fast the voice speaks: 1 is its natural pace, 0.5 half as fast, "
            "2 twice as fast.",
        ),
        SeedOption(
            description="The voice adds a little randomness to each take; the same seed, text "
            "and speed give exactly the same audio. -1 picks a new one each run."
        ),
    )

    engine_checks = (
        EngineCheck(id="hibari", label="hibari voice (ONNX)", packages=(PACKAGE, "onnxruntime")),
    )
    CHECK_TEXT = "Hello there, this is a test of the voice."

    def check_engine(self, ctx: CheckContext) -> str:
        """A sentence spoken by the embedded voice: a plausible length and level."""
        model = ResolvedModel(id=EMBEDDED_MODEL_ID, path=_voice_file(DEFAULT_VOICE))
        request = SpeechRequest(text=self.CHECK_TEXT)
        (asset,) = run_plugin(self, model, request, ctx, run_options={"seed": 1})
        return judge_speech(asset.data, self.CHECK_TEXT)

    def known_model_path(self, model: KnownModel, cache_dir: Path) -> Path:
        """The "heart" voice's ONNX file inside the hibari package."""
        if model.id != EMBEDDED_MODEL_ID:
            return super().known_model_path(model, cache_dir)
        return _voice_file(DEFAULT_VOICE)

    def prepare(self) -> None:
        import hibari  # noqa: F401 - imported ahead of the first run, in the model process
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> LoadedHibari:
        voice = options["voice"]
        if voice not in _VOICES:
            raise ValueError(
                f"The hibari voice '{voice}' does not ship in the package (available: "
                f"{', '.join(_VOICES)})."
            )
        path = _voice_file(voice)
        try:
            from hibari import Hibari
        except ImportError:
            raise FileNotFoundError(
                f"The embedded voice needs the Python package {PACKAGE} (pip install {PACKAGE})."
            ) from None
        ctx.report_progress(None, f"Loading the hibari voice '{voice}'…")
        try:
            tts = Hibari(voice=voice, model=str(path), threads=max(1, ctx.threads))
        except Exception as exc:
            raise ValueError(
                f"The hibari voice file {path} cannot be loaded ({' '.join(str(exc).split())}); "
                f"reinstall {PACKAGE}."
            ) from exc
        return LoadedHibari(tts=tts, voice=voice, model_path=path)

    def run(
        self,
        loaded: LoadedHibari,
        request: SpeechRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> Iterator[Event]:
        import numpy as np

        if request.input("reference") is not None:
            raise ValueError(
                "The hibari voice cannot imitate a reference clip; choose a Coqui voice "
                "model that clones voices (such as XTTS v2), or remove the clip."
            )
        prepared = prepare_text(request.text, language="en")
        seed = options["seed"]
        rng = np.random.default_rng(seed)
        tts = loaded.tts
        speed = float(options["speed"])

        def speak(sentence: str) -> Any:
            parts = [tts.from_ids(tts.ids(ps), speed, rng) for ps in tts.phonemize(sentence)]
            return np.concatenate(parts) if parts else np.zeros(0, np.float32)

        spoken = yield from speak_sentences(prepared, speak, loaded.sample_rate, ctx)
        details = take_details(
            prepared, spoken, voice=f"hibari/{loaded.voice}", speed=speed, engine=PACKAGE
        )
        yield Result(
            assets=(
                GeneratedAsset(
                    kind=AssetKind.AUDIO,
                    data=spoken.wav(),
                    media_type="audio/wav",
                    title=take_title(
                        request.text,
                        f"Hibari {loaded.voice}",
                        "" if speed == 1.0 else f"{speed:g}× speed",
                    ),
                    seed=seed,
                    details=details,
                ),
            )
        )

    def memory_bytes(self, loaded: LoadedHibari) -> int:
        try:
            return loaded.model_path.stat().st_size * 4  # int8 weights run as float32
        except OSError:
            return 0


def _voice_file(voice: str) -> Path:
    """The voice's model file in the package (found without importing hibari or numpy)."""
    facts = _voice_registry().get(voice)
    if not facts:
        raise FileNotFoundError(
            f"The embedded voice needs the Python package {PACKAGE} (pip install {PACKAGE})."
        )
    spec = importlib.util.find_spec("hibari")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / str(facts.get("file"))
    if not facts.get("bundled") or not path.is_file():
        raise FileNotFoundError(
            f"The hibari voice '{voice}' is not in the installed {PACKAGE} package; reinstall "
            f"it (pip install --force-reinstall {PACKAGE})."
        )
    return path
