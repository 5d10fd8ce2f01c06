"""The model cache of one process: loaded models kept for reuse within a memory budget.

Keyed by (plugin, load options, device). A model's size is what its plugin reports, or else how
much the process grew while loading it. Alone, the cache keeps its own budget: when a newly
loaded model pushes the total over it, the least recently used models that no job is using are
unloaded. With :class:`CacheReports` (the window's :class:`~studio.core.model_budget.ModelBudget`,
directly or from a model process over its pipe), the one budget of all processes decides instead:
the cache asks before each load and unloads what it is told to.
"""

from __future__ import annotations

import contextlib
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
from pathlib import Path
from typing import Any, Protocol

from studio.plugin_api import Cancelled, ModelPlugin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheKey:
    plugin_id: str
    load_options: str  # canonical JSON, so equal options give equal keys
    device: str

    @classmethod
    def make(cls, plugin_id: str, load_options: Mapping[str, Any], device: str) -> CacheKey:
        return cls(plugin_id, json.dumps(dict(load_options), sort_keys=True), device)

    @property
    def text(self) -> str:
        """The key as one string (how the budget and the model processes name a model)."""
        return f"{self.plugin_id} {self.device} {self.load_options}"

    @property
    def label(self) -> str:
        """A short name for people: the plugin and its model's file or id."""
        model = str(json.loads(self.load_options).get("model") or "")
        return f"{self.plugin_id} ({Path(model).name})" if model else self.plugin_id


class NoRoom(Cancelled):
    """An optional load (a warm-up) that would have pushed another model out: not done."""


class CacheReports(Protocol):
    """Where a cache reports its models, and asks before loading one (the one budget)."""

    def before_load(
        self, key: str, label: str, estimate: int, optional: bool = False
    ) -> list[str] | None:
        """About to load ``key``: the keys of this cache to unload first; None when an
        ``optional`` load (a warm-up) does not fit and must not happen."""
        ...

    def loaded(self, key: str, label: str, size: int, optional: bool = False) -> list[str]:
        """``key`` is loaded: the keys of this cache to unload now (``key`` itself, for an
        ``optional`` load that does not fit)."""
        ...

    def load_failed(self, key: str) -> None: ...

    def used(self, key: str) -> None: ...

    def unloaded(self, key: str) -> None: ...


@dataclass
class _Entry:
    plugin: ModelPlugin
    loaded: Any
    size: int
    users: int = 0
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def _give_memory_back() -> None:
    """Return freed heap pages to the system (glibc keeps them otherwise, and the process
    would still look as big as before the unload)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def process_memory_bytes(pid: int | None = None) -> int:
    """Resident memory of this process or of ``pid`` (Linux); 0 where it cannot be read."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class ModelCache:
    """Thread-safe cache of loaded models with a memory budget and LRU unloading."""

    def __init__(self, budget_bytes: int, reports: CacheReports | None = None) -> None:
        self.budget_bytes = budget_bytes
        self.reports = reports
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()

    @contextmanager
    def use(
        self,
        key: CacheKey,
        plugin: ModelPlugin,
        load: Callable[[], Any],
        estimate: Callable[[], int] = lambda: 0,
        optional: bool = False,
    ) -> Iterator[Any]:
        """Yield the loaded model for ``key``, loading it with ``load()`` if needed
        (``estimate()``: about how many bytes it will take, for the budget). ``optional`` (a
        warm-up): raise :class:`NoRoom` rather than unload another model to make room.

        The model is pinned while the ``with`` block runs, so it is never unloaded under a job.
        Two jobs asking for the same key at once share one load.
        """
        entry = self._acquire(key, plugin, load, estimate, optional)
        try:
            yield entry.loaded
        finally:
            with self._lock:
                entry.users -= 1
            self._evict_over_budget()

    def _acquire(
        self,
        key: CacheKey,
        plugin: ModelPlugin,
        load: Callable[[], Any],
        estimate: Callable[[], int],
        optional: bool,
    ) -> _Entry:
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
            if self.reports is not None:
                self.reports.used(key.text)
            return entry
        try:
            if self.reports is not None:
                own = self.reports.before_load(key.text, key.label, estimate(), optional)
                if own is None:
                    raise NoRoom(f"{key.label} does not fit in the memory budget now")
                self._unload_keys(own)
            before = process_memory_bytes()
            entry.loaded = load()
        except BaseException as exc:
            entry.error = exc
            with self._lock:
                self._entries.pop(key, None)
                entry.users -= 1
            entry.ready.set()
            if self.reports is not None and not isinstance(exc, NoRoom):
                with contextlib.suppress(Exception):
                    self.reports.load_failed(key.text)
            raise
        grown = max(0, process_memory_bytes() - before)
        entry.size = max(int(plugin.memory_bytes(entry.loaded) or 0), grown)
        log.info("loaded %s (%.1f MB)", key.plugin_id, entry.size / 1e6)
        entry.ready.set()
        if self.reports is not None:
            try:
                unload = self.reports.loaded(key.text, key.label, entry.size, optional)
            except Exception:
                log.exception("reporting the load of %s failed", key.plugin_id)
                unload = []
            if key.text in unload:
                with self._lock:
                    entry.users -= 1  # the warm-up's own hold, so it can go again
                self._unload_keys(unload)
                raise NoRoom(f"{key.label} is bigger than there is room for now")
            self._unload_keys(unload)
        self._evict_over_budget()
        return entry

    def _unload_keys(self, keys: list[str]) -> None:
        for text in keys:
            self.unload(text)

    def has(self, key_text: str) -> bool:
        """Whether the model named ``key_text`` is loaded (or loading)."""
        with self._lock:
            return any(k.text == key_text for k in self._entries)

    def unload(self, key_text: str) -> bool:
        """Unload the model named ``key_text`` (:attr:`CacheKey.text`) if no job is using it:
        True if it is not loaded now."""
        with self._lock:
            found = [(k, e) for k, e in self._entries.items() if k.text == key_text]
            if not found:
                return True
            key, entry = found[0]
            if entry.users or not entry.ready.is_set():
                return False
            del self._entries[key]
        self._unload(key, entry)
        return True

    def _evict_over_budget(self) -> None:
        if self.reports is not None:
            return  # the one budget decides, and asks
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
        _give_memory_back()
        if self.reports is not None:
            self.reports.unloaded(key.text)

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
