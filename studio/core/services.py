"""The Qt-free services every front end needs, built in one place.

The window's composition root (:mod:`studio.app`) and the command line both start here, so the
two see the same data directory, settings, plugins, model cache and job executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from studio.core.cpu_lease import CpuLease, lease_folder
from studio.core.device import Devices, detect_devices
from studio.core.engine_checks import EngineChecks, VerdictStore
from studio.core.executor import PanelExecutor
from studio.core.hashing import HashCache
from studio.core.jobs import JobExecutor
from studio.core.model_budget import ModelBudget, OwnerReports
from studio.core.model_cache import ModelCache
from studio.core.model_library import ModelLibrary
from studio.core.model_resolver import ModelResolver
from studio.core.model_scan.catalog import LibraryEntry, scan_machine
from studio.core.model_scan.loras import LoraFinder
from studio.core.paths import Paths
from studio.core.pipeline import JobPipeline
from studio.core.recent_folders import RecentFolders
from studio.core.registry import STATE_FILE, PluginRegistry
from studio.core.safety.consent import ConsentStore
from studio.core.safety.converter import converted_dir
from studio.core.scheduler import DeviceScheduler
from studio.core.settings import Settings, SettingsFile

WINDOW_OWNER = "this process"
"""The budget's name for models loaded in the front end's own process."""


@dataclass
class CoreServices:
    paths: Paths
    settings_file: SettingsFile
    settings: Settings
    registry: PluginRegistry
    hashes: HashCache
    consents: ConsentStore
    devices: Devices
    cache: ModelCache
    budget: ModelBudget
    """The one memory budget of this front end's processes (the window's own cache and every
    model process report to it)."""
    scheduler: DeviceScheduler
    executor: JobExecutor
    model_library: ModelLibrary
    recent_folders: RecentFolders

    @property
    def engine_checks(self) -> EngineChecks:
        assert self.executor.engine_checks is not None
        return self.executor.engine_checks

    @property
    def pipeline(self) -> JobPipeline:
        """The one way from a draft to a prepared job (:mod:`studio.core.pipeline`)."""
        return JobPipeline(self.registry, self.executor.check)

    def panel_executor(self, name: str) -> PanelExecutor:
        """The executor of one panel (or one command): its model process while the preference
        says so (read at each job), and one more for each third-party plugin; else this
        process."""
        from studio.core.plugin_sandbox import hosted_plugin
        from studio.core.process_host import model_process_executor

        def third_party(plugin_id: str) -> bool:
            return bool(hosted_plugin(self.registry, plugin_id))

        return PanelExecutor(
            self.executor,
            lambda: self.settings.isolate_models,
            lambda process_name: model_process_executor(self, process_name),
            name=name,
            third_party=third_party,
        )


def new_job_executor(
    paths: Paths,
    registry: PluginRegistry,
    cache: ModelCache,
    scheduler: DeviceScheduler,
    devices: Devices,
    consents: ConsentStore,
    hashes: HashCache,
) -> JobExecutor:
    """The job executor wired to the data directory's hash cache, consents, converted files
    and engine verdicts (used by the app and by each model process)."""
    checks = EngineChecks(
        registry,
        VerdictStore.in_data_dir(paths.data_dir),
        data_dir=paths.data_dir,
        plugin_dirs=paths.plugin_dirs,
    )
    return JobExecutor(
        registry=registry,
        resolver=ModelResolver(paths, hashes.model_sha256),
        cache=cache,
        scheduler=scheduler,
        devices=devices,
        consents=consents,
        converted_dir=converted_dir(paths),
        engine_checks=checks,
        loras=LoraFinder(lambda: scan_library_of(paths, registry)),
    )


def scan_library_of(paths: Paths, registry: PluginRegistry) -> list[LibraryEntry]:
    """The model library of this data directory (read when a job names LoRAs)."""
    return scan_machine(registry, ModelLibrary(library_file(paths)))


def library_file(paths: Paths) -> Path:
    return paths.data_dir / "models" / "library.json"


def build_core_services(environ: Mapping[str, str] | None = None) -> CoreServices:
    """Build the services. Cheap: nothing is loaded, no plugin code is imported."""
    paths = Paths.from_environment(environ)
    settings_file = SettingsFile(paths.data_dir / "settings.json")
    settings = settings_file.load()
    registry = PluginRegistry(
        plugin_dirs=paths.plugin_dirs, state_file=paths.plugins_dir / STATE_FILE
    )
    hashes = HashCache.in_data_dir(paths)
    devices = detect_devices()
    budget = ModelBudget(settings.memory_budget_bytes)
    cache = ModelCache(settings.memory_budget_bytes, OwnerReports(budget, WINDOW_OWNER))
    budget.add_owner(WINDOW_OWNER, cache.unload)
    scheduler = DeviceScheduler(lease=CpuLease(lease_folder(paths.data_dir)))
    consents = ConsentStore.in_data_dir(paths)
    executor = new_job_executor(paths, registry, cache, scheduler, devices, consents, hashes)
    return CoreServices(
        paths=paths,
        settings_file=settings_file,
        settings=settings,
        registry=registry,
        hashes=hashes,
        consents=consents,
        devices=devices,
        cache=cache,
        budget=budget,
        scheduler=scheduler,
        executor=executor,
        model_library=ModelLibrary(library_file(paths)),
        recent_folders=RecentFolders(paths.data_dir / "recent-folders.json"),
    )
