"""What a model file or folder is, recognised by its content, and what keeps it from use.

:func:`describe` reads headers and configs only (never weights): the format (safetensors, GGUF
with its quantisation, ONNX, ncnn, pickle, a diffusers or transformers folder), the
architecture, the parameter count, the size on disk, the licence when the files say it, the
panels that can use it, and its problems, each a sentence that says what to do:

- a Git LFS pointer in place of the weights ("run `git lfs pull` in ...");
- a GGUF that holds only a vocabulary;
- a file cut short (its header promises more bytes than it has);
- a damaged header, an unknown architecture, a config that needs the model's own code;
- a pickle file: scanned by picklescan; code that runs on loading is named and refused,
  a clean pickle needs the user's consent (or a conversion to safetensors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.durations import format_size
from studio.core.model_files import model_panel, read_json_object
from studio.core.model_scan.headers import (
    GGUF_MAGIC,
    LFS_POINTER_PREFIX,
    DamagedHeader,
    gguf_quantisation,
    read_gguf_header,
    read_safetensors_header,
    read_start,
)
from studio.plugin_api import Panel

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".onnx", ".param", *PICKLE_SUFFIXES)
_LICENCE_LINE = re.compile(r"^licen[sc]e:\s*[\"']?([\w.+-]+)", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """Something that keeps a model from use (``blocking``) or asks the user first."""

    kind: str
    message: str
    blocking: bool = True


@dataclass(frozen=True)
class ModelFacts:
    """A model, as its files describe it."""

    path: Path
    name: str
    format: str
    kind: str = ""
    """What it is for: "checkpoint", "LoRA", "language model", "pipeline", "voice"..."""
    panels: tuple[Panel, ...] = ()
    architecture: str = ""
    quantisation: str = ""
    parameters: int | None = None
    size: int = 0
    licence: str = ""
    problems: tuple[Problem, ...] = ()
    pickle_findings: tuple[str, ...] = ()
    """Dangerous imports picklescan found ("posix.system"), for the consent prompt."""
    files: int = 1

    @property
    def usable(self) -> bool:
        return not any(problem.blocking for problem in self.problems)

    @property
    def size_text(self) -> str:
        return format_size(self.size)

    def summary_parts(self) -> list[str]:
        """What it is, in short parts: format, kind, architecture, quantisation, parameters,
        size (and file count)."""
        parts = [
            self.format,
            self.kind,
            self.architecture,
            self.quantisation,
            f"{self.parameters_text} parameters" if self.parameters else "",
            self.size_text + (f" in {self.files} files" if self.files > 1 else ""),
        ]
        return [part for part in parts if part]

    @property
    def parameters_text(self) -> str:
        count = self.parameters
        if not count:
            return ""
        for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if count >= scale:
                return f"{count / scale:.3g}{unit}"
        return str(count)


@dataclass
class _Found:
    """Facts gathered while describing, turned into a frozen ModelFacts at the end."""

    format: str = ""
    kind: str = ""
    panels: tuple[Panel, ...] = ()
    architecture: str = ""
    quantisation: str = ""
    parameters: int | None = None
    licence: str = ""
    problems: list[Problem] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


def _git_root(path: Path, fallback: Path) -> Path:
    """The folder of the git clone that holds ``path`` (else ``fallback``)."""
    for folder in path.parents:
        if (folder / ".git").exists():
            return folder
    return fallback


def lfs_problem(path: Path, count: int = 1, model_folder: Path | None = None) -> Problem:
    where = _git_root(path, model_folder or path.parent)
    what = f"{path.name} is" if count == 1 else f"{count} of its weight files are"
    return Problem(
        "lfs-pointer",
        f"{what} a Git LFS pointer, not the weights: the folder was cloned without Git LFS. "
        f"Run `git lfs pull` in {where} (after `git lfs install`).",
    )


def _cut_short(path: Path, expected: int, size: int) -> Problem:
    return Problem(
        "truncated",
        f"{path.name} is cut short: its header promises {format_size(expected)} but the file "
        f"has {format_size(size)}. Download it again.",
    )


def _checkpoint_kind(keys: list[str]) -> tuple[str, str, tuple[Panel, ...]]:
    """(kind, architecture, panels) of a single safetensors file, from its tensor names."""
    joined = "\n".join(keys[:5000])
    if any(mark in joined for mark in ("lora_up", "lora_down", "lora_A", "lora_B")):
        return "LoRA", "Stable Diffusion LoRA", (Panel.IMAGE,)
    if "model.diffusion_model." in joined:
        if "conditioner.embedders.1" in joined:
            return "checkpoint", "Stable Diffusion XL", (Panel.IMAGE,)
        if "cond_stage_model.model." in joined:
            return "checkpoint", "Stable Diffusion 2", (Panel.IMAGE,)
        return "checkpoint", "Stable Diffusion 1", (Panel.IMAGE,)
    if "double_blocks." in joined and "single_blocks." in joined:
        return "diffusion model", "Flux", (Panel.IMAGE,)
    if all(
        key.startswith(("encoder.", "decoder.", "quant_conv", "post_quant_conv")) for key in keys
    ):
        return "VAE", "autoencoder", ()
    return "weights", "", ()


def _describe_safetensors(path: Path, size: int, found: _Found) -> None:
    found.format = "safetensors"
    try:
        header = read_safetensors_header(path)
    except DamagedHeader as exc:
        found.problems.append(Problem("damaged", f"{path.name} cannot be read: {exc}."))
        return
    found.parameters = header.parameters
    found.kind, found.architecture, found.panels = _checkpoint_kind(list(header.tensors))
    found.licence = header.metadata.get("modelspec.license") or header.metadata.get("license", "")
    if header.metadata.get("modelspec.architecture") and not found.architecture:
        found.architecture = header.metadata["modelspec.architecture"]
    if header.data_end > size:
        found.problems.append(_cut_short(path, header.data_end, size))


def _describe_gguf(path: Path, size: int, found: _Found) -> None:
    found.format = "GGUF"
    try:
        header = read_gguf_header(path)
    except DamagedHeader as exc:
        found.problems.append(
            Problem("damaged", f"{path.name} is a damaged GGUF file: {exc}. Download it again.")
        )
        return
    metadata = header.metadata
    found.architecture = str(metadata.get("general.architecture") or "")
    found.licence = str(metadata.get("general.license") or "")
    found.quantisation = gguf_quantisation(header)
    found.parameters = header.parameters
    found.kind, found.panels = "language model", (Panel.WRITING,)
    if header.tensor_count == 0:
        found.problems.append(
            Problem(
                "vocab-only",
                f"{path.name} holds only a vocabulary (no weights): it is a tokenizer test "
                "file, not a model. Get the model's full GGUF.",
            )
        )
    elif header.data_end > size:
        found.problems.append(_cut_short(path, header.data_end, size))


def _describe_pickle(path: Path, found: _Found) -> None:
    from picklescan.scanner import SafetyLevel, scan_file_path

    found.format = "pickle"
    try:
        result = scan_file_path(str(path))
    except Exception as exc:  # picklescan reads hostile input: any failure is a finding
        result = None
        error = f"{type(exc).__name__}: {exc}"
    dangerous = sorted(
        {
            f"{item.module}.{item.name}"
            for item in (result.globals if result else [])
            if item.safety is SafetyLevel.Dangerous
        }
    )
    found.findings = dangerous
    if dangerous:
        found.problems.append(
            Problem(
                "pickle-code",
                f"{path.name} would run code when it is loaded ({', '.join(dangerous[:5])}): "
                "Studio never loads it. Delete it unless you know exactly where it came from.",
            )
        )
    elif result is None or result.scan_err:
        found.problems.append(
            Problem(
                "pickle-unreadable",
                f"{path.name} is a pickle file that cannot be scanned"
                + (f" ({error})" if result is None else "")
                + ": Studio does not load it.",
            )
        )
    else:
        found.problems.append(
            Problem(
                "pickle",
                f"{path.name} is a pickle file (no code found by picklescan): Studio loads it "
                "only with your consent, or converts it to safetensors first.",
                blocking=False,
            )
        )


def describe_file(path: Path) -> ModelFacts:
    """A single model file, recognised by its content."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return ModelFacts(
            path=path,
            name=path.name,
            format="",
            problems=(Problem("unreadable", f"{path} cannot be read ({exc.strerror})."),),
        )
    found = _Found()
    start = read_start(path, 64)
    suffix = path.suffix.lower()
    if start.startswith(LFS_POINTER_PREFIX):
        found.format = "Git LFS pointer"
        found.problems.append(lfs_problem(path))
    elif start.startswith(GGUF_MAGIC):
        _describe_gguf(path, size, found)
    elif start[8:9] == b"{" or suffix == ".safetensors":
        _describe_safetensors(path, size, found)
    elif start.startswith((b"PK\x03\x04", b"\x80")) or suffix in PICKLE_SUFFIXES:
        _describe_pickle(path, found)
    elif suffix == ".onnx":
        found.format, found.kind = "ONNX", "ONNX model"
    elif suffix == ".param" and start.startswith(b"7767517"):
        found.format, found.kind = "ncnn", "ncnn model"
    else:
        found.format = suffix.lstrip(".") or "unknown"
        found.problems.append(
            Problem("unknown-format", f"{path.name} is no model format Studio knows.")
        )
    if not found.panels and found.format in ("pickle", "GGUF"):
        panel = model_panel(path)  # a .ckpt is a checkpoint, a .gguf a language model
        found.panels = (panel,) if panel else ()
    return ModelFacts(
        path=path,
        name=path.stem,
        format=found.format,
        kind=found.kind,
        panels=found.panels,
        architecture=found.architecture,
        quantisation=found.quantisation,
        parameters=found.parameters,
        size=size,
        licence=found.licence,
        problems=tuple(found.problems),
        pickle_findings=tuple(found.findings),
    )


