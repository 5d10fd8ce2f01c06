"""Find and load a local Coqui TTS model, offline and without running code hidden in pickles.

A Coqui model is a folder with ``config.json`` and a checkpoint (``model.pth``,
``best_model.pth``, ``model_file.pth`` or ``checkpoint_<step>.pth``), or the checkpoint file
itself with ``config.json`` beside it. XTTS v2 folders (``config.json``, ``model.pth``,
``vocab.json``, ``speakers_xtts.pth``) load as a folder. Tacotron and Glow-TTS need a vocoder
folder (the ``vocoder`` option) or fall back to Griffin-Lim.

Nothing is downloaded: the model loads through ``TTS.utils.synthesizer.Synthesizer`` from the
files given, never through Coqui's model manager. coqui-tts 0.28 reads checkpoints with
``torch.load(weights_only=True)`` (``trainer.io.load_fsspec``); a checkpoint that needs full
unpickling fails there and becomes :class:`~studio.plugin_api.UnsafeWeights`, so Studio asks
the user and converts it. A converted checkpoint arrives as a flat safetensors state dict
(``LoadContext.substitutes``); it is put back into Coqui's ``{"model": state}`` layout in a
temporary folder beside links to the other files, and loaded from there.

Paths inside ``config.json`` that point at the machine the model was trained on (a
``speakers_file`` in someone's home folder) are redirected to the file of the same name in the
model folder, again through the temporary folder. Coqui reads the mean-variance statistics
(``audio.stats_path``, a pickled dict) with ``np.load(allow_pickle=True)``: it never gets the
original, only Studio's own copy written from the consented conversion. Every config Coqui
reads is first checked by :mod:`.config_check` (class paths, text cleaner, hub downloads).
torch and TTS are imported inside functions.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.plugin_api import Cancelled, LoadContext, UnsafeWeights
from studio.plugin_api.safe_loading import WeightsFormat, detect_weights_format, safe_torch_load

from .config_check import check_config

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
CHECKPOINT_NAMES = ("model.pth", "best_model.pth", "model_file.pth", "model.pth.tar")
_CHECKPOINT_STEP = re.compile(r"^(?:checkpoint|best_model)_(\d+)\.pth$")
# Config keys (top level and in model_args) that name files.
_FILE_KEYS = (
    "speakers_file",
    "d_vector_file",
    "language_ids_file",
    "speaker_encoder_model_path",
    "speaker_encoder_config_path",
)
# The mean-variance statistics Coqui's AudioProcessor reads with np.load(allow_pickle=True).
_STATS_KEY = "audio.stats_path"
_XTTS_FILES = ("model.pth", "vocab.json")


@dataclass(frozen=True)
class CoquiFiles:
    """The files of one Coqui model."""

    folder: Path
    config: Path
    checkpoint: Path
    model_type: str
    is_xtts: bool = False


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Coqui's own pattern for configs with // and /* */ comments (TTS.config.read_json_with_comments).
_JSON_COMMENTS = re.compile(r"(\"(?:[^\"\\]|\\.)*\")|(/\*(?:.|[\\n\\r])*?\*/)|(//.*)")


def read_config(path: Path) -> dict[str, Any]:
    """A Coqui ``config.json`` as a dict; ``ValueError`` naming the file when it is broken.

    Read as Coqui reads it: strict JSON, else JSON with comments removed the way Coqui removes
    them, so that what Studio checks is what Coqui gets.
    """
    try:
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except ValueError:
            data = json.loads(_JSON_COMMENTS.sub(lambda m: m.group(1) or m.group(2) or "", text))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read as JSON ({_one_line(exc)}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a Coqui TTS config (it is not a JSON object).")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError(
            f"{path} is not a Coqui TTS config: it does not say which model it describes "
            '(no "model" entry such as "vits", "tacotron2", "glow_tts" or "xtts").'
        )
    return data


def _newest_checkpoint(folder: Path) -> Path | None:
    for name in CHECKPOINT_NAMES:
        if (folder / name).is_file():
            return folder / name
    numbered = [
        (int(match.group(1)), child)
        for child in folder.iterdir()
        if (match := _CHECKPOINT_STEP.match(child.name)) and child.is_file()
    ]
    return max(numbered)[1] if numbered else None


def find_model_files(path: Path, *, what: str = "Coqui model") -> CoquiFiles:
    """The config and checkpoint of a model folder (or of a checkpoint file and its folder)."""
    path = Path(path)
    if path.is_file():
        folder, checkpoint = path.parent, path
        if path.name == CONFIG_FILE:
            checkpoint = _newest_checkpoint(folder)
    elif path.is_dir():
        folder, checkpoint = path, _newest_checkpoint(path)
    else:
        raise FileNotFoundError(f"The {what} {path} does not exist.")
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(
            f"The {what} folder {folder} has no {CONFIG_FILE}: choose the folder that holds the "
            "model's config.json and its checkpoint (.pth)."
        )
    config = read_config(config_path)
    model_type = str(config["model"]).lower()
    is_xtts = model_type == "xtts"
    if is_xtts:
        missing = [name for name in _XTTS_FILES if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"The XTTS folder {folder} is incomplete: {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing."
            )
        checkpoint = folder / "model.pth"
    if checkpoint is None:
        raise FileNotFoundError(
            f"The {what} folder {folder} has no checkpoint: expected one of "
            f"{', '.join(CHECKPOINT_NAMES)} or checkpoint_<step>.pth."
        )
    return CoquiFiles(
        folder=folder,
        config=config_path,
        checkpoint=checkpoint,
        model_type=model_type,
        is_xtts=is_xtts,
    )


@dataclass
class Staging:
    """A temporary copy of a model folder made of links, where some files are replaced."""

    source: CoquiFiles
    replaced: dict[str, Path] = field(default_factory=dict)  # file name -> real file
    config_changes: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None

    @property
    def needed(self) -> bool:
        return bool(self.replaced or self.config_changes)

    def build(self, config: dict[str, Any]) -> CoquiFiles:
        """Write the temporary folder; return the files to load from it."""
        self.folder = Path(tempfile.mkdtemp(prefix="studio-coqui-"))
        for child in self.source.folder.iterdir():
            if child.name in self.replaced or child.name == CONFIG_FILE:
                continue
            try:
                (self.folder / child.name).symlink_to(child.resolve())
            except OSError:  # no links on this file system: only what the model needs
                if child.is_file() and child.stat().st_size < 50 * 2**20:
                    shutil.copy2(child, self.folder / child.name)
        for name, real in self.replaced.items():
            (self.folder / name).symlink_to(real)
        patched = _with_paths(config, self.config_changes)
        (self.folder / CONFIG_FILE).write_text(json.dumps(patched, indent=2), encoding="utf-8")
        return CoquiFiles(
            folder=self.folder,
            config=self.folder / CONFIG_FILE,
            checkpoint=self.folder / self.source.checkpoint.name,
            model_type=self.source.model_type,
            is_xtts=self.source.is_xtts,
        )

    def cleanup(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _with_paths(config: dict[str, Any], changes: dict[str, str]) -> dict[str, Any]:
    patched = json.loads(json.dumps(config))
    for key, value in changes.items():
        table, _, name = key.rpartition(".")
        (patched[table] if table else patched)[name] = value
    return patched


def stale_paths(config: dict[str, Any], folder: Path) -> dict[str, str]:
    """Config entries naming files that are not here, mapped to the same file in ``folder``.

    A path from the training machine, or a URL (Coqui would download it; Studio never does),
    is replaced by the file of the same name in the model folder. Raises
    ``FileNotFoundError`` when that file is not there either.
    """
    changes: dict[str, str] = {}
    tables = [("", config, _FILE_KEYS)]
    if isinstance(config.get("model_args"), dict):
        tables.append(("model_args.", config["model_args"], _FILE_KEYS))
    if _stats_in_use(config):
        tables.append(("audio.", config["audio"], ("stats_path",)))
    for prefix, table, keys in tables:
        for key in keys:
            value = table.get(key)
            if not isinstance(value, str) or not value:
                continue
            remote = "://" in value
            named = Path(value)
            if not named.is_absolute():
                named = folder / named
            if not remote and named.is_file():
                if not Path(value).is_absolute():
                    # Coqui opens it from the working directory: name it in full.
                    changes[prefix + key] = str(named)
                continue
            local = folder / Path(value.replace("\\", "/").split("?")[0]).name
            if local.is_file():
                changes[prefix + key] = str(local)
            else:
                where = "on the internet, and Studio never downloads" if remote else "not there"
                raise FileNotFoundError(
                    f"{folder / CONFIG_FILE} names the file {value} ({key}), which is {where}; "
                    f"put {local.name} into the model folder {folder}."
                )
    return changes


def _resave_as_checkpoint(ctx: LoadContext, original: Path, target_dir: Path) -> Path:
    """A consented, converted checkpoint back in Coqui's ``{"model": state_dict}`` layout."""
    import torch

    state = ctx.load_weights(original)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    target = target_dir / f"studio-converted-{original.name}"
    torch.save({"model": state}, target)
    return target


