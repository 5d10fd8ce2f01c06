"""``studio models ...``: the model library on the command line.

- ``studio models list [--panel P] [--source S] [--problems] [--json]``: every model Studio can
  use here (embedded, imported, and found in the Hugging Face cache and other tools' folders),
  described by its files, with what keeps a model from use.
- ``studio models show PATH [--json]``: one model file or folder, described.
- ``studio models import PATH [--panel P]``: add it to a panel's model picker, after the same
  checks; a model that cannot be used (or would run code) is refused with the reason, exit 2.
- ``studio models folders [add DIR | remove DIR]``: the folders Studio looks in besides the
  other tools' usual places.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from studio.core.errors import UserError
from studio.core.model_scan.catalog import LibraryEntry, library_places, scan_machine
from studio.core.model_scan.describe import ModelFacts, describe
from studio.core.model_scan.places import SOURCE_LABELS
from studio.plugin_api import Panel

EXIT_OK = 0


def add_model_commands(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser(
        "models",
        help="the models Studio can use here: list, show, import, and the folders it looks in",
        description="Studio lists the models its plugins ship, the ones you imported, and the "
        "ones in the Hugging Face cache, AUTOMATIC1111, ComfyUI, InvokeAI, LM Studio, Ollama "
        "and Coqui folders at their usual places and in folders you add. Nothing is copied; "
        "only headers and configs are read.",
    )
    sub = models.add_subparsers(dest="models_command", metavar="COMMAND", required=True)
    listing = sub.add_parser("list", help="every model, per panel, with its problems")
    listing.add_argument("--panel", choices=[p.value for p in Panel], help="only this panel's")
    listing.add_argument("--source", choices=list(SOURCE_LABELS), help="only from this source")
    listing.add_argument(
        "--problems", action="store_true", help="only the models that cannot be used as they are"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_models_list)

    show = sub.add_parser("show", help="describe one model file or folder")
    show.add_argument("path", type=Path)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_models_show)

    imports = sub.add_parser(
        "import", help="add a model file or folder to a panel's model picker, after checking it"
    )
    imports.add_argument("path", type=Path)
    imports.add_argument(
        "--panel",
        choices=[p.value for p in Panel],
        help="the panel (when the files do not say it)",
    )
    imports.set_defaults(handler=cmd_models_import)

    folders = sub.add_parser("folders", help="the folders Studio looks in for models")
    folders.add_argument("action", nargs="?", choices=("add", "remove"), help="add or remove DIR")
    folders.add_argument("folder", nargs="?", type=Path, metavar="DIR")
    folders.set_defaults(handler=cmd_models_folders)


def _facts_lines(facts: ModelFacts) -> list[str]:
    parts = facts.summary_parts() + ([f"licence {facts.licence}"] if facts.licence else [])
    described = ", ".join(parts)
    lines = [f"    {described}", f"    {facts.path}"]
    for problem in facts.problems:
        mark = "cannot be used" if problem.blocking else "note"
        lines.append(f"    {mark}: {problem.message}")
    return lines


def _entry_lines(entry: LibraryEntry) -> list[str]:
    state = "" if entry.usable else "  [cannot be used]"
    head = f"  {entry.name}  ({entry.source_label}){state}"
    if entry.facts is None:
        licence = f", licence {entry.licence}" if entry.licence else ""
        return [head, f"    embedded in {entry.plugin_id}{licence}"]
    return [head, *_facts_lines(entry.facts)]


def cmd_models_list(args: argparse.Namespace, services: Any) -> int:
    entries = scan_machine(services.registry, services.model_library)
    if args.panel:
        entries = [e for e in entries if Panel(args.panel) in e.panels]
    if args.source:
        entries = [e for e in entries if e.source == args.source]
    if args.problems:
        entries = [e for e in entries if e.facts is not None and e.facts.problems]
    if args.json:
        print(json.dumps({"models": [e.to_json() for e in entries]}, indent=2))
        return EXIT_OK
    places = library_places(services.model_library)
    looked = ", ".join(f"{place.label} ({place.root})" for place in places)
    print(
        f"Looked in: {looked}."
        if looked
        else "No other tool's model folders are here ('studio models folders add DIR' adds one)."
    )
    panels = [Panel(args.panel)] if args.panel else list(Panel)
    for panel in panels:
        shown = [e for e in entries if panel in e.panels]
        print(f"\n{panel.value.capitalize()} ({len(shown)})")
        for entry in shown:
            print("\n".join(_entry_lines(entry)))
    elsewhere = [e for e in entries if not e.panels]
    if elsewhere and not args.panel:
        print(f"\nNo panel uses these ({len(elsewhere)})")
        for entry in elsewhere:
            print("\n".join(_entry_lines(entry)))
    return EXIT_OK


def _described(path: Path) -> ModelFacts:
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    return describe(path)


def cmd_models_show(args: argparse.Namespace, services: Any) -> int:
    facts = _described(args.path)
    entry = LibraryEntry(
        key=str(facts.path),
        name=facts.name,
        source="folder",
        panels=facts.panels,
        facts=facts,
        licence=facts.licence,
    )
    if args.json:
        print(json.dumps(entry.to_json(), indent=2))
        return EXIT_OK
    panels = ", ".join(panel.value for panel in facts.panels) or "no panel"
    print(f"{facts.name}: {'usable' if facts.usable else 'cannot be used'} ({panels})")
    print("\n".join(_facts_lines(facts)))
    return EXIT_OK


def cmd_models_import(args: argparse.Namespace, services: Any) -> int:
    facts = _described(args.path)
    blocking = [problem for problem in facts.problems if problem.blocking]
    if blocking:
        raise UserError(f"{facts.path} cannot be imported: {blocking[0].message}")
    if args.panel:
        panel = Panel(args.panel)
    elif len(facts.panels) == 1:
        panel = facts.panels[0]
    else:
        raise UserError(
            f"{facts.path} does not say which panel it is for: give --panel "
            "(writing, image, voice or captioning)."
        )
    services.model_library.remember(facts.path, panel)
    print(f"Imported {facts.name} for the {panel.value} panel ({facts.format}, {facts.size_text}).")
    for problem in facts.problems:
        print(f"Note: {problem.message}")
    return EXIT_OK


def cmd_models_folders(args: argparse.Namespace, services: Any) -> int:
    library = services.model_library
    if args.action and args.folder is None:
        raise UserError(
            f"Name the folder to {args.action}: studio models folders {args.action} DIR."
        )
    if args.action == "add":
        if not args.folder.is_dir():
            raise UserError(f"{args.folder} is not a folder.")
        print(f"Studio now looks for models in {library.add_folder(args.folder)}.")
        return EXIT_OK
    if args.action == "remove":
        if not library.remove_folder(args.folder):
            raise UserError(f"{args.folder} is not one of your model folders.")
        print(f"Studio no longer looks in {args.folder}.")
        return EXIT_OK
    for place in library_places(library):
        print(f"{place.label}: {place.root}")
    return EXIT_OK
