"""``studio project ...``: look into, import into and export from project files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.cli.progress import add_quiet_argument
from studio.core.media.export import export_assets
from studio.core.media.importing import check_import, import_checked
from studio.core.project import ProjectStore
from studio.core.project.repair import repair_project

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def cmd_project_info(args: argparse.Namespace, services) -> int:
    with ProjectStore.open(args.project, read_only=True, background_check=False) as store:
        stats = store.stats()
        report = store.integrity_check()
        info = {
            "path": str(args.project),
            "schema_version": store.schema_version,
            "assets": {kind.value: count for kind, count in stats.assets.items()},
            "deleted_assets": stats.deleted_assets,
            "blobs": stats.blobs,
            "blob_bytes": stats.blob_bytes,
            "file_bytes": stats.file_bytes,
            "integrity": report.summary,
        }
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        counts = ", ".join(f"{kind} {count}" for kind, count in info["assets"].items())
        print(f"Project:   {info['path']}")
        print(f"Schema:    {info['schema_version']}")
        print(
            f"Assets:    {sum(info['assets'].values())} ({counts}); "
            f"{info['deleted_assets']} deleted"
        )
        print(
            f"Size:      {info['file_bytes']} bytes on disk, {info['blob_bytes']} bytes of "
            f"content in {info['blobs']} blobs"
        )
        print(f"Integrity: {info['integrity']}")
    if report.ok:
        return EXIT_OK
    print(
        f"studio: {args.project.name} failed its integrity check; 'studio project repair "
        f"{args.project.name}' saves every intact asset into a new file beside it.",
        file=sys.stderr,
    )
    return EXIT_BAD_INPUT


def cmd_project_import(args: argparse.Namespace, services) -> int:
    plan = check_import(args.files)  # before the project is created or opened
    created = not args.project.exists()
    with ProjectStore.open_or_create(args.project) as store:
        report = import_checked(store, plan)
    if created:
        print(f"Created {args.project}")
    for asset in report.assets:
        print(f"Imported {asset.recipe.request.get('file_name')} as {asset.kind} {asset.id}")
    return EXIT_OK


def cmd_project_export(args: argparse.Namespace, services) -> int:
    with ProjectStore.open(args.project, read_only=True, background_check=False) as store:
        exported = export_assets(store, args.directory, overwrite=args.overwrite)
    for item in exported:
        extra = f" (recipe in {item.sidecar.name})" if item.sidecar else ""
        print(f"Exported {item.asset_id} to {item.path}{extra}")
    for left in exported.left_out:
        print(f"Left out {left.asset_id} ({left.title}): {left.why}.", file=sys.stderr)
    if exported.left_out:
        print(
            f"studio: {len(exported.left_out)} assets of {args.project.name} were left out "
            "because the project is damaged; the others were exported.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if not exported:
        print("The project has no assets to export.")
    return EXIT_OK


def cmd_project_repair(args: argparse.Namespace, services) -> int:
    shown = [-1]

    def progress(done: int, total: int) -> None:  # on stderr, every 5%, as generate does
        percent = done * 100 // max(total, 1)
        if percent // 5 != shown[0] // 5 and not args.quiet:
            shown[0] = percent
            print(f"{percent}% read {done} of {total} assets", file=sys.stderr)

    report = repair_project(args.project, args.into, progress=progress)
    print(report.summary())
    for item in report.partly_kept:
        print(f"Kept {item.asset_id} ({item.title}), but {item.why}.")
    for item in report.lost:
        print(f"Lost {item.asset_id} ({item.title}): {item.why}.", file=sys.stderr)
    for note in report.notes:
        print(note)
    return EXIT_OK


def add_project_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``studio project info|import|export|repair``."""
    project = subparsers.add_parser("project", help="look into, import into, export from projects")
    commands = project.add_subparsers(dest="project_command", metavar="COMMAND", required=True)

    info = commands.add_parser(
        "info", help="schema, asset counts and a full integrity check (changes nothing)"
    )
    info.add_argument("project", type=Path, metavar="PROJECT.studio")
    info.add_argument("--json", action="store_true", help="print the facts as JSON")
    info.set_defaults(handler=cmd_project_info)

    import_ = commands.add_parser(
        "import", help="import images, audio and text as assets (creates the project if needed)"
    )
    import_.add_argument("project", type=Path, metavar="PROJECT.studio")
    import_.add_argument("files", type=Path, nargs="+", metavar="FILE")
    import_.set_defaults(handler=cmd_project_import)

    export = commands.add_parser(
        "export", help="write every asset as a file, with its recipe embedded or beside it"
    )
    export.add_argument("project", type=Path, metavar="PROJECT.studio")
    export.add_argument("directory", type=Path, metavar="DIR")
    export.add_argument(
        "--overwrite", action="store_true", help="replace files of the same name in DIR"
    )
    export.set_defaults(handler=cmd_project_export)

    repair = commands.add_parser(
        "repair",
        help="save every intact asset of a damaged project into a new file beside it "
        "(the damaged file is not changed)",
    )
    repair.add_argument("project", type=Path, metavar="PROJECT.studio")
    repair.add_argument(
        "--into",
        type=Path,
        metavar="NEW.studio",
        help="where to write the repaired project (default: 'NAME (repaired).studio' beside it)",
    )
    add_quiet_argument(repair)
    repair.set_defaults(handler=cmd_project_repair)
