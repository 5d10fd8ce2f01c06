"""The model cache: reuse, shared loads, LRU unloading within the budget, pinned models kept."""

from __future__ import annotations

import threading
import time

import pytest

from studio.core.model_cache import CacheKey, ModelCache
from studio.plugin_api import ModelPlugin


class SizedPlugin(ModelPlugin):
    """Loads nothing, but reports the size it is told and records unloads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.unloaded: list[str] = []

    def load(self, options, ctx):
        return {"name": options["name"]}

    def run(self, loaded, request, options, ctx):
        yield from ()

    def memory_bytes(self, loaded):
        return self.size

    def unload(self, loaded):
        self.unloaded.append(loaded["name"])


def key(name: str) -> CacheKey:
    return CacheKey.make("p", {"model": name}, "cpu")


def use(cache: ModelCache, plugin: SizedPlugin, name: str, loads: list[str]) -> None:
    def load():
        loads.append(name)
        return plugin.load({"name": name}, None)

    with cache.use(key(name), plugin, load) as loaded:
        assert loaded == {"name": name}


def test_keys_are_canonical():
    assert CacheKey.make("p", {"a": 1, "b": 2}, "cpu") == CacheKey.make(
        "p", {"b": 2, "a": 1}, "cpu"
    )
    assert CacheKey.make("p", {"a": 1}, "cpu") != CacheKey.make("p", {"a": 1}, "cuda:0")


def test_reuse_and_least_recently_used_eviction_under_a_tiny_budget():
    plugin, loads = SizedPlugin(size=10**9), []
    cache = ModelCache(budget_bytes=int(2.5 * 10**9))
    use(cache, plugin, "a", loads)
    use(cache, plugin, "b", loads)
    use(cache, plugin, "a", loads)  # reused; now b is the least recently used
    assert loads == ["a", "b"]
    use(cache, plugin, "c", loads)  # 3 GB > 2.5 GB: b goes
    assert plugin.unloaded == ["b"]
    assert [k.load_options for k in cache.cached_keys()] == ['{"model": "a"}', '{"model": "c"}']
    use(cache, plugin, "b", loads)
    assert loads == ["a", "b", "c", "b"]
    assert plugin.unloaded == ["b", "a"]


def test_a_model_in_use_is_never_unloaded():
    plugin, loads = SizedPlugin(size=10**9), []
    cache = ModelCache(budget_bytes=10**9)
    with cache.use(key("busy"), plugin, lambda: {"name": "busy"}):
        use(cache, plugin, "other", loads)  # over budget, but "busy" is pinned
        assert "busy" not in plugin.unloaded
    use(cache, plugin, "third", loads)
    assert "busy" in plugin.unloaded


def test_concurrent_users_share_one_load():
    plugin, loads = SizedPlugin(size=1), []
    cache = ModelCache(budget_bytes=10**9)

    def slow_load():
        loads.append("x")
        time.sleep(0.2)
        return {"name": "x"}

    def worker():
        with cache.use(key("x"), plugin, slow_load) as loaded:
            assert loaded == {"name": "x"}

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert loads == ["x"]


def test_a_failed_load_is_not_cached():
    plugin = SizedPlugin(size=1)
    cache = ModelCache(budget_bytes=10**9)

    def broken():
        raise OSError("weights are damaged")

    with pytest.raises(OSError, match="damaged"), cache.use(key("bad"), plugin, broken):
        pass
    assert cache.cached_keys() == []


def test_unload_all():
    plugin, loads = SizedPlugin(size=1), []
    cache = ModelCache(budget_bytes=10**9)
    use(cache, plugin, "a", loads)
    use(cache, plugin, "b", loads)
    cache.unload_all()
    assert sorted(plugin.unloaded) == ["a", "b"] and cache.total_bytes == 0
