"""``studio image settings FILE [--plugin ID] [--json]``: the settings an image was made with.

Reads a PNG, JPEG or WebP made by Studio, AUTOMATIC1111 (also Forge, SD.Next, Civitai),
ComfyUI, InvokeAI, NovelAI, Fooocus or SwarmUI, prints what it holds in that tool's words, then
what Studio's image plugin (the panel's default, or ``--plugin``) makes of it: its options, what
it does not use, and the model found in the model library by name and hash (the library's
checkpoints are hashed once; the hashes are cached).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from studio.core.errors import UserError
from studio.core.image_settings import RestoredSettings, read_image_settings
from studio.core.image_settings.model_lookup import ModelMatch, find_model
from studio.core.media.settings_restore import (
    ask_plugin,
    model_note,
    not_taken,
    plugin_for_settings,
)
from studio.core.model_scan.catalog import scan_machine
from studio.core.option_values import sort_values
from studio.core.panel_defaults import usable_plugins
from studio.core.recipe import thaw_json
from studio.plugin_api import GenerationSettings, Panel, SettingsMapping

EXIT_OK = 0
MAX_IMAGE_BYTES = 256 << 20


def add_image_commands(commands: argparse._SubParsersAction) -> None:
    image = commands.add_parser(
        "image",
        help="what an image holds: the settings it was made with",
        description="Read the settings a generated image carries, whatever made it.",
    )
    sub = image.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    settings = sub.add_parser(
        "settings",
        help="print the settings a PNG, JPEG or WebP was made with, and what Studio makes of them",
    )
    settings.add_argument("file", type=Path)
    settings.add_argument("--plugin", help="the image plugin to map them onto (default: the best)")
    settings.add_argument("--json", action="store_true", help="print JSON")
    settings.set_defaults(handler=cmd_image_settings)


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UserError(f"{path} cannot be read: {exc.strerror or exc}.") from None
    if not path.is_file():
        raise UserError(f"{path} is not a file.")
    if size > MAX_IMAGE_BYTES:
        raise UserError(f"{path.name} is {size >> 20} MiB: too large for an image's settings.")
    return path.read_bytes()


def _settings_json(settings: GenerationSettings) -> dict[str, Any]:
    data = asdict(settings)
    data["dialect"] = settings.dialect.value
    data["other"] = [list(pair) for pair in settings.other]
    return {key: value for key, value in data.items() if value not in ("", None, [], ())}


def _mapping(
    services: Any, settings: GenerationSettings, wanted: str | None
) -> tuple[str | None, SettingsMapping]:
    """(plugin id, its mapping): ``wanted``, or the image plugin the window would choose."""
    registry, checks = services.registry, services.engine_checks
    usable = usable_plugins(registry, checks, Panel.IMAGE)
    if wanted is None:
        first = usable[0] if usable else None
        return plugin_for_settings(registry, checks, Panel.IMAGE, settings, first)
    if wanted not in usable:
        raise UserError(f"'{wanted}' is not a usable image plugin here.")
    return wanted, ask_plugin(registry.plugin_class(wanted), settings)


def cmd_image_settings(args: argparse.Namespace, services: Any) -> int:
    restored = read_image_settings(_read(args.file))
    if restored is None:
        if args.json:
            print(json.dumps({"file": str(args.file), "found": False}, indent=2))
        else:
            print(f"{args.file.name} carries no generation settings Studio knows.")
        return EXIT_OK
    if restored.recipe is not None:
        return _print_recipe(args, restored)
    settings = restored.settings
    assert settings is not None
    plugin_id, mapping = _mapping(services, settings, args.plugin)
    match: ModelMatch | None = None
    if plugin_id is not None and "model" in services.registry.spec(plugin_id).load_options:
        library = scan_machine(services.registry, services.model_library)
        match = find_model(settings, library, services.hashes.file_sha256)
    reads = services.registry.spec(plugin_id).reads if plugin_id else (lambda name: False)
    left = not_taken(settings, mapping, reads)
    run_options = dict(mapping.run_options)
    if plugin_id is not None:  # values the plugin's options refuse are not used either
        options = services.registry.plugin_class(plugin_id).run_options
        run_options, refused = sort_values(options, mapping.run_options)
        left += [f"{name} {mapping.run_options[name]} ({why})" for name, why in refused.items()]
    note = model_note(settings, mapping, match)
    if args.json:
        print(
            json.dumps(
                {
                    "file": str(args.file),
                    "found": True,
                    "source": restored.source.value,
                    "carrier": restored.carrier,
                    "settings": _settings_json(settings),
                    "not_understood": list(restored.not_understood),
                    "notes": list(restored.notes),
                    "plugin": plugin_id,
                    "load_options": dict(mapping.load_options)
                    | ({"model": str(match.path)} if match else {}),
                    "run_options": run_options,
                    "not_used": left,
                    "model": {"path": str(match.path), "found_by": match.how} if match else None,
                    "model_note": note,
                },
                indent=2,
                ensure_ascii=False,
                default=str,
            )
        )
        return EXIT_OK
    print(
        f"{args.file.name}: {restored.source}"
        + (f" ({restored.carrier})" if restored.carrier else "")
    )
    for name in settings.given():
        value = _value_text(settings, name)
        print(f"  {name.replace('_', ' '):16} {value}")
    for line in restored.not_understood:
        print(f"  not understood:  {line}")
    for line in restored.notes:
        print(f"  note: {line}")
    if plugin_id is None:
        print("No image plugin here takes these settings.")
        return EXIT_OK
    name = services.registry.get(plugin_id).name
    options = run_options | dict(mapping.load_options)
    if match:
        options["model"] = str(match.path)
    print(f"{name} would use: " + (", ".join(f"{k}={v}" for k, v in options.items()) or "nothing"))
    if left:
        print("Not used: " + "; ".join(left))
    if note:
        print(note)
    return EXIT_OK


def _value_text(settings: GenerationSettings, name: str) -> str:
    if name == "loras":
        return ", ".join(lora.describe().removeprefix("LoRA ") for lora in settings.loras)
    if hasattr(settings, name):
        value = getattr(settings, name)
        text = (
            value
            if isinstance(value, str)
            else f"{value:g}"
            if isinstance(value, float)
            else str(value)
        )
    else:
        text = next(v for n, v in settings.other if n == name)
    text = " ".join(str(text).split())
    return text if len(text) <= 200 else text[:199] + "…"


def _print_recipe(args: argparse.Namespace, restored: RestoredSettings) -> int:
    recipe = restored.recipe
    assert recipe is not None
    if args.json:
        print(json.dumps({"file": str(args.file), "found": True, "source": restored.source.value,
                          "recipe": recipe.to_json()}, indent=2))  # fmt: skip
        return EXIT_OK
    print(f"{args.file.name}: a Studio recipe ({recipe.plugin_id}, seed {recipe.seed})")
    for key, value in thaw_json(recipe.request).items():
        print(f"  {key:16} {value}")
    for key, value in {**thaw_json(recipe.load_options), **thaw_json(recipe.run_options)}.items():
        print(f"  {key:16} {value}")
    return EXIT_OK
