"""Jobs and their execution, without Qt: the one code path of the panels and the command line.

A :class:`Job` is plain data (plugin id, panel, request, options), so it can be queued, stored
and later sent to another process. :class:`JobExecutor` runs one: it validates the options,
waits for a slot on the device, resolves the model to files, loads it through the model cache,
iterates the plugin's events (forwarding progress and partial output), and hands each finished
asset to the asset sink, which commits it to the project before the next one is made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.crash_marks import CrashMarks
from studio.core.device import Devices, resolve_device
from studio.core.engine_checks import EngineChecks, EngineUnusable
from studio.core.errors import UserError
from studio.core.model_cache import CacheKey, ModelCache
from studio.core.model_files import weights_size
from studio.core.model_resolver import ModelResolver
from studio.core.model_scan.loras import LoraFinder
from studio.core.registry import PluginRegistry, PluginUnavailable
from studio.core.safety.consent import ConsentKind, ConsentStore
from studio.core.safety.converter import convert_to_safetensors
from studio.core.scheduler import DeviceScheduler
from studio.plugin_api import (
    REQUEST_TYPE_FOR_PANEL,
    Cancelled,
    CancelToken,
    GeneratedAsset,
    ImageRequest,
    InputError,
    KnownModel,
    LoadContext,
    ModelPlugin,
    OptionError,
    Panel,
    Partial,
    Progress,
    Request,
    ResolvedModel,
    Result,
    RunContext,
)
from studio.plugin_api.options import LoraOption, choose_seed, take_lora_tags
from studio.plugin_api.safe_loading import RemoteCodeRequired, UnsafeWeights

log = logging.getLogger(__name__)

_counter = itertools.count(1)


def new_job_id() -> str:
    return f"job-{time.time_ns():x}-{next(_counter)}"


@dataclass(frozen=True, kw_only=True)
class Job:
    """One run of a plugin. Plain, picklable data.

    Attributes:
        plugin_id: which plugin runs it.
        panel: the panel it belongs to (decides the request type and asset kind).
        request: what to make.
        load_options: options of the model load (``model`` among them).
        run_options: options of this run; a ``seed`` of -1 is replaced by a random one.
        device: ``auto``, ``cpu``, ``cuda[:n]`` or ``mps``.
    """

    plugin_id: str
    panel: Panel
    request: Request
    load_options: Mapping[str, Any] = field(default_factory=dict)
    run_options: Mapping[str, Any] = field(default_factory=dict)
    device: str = "auto"
    job_id: str = field(default_factory=new_job_id)
    checked: bool = False
    """The options are validated and complete and the seed is chosen (by
    :meth:`JobExecutor.check`, which the job pipeline runs once): nothing checks them again."""


@dataclass(frozen=True)
class Waiting:
    """The job waits for its device; ``position`` 1 means it is next, 0 that it waits for CPU
    cores another Studio process (a command-line run, a second window) holds."""

    position: int

    @property
    def words(self) -> str:
        if self.position <= 0:
            return "Waiting for a free CPU core (another Studio job is using them)"
        return f"Waiting for the device (next in line: {self.position})"


@dataclass(frozen=True)
class Started:
    """The job got its device and starts (loading the model if needed)."""

    device: str
    threads: int


JobEvent = Waiting | Started | Progress | Partial


@dataclass(frozen=True, kw_only=True)
class ProducedAsset:
    """A finished asset with everything its recipe needs, handed to the asset sink."""

    job: Job
    plugin_version: str
    model: ResolvedModel
    load_options: Mapping[str, Any]
    run_options: Mapping[str, Any]
    asset: GeneratedAsset


AssetSink = Callable[[ProducedAsset], str]
"""Commits one asset (with its recipe) and returns its asset id."""


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    asset_ids: tuple[str, ...]


class JobFailed(RuntimeError):
    """A job failed elsewhere (in the model process); the message is already readable."""


def readable_error(exc: BaseException) -> str:
    """The message a person sees for a failed job (the traceback goes to the log)."""
    if isinstance(exc, MemoryError):  # Python's own has no message
        return (
            "it ran out of memory (it asked for more than this machine, or the limit set for "
            "Studio, allows)"
        )
    if isinstance(exc, UserError | ValueError | OSError | LookupError | JobFailed | EngineUnusable):
        text = str(exc).strip().strip("'\"")
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {exc}".strip()


class JobExecutor:
    """Runs jobs. Thread-safe: each panel's worker thread calls :meth:`execute`."""

    def __init__(
        self,
        *,
        registry: PluginRegistry,
        resolver: ModelResolver,
        cache: ModelCache,
        scheduler: DeviceScheduler,
        devices: Devices,
        sink: AssetSink | None = None,
        consents: ConsentStore | None = None,
        converted_dir: Path | None = None,
        engine_checks: EngineChecks | None = None,
        loras: LoraFinder | None = None,
    ) -> None:
        """``loras`` finds the LoRAs a job names (none can be named without it)."""
        self.registry = registry
        self.loras = loras
        self.resolver = resolver
        self.cache = cache
        self.scheduler = scheduler
        self.devices = devices
        self.sink = sink
        self.consents = consents
        self.converted_dir = converted_dir
        self.engine_checks = engine_checks
        self.crash_marks: CrashMarks | None = None
        """Set when jobs run in the window's own process: each running job is marked, so the
        next start can say which one crashed it."""
        self._plugins: dict[str, ModelPlugin] = {}

    def shutdown(self) -> None:
        """Unload every model (the interface a process-hosted executor shares)."""
        self.cache.unload_all()

    def plugin_instance(self, plugin_id: str) -> ModelPlugin:
        """The executor's instance of a plugin (created on first use)."""
        return self._plugin(plugin_id)

    def _plugin(self, plugin_id: str) -> ModelPlugin:
        if plugin_id not in self._plugins:
            self._plugins[plugin_id] = self.registry.plugin_class(plugin_id)()
        return self._plugins[plugin_id]

    def _load_with_consents(
        self,
        plugin: ModelPlugin,
        load_options: Mapping[str, Any],
        ctx: LoadContext,
        on_event: Callable[[JobEvent], None],
    ) -> Any:
        """Load, asking the consent store when the plugin meets code it must not run alone.

        A pickle that needs full unpickling is converted to safetensors by Studio's converter
        (in a child process) if the user allowed that file; a folder that needs its own code
        is loaded with ``allow_remote_code`` if the user allowed that folder. Otherwise the
        plugin's error becomes a :class:`UserError` that says how to allow it.
        """
        for _ in range(8):  # each retry resolves one more file; a model has only a few
            try:
                return plugin.load(load_options, ctx)
            except (InputError, FileNotFoundError) as exc:
                # The model the user chose is not one the plugin can load, or lacks a file.
                raise UserError(readable_error(exc)) from exc
            except UnsafeWeights as exc:
                path = exc.path.resolve()
                if str(path) in ctx.substitutes or not self._granted(ConsentKind.UNPICKLE, path):
                    raise UserError(str(exc)) from exc
                on_event(Progress(fraction=None, message=f"Converting {path.name} to safetensors…"))
                assert self.consents is not None and self.converted_dir is not None
                ctx.substitutes[str(path)] = convert_to_safetensors(
                    path, self.consents, self.converted_dir
                )
            except RemoteCodeRequired as exc:
                if ctx.allow_remote_code or not self._granted(ConsentKind.REMOTE_CODE, exc.folder):
                    raise UserError(str(exc)) from exc
                ctx.allow_remote_code = True
        raise UserError("The model kept asking for more files to convert; giving up.")

    def _granted(self, kind: ConsentKind, path: Path) -> bool:
        if self.consents is None or self.converted_dir is None:
            return False
        try:
            return self.consents.is_granted(kind, path)
        except OSError:
            return False

    def _resolve(
        self,
        plugin_id: str,
        plugin: ModelPlugin,
        value: str,
        on_event: Callable[[JobEvent], None],
    ) -> tuple[ResolvedModel, dict[str, str]]:
        """The model files, and the engine variants that passed their checks on this machine.

        Checks not yet run here run now (first use), each in a process of its own. An empty
        ``model`` is the first of the plugin's embedded models whose checks pass.
        """
        record = self.registry.get(plugin_id)
        assert record.manifest is not None
        checks = self.engine_checks

        def say(text: str) -> None:
            on_event(Progress(fraction=None, message=text))

        def usable(model: KnownModel) -> str:
            if checks is None:
                return ""
            try:
                checks.variants_for(plugin_id, model.id, say)
            except EngineUnusable as exc:
                return str(exc)
            return ""

        model = self.resolver.resolve(record.manifest, plugin, value, usable=usable)
        variants = {} if checks is None else checks.variants_for(plugin_id, model.id, say)
        return model, variants

    def check(self, job: Job) -> Job:
        """``job`` checked: the plugin is usable for the panel, the request fits it, the
        options are valid (returned complete, with the seed chosen and the load options' 'auto'
        values made concrete by the plugin's ``resolve_auto_options``), the device exists.
        Raises :class:`UserError` with a clear sentence otherwise."""
        if job.checked:
            return job
        try:
            record = self.registry.get(job.plugin_id)
            plugin_class = self.registry.plugin_class(job.plugin_id)
        except PluginUnavailable as exc:
            raise UserError(str(exc)) from exc
        if job.panel not in record.panels:
            serves = ", ".join(p.value for p in record.panels)
            raise UserError(f"The plugin '{job.plugin_id}' serves {serves}, not {job.panel.value}.")
        if not isinstance(job.request, REQUEST_TYPE_FOR_PANEL[job.panel]):
            raise UserError(
                f"A {job.panel.value} job needs a {REQUEST_TYPE_FOR_PANEL[job.panel].__name__}."
            )
        try:
            load_options = plugin_class.load_options.validate(job.load_options)
            run_options = plugin_class.run_options.validate(job.run_options)
        except OptionError as exc:
            raise UserError(str(exc)) from exc
        device = resolve_device(job.device, self.devices)
        if "seed" in plugin_class.run_options:
            run_options = choose_seed(run_options)
        try:  # an 'auto' that depends on the machine, made concrete so the recipe is exact
            load_options = plugin_class.load_options.validate(
                plugin_class.resolve_auto_options(load_options, device)
            )
        except OptionError as exc:
            raise UserError(str(exc)) from exc
        request = job.request
        lora_option = next((o for o in plugin_class.run_options if isinstance(o, LoraOption)), None)
        if lora_option is not None:
            request, run_options = self._find_loras(request, run_options, lora_option)
        return dataclasses.replace(
            job, request=request, load_options=load_options, run_options=run_options, checked=True
        )

    def _find_loras(
        self, request: Request, run_options: dict[str, Any], option: LoraOption
    ) -> tuple[Request, dict[str, Any]]:
        """The LoRAs of the option and of the prompt's ``<lora:NAME:STRENGTH>`` tags, found:
        the option then holds their paths and the prompt no tags."""
        uses = list(option.uses(run_options.get(option.name, "")))
        if isinstance(request, ImageRequest):
            prompt, tagged = take_lora_tags(request.prompt)
            if tagged:
                uses += tagged
                request = dataclasses.replace(request, prompt=prompt)
        if not uses:
            return request, run_options
        if self.loras is None:
            raise UserError("LoRAs cannot be used here: Studio has no model library to find them.")
        found = self.loras.resolve(uses)
        return request, {**run_options, option.name: LoraOption.text(found)}

    def prepare_plugin(
        self, plugin_id: str, load_options: Mapping[str, Any] | None = None, device: str = "auto"
    ) -> None:
        """Nothing: warming a plugin up would import its libraries into this process (the
        window's); a model process does it (:class:`~studio.core.process_host.ProcessExecutor`)."""

    @property
    def child_pid(self) -> int | None:
        """None: jobs run in this process."""
        return None

    @property
    def child_pids(self) -> list[int]:
        return []

    def preload(
        self, plugin_id: str, load_options: Mapping[str, Any], device: str, cancel: CancelToken
    ) -> bool:
        """Load a plugin's model into the cache ahead of a first run (a warm-up nobody waits
        for): True if it is loaded now. Anything that goes wrong is only logged; the real run
        meets it again and reports it. Plugins skip slow one-time work in a background load."""
        try:
            record = self.registry.get(plugin_id)
            plugin = self._plugin(plugin_id)
            resolved_device = resolve_device(device, self.devices)
            # Resolved as a job's are (check), so the warm-up loads the model the job will use.
            options = type(plugin).load_options.validate(
                type(plugin).resolve_auto_options(
                    type(plugin).load_options.validate(load_options), resolved_device
                )
            )
            assert record.manifest is not None
            # A warm-up never waits for cores nor pushes another model out: it is skipped.
            with self.scheduler.slot(resolved_device, cancel, wait=False) as threads:
                model, variants = self._resolve(
                    plugin_id, plugin, options.get("model", ""), lambda event: None
                )
                ctx = LoadContext(
                    model=model,
                    device=resolved_device,
                    threads=threads,
                    cancel=cancel,
                    logger=logging.getLogger(f"studio.plugin.{plugin_id}"),
                    background=True,
                    engine_variants=variants,
                )
                key = CacheKey.make(plugin_id, options, resolved_device)
                load = lambda: plugin.load(options, ctx)  # noqa: E731
                size = lambda: weights_size(model.path)  # noqa: E731 - only if it loads
                with self.cache.use(key, plugin, load, size, optional=True):
                    pass
        except Cancelled:
            log.info("warm-up load of %s skipped or cancelled", plugin_id)
            return False
        except Exception:
            log.info("warm-up load of %s failed", plugin_id, exc_info=True)
            return False
        return True

    def execute(
        self,
        job: Job,
        cancel: CancelToken,
        on_event: Callable[[JobEvent], None] = lambda event: None,
        sink: AssetSink | None = None,
    ) -> JobOutcome:
        """Run ``job`` to the end and commit its assets through ``sink`` (or the default sink).

        Raises :class:`JobCancelled` (assets finished before the cancel stay committed),
        :class:`UserError` for bad input, or the plugin's own exception.
        """
        sink = sink or self.sink
        if sink is None:
            raise RuntimeError("no asset sink: nothing could keep the results")
        job = self.check(job)
        plugin = self._plugin(job.plugin_id)
        load_options, run_options = dict(job.load_options), dict(job.run_options)
        record = self.registry.get(job.plugin_id)
        assert record.manifest is not None
        device = resolve_device(job.device, self.devices)
        marked = (
            self.crash_marks.running(
                job.job_id, job.plugin_id, record.name, str(load_options.get("model") or "")
            )
            if self.crash_marks is not None
            else contextlib.nullcontext()
        )
        with (
            marked,
            self.scheduler.slot(device, cancel, lambda pos: on_event(Waiting(pos))) as threads,
        ):
            on_event(Started(device=device, threads=threads))
            model, variants = self._resolve(
                job.plugin_id, plugin, load_options.get("model", ""), on_event
            )
            cancel.raise_if_cancelled()

            def load() -> Any:
                on_event(Progress(fraction=None, message=f"Loading {model.id or record.name}…"))
                ctx = LoadContext(
                    model=model,
                    device=device,
                    threads=threads,
                    cancel=cancel,
                    logger=logging.getLogger(f"studio.plugin.{job.plugin_id}"),
                    report_progress=lambda f, m: on_event(Progress(fraction=f, message=m)),
                    engine_variants=variants,
                )
                return self._load_with_consents(plugin, load_options, ctx, on_event)

            key = CacheKey.make(job.plugin_id, load_options, device)
            committed: list[str] = []
            ended_with_result = False
            try:
                size = lambda: weights_size(model.path)  # noqa: E731 - only if it loads
                with self.cache.use(key, plugin, load, size) as loaded:
                    ctx = RunContext(
                        model=model,
                        device=device,
                        threads=threads,
                        cancel=cancel,
                        logger=logging.getLogger(f"studio.plugin.{job.plugin_id}"),
                    )
                    for event in plugin.run(loaded, job.request, run_options, ctx):
                        ended_with_result = isinstance(event, Result)
                        if isinstance(event, Result):
                            # Committed before the plugin makes the next one: never only in memory.
                            committed.extend(
                                sink(
                                    ProducedAsset(
                                        job=job,
                                        plugin_version=record.version,
                                        model=model,
                                        load_options=load_options,
                                        run_options=run_options,
                                        asset=asset,
                                    )
                                )
                                for asset in event.assets
                            )
                        elif isinstance(event, Progress | Partial):
                            on_event(event)
                        if not ended_with_result:
                            cancel.raise_if_cancelled()
            except Cancelled:
                raise JobCancelled(tuple(committed)) from None
            except InputError as exc:  # the user's files or options: one sentence, exit 2
                raise UserError(str(exc)) from exc
        if not ended_with_result:
            raise RuntimeError(f"The plugin '{job.plugin_id}' stopped without a final result.")
        return JobOutcome(job_id=job.job_id, asset_ids=tuple(committed))


class JobCancelled(Cancelled):
    """The job was cancelled; ``asset_ids`` are the assets it had already finished and kept.
    ``forced``: the plugin did not stop when asked, and its model process was ended."""

    def __init__(self, asset_ids: tuple[str, ...] = (), *, forced: bool = False) -> None:
        how = "stopped by force" if forced else "cancelled"
        super().__init__(f"{how} after {len(asset_ids)} finished assets")
        self.asset_ids = asset_ids
        self.forced = forced


__all__ = [
    "AssetSink",
    "Cancelled",
    "Job",
    "JobCancelled",
    "JobEvent",
    "JobExecutor",
    "JobFailed",
    "JobOutcome",
    "ProducedAsset",
    "Started",
    "Waiting",
    "new_job_id",
    "readable_error",
]
