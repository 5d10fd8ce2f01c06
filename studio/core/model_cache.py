"""The shared model cache: loaded models kept for reuse within a memory budget.

Keyed by (plugin, load options, device). When a newly loaded model pushes the total over the
budget, the least recently used models that no job is using are unloaded. A model's size is
what its plugin reports, or else how much the process grew while loading it.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from studio.plugin_api import ModelPlugin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheKey:
    plugin_id: str
    load_options: str  # canonical JSON, so equal options give equal keys
    device: str

    @classmethod
    def make(cls, plugin_id: str, load_options: Mapping[str, Any], device: str) -> CacheKey:
        return cls(plugin_id, json.dumps(dict(load_options), sort_keys=True), device)


@dataclass
class _Entry:
    plugin: ModelPlugin
    loaded: Any
    size: int
    users: int = 0
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def process_memory_bytes(pid: int | None = None) -> int:
    """Resident memory of this process or of ``pid`` (Linux); 0 where it cannot be read."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class ModelCache:
    """Thread-safe cache of loaded models with a memory budget and LRU unloading."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()

    @contextmanager
    def use(self, key: CacheKey, plugin: ModelPlugin, load: Callable[[], Any]) -> Iterator[Any]:
        """Yield the loaded model for ``key``, loading it with ``load()`` if needed.

        The model is pinned while the ``with`` block runs, so it is never unloaded under a job.
        Two jobs asking for the same key at once share one load.
        """
        entry = self._acquire(key, plugin, load)
        try:
            yield entry.loaded
        finally:
            with self._lock:
                entry.users -= 1
            self._evict_over_budget()

    def _acquire(self, key: CacheKey, plugin: ModelPlugin, load: Callable[[], Any]) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.users += 1
                self._entries.move_to_end(key)
                owner = False
            else:
                entry = _Entry(plugin=plugin, loaded=None, size=0, users=1)
                self._entries[key] = entry
                owner = True
        if not owner:
            entry.ready.wait()
            if entry.error is not None:
                with self._lock:
                    entry.users -= 1
                raise entry.error
            return entry
        before = process_memory_bytes()
        try:
            entry.loaded = load()
        except BaseException as exc:
            entry.error = exc
            with self._lock:
                self._entries.pop(key, None)
                entry.users -= 1
            entry.ready.set()
            raise
        grown = max(0, process_memory_bytes() - before)
        entry.size = max(int(plugin.memory_bytes(entry.loaded) or 0), grown)
        log.info("loaded %s (%.1f MB)", key.plugin_id, entry.size / 1e6)
        entry.ready.set()
        self._evict_over_budget()
        return entry

    def _evict_over_budget(self) -> None:
        victims: list[tuple[CacheKey, _Entry]] = []
        with self._lock:
            total = sum(e.size for e in self._entries.values())
            for key, entry in list(self._entries.items()):  # oldest first
                if total <= self.budget_bytes:
                    break
                if entry.users == 0 and entry.ready.is_set():
                    victims.append((key, self._entries.pop(key)))
                    total -= entry.size
        for key, entry in victims:
            self._unload(key, entry)

    def _unload(self, key: CacheKey, entry: _Entry) -> None:
        log.info("unloading %s (%.1f MB)", key.plugin_id, entry.size / 1e6)
        try:
            entry.plugin.unload(entry.loaded)
        except Exception:
            log.exception("unloading %s failed", key.plugin_id)
        entry.loaded = None
        gc.collect()
        torch = sys.modules.get("torch")  # only if a plugin already imported it
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def unload_all(self) -> None:
        """Unload every model no job is using (on exit, or when the user asks)."""
        with self._lock:
            victims = [(k, e) for k, e in self._entries.items() if e.users == 0]
            for key, _ in victims:
                del self._entries[key]
        for key, entry in victims:
            self._unload(key, entry)

    def cached_keys(self) -> list[CacheKey]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(e.size for e in self._entries.values())
