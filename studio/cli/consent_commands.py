"""``studio consent ...`` and ``studio convert``: what may run code from model files.

- ``studio consent grant PATH``: allow full unpickling of that file's content (only Studio's
  converter ever does it); with ``--remote-code``, allow ``trust_remote_code`` for the model
  folder PATH.
- ``studio consent revoke PATH [--remote-code]``: withdraw it.
- ``studio consent list [--json]``: show every consent.
- ``studio convert PATH``: turn a consented pickle file into safetensors in the data directory
  and print the new file's path.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from studio.core.errors import UserError
from studio.core.safety.consent import Consent, ConsentKind, ConsentStore
from studio.core.safety.converter import (
    convert_to_safetensors,
    converted_dir,
    read_conversion_report,
)
from studio.plugin_api.safe_loading import WeightsFormat, detect_weights_format

EXIT_OK = 0


def add_consent_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``consent`` (grant, revoke, list) and ``convert`` on the ``studio`` parser."""
    consent = subparsers.add_parser(
        "consent", help="allow or withdraw running code from a model file or folder"
    )
    commands = consent.add_subparsers(dest="consent_command", metavar="COMMAND", required=True)

    grant = commands.add_parser(
        "grant", help="allow full unpickling of a file (or remote code of a model folder)"
    )
    grant.add_argument("path", type=Path, metavar="PATH", help="the weights file or model folder")
    grant.add_argument(
        "--remote-code",
        action="store_true",
        help="allow trust_remote_code for the model folder PATH",
    )
    grant.set_defaults(handler=cmd_consent_grant)

    revoke = commands.add_parser("revoke", help="withdraw a consent")
    revoke.add_argument("path", type=Path, metavar="PATH", help="the weights file or model folder")
    revoke.add_argument(
        "--remote-code",
        action="store_true",
        help="withdraw consent to run the model folder's code",
    )
    revoke.set_defaults(handler=cmd_consent_revoke)

    listing = commands.add_parser("list", help="list every consent")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(handler=cmd_consent_list)

    convert = subparsers.add_parser(
        "convert", help="convert a pickle checkpoint you allowed to safetensors"
    )
    convert.add_argument("path", type=Path, metavar="PATH", help="the pickle file")
    convert.set_defaults(handler=cmd_convert)


def _kind(args: argparse.Namespace) -> ConsentKind:
    return ConsentKind.REMOTE_CODE if args.remote_code else ConsentKind.UNPICKLE


def cmd_consent_grant(args: argparse.Namespace, services) -> int:
    path: Path = args.path
    kind = _kind(args)
    if kind is ConsentKind.UNPICKLE:
        if path.is_dir():
            raise UserError(
                f"{path} is a folder; to allow its code use --remote-code, or name a weights file."
            )
        if path.is_file() and (found := detect_weights_format(path)) is not WeightsFormat.PICKLE:
            raise UserError(
                f"{path.name} is {found.description}, not a pickle file, so it needs no consent."
            )
    consent = ConsentStore.in_data_dir(services.paths).grant(kind, path)
    if kind is ConsentKind.UNPICKLE:
        print(
            f"Allowed full unpickling of {consent.path} (sha256 {consent.content_hash[:12]}); "
            f"convert it with: studio convert {shlex.quote(str(consent.path))}"
        )
    else:
        print(
            f"Allowed remote code of {consent.path} (hash {consent.content_hash[:12]}); "
            "any change to its Python or JSON files needs consent again."
        )
    return EXIT_OK


def cmd_consent_revoke(args: argparse.Namespace, services) -> int:
    kind = _kind(args)
    removed = ConsentStore.in_data_dir(services.paths).revoke(kind, args.path)
    if not removed:
        raise UserError(f"No consent for {kind.description} of {args.path} was recorded.")
    for consent in removed:
        print(f"Withdrew consent for {kind.description} of {consent.path}.")
    return EXIT_OK


def cmd_consent_list(args: argparse.Namespace, services) -> int:
    consents = ConsentStore.in_data_dir(services.paths).list()
    if args.json:
        print(json.dumps([c.to_json() for c in consents], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not consents:
        print("No consents recorded.")
    for consent in consents:
        print(_consent_line(consent))
    return EXIT_OK


def _consent_line(consent: Consent) -> str:
    when = consent.granted_at.astimezone().strftime("%Y-%m-%d %H:%M")
    return f"{consent.kind.value:12} {when}  {consent.content_hash[:12]}  {consent.path}"


def cmd_convert(args: argparse.Namespace, services) -> int:
    consents = ConsentStore.in_data_dir(services.paths)
    output = convert_to_safetensors(args.path, consents, converted_dir(services.paths))
    report = read_conversion_report(output)
    if report is not None and report.dropped:
        kept = f"{report.tensors} tensor{'' if report.tensors == 1 else 's'}"
        dropped = f"{len(report.dropped)} other entr{'y' if len(report.dropped) == 1 else 'ies'}"
        print(f"Kept {kept}; dropped {dropped}: {', '.join(report.dropped)}.", file=sys.stderr)
    print(output)
    return EXIT_OK