@dataclass
class LoadedCoqui:
    """A loaded Coqui model and what the plugin needs to know about it."""

    synthesizer: Any
    files: CoquiFiles
    config: dict[str, Any]
    vocoder: Path | None = None
    staging: list[Staging] = field(default_factory=list)

    @property
    def model(self) -> Any:
        return self.synthesizer.tts_model

    @property
    def sample_rate(self) -> int:
        return int(self.synthesizer.output_sample_rate)

    @property
    def speakers(self) -> list[str]:
        manager = getattr(self.model, "speaker_manager", None)
        if manager is None:
            return []
        try:
            names = list(manager.speaker_names)
        except (AttributeError, TypeError):
            names = []
        return [str(name) for name in names]

    @property
    def languages(self) -> list[str]:
        if self.files.is_xtts:
            return [str(lang) for lang in self.config.get("languages") or []]
        manager = getattr(self.model, "language_manager", None)
        names = list(getattr(manager, "language_names", []) or [])
        return [str(name) for name in names] if len(names) > 1 else []

    @property
    def clones_voices(self) -> bool:
        """Whether the model can speak in the voice of a reference clip (``speaker_wav``)."""
        if self.files.is_xtts:
            return True
        manager = getattr(self.model, "speaker_manager", None)
        return getattr(manager, "encoder", None) is not None

    @property
    def speed_control(self) -> str:
        """How speed is set: "speed" (an inference argument), "length_scale", or ""."""
        if self.files.is_xtts:
            return "speed"
        return "length_scale" if hasattr(self.model, "length_scale") else ""

    def uses_phonemes(self) -> bool:
        return bool(self.config.get("use_phonemes"))

    def alphabet(self) -> set[str] | None:
        """The characters a grapheme model knows (None: it reads any letters)."""
        if self.uses_phonemes() or self.files.is_xtts:
            return None
        tokenizer = getattr(self.model, "tokenizer", None)
        characters = getattr(tokenizer, "characters", None)
        vocab = getattr(characters, "vocab", None)
        return {str(char) for char in vocab} if vocab else None

    def parameter_bytes(self) -> int:
        try:
            return int(sum(p.numel() * p.element_size() for p in self.synthesizer.parameters()))
        except Exception:
            return 0

    def release(self) -> None:
        self.synthesizer = None
        for staging in self.staging:
            staging.cleanup()
        self.staging.clear()


