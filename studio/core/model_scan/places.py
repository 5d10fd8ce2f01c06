"""Where other tools keep their models, and how each lays them out.

Studio looks at each tool's default place (and the environment variables the tool reads), and
at the folders the user adds. Nothing is copied: a model is listed where it is.

- Hugging Face cache (``HF_HUB_CACHE``, ``HF_HOME``/hub, ``~/.cache/huggingface/hub``): read
  with ``huggingface_hub.scan_cache_dir``, offline; each model repository's newest snapshot.
- AUTOMATIC1111 / Forge: ``models/Stable-diffusion``, ``models/Lora``, ``models/VAE``.
- ComfyUI: ``models/checkpoints``, ``loras``, ``diffusion_models``, ``unet``, ``vae``...
- InvokeAI (``INVOKEAI_ROOT``, ``~/invokeai``): ``models/``.
- LM Studio: ``~/.lmstudio/models`` and ``~/.cache/lm-studio/models`` (publisher/repo/file).
- Ollama (``OLLAMA_MODELS``, ``~/.ollama/models``): manifests name the GGUF blobs.
- Coqui TTS (``TTS_HOME``, ``XDG_DATA_HOME``/tts, ``~/.local/share/tts``): one folder a voice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from studio.core.model_scan.describe import WEIGHT_SUFFIXES

SOURCE_LABELS = {
    "embedded": "Embedded",
    "imported": "Imported",
    "hf-cache": "Hugging Face cache",
    "automatic1111": "AUTOMATIC1111",
    "comfyui": "ComfyUI",
    "invokeai": "InvokeAI",
    "lm-studio": "LM Studio",
    "ollama": "Ollama",
    "coqui": "Coqui TTS",
    "folder": "Your folders",
}
"""Every source of the library, in the order the Models view groups them."""

_A1111_FOLDERS = ("Stable-diffusion", "Lora", "LyCORIS", "VAE")
_COMFY_FOLDERS = (
    "checkpoints",
    "loras",
    "diffusion_models",
    "unet",
    "vae",
    "text_encoders",
    "clip",
    "upscale_models",
)
MAX_DEPTH = 6
MAX_ENTRIES = 200_000
"""A walk stops after this many folder entries (a model folder pointed at a whole disk)."""


@dataclass(frozen=True)
class Place:
    """A folder to look in, and how it is laid out."""

    source: str
    root: Path

    @property
    def label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)


@dataclass(frozen=True)
class Found:
    """A model found in a place: its files and the name the tool knows it by."""

    path: Path
    name: str
    source: str


def default_places(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> list[Place]:
    """The peers' default places on this machine (those that exist)."""
    env = os.environ if environ is None else environ
    home = Path(home or env.get("HOME") or Path.home())
    candidates: list[Place] = []
    hf_cache = env.get("HF_HUB_CACHE") or (
        str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else None
    )
    candidates.append(
        Place("hf-cache", Path(hf_cache) if hf_cache else home / ".cache" / "huggingface" / "hub")
    )
    for name in ("stable-diffusion-webui", "stable-diffusion-webui-forge", "sd-webui-forge"):
        candidates.append(Place("automatic1111", home / name))
    for name in ("ComfyUI", "comfy/ComfyUI", "Documents/ComfyUI"):
        candidates.append(Place("comfyui", home / name))
    candidates.append(Place("invokeai", Path(env.get("INVOKEAI_ROOT") or home / "invokeai")))
    candidates.append(Place("lm-studio", home / ".lmstudio" / "models"))
    candidates.append(Place("lm-studio", home / ".cache" / "lm-studio" / "models"))
    candidates.append(
        Place("ollama", Path(env.get("OLLAMA_MODELS") or home / ".ollama" / "models"))
    )
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    candidates.append(Place("coqui", Path(env.get("TTS_HOME") or data_home) / "tts"))
    seen: set[Path] = set()
    places = []
    for place in candidates:
        if place.root in seen or not place.root.is_dir():
            continue
        seen.add(place.root)
        places.append(place)
    return places


def _is_model_folder(folder: Path) -> bool:
    return (folder / "model_index.json").is_file() or (folder / "config.json").is_file()


def walk_models(root: Path, source: str) -> Iterator[Found]:
    """Model folders (a ``model_index.json`` or ``config.json``) and model files under
    ``root``, not following links to folders, at most :data:`MAX_DEPTH` deep."""
    entries = 0
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        if depth and _is_model_folder(folder):
            yield Found(folder, folder.name, source)
            continue
        try:
            children = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        entries += len(children)
        if entries > MAX_ENTRIES:
            return
        names = {child.name for child in children}
        for child in children:
            if child.name.startswith("."):
                continue
            path = Path(child.path)
            if child.is_dir(follow_symlinks=False):
                if depth < MAX_DEPTH:
                    stack.append((path, depth + 1))
            elif path.suffix.lower() in WEIGHT_SUFFIXES and child.is_file():
                if path.suffix.lower() == ".bin" and f"{path.stem}.param" in names:
                    continue  # an ncnn model's weights: listed with its .param
                yield Found(path, path.stem, source)


def _hf_cache(root: Path) -> Iterator[Found]:
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir(root)
    except Exception:  # not a cache (CacheNotFound), or unreadable
        return
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model" or not repo.revisions:
            continue
        newest = max(repo.revisions, key=lambda revision: revision.last_modified)
        yield Found(Path(newest.snapshot_path), repo.repo_id, "hf-cache")


def _ollama(root: Path) -> Iterator[Found]:
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            layers = data["layers"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        digest = next(
            (
                layer.get("digest", "")
                for layer in layers
                if isinstance(layer, dict)
                and layer.get("mediaType") == "application/vnd.ollama.image.model"
            ),
            "",
        )
        blob = root / "blobs" / digest.replace(":", "-")
        if not digest or not blob.is_file():
            continue
        parts = manifest.relative_to(manifests).parts  # host/namespace/name/tag
        if len(parts) < 3:
            continue
        namespace, name, tag = parts[-3], parts[-2], parts[-1]
        shown = f"{name}:{tag}" if namespace == "library" else f"{namespace}/{name}:{tag}"
        yield Found(blob, shown, "ollama")


def models_in(place: Place) -> Iterator[Found]:
    """The models a place holds, as its tool lays them out."""
    root = place.root
    if place.source == "hf-cache":
        yield from _hf_cache(root)
    elif place.source == "ollama":
        yield from _ollama(root)
    elif place.source == "automatic1111":
        for name in _A1111_FOLDERS:
            yield from walk_models(root / "models" / name, place.source)
    elif place.source == "comfyui":
        for name in _COMFY_FOLDERS:
            yield from walk_models(root / "models" / name, place.source)
    elif place.source == "invokeai":
        yield from walk_models(root / "models", place.source)
    elif place.source == "lm-studio":
        for found in walk_models(root, place.source):
            relative = found.path.relative_to(root)
            yield Found(
                found.path, "/".join(relative.parts[:2]) + f" · {found.path.stem}", found.source
            )
    else:  # coqui and the user's own folders
        yield from walk_models(root, place.source)
