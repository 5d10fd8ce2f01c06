"""``studio``: opens the window; with a subcommand, works headless.

Exit codes: 0 ok, 2 bad usage or bad input (one sentence on stderr), 1 internal error (one
sentence on stderr, the traceback in the log file).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from studio import __version__
from studio.cli.asset_commands import add_asset_commands
from studio.cli.consent_commands import add_consent_commands
from studio.cli.desktop_commands import add_desktop_commands
from studio.cli.generate_commands import add_generate_commands
from studio.cli.image_commands import add_image_commands
from studio.cli.model_commands import add_model_commands
from studio.cli.plugin_commands import add_plugin_show
from studio.cli.plugin_install_commands import add_plugin_install_commands
from studio.cli.progress import add_quiet_argument
from studio.cli.project_commands import add_project_commands
from studio.core.errors import UserError
from studio.core.offline import enforce_offline
from studio.core.process_host import quiet_model_libraries
from studio.core.project.errors import is_damage

log = logging.getLogger("studio.cli")

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message[:1].upper()}{message[1:]} (see '{self.prog} --help').")


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def cmd_plugins_list(args: argparse.Namespace, services) -> int:
    records = services.registry.verify()
    if args.json:
        _print_json(
            [
                {
                    "id": r.id,
                    "panel": r.panels[0].value if r.panels else None,
                    "version": r.version,
                    "enabled": r.enabled,
                    "reason": r.reason,
                }
                for r in records
            ]
        )
        return EXIT_OK
    if not records:
        print("No plugins installed.")
    for r in records:
        panels = ",".join(p.value for p in r.panels) or "-"
        state = "enabled" if r.enabled else f"disabled: {r.reason}"
        print(f"{r.id:32} {panels:12} {r.version or '-':10} {r.source.value:8} {state}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, services) -> int:
    import time

    from studio.core import doctor

    def say(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    def progress(text: str) -> None:
        if not args.quiet:
            say(text)

    started = time.perf_counter() - args.elapsed
    checks = doctor.run_checks(services.registry)
    packages = doctor.apt_packages_to_install(checks)
    repairs = doctor.repairs_to_run(checks)
    if args.fix and (packages or repairs):
        for name in repairs:
            say(f"Repairing {name}…")
            if not doctor.REPAIRS[name](say):
                say(f"Could not repair {name}; see the messages above.")
        if packages and doctor.can_install_system_packages():
            doctor.install_apt_packages(packages, say)
        elif packages:
            say(f"To fix, run as root: apt-get install -y {' '.join(packages)}")
        # What was just installed can be invisible to this process: Python caches the
        # package metadata and module folders it has read (keyed by a folder's time stamp,
        # which may not change within a second). A fresh Studio reports the repaired state,
        # exactly as the next 'studio doctor' would.
        progress("Checking again…")
        code = _doctor_in_fresh_process(args, time.perf_counter() - started)
        if code is not None:
            return code
        services.registry.discover()  # a repair can enable a plugin (a library installed)
        checks = doctor.run_checks(services.registry)
    elif args.fix:
        say("Nothing to fix.")
    if not args.no_engines:
        checks += doctor.run_engine_checks(services.engine_checks, progress)
    report = doctor.checks_to_json(checks)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        _print_json(report)
    else:
        for check in checks:
            took = f" ({check.seconds:.1f} s)" if check.seconds is not None else ""
            print(f"[{check.status.value:4}] {check.name}: {check.message}{took}")
            for line in check.details:
                print(f"       {line}")
        remaining = doctor.apt_packages_to_install(checks)
        if remaining and not args.fix:
            print(f"Run 'studio doctor --fix' (as root) to install: {' '.join(remaining)}")
        print(f"doctor took {report['seconds']:.1f} s")
    return EXIT_OK if report["ok"] else EXIT_INTERNAL


def _doctor_in_fresh_process(args: argparse.Namespace, elapsed: float) -> int | None:
    """Run ``studio doctor`` (the same options, without ``--fix``) in a new Python process,
    its output going where this one's goes; its exit code, or None if it could not start."""
    import subprocess

    argv = ["doctor", "--elapsed", f"{elapsed:.3f}"]
    argv += [
        flag
        for flag, on in (
            ("--json", args.json),
            ("--no-engines", args.no_engines),
            ("--quiet", args.quiet),
        )
        if on
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from studio.cli.main import run; run()", *argv], check=False
        )
    except OSError:
        log.warning("could not start a fresh process for the doctor's report", exc_info=True)
        return None
    return done.returncode


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="studio",
        description="Studio: write, draw, speak and caption with local models. "
        "Without a command, opens the window (optionally with a PROJECT.studio).",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    plugins = commands.add_parser(
        "plugins", help="list and show plugins; install, uninstall, enable and disable them"
    )
    plugins_commands = plugins.add_subparsers(
        dest="plugins_command", metavar="COMMAND", required=True
    )
    plugins_list = plugins_commands.add_parser(
        "list", help="list plugins, enabled or not, with reasons"
    )
    plugins_list.add_argument("--json", action="store_true", help="print a JSON list")
    plugins_list.set_defaults(handler=cmd_plugins_list)
    add_plugin_show(plugins_commands)
    add_plugin_install_commands(plugins_commands)

    doctor = commands.add_parser("doctor", help="check (and fix) what Studio needs beyond pip")
    doctor.add_argument("--fix", action="store_true", help="install missing system packages (root)")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument(
        "--no-engines",
        action="store_true",
        help="skip the engine self-checks (known-answer runs of each native engine)",
    )
    add_quiet_argument(doctor)
    # The report after --fix comes from a fresh process; this carries the time spent so far.
    doctor.add_argument("--elapsed", type=float, default=0.0, help=argparse.SUPPRESS)
    doctor.set_defaults(handler=cmd_doctor)

    add_project_commands(commands)
    add_asset_commands(commands)
    add_consent_commands(commands)
    add_model_commands(commands)
    add_image_commands(commands)
    add_generate_commands(commands)
    add_desktop_commands(commands)
    return parser


