"""Files Studio ships for plugins to use (model configs, tokenizer vocabularies).

Studio's ``resources/`` folder (installed as ``studio/resources``) holds small files that model
libraries would otherwise download, such as the configs diffusers needs to load a single-file
Stable Diffusion checkpoint offline. Plugins reach them through :func:`shipped_resource`.
"""

from __future__ import annotations

from pathlib import Path

_STUDIO_DIR = Path(__file__).resolve().parent.parent


def shipped_resource(*parts: str) -> Path:
    """The path of a file or folder in Studio's resources; FileNotFoundError names it if missing."""
    for base in (_STUDIO_DIR / "resources", _STUDIO_DIR.parent / "resources"):
        path = base.joinpath(*parts)
        if path.exists():
            return path
    raise FileNotFoundError(f"Studio's resource {'/'.join(parts)} is missing (reinstall Studio).")