def load_coqui(ctx: LoadContext, vocoder: str = "") -> LoadedCoqui:
    """Load ``ctx.model`` (and a vocoder folder, if given) through Coqui's Synthesizer."""
    path = ctx.model.path
    if path is None:
        raise ValueError(
            "No Coqui model was given: choose the model's folder (config.json and a .pth "
            "checkpoint) in the 'model' option."
        )
    files = find_model_files(Path(path))
    config = read_config(files.config)
    check_config(config, files.config)
    use_cuda = ctx.device.startswith("cuda")
    stagings: list[Staging] = []
    try:
        ctx.report_progress(None, f"Loading the Coqui {files.model_type} model…")
        load_files = _staged(ctx, files, config, stagings)
        synthesizer = _build_synthesizer(load_files, files, config, use_cuda)
        ctx.cancel.raise_if_cancelled()
        vocoder_path = None
        if vocoder.strip():
            vocoder_files = find_model_files(Path(vocoder.strip()).expanduser(), what="vocoder")
            vocoder_config = read_config(vocoder_files.config)
            check_config(vocoder_config, vocoder_files.config)
            staged = _staged(ctx, vocoder_files, vocoder_config, stagings)
            _load_vocoder(synthesizer, staged, vocoder_files, use_cuda)
            vocoder_path = vocoder_files.folder
    except BaseException:
        for staging in stagings:
            staging.cleanup()
        raise
    synthesizer.eval()
    return LoadedCoqui(
        synthesizer=synthesizer,
        files=files,
        config=config,
        vocoder=vocoder_path,
        staging=stagings,
    )


