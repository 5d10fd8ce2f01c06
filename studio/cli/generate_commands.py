"""``studio generate`` and ``studio recipe``: run plugins headless, on the panels' code path."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.cli.caption_batch_commands import add_batch_arguments, run_batch, wants_batch
from studio.cli.model_process import job_executor
from studio.cli.progress import add_quiet_argument
from studio.core.errors import UserError
from studio.core.jobs import JobCancelled, JobEvent, Started, Waiting, readable_error
from studio.core.panel_defaults import usable_plugins
from studio.core.pipeline import (
    DEFAULT_INPUT_ROLE,
    Draft,
    PreparedJob,
    draft_from_recipe,
    split_settings,
)
from studio.core.project.asset_ids import ASSET_ID_LENGTH, resolve_asset_id
from studio.core.project.store import ProjectStore
from studio.core.recipe import Recipe, RecipeInput
from studio.core.recipe_command import ASSET_INPUT_PREFIX
from studio.plugin_api import (
    PANEL_FOR_GENERATE_KIND,
    CancelToken,
    GenerateKind,
    Panel,
    Partial,
    Progress,
)

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


def _assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    return key.strip(), value


def _input(text: str) -> tuple[str | None, Path]:
    role, sep, path = text.partition("=")
    if sep and role and "/" not in role and not Path(text).exists():
        return role, Path(path)
    return None, Path(text)


def _asset_inputs(
    inputs: list[tuple[str | None, Path]], panel: Panel
) -> tuple[list[tuple[str | None, Path]], tuple[RecipeInput, ...]]:
    """Split ``--input`` values into files and project assets (``[ROLE=]asset:ID``, when no
    file has that name)."""
    files, assets = [], []
    for role, path in inputs:
        text = str(path)
        if text.startswith(ASSET_INPUT_PREFIX) and not path.exists():
            asset_id = text.removeprefix(ASSET_INPUT_PREFIX)
            assets.append(RecipeInput(asset_id=asset_id, role=role or DEFAULT_INPUT_ROLE[panel]))
        else:
            files.append((role, path))
    return files, tuple(assets)


def add_generate_commands(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser(
        "generate",
        help="run a plugin headless and commit what it makes to a project",
        description="Run a plugin and commit its results, with their recipes, to a project "
        "(created if missing). Progress goes to stderr (none with --quiet).",
    )
    generate.add_argument(
        "kind",
        type=_kind,
        metavar="KIND",
        help="text, image, speech or caption (or the panel: writing, voice, captioning)",
    )
    generate.add_argument("--project", required=True, type=Path, help="the .studio project")
    generate.add_argument(
        "--plugin",
        help="plugin id (see 'studio plugins list'); by default the panel's own default, as "
        "the window picks it",
    )
    generate.add_argument(
        "--set",
        dest="settings",
        action="append",
        type=_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="a load option, run option or request field",
    )
    generate.add_argument(
        "--input",
        dest="inputs",
        action="append",
        type=_input,
        default=[],
        metavar="[ROLE=]FILE",
        help="an input file (imported into the project), or asset:ID for an asset of the project",
    )
    generate.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: preferences)")
    generate.add_argument("--json", action="store_true", help="print the assets made as JSON")
    add_quiet_argument(generate)
    add_batch_arguments(generate)
    generate.set_defaults(handler=cmd_generate)

    recipe = commands.add_parser("recipe", help="show or re-run the recipe of an asset")
    recipe_commands = recipe.add_subparsers(dest="recipe_command", metavar="COMMAND", required=True)
    show = recipe_commands.add_parser("show", help="print an asset's recipe as JSON")
    show.add_argument("project", type=Path)
    show.add_argument("asset_id", help="its id, or the first 4 or more characters of it")
    show.set_defaults(handler=cmd_recipe_show)
    rerun = recipe_commands.add_parser("rerun", help="make an asset again from its recipe")
    rerun.add_argument("project", type=Path)
    rerun.add_argument("asset_id", help="its id, or the first 4 or more characters of it")
    rerun.add_argument("--device", help="run on another device than the recipe's")
    rerun.add_argument("--json", action="store_true", help="print the assets made as JSON")
    add_quiet_argument(rerun)
    rerun.set_defaults(handler=cmd_recipe_rerun)


class _ProgressPrinter:
    """Progress on stderr: one updating line on a terminal, occasional lines otherwise; none
    when ``quiet`` (streamed text still goes to stdout)."""

    def __init__(self, stream_text: bool, quiet: bool = False) -> None:
        self.tty = sys.stderr.isatty() and not quiet
        self.stream_text = stream_text
        self.quiet = quiet
        self.last = ("", 0.0)
        self.held = ""
        self.streamed = False

    def __call__(self, event: JobEvent) -> None:
        if isinstance(event, Partial):
            if self.stream_text and event.text:
                sys.stdout.write(event.text)
                sys.stdout.flush()
                self.streamed = True
            return
        if self.quiet:
            return
        if isinstance(event, Waiting):
            line = event.words
        elif isinstance(event, Started):
            line = f"running on {event.device} ({event.threads} threads)"
        elif isinstance(event, Progress):
            percent = f"{event.fraction * 100:3.0f}% " if event.fraction is not None else ""
            line = f"{percent}{event.message}".strip()
        else:
            return
        now = time.monotonic()
        if self.tty:
            sys.stderr.write(f"\r\033[K{line}")
        elif line != self.last[0] and (now - self.last[1] > 0.5 or not isinstance(event, Progress)):
            sys.stderr.write(line + "\n")
            self.last = (line, now)
            self.held = ""
        elif line != self.last[0]:
            self.held = line  # too soon after the last line; written if nothing follows
        sys.stderr.flush()

    def done(self) -> None:
        if self.streamed:
            sys.stdout.write("\n")
        if self.tty:
            sys.stderr.write("\r\033[K")
        elif self.held:
            sys.stderr.write(self.held + "\n")  # a log ends with where the job got to
            self.held = ""


def _run(
    services, store: ProjectStore, prepared: PreparedJob, as_json: bool, quiet: bool = False
) -> int:
    job = prepared.job
    printer = _ProgressPrinter(
        stream_text=not as_json and job.panel.value == "writing", quiet=quiet
    )
    cancel = CancelToken()
    try:
        with job_executor(services, f"cli-{job.panel.value}") as executor:
            outcome = executor.execute(job, cancel, printer, prepared.sink(store))
    except KeyboardInterrupt:
        cancel.cancel()
        printer.done()
        print("studio: cancelled.", file=sys.stderr)
        return EXIT_CANCELLED
    except JobCancelled:
        printer.done()
        print("studio: cancelled.", file=sys.stderr)
        return EXIT_CANCELLED
    except UserError:
        printer.done()
        raise
    except Exception as exc:
        printer.done()
        log.exception("job %s failed", job.job_id)
        print(f"studio: {job.plugin_id} failed: {readable_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        prepared.close()
    printer.done()
    assets = [store.get_asset(asset_id) for asset_id in outcome.asset_ids]
    if as_json:
        print(
            json.dumps(
                {
                    "assets": [
                        {"asset_id": a.id, "kind": a.kind.value, "recipe": a.recipe.to_json()}
                        for a in assets
                    ]
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for asset in assets:
            print(f"{asset.id}  {asset.kind.value:7}  {asset.title}", file=sys.stderr)
    return EXIT_OK


PANEL_WORDS = {"writing": "text", "voice": "speech", "captioning": "caption"}


def _kind(text: str) -> str:
    word = PANEL_WORDS.get(text.strip().lower(), text.strip().lower())
    if word not in {k.value for k in GenerateKind}:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a kind: use text, image, speech or caption"
        )
    return word


def default_plugin(services: Any, panel: Panel) -> str:
    """The plugin the window would pick for ``panel``: usable here, and able to run without a
    model the user must bring first."""
    usable = usable_plugins(services.registry, services.engine_checks, panel)
    for plugin_id in usable:
        try:
            if not services.registry.spec(plugin_id).needs_user_model:
                return plugin_id
        except Exception:
            continue
    if usable:
        return usable[0]
    raise UserError(
        f"No {panel.value} plugin can run here: see 'studio plugins list' and 'studio doctor'."
    )


def cmd_generate(args: argparse.Namespace, services: Any) -> int:
    panel = PANEL_FOR_GENERATE_KIND[GenerateKind(args.kind)]
    if args.plugin is None:
        args.plugin = default_plugin(services, panel)
        if not getattr(args, "quiet", False) and not getattr(args, "json", False):
            print(f"Using {args.plugin} (choose another with --plugin).", file=sys.stderr)
    try:
        plugin_class = services.registry.plugin_class(args.plugin)
    except Exception as exc:
        raise UserError(str(exc)) from exc
    load, run, fields = split_settings(
        plugin_class.load_options, plugin_class.run_options, panel, args.settings
    )
    args.inputs, assets = _asset_inputs(args.inputs, panel)
    if wants_batch(args):
        if assets:
            raise UserError("A batch takes files and folders, not project assets (asset:ID).")
        return run_batch(args, services, load, run, fields)
    draft = Draft(
        plugin_id=args.plugin,
        panel=panel,
        fields=fields,
        load_options=load,
        run_options=run,
        device=args.device or services.settings.device_for(panel),
        files=tuple((role or DEFAULT_INPUT_ROLE[panel], path) for role, path in args.inputs),
        assets=assets,
    )
    # Plugin, options and every input file (completely) are checked before the project is
    # opened or created: a refused input leaves it exactly as it was. Project assets as inputs
    # need the project, which must exist then.
    created = not args.project.exists()
    store = None
    if assets:
        if created:
            raise UserError(f"{args.project} does not exist: it must hold the input assets.")
        store = ProjectStore.open(args.project)
    try:
        if assets:
            full = tuple(replace(a, asset_id=_whole_id(store, a.asset_id)) for a in assets)
            draft = replace(draft, assets=full)
        checked = services.pipeline.check(draft, store, complete=True)
    except BaseException:
        if store is not None:
            store.close()
        raise
    if store is None:
        store = ProjectStore.open_or_create(args.project)
    code = EXIT_FAILED
    try:
        code = _run(
            services, store, services.pipeline.prepare(checked, store), args.json, args.quiet
        )
        return code
    finally:
        kept = code == EXIT_OK or store.count_assets(deleted=None) > 0
        store.close()
        if created and not kept:
            _remove_project(args.project)  # a first job that failed leaves nothing behind


def _whole_id(store: ProjectStore, typed: str) -> str:
    """``asset:ID`` takes an id as every command does: in any case, or its first characters.
    A whole id (26 characters) the project lacks is left to the pipeline, which says so."""
    if len(typed.strip()) == ASSET_ID_LENGTH:
        return typed.strip().upper()
    return resolve_asset_id(store, typed)


def _remove_project(path: Path) -> None:
    for leftover in (
        path,
        *(path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal")),
    ):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def cmd_recipe_show(args: argparse.Namespace, services: Any) -> int:
    store = ProjectStore.open(args.project, read_only=True)
    try:
        asset_id = resolve_asset_id(store, args.asset_id)
        print(store.get_asset(asset_id).recipe.to_json_text(indent=2))
    finally:
        store.close()
    return EXIT_OK


def cmd_recipe_rerun(args: argparse.Namespace, services: Any) -> int:
    store = ProjectStore.open(args.project)
    try:
        asset_id = resolve_asset_id(store, args.asset_id)
        original = store.get_asset(asset_id).recipe
        draft = draft_from_recipe(store, asset_id, args.device)
        prepared = services.pipeline.run_ready(draft, store)
        code = _run(services, store, prepared, args.json, args.quiet)
        if code == EXIT_OK:
            _warn_if_changed(store, original)
        return code
    finally:
        store.close()


def _warn_if_changed(store: ProjectStore, old: Recipe) -> None:
    newest = store.list_assets(limit=1)
    if not newest:
        return
    now = newest[0].recipe
    if old.model_sha256 and now.model_sha256 and old.model_sha256 != now.model_sha256:
        print(
            "studio: note: the model's files changed since the original was made.", file=sys.stderr
        )
    if old.plugin_version != now.plugin_version:
        print(
            f"studio: note: the plugin is version {now.plugin_version} now, "
            f"{old.plugin_version} made the original.",
            file=sys.stderr,
        )
