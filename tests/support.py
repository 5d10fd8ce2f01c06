"""Shared test helpers: an executor over the light test plugins, with an in-memory asset sink."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.device import Devices
from studio.core.jobs import JobExecutor, ProducedAsset
from studio.core.model_cache import ModelCache
from studio.core.model_resolver import ModelResolver
from studio.core.paths import Paths
from studio.core.registry import PluginRegistry
from studio.core.scheduler import DeviceScheduler
from studio.plugin_api.testing import TEST_PLUGINS_DIR


@dataclass
class MemorySink:
    """Collects produced assets, numbering them like a store would."""

    produced: list[ProducedAsset] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, item: ProducedAsset) -> str:
        with self.lock:
            self.produced.append(item)
            return f"asset-{len(self.produced)}"


def make_executor(
    data_dir: Path,
    *,
    plugin_dirs: tuple[Path, ...] = (TEST_PLUGINS_DIR,),
    sink=None,
    budget_bytes: int = 2**40,
    scheduler: DeviceScheduler | None = None,
    engine_checks: bool = False,
) -> tuple[JobExecutor, MemorySink]:
    """An executor over ``plugin_dirs`` only; with ``engine_checks``, the plugins' engine
    checks run (in processes of their own) and their verdicts go to ``data_dir``."""
    from studio.core.engine_checks import EngineChecks, VerdictStore

    sink = sink or MemorySink()
    paths = Paths(data_dir=data_dir)
    registry = PluginRegistry(plugin_dirs=plugin_dirs, entry_point_group=None)
    checks = EngineChecks(
        registry, VerdictStore.in_data_dir(data_dir), data_dir=data_dir, plugin_dirs=plugin_dirs
    )
    executor = JobExecutor(
        registry=registry,
        resolver=ModelResolver(paths, hasher=lambda path: f"sha-of-{path.name}"),
        cache=ModelCache(budget_bytes),
        scheduler=scheduler or DeviceScheduler(),
        devices=Devices(),
        sink=sink,
        engine_checks=checks if engine_checks else None,
    )
    return executor, sink


def store_sink(store, details=None):
    """The pipeline's sink for a job made by hand whose inputs are project assets already."""
    from studio.core.pipeline import ResultSink

    return ResultSink(store, details=details)


def import_inputs(store, inputs):
    """Input files checked as a job's are (a :class:`UserError` when one is refused) and stored
    as project assets, described as request inputs: for jobs made by hand in tests."""
    from studio.core.media.importing import existing_or_new
    from studio.core.pipeline import check_files
    from studio.core.project.assets import Asset
    from studio.core.project.store import NewAsset
    from studio.plugin_api import InputMedia

    result = []
    for (role, path), checked in zip(inputs, check_files(inputs, store), strict=True):
        asset = checked
        if not isinstance(checked, Asset):  # checked, not in the project yet
            stored = existing_or_new(store, checked)
            asset = store.add_assets([stored])[0] if isinstance(stored, NewAsset) else stored
        result.append(
            InputMedia(
                role=role,
                path=Path(path),
                kind=asset.kind,
                media_type=asset.media_type,
                asset_id=asset.id,
            )
        )
    return tuple(result)
