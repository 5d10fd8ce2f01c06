"""``studio desktop install|uninstall``: the launcher, the project file type and the icon for
the current user's Linux desktop (see :mod:`studio.core.desktop_entry`)."""

from __future__ import annotations

import argparse
import json
import sys

from studio.core import desktop_entry
from studio.core.errors import UserError

EXIT_OK = 0


def add_desktop_commands(subparsers: argparse._SubParsersAction) -> None:
    desktop = subparsers.add_parser(
        "desktop", help="add Studio to the desktop menu and open *.studio files with it (Linux)"
    )
    commands = desktop.add_subparsers(dest="desktop_command", metavar="COMMAND", required=True)
    install = commands.add_parser(
        "install", help="write the launcher, the project file type and the icon for this user"
    )
    install.add_argument("--json", action="store_true", help="print the files written as JSON")
    install.set_defaults(handler=cmd_desktop_install)
    uninstall = commands.add_parser("uninstall", help="remove what 'desktop install' wrote")
    uninstall.add_argument("--json", action="store_true", help="print the files removed as JSON")
    uninstall.set_defaults(handler=cmd_desktop_uninstall)


def _linux_only() -> None:
    if not sys.platform.startswith("linux"):
        raise UserError(
            "Desktop integration is for Linux desktops; on Windows and macOS start Studio with "
            "the 'studio-gui' launcher (README)."
        )


def _say_for(args: argparse.Namespace):
    return lambda text: print(text, file=sys.stderr if args.json else sys.stdout)


def cmd_desktop_install(args: argparse.Namespace, services) -> int:
    _linux_only()
    try:
        written = desktop_entry.install(say=_say_for(args))
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"The desktop files could not be written: {exc}") from None
    if args.json:
        print(json.dumps({"installed": [str(p) for p in written]}, indent=2))
    return EXIT_OK


def cmd_desktop_uninstall(args: argparse.Namespace, services) -> int:
    _linux_only()
    try:
        removed = desktop_entry.uninstall(say=_say_for(args))
    except OSError as exc:
        raise UserError(f"The desktop files could not be removed: {exc}") from None
    if args.json:
        print(json.dumps({"removed": [str(p) for p in removed]}, indent=2))
    return EXIT_OK