_WEIGHTS_KEYS = ("speaker_encoder_model_path",)
"""Config entries naming other checkpoints the Synthesizer reads (pickles too)."""


def _config_value(config: dict[str, Any], dotted: str) -> Any:
    table_name, _, key = dotted.rpartition(".")
    table = config.get(table_name) if table_name else config
    return table.get(key) if isinstance(table, dict) else None


def _stats_in_use(config: dict[str, Any]) -> bool:
    """Whether Coqui's AudioProcessor reads ``audio.stats_path`` (with signal_norm, its default)."""
    audio = config.get("audio")
    return (
        isinstance(audio, dict)
        and isinstance(audio.get("stats_path"), str)
        and bool(audio["stats_path"])
        and bool(audio.get("signal_norm", True))
    )


def _named_file(config: dict[str, Any], folder: Path, changes: dict[str, str], key: str) -> Any:
    """The existing local file a config entry names (after ``changes``), or None."""
    value = changes.get(key) or _config_value(config, key)
    if isinstance(value, str) and value and "://" not in value:
        path = Path(value) if Path(value).is_absolute() else folder / value
        if path.is_file():
            return path
    return None


def other_checkpoints(
    config: dict[str, Any], folder: Path, changes: dict[str, str]
) -> dict[str, Path]:
    """Checkpoints besides the model's that its config names (a speaker encoder), by key."""
    found: dict[str, Path] = {}
    for prefix in ("", "model_args."):
        for key in _WEIGHTS_KEYS:
            path = _named_file(config, folder, changes, prefix + key)
            if path is not None:
                found[prefix + key] = path
    return found


def _check_encoder_config(config: dict[str, Any], folder: Path, changes: dict[str, str]) -> None:
    """The speaker encoder's config passes the same checks before Coqui reads it."""
    for prefix in ("", "model_args."):
        path = _named_file(config, folder, changes, prefix + "speaker_encoder_config_path")
        if path is None:
            continue
        encoder_config = read_config(path)
        check_config(encoder_config, path)
        if _stats_in_use(encoder_config):
            raise ValueError(
                f"{path} names the statistics file {encoder_config['audio']['stats_path']} "
                "(audio.stats_path), which Coqui reads by full unpickling; Studio does not load "
                "it for a speaker encoder."
            )


def _stats_copy(ctx: LoadContext, path: Path, target_dir: Path) -> Path:
    """What Coqui reads instead of ``audio.stats_path``: Studio's own ``.npy`` of the statistics.

    Coqui reads that file with ``np.load(allow_pickle=True)``: full unpickling. The original is
    never given to it; the user allows Studio to convert it (``UnsafeWeights``), and Coqui
    gets a copy Studio wrote from the converted tensors.
    """
    if str(path.resolve()) not in ctx.substitutes:
        if detect_weights_format(path) is WeightsFormat.PICKLE:
            raise UnsafeWeights(path)
        raise ValueError(
            f"{path} is not the statistics file Coqui expects (a .npy file of mean and "
            "variance arrays), so the model cannot be loaded."
        )
    import numpy as np

    stats: dict[str, Any] = {name: t.numpy() for name, t in ctx.load_weights(path).items()}
    stats["audio_config"] = {}  # nothing for Coqui to compare with the model's audio settings
    target = target_dir / f"studio-converted-{path.stem}.npy"
    np.save(target, np.array(stats, dtype=object), allow_pickle=True)
    return target


def _staged(
    ctx: LoadContext, files: CoquiFiles, config: dict[str, Any], stagings: list[Staging]
) -> CoquiFiles:
    """The files to load: the originals, or a staging folder when something must be replaced
    (a path from another machine, a checkpoint the user allowed Studio to convert, or the
    statistics file Coqui would unpickle)."""
    staging = Staging(source=files, config_changes=stale_paths(config, files.folder))
    _check_encoder_config(config, files.folder, staging.config_changes)
    holder: Path | None = None

    def holder_dir() -> Path:
        nonlocal holder
        if holder is None:
            holder = Path(tempfile.mkdtemp(prefix="studio-coqui-ckpt-"))
            stagings.append(Staging(source=files, folder=holder))  # removed with the model
        return holder

    def converted(path: Path) -> Path | None:
        if str(path.resolve()) not in ctx.substitutes:
            return None
        return _resave_as_checkpoint(ctx, path, holder_dir())

    main = converted(files.checkpoint)
    if main is not None:
        staging.replaced[files.checkpoint.name] = main
    for key, path in other_checkpoints(config, files.folder, staging.config_changes).items():
        copy = converted(path)
        if copy is not None:
            staging.config_changes[key] = str(copy)
    stats = _named_file(config, files.folder, staging.config_changes, _STATS_KEY)
    if stats is not None and _stats_in_use(config):
        staging.config_changes[_STATS_KEY] = str(_stats_copy(ctx, stats, holder_dir()))
    if not staging.needed:
        return files
    stagings.append(staging)
    return staging.build(config)