COMMANDS = (
    "plugins",
    "doctor",
    "project",
    "assets",
    "consent",
    "convert",
    "models",
    "image",
    "generate",
    "recipe",
    "desktop",
)


def _wants_window(argv: Sequence[str]) -> bool:
    return not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-"))


def _open_window(argv: Sequence[str]) -> int:
    if len(argv) > 1:
        raise UserError(f"Unknown command '{argv[0]}' (see 'studio --help').")
    project = Path(argv[0]) if argv else None
    if project is not None and not project.exists() and project.suffix != ".studio":
        raise UserError(f"Unknown command '{argv[0]}' (see 'studio --help').")
    from studio.app import run_app

    return run_app(project)


def main(argv: Sequence[str] | None = None, *, window: bool = False) -> int:
    """Run the command line (or, with ``window``, only the window); returns the exit code."""
    enforce_offline()
    quiet_model_libraries()  # jobs run here or in model processes, which inherit it
    argv = list(sys.argv[1:] if argv is None else argv)
    from studio.core.logs import configure_logging
    from studio.core.services import build_core_services

    services = build_core_services()
    configure_logging(services.paths)
    try:
        if window or _wants_window(argv):
            return _open_window(argv)
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help and --version
            return int(exit_.code or 0)
        if not getattr(args, "handler", None):
            raise UserError("Name a command (see 'studio --help').")
        return args.handler(args, services)
    except UserError as exc:
        print(f"studio: {exc}{_repair_hint(exc, argv)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("studio: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if is_damage(exc):
            log.warning("damaged project file", exc_info=True)
            name = _project_name(argv)
            print(
                f"studio: {name} is damaged ({exc}), so the command stopped; nothing was "
                f"written. 'studio project repair {name}' saves every intact asset into a new "
                "file beside it.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        log.exception("internal error")
        print(
            f"studio: internal error ({type(exc).__name__}: {exc}); "
            f"details in {services.paths.log_file}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _repair_hint(exc: UserError, argv: list[str]) -> str:
    """For a damaged project (other than in the repair command, or where the sentence says it
    already): what saves its work."""
    from studio.core.project import DamagedProjectError

    if not isinstance(exc, DamagedProjectError) or argv[:2] == ["project", "repair"]:
        return ""
    if "repair" in str(exc):
        return ""
    return (
        f" 'studio project repair {exc.path.name}' saves every intact asset into a new file "
        "beside it."
    )


def _project_name(argv: list[str]) -> str:
    names = [Path(a).name for a in argv if a.endswith(".studio")]
    return names[0] if names else "the project"


def run() -> NoReturn:
    """Console-script entry point of ``studio``."""
    from studio.core.logs import enable_crash_stacks
    from studio.core.paths import Paths

    enable_crash_stacks(Paths.from_environment())
    sys.exit(main())


def gui_main() -> NoReturn:
    """GUI-script entry point (``studio-gui``): always the window, with an optional project."""
    sys.exit(main([a for a in sys.argv[1:] if a], window=True))
