"""``studio assets list``: the assets of a project, with the ids other commands take."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from studio.core.project import Asset, ProjectStore
from studio.plugin_api.kinds import AssetKind

EXIT_OK = 0

LIST_DESCRIPTION = """\
List a project's assets, newest first: id, kind, when it was made (local time) and title.
Assets in the trash are left out unless --trash is given. Any command that takes an asset id
also takes its first few characters (at least 4, in any case) when no other id starts with
them. The project is opened read-only: nothing in it changes."""


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def add_asset_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``studio assets list``."""
    assets = subparsers.add_parser("assets", help="list a project's assets and their ids")
    commands = assets.add_subparsers(dest="assets_command", metavar="COMMAND", required=True)
    list_ = commands.add_parser(
        "list",
        help="ids, kinds, dates and titles, newest first",
        description=LIST_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    list_.add_argument("project", type=Path, metavar="PROJECT.studio")
    list_.add_argument(
        "--kind", choices=[kind.value for kind in AssetKind], help="only assets of this kind"
    )
    list_.add_argument(
        "--search",
        default="",
        metavar="WORDS",
        help="only assets whose title, prompt or text holds all these words (any case)",
    )
    list_.add_argument(
        "--trash",
        action="store_true",
        help="also list the assets in the trash (marked [trash]; 'deleted_at' in JSON)",
    )
    list_.add_argument("--limit", type=_limit, metavar="N", help="at most N assets (the newest)")
    list_.add_argument("--json", action="store_true", help="print the assets as JSON")
    list_.set_defaults(handler=cmd_assets_list)


def asset_json(asset: Asset) -> dict[str, Any]:
    """An asset as ``studio assets list --json`` prints it (times in ISO 8601, UTC)."""
    return {
        "id": asset.id,
        "kind": asset.kind.value,
        "title": asset.title,
        "created_at": asset.created_at.isoformat(),
        "media_type": asset.media_type,
        "size": asset.size,
        "deleted_at": asset.deleted_at.isoformat() if asset.deleted_at else None,
    }


def asset_line(asset: Asset) -> str:
    """An asset as one line of ``studio assets list``."""
    created = asset.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    title = " ".join(asset.title.split()) or "-"
    if asset.deleted:
        title = f"[trash] {title}"
    return f"{asset.id}  {asset.kind.value:8}  {created}  {title}"


def cmd_assets_list(args: argparse.Namespace, services: Any) -> int:
    kind = AssetKind(args.kind) if args.kind else None
    with ProjectStore.open(args.project, read_only=True, background_check=False) as store:
        assets = store.list_assets(
            kind=kind,
            search=args.search,
            deleted=None if args.trash else False,
            limit=args.limit,
        )
    if args.json:
        print(json.dumps({"assets": [asset_json(a) for a in assets]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not assets:
        what = f"{kind.value} assets" if kind else "assets"
        matching = f" matching '{args.search}'" if args.search.strip() else ""
        print(f"{args.project.name} has no {what}{matching}.")
    for asset in assets:
        print(asset_line(asset))
    return EXIT_OK