def unsafe_file(files: CoquiFiles, config: dict[str, Any]) -> Path:
    """Which of the model's checkpoints needs full unpickling (after Coqui's load refused one).

    Each is tried with Studio's safe loader; only called when loading already failed.
    """
    changes = stale_paths(config, files.folder)
    candidates = [files.checkpoint, *other_checkpoints(config, files.folder, changes).values()]
    if files.is_xtts and (files.folder / "speakers_xtts.pth").is_file():
        candidates.append(files.folder / "speakers_xtts.pth")
    for path in candidates:
        try:
            safe_torch_load(path)
        except UnsafeWeights:
            return path
        except Exception:  # unreadable for another reason: not the one we look for
            continue
    return files.checkpoint


def _build_synthesizer(
    load_files: CoquiFiles, original: CoquiFiles, config: dict[str, Any], use_cuda: bool
) -> Any:
    from TTS.utils.synthesizer import Synthesizer

    checkpoint = load_files.folder if load_files.is_xtts else load_files.checkpoint
    try:
        return Synthesizer(
            tts_checkpoint=str(checkpoint),
            tts_config_path=str(load_files.config),
            use_cuda=use_cuda,
        )
    except pickle.UnpicklingError as exc:
        # weights_only refused a global: only full unpickling reads that checkpoint.
        raise UnsafeWeights(unsafe_file(original, config)) from exc
    except (Cancelled, MemoryError, UnsafeWeights):
        raise
    except Exception as exc:
        raise ValueError(
            f"The Coqui model in {original.folder} cannot be loaded ({_one_line(exc)})."
        ) from exc


def _load_vocoder(
    synthesizer: Any, load_files: CoquiFiles, original: CoquiFiles, use_cuda: bool
) -> None:
    try:
        # The Synthesizer's own vocoder loader (it also sets the output sample rate).
        synthesizer._load_vocoder(
            str(load_files.checkpoint), str(load_files.config), use_cuda=use_cuda
        )
    except pickle.UnpicklingError as exc:
        raise UnsafeWeights(original.checkpoint) from exc
    except (Cancelled, MemoryError, UnsafeWeights):
        raise
    except Exception as exc:
        raise ValueError(
            f"The vocoder in {original.folder} cannot be loaded ({_one_line(exc)})."
        ) from exc


def load_reference_clip(path: Path, sample_rate: int | None = None) -> tuple[Any, int]:
    """Read a reference clip with soundfile as mono float32 (resampled if a rate is given).

    ``ValueError`` with a clear message for a file that is not audio or holds no sound.
    """
    import numpy as np
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as exc:
        raise ValueError(
            f"The reference clip {Path(path).name} is not an audio file Studio can read "
            f"({_one_line(exc)}); use a WAV, FLAC or OGG recording."
        ) from None
    if data.shape[0] == 0:
        raise ValueError(f"The reference clip {Path(path).name} holds no audio (0 seconds).")
    mono = data.mean(axis=1).astype(np.float32)
    if sample_rate and rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
        rate = sample_rate
    return mono, int(rate)


def use_soundfile_for_xtts_clips() -> None:
    """Let XTTS read reference clips with soundfile instead of ``torchaudio.load``.

    The CPU install route of coqui-tts (see the README) runs torchaudio without its compiled
    libraries, where ``torchaudio.load`` does not work; XTTS reads clips only through its
    module-level ``load_audio``, which this replaces with an equivalent on soundfile and soxr.
    """
    import torch
    from TTS.tts.models import xtts

    if getattr(xtts.load_audio, "studio_soundfile", False):
        return

    def load_audio(audiopath: Any, sampling_rate: int) -> Any:
        mono, _ = load_reference_clip(Path(audiopath), sampling_rate)
        return torch.from_numpy(mono).unsqueeze(0).clamp_(-1, 1)

    load_audio.studio_soundfile = True  # type: ignore[attr-defined]
    xtts.load_audio = load_audio
