"""Testing help for plugin authors and for Studio's own tests.

- :func:`check_plugin` is the contract test: point it at your ``studio-plugin.toml`` (and, for a
  plugin that needs one, a small model) and it raises :class:`ContractViolation` listing every
  broken promise. Call it from your own pytest suite::

      from studio.plugin_api.testing import check_plugin

      def test_contract(tiny_model_dir):
          check_plugin(Path("acme_writer/studio-plugin.toml"),
                       model=ResolvedModel(id="tiny", path=tiny_model_dir))

- :data:`TEST_PLUGINS_DIR` holds light test plugins (no model, no torch), one per panel. They
  are a plugin folder like any user's: Studio lists them only when that folder is added to
  its plugin search path (``STUDIO_PLUGIN_PATH``), as the tests do. They are never part of an
  installed app's plugin list.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from studio.plugin_api import (
    API_VERSION,
    ASSET_KIND_FOR_PANEL,
    MIN_API_VERSION,
    Cancelled,
    CancelToken,
    LoadContext,
    ModelPlugin,
    OptionSet,
    Panel,
    Partial,
    Progress,
    Request,
    ResolvedModel,
    Result,
    RunContext,
    read_manifest,
)
from studio.plugin_api.entry import import_entry
from studio.plugin_api.options import choose_seed

TEST_PLUGINS_DIR = Path(__file__).parent / "manifests"
"""A plugin folder with the light test plugins: echo, gradient, tone and describe."""

HEAVY_MODULES = ("torch", "transformers", "diffusers", "TTS", "tensorflow", "PySide6")
"""Modules a plugin's entry module must not import at import time."""


class ContractViolation(AssertionError):
    """The plugin breaks the plugin contract; the message lists every problem found."""


def import_root(manifest_path: Path, entry_module: str) -> Path:
    """The folder to import a plugin's entry module from: the manifest's own folder, or, for
    a manifest inside the package it names (``acme_voice/studio-plugin.toml`` with the entry
    ``acme_voice.plugin:Voice``), the folder that holds the package."""
    folder = manifest_path.parent
    top = entry_module.split(".")[0]
    if folder.name == top and (folder / "__init__.py").is_file():
        return folder.parent
    return folder