def card_licence(folder: Path) -> str:
    """The licence a model card (README.md front matter) names."""
    try:
        with open(folder / "README.md", encoding="utf-8", errors="replace") as card:
            head = card.read(8192)
    except OSError:
        return ""
    if not head.startswith("---"):
        return ""
    front = head.split("---", 2)[1] if head.count("---") >= 2 else head
    match = _LICENCE_LINE.search(front)
    return match.group(1) if match else ""


def _known_model_types() -> set[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return set(CONFIG_MAPPING_NAMES)


def describe_folder(folder: Path) -> ModelFacts:
    """A model folder: a diffusers pipeline, a transformers model or a Coqui voice."""
    folder = Path(folder)
    weights = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in WEIGHT_SUFFIXES and p.is_file()
    )
    parts = [describe_file(path) for path in weights]
    problems: list[Problem] = []
    stubs = [part for part in parts if any(p.kind == "lfs-pointer" for p in part.problems)]
    if stubs:
        problems.append(lfs_problem(stubs[0].path, len(stubs), folder))
    for part in parts:
        problems += [p for p in part.problems if p.kind != "lfs-pointer"]
    findings = tuple(sorted({f for part in parts for f in part.pickle_findings}))
    index = read_json_object(folder / "model_index.json")
    config = read_json_object(folder / "config.json")
    architecture, kind, fmt = "", "", ""
    panel = model_panel(folder)
    if index:
        architecture, kind, fmt = str(index.get("_class_name", "")), "pipeline", "diffusers"
    elif config:
        names = config.get("architectures") or []
        architecture = (
            str(names[0]) if names else str(config.get("model_type") or config.get("model") or "")
        )
        fmt = (
            "transformers"
            if "model_type" in config
            else "Coqui TTS"
            if panel is Panel.VOICE
            else "config"
        )
        kind = {
            Panel.WRITING: "language model",
            Panel.CAPTIONING: "captioner",
            Panel.VOICE: "voice",
        }.get(panel, "model")
        if "auto_map" in config:
            problems.append(
                Problem(
                    "remote-code",
                    f"{folder.name} needs the Python code shipped with it (its config names "
                    "auto_map): Studio asks you before it runs that code.",
                    blocking=False,
                )
            )
        model_type = config.get("model_type")
        known = fmt != "transformers" or not model_type or "auto_map" in config
        if not known and model_type not in _known_model_types():
            problems.append(
                Problem(
                    "unknown-architecture",
                    f"{folder.name} is a '{model_type}' model, which this transformers "
                    "version does not know: update transformers, or use another model.",
                )
            )
    if not weights:
        problems.append(Problem("no-weights", f"{folder.name} holds no weight files."))
    formats = sorted({part.format for part in parts if part.format})
    parameters = sum(part.parameters or 0 for part in parts) or None
    licence = card_licence(folder) or next((p.licence for p in parts if p.licence), "")
    return ModelFacts(
        path=folder,
        name=folder.name,
        format=fmt or "/".join(formats) or "folder",
        kind=kind or (parts[0].kind if len(parts) == 1 else "model"),
        panels=(panel,) if panel else tuple({p for part in parts for p in part.panels}),
        architecture=architecture,
        quantisation=next((part.quantisation for part in parts if part.quantisation), ""),
        parameters=parameters,
        size=sum(part.size for part in parts),
        licence=licence,
        problems=tuple(problems),
        pickle_findings=findings,
        files=len(parts),
    )


def describe(path: Path) -> ModelFacts:
    """A model file or folder."""
    path = Path(path)
    return describe_folder(path) if path.is_dir() else describe_file(path)
