"""``studio plugins install|uninstall|enable|disable|new``: the installer on the command line,
and a new plugin project to start from.

``install`` shows the review (what the plugin is, what it declares it needs, and what its
Python requirements mean here) and asks before anything is installed; ``--yes`` answers for a
script. Every refusal (a hostile archive, a bad manifest, a conflict, no answer) is one
sentence on stderr and exit code 2, and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.cli.progress import add_quiet_argument
from studio.core.durations import format_size
from studio.core.errors import UserError
from studio.core.plugin_install import InstalledPlugin, InstallReview, PluginInstaller
from studio.core.plugin_skeleton import write_skeleton
from studio.core.registry import PluginUnavailable
from studio.plugin_api import Panel

EXIT_OK = 0

INSTALL_DESCRIPTION = """\
Install a plugin from a folder, a .zip, a wheel (.whl) or a package name on the package index
(as 'pip download' finds it; wheels only). Studio first shows what the plugin is and what it
asks for: its panels, licence, author, plugin API version, what it declares it needs
(network, programs, system libraries, files), and its Python requirements checked against
Studio's own packages: met, to install for this plugin alone (into
<data dir>/plugin-packages/ID), or in conflict (the install is refused; Studio's own packages
never change). Nothing of the plugin runs before you answer."""


def add_plugin_install_commands(plugin_commands: argparse._SubParsersAction) -> None:
    """Register ``studio plugins install|uninstall|enable|disable``."""
    install = plugin_commands.add_parser(
        "install",
        help="review a plugin (folder, .zip, wheel or package name), then install it",
        description=INSTALL_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    install.add_argument("source", metavar="SOURCE", help="a folder, .zip, .whl or package name")
    install.add_argument("-y", "--yes", action="store_true", help="install without asking")
    install.add_argument("--dry-run", action="store_true", help="show the review, install nothing")
    install.add_argument(
        "--find-links",
        metavar="DIR",
        action="append",
        default=[],
        help="also look for packages in this folder of wheels (pip's --find-links)",
    )
    install.add_argument(
        "--no-index", action="store_true", help="use no package index (pip's --no-index)"
    )
    install.add_argument("--json", action="store_true", help="print the review as JSON")
    add_quiet_argument(install)
    install.set_defaults(handler=cmd_plugins_install)

    uninstall = plugin_commands.add_parser(
        "uninstall", help="remove a plugin Studio installed, and exactly what it added"
    )
    uninstall.add_argument(
        "plugin_id", metavar="ID", help="a plugin id (see 'studio plugins list')"
    )
    uninstall.add_argument("-y", "--yes", action="store_true", help="uninstall without asking")
    uninstall.set_defaults(handler=cmd_plugins_uninstall)

    for name, on, text in (
        ("enable", True, "switch a plugin on again"),
        ("disable", False, "switch a plugin off (it stays installed; kept across restarts)"),
    ):
        command = plugin_commands.add_parser(name, help=text)
        command.add_argument(
            "plugin_id", metavar="ID", help="a plugin id (see 'studio plugins list')"
        )
        command.set_defaults(handler=cmd_plugins_switch, enabled=on)

    new = plugin_commands.add_parser(
        "new",
        help="write a new plugin project to start from (it installs and passes check_plugin)",
        description="Write the folder NAME: a plugin package for one panel that works as it "
        "is (a manifest, a plugin class with its one method, a contract test and a "
        "pyproject.toml). Change it, test it with pytest, install it with 'studio plugins "
        "install NAME'. The guide is docs/plugins.md.",
    )
    new.add_argument("name", metavar="NAME", help="the project and plugin id, such as acme-voice")
    new.add_argument(
        "--panel",
        required=True,
        choices=[panel.value for panel in Panel],
        help="the panel it serves",
    )
    new.add_argument(
        "--into", type=Path, default=Path("."), metavar="DIR", help="where (default: here)"
    )
    new.set_defaults(handler=cmd_plugins_new)


def _installer(services: Any, args: argparse.Namespace | None = None) -> PluginInstaller:
    pip_args: list[str] = []
    if args is not None:
        if args.no_index:
            pip_args.append("--no-index")
        for folder in args.find_links:
            path = Path(folder).expanduser()
            if not path.is_dir():
                raise UserError(f"--find-links {folder}: no such folder.")
            pip_args += ["--find-links", str(path.resolve())]
    return PluginInstaller(services.paths, pip_args=tuple(pip_args))


# the review ----------------------------------------------------------------------------------


def review_json(review: InstallReview) -> dict[str, Any]:
    """The review as ``studio plugins install --json`` prints it."""
    manifest = review.manifest
    return {
        "source": review.source,
        "kind": review.kind,
        "id": manifest.id,
        "name": manifest.name,
        "version": manifest.version,
        "author": review.author,
        "licence": manifest.licence,
        "api_version": manifest.api_version,
        "panels": [panel.value for panel in manifest.panels],
        "description": manifest.description,
        "needs": {
            "network": manifest.needs.network,
            "programs": list(manifest.needs.programs),
            "libraries": list(manifest.needs.libraries),
            "files": list(manifest.needs.files),
        },
        "requirements": [
            {"text": r.text, "state": r.state, "version": r.version, "why": r.why}
            for r in review.requirements
        ],
        "files": review.files,
        "size": review.size,
        "replaces": review.replaces or None,
        "can_install": review.can_install,
    }


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "none"


def review_text(review: InstallReview) -> list[str]:
    """The review as ``studio plugins install`` prints it before asking."""
    manifest = review.manifest
    needs = manifest.needs
    lines = [f"{manifest.name} {manifest.version} ({manifest.id})"]
    facts = [
        ("Author", review.author or "not given"),
        ("Licence", manifest.licence),
        ("Plugin API", str(manifest.api_version)),
        ("Panels", ", ".join(p.value for p in manifest.panels)),
        ("From", f"{review.kind} {review.source}"),
        ("Size", f"{review.files} files, {format_size(review.size)}"),
        (
            "Network",
            "yes: it declares it talks to servers"
            if needs.network
            else "no: not declared, so its model process is kept off the network",
        ),
        ("Programs", _listed(needs.programs)),
        ("Libraries", _listed(needs.libraries)),
        ("Files", _listed(needs.files)),
    ]
    if review.replaces:
        facts.append(("Replaces", f"version {review.replaces}, installed now"))
    lines += [f"  {label + ':':13} {value}" for label, value in facts]
    if manifest.description:
        lines.append(f"  {'About:':13} {manifest.description}")
    if not review.requirements:
        lines.append(f"  {'Requires:':13} no Python packages")
        return lines
    lines.append("  Python requirements:")
    for r in review.requirements:
        if r.state == "met":
            what = f"met by Studio's {r.version}" if r.version else f"met ({r.why})"
        elif r.state == "install":
            what = f"to install for this plugin alone: {r.version}"
            what += f" ({r.why})" if r.why else ""
        else:
            what = f"CONFLICT: {r.why}"
        lines.append(f"    {r.text}: {what}")
    return lines


def _ask(question: str, to_stderr: bool) -> bool:
    """A y/N answer from the terminal; refused (a UserError) when stdin is no terminal."""
    if not sys.stdin.isatty():
        raise UserError("The input is not a terminal, so nobody can answer; add --yes to go ahead.")
    stream = sys.stderr if to_stderr else sys.stdout
    print(f"{question} [y/N] ", end="", file=stream, flush=True)
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def _installed_text(installed: InstalledPlugin, review: InstallReview, services: Any) -> str:
    manifest = review.manifest
    text = f"Installed {manifest.name} {manifest.version} as {installed.id} in {installed.folder}"
    if installed.packages is not None:
        count = len(review.to_install)
        text += f"; {count} package{'s' if count != 1 else ''} for it alone in {installed.packages}"
    try:
        record = services.registry.get(installed.id)
    except PluginUnavailable:
        return text + "."
    if not record.enabled:
        return text + f". It is disabled: {record.reason}."
    return text + f". It is in the {', '.join(p.value for p in record.panels)} panel now."


def cmd_plugins_install(args: argparse.Namespace, services: Any) -> int:
    installer = _installer(services, args)

    def progress(fraction: float | None, message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    review = installer.review(args.source, progress)
    go = False
    try:
        if args.json:
            print(json.dumps(review_json(review), indent=2, ensure_ascii=False))
        else:
            print("\n".join(review_text(review)))
        if not review.can_install:
            first = review.conflicts[0]
            raise UserError(
                f"{review.manifest.name} cannot be installed: {first.text}: {first.why}; "
                "nothing was installed."
            )
        if args.dry_run:
            return EXIT_OK
        go = args.yes or _ask("Install?", to_stderr=args.json)
        if not go:
            raise UserError("Not installed: the answer was no.")
    finally:
        if not go:
            installer.discard(review)
    installed = installer.install(review, progress)  # all or nothing, its own clean-up
    services.registry.discover()  # the plugin is there without a restart
    print(_installed_text(installed, review, services), file=sys.stderr if args.json else None)
    return EXIT_OK


def cmd_plugins_uninstall(args: argparse.Namespace, services: Any) -> int:
    installer = _installer(services)
    installed = installer.get(args.plugin_id)  # or why it cannot be uninstalled
    if not args.yes and not _ask(
        f"Uninstall {installed.id} {installed.version} from {installed.folder}?", to_stderr=False
    ):
        raise UserError(f"{installed.id} stays installed: the answer was no.")
    installer.uninstall(installed.id)
    services.registry.discover()
    print(f"Uninstalled {installed.id} {installed.version}.")
    if installed.folder.exists():
        print(f"Left {installed.folder}: it holds files Studio did not install.")
    return EXIT_OK


def cmd_plugins_switch(args: argparse.Namespace, services: Any) -> int:
    installer = _installer(services)
    changed = installer.set_enabled(args.plugin_id, args.enabled)
    services.registry.discover()
    plugin_id = args.plugin_id
    if not args.enabled:
        print(
            f"Switched {plugin_id} off; 'studio plugins enable {plugin_id}' switches it on again."
            if changed
            else f"{plugin_id} was off already."
        )
        return EXIT_OK
    print(f"Switched {plugin_id} on." if changed else f"{plugin_id} was on already.")
    try:
        record = services.registry.get(plugin_id)
    except PluginUnavailable:
        return EXIT_OK
    if not record.enabled:
        print(f"It is still disabled: {record.reason}.")
    return EXIT_OK


def cmd_plugins_new(args: argparse.Namespace, services: Any) -> int:
    skeleton = write_skeleton(args.into, args.name, Panel(args.panel))
    print(f"Wrote {skeleton.folder} ({len(skeleton.files)} files):")
    for path in skeleton.files:
        print(f"  {path.relative_to(skeleton.folder).as_posix()}")
    print(
        f"Next: edit {skeleton.package}/plugin.py; test with 'pytest {skeleton.folder}/tests'; "
        f"install with 'studio plugins install {skeleton.folder}'."
    )
    return EXIT_OK