def modules_imported_by(module: str, folder: Path | None = None) -> list[str]:
    """Import ``module`` in a fresh interpreter and return the heavy modules it pulled in."""
    script = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(folder or '')!r})\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps([m for m in {list(HEAVY_MODULES)!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise ContractViolation(f"importing {module} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check_options(name: str, options: Any, problems: list[str]) -> None:
    if not isinstance(options, OptionSet):
        problems.append(f"{name} must be an OptionSet, not {type(options).__name__}")
        return
    for option in options:
        if not option.description:
            problems.append(f"{name}: option '{option.name}' has no description")


def _check_events(panel: Panel, events: list[Any], problems: list[str]) -> None:
    where = f"run for panel '{panel}'"
    bad = [e for e in events if not isinstance(e, Progress | Partial | Result)]
    if bad:
        problems.append(f"{where} yielded non-events: {bad[:3]!r}")
    results = [e for e in events if isinstance(e, Result)]
    if not events or not isinstance(events[-1], Result):
        problems.append(f"{where} must end with a Result event")
    fractions = [e.fraction for e in events if isinstance(e, Progress) and e.fraction is not None]
    if fractions != sorted(fractions):
        problems.append(f"{where}: progress went backwards: {fractions}")
    for event in events:
        try:
            if pickle.loads(pickle.dumps(event)) != event:
                problems.append(f"{where}: {type(event).__name__} does not survive pickling")
        except Exception as exc:
            problems.append(f"{where}: {type(event).__name__} cannot be pickled ({exc})")
    for result in results:
        for asset in result.assets:
            if asset.kind != ASSET_KIND_FOR_PANEL[panel]:
                problems.append(
                    f"{where}: asset kind '{asset.kind}', expected '{ASSET_KIND_FOR_PANEL[panel]}'"
                )
            if not isinstance(asset.data, bytes) or not asset.data or not asset.media_type:
                problems.append(f"{where}: an asset has no data bytes or no media type")
            try:
                json.dumps(asset.details)
            except TypeError:
                problems.append(f"{where}: asset details are not JSON-ready")


def check_plugin(
    manifest_path: Path,
    *,
    model: ResolvedModel | None = None,
    load_options: dict[str, Any] | None = None,
    run_options: dict[str, Any] | None = None,
    requests: dict[Panel, Request] | None = None,
    check_light_import: bool = True,
) -> None:
    """Check a plugin against the contract; raise :class:`ContractViolation` if it breaks it.

    Checks: the manifest is valid and its API version supported; the entry module imports
    without torch, model libraries or Qt; a panel-typed class (:class:`VoicePlugin`...) fits
    the manifest's panel and writes its method; option sets are declared and documented;
    the run options get a concrete seed, as Studio gives them (no asset records -1); for each
    panel, a run of the example request (or ``requests[panel]``) yields valid, picklable events
    ending in a :class:`Result`, with assets of the panel's kind; a run whose cancel
    token is already set raises :class:`Cancelled` instead of finishing.
    """
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    folder = import_root(manifest_path, manifest.entry_module)
    problems: list[str] = []
    if not MIN_API_VERSION <= manifest.api_version <= API_VERSION:
        problems.append(
            f"api_version {manifest.api_version} is not supported (this is {API_VERSION})"
        )
    missing = [name for name in manifest.needs.programs if shutil.which(name) is None]
    if missing:  # Studio lists such a plugin as disabled; nothing here could run it
        raise ContractViolation(
            f"the plugin needs the program {', '.join(missing)}, which is not on PATH here: "
            "install it to test the plugin"
        )
    if check_light_import:
        heavy = modules_imported_by(manifest.entry_module, folder)
        if heavy:
            problems.append(f"importing {manifest.entry_module} pulls in {', '.join(heavy)}")
    if problems:  # do not import a plugin that breaks the import rules into this process
        raise ContractViolation("\n".join(problems))
    plugin_class: type[ModelPlugin] = import_entry(manifest, folder)
    _check_options("load_options", plugin_class.load_options, problems)
    _check_options("run_options", plugin_class.run_options, problems)
    if problems:
        raise ContractViolation("\n".join(problems))

    model = model or ResolvedModel(id="none")
    plugin = plugin_class()
    loaded = plugin.load(
        plugin_class.load_options.validate(load_options or {}), LoadContext(model=model)
    )
    if not isinstance(plugin.memory_bytes(loaded), int):
        problems.append("memory_bytes() must return an int")
    # as Studio does before every run: a seed of -1 becomes a concrete one
    options = choose_seed(plugin_class.run_options.validate(run_options or {}))
    for panel in manifest.panels:
        with tempfile.TemporaryDirectory() as workdir:
            request = (requests or {}).get(panel) or plugin.example_request(panel, Path(workdir))
            events = list(plugin.run(loaded, request, options, RunContext(model=model)))
            _check_events(panel, events, problems)
            seeds = [
                asset.seed
                for event in events
                if isinstance(event, Result)
                for asset in event.assets
                if asset.seed is not None
            ]
            wrong = [seed for seed in seeds if not isinstance(seed, int) or seed < 0]
            if wrong:
                problems.append(
                    f"run for panel '{panel}': an asset's seed is {wrong[0]!r}, not the "
                    f"seed it was given ({options.get('seed')})"
                )

            token = CancelToken()
            token.cancel()
            try:
                finished = any(
                    isinstance(event, Result)
                    for event in plugin.run(
                        loaded, request, options, RunContext(model=model, cancel=token)
                    )
                )
            except Cancelled:
                finished = False
            if finished:
                problems.append(f"run for panel '{panel}' ignores a cancelled token")
    plugin.unload(loaded)
    if problems:
        raise ContractViolation("\n".join(problems))
