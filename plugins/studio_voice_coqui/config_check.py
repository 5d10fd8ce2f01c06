"""Check a Coqui ``config.json`` before Coqui reads it: what it would import or download.

Coqui builds parts of a model from names in its config. ``characters.characters_class`` is a
dotted class path that ``TTS.utils.generic_utils.import_class`` imports, and importing a module
runs its code: any installed module, before Coqui checks anything. ``text_cleaner`` names an
attribute of Coqui's cleaners module that is then called. Every key ending in ``_class`` with a
dotted value must therefore name a class in Coqui's own package (``TTS.``), found without
importing anything outside it, and ``text_cleaner`` a function of Coqui's. Names of models
(``model``, ``generator_model``...) are only looked up inside Coqui's packages, so they need no
check here.

Some Coqui models fetch files from the Hugging Face hub while they are built (Bark's tokenizer
and codec, Tortoise's redaction models); Studio never downloads, so they are refused up front.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLASS_KEY_SUFFIX = "_class"
_CLASS_PATH = re.compile(r"TTS(?:\.[A-Za-z_][A-Za-z0-9_]*)+")

# Models whose construction downloads from the Hugging Face hub (coqui-tts 0.28).
_HUB_FILES = {
    "bark": ("bert-base-multilingual-cased", "facebook/encodec_24khz"),
    "tortoise": (
        "jbetker/wav2vec2-large-robust-ft-libritts-voxpopuli",
        "facebook/wav2vec2-large-960h",
        "jbetker/tacotron-symbols",
    ),
}


def check_config(config: dict[str, Any], config_path: Path) -> None:
    """Refuse a config that would make Coqui import code from outside it or download files.

    Raises:
        ValueError: a class path or text cleaner that is not Coqui's (the message names the
            field and its value).
        FileNotFoundError: the model needs files from the hub that are not in its folder.
    """
    for where, value in class_paths(config):
        if not is_coqui_class(value):
            raise ValueError(
                f"{config_path} names {where} '{value}', which is not a class of Coqui TTS; "
                "Studio does not load it."
            )
    cleaner = config.get("text_cleaner")
    if isinstance(cleaner, str) and cleaner and not is_coqui_cleaner(cleaner):
        raise ValueError(
            f"{config_path} names text_cleaner '{cleaner}', which is not a text cleaner of "
            "Coqui TTS; Studio does not load it."
        )
    needed = hub_files(config)
    if needed:
        names = " and ".join([", ".join(needed[:-1]), needed[-1]] if len(needed) > 1 else needed)
        raise FileNotFoundError(
            f"The Coqui {config['model']} model needs files that are not in the folder "
            f"{config_path.parent}: the Hugging Face models {names}, which Coqui would "
            "download, and Studio never downloads."
        )


def class_paths(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every ``(dotted.key, value)`` whose key ends in ``_class`` and whose value is a dotted
    name: what ``import_class`` would import. Undotted names (a transformers tokenizer class
    in a nested config) import no module."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if str(key).endswith(CLASS_KEY_SUFFIX) and isinstance(item, str) and "." in item:
                yield name, item
            else:
                yield from class_paths(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from class_paths(item, f"{where}[{index}]")


def is_coqui_class(path: str) -> bool:
    """Whether ``path`` (``TTS.module.Class``) names a class in a module Coqui installs.

    The module is found with ``find_spec`` (which imports only its parent packages, all under
    ``TTS``) and imported only when its file lies in the installed ``TTS`` package.
    """
    if not _CLASS_PATH.fullmatch(path):
        return False
    module_name, _, class_name = path.rpartition(".")
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or spec.origin is None or not _in_coqui(Path(spec.origin)):
            return False
        module = importlib.import_module(module_name)
    except Exception:  # not a module of Coqui's, or one that does not import here
        return False
    return inspect.isclass(getattr(module, class_name, None))


def is_coqui_cleaner(name: str) -> bool:
    """Whether ``name`` is a function Coqui's cleaners module holds, written in Coqui."""
    from TTS.tts.utils.text import cleaners

    found = getattr(cleaners, name, None) if name.isidentifier() else None
    return inspect.isfunction(found) and found.__module__.startswith("TTS.")


def hub_files(config: dict[str, Any]) -> tuple[str, ...]:
    """The hub models Coqui would download to build this model (none for most)."""
    model = str(config.get("model", "")).lower()
    if model == "tortoise":
        args = config.get("model_args")
        if isinstance(args, dict) and args.get("enable_redaction") is False:
            return ()
    return _HUB_FILES.get(model, ())


def _in_coqui(file: Path) -> bool:
    import TTS

    return file.resolve().is_relative_to(Path(TTS.__file__).resolve().parent)
