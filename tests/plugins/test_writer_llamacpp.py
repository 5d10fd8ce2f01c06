"""The llama.cpp writing plugin on a tiny random Llama GGUF written by the tests: loading, streaming
order, cancel mid-stream, seeds, stop strings, chat template and plain prompts, variations,
context limits, recipes, and bad files with clear messages."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from studio_writer_llamacpp.generation import check_gguf_file
from studio_writer_llamacpp.plugin import EMBEDDED_MODEL_ID, LlamaCppWriter

from studio.core.errors import UserError
from studio.core.jobs import Job, JobCancelled, readable_error
from studio.core.project.store import ProjectStore
from studio.core.registry import PluginRegistry
from studio.plugin_api import (
    Cancelled,
    CancelToken,
    LoadContext,
    Panel,
    Partial,
    Progress,
    ResolvedModel,
    Result,
    RunContext,
    TextRequest,
    read_manifest,
)
from studio.plugin_api.testing import check_plugin
from tests.conftest import REPO_ROOT
from tests.fixtures.tiny_models import (
    build_tiny_causal_lm_gguf,
    tiny_causal_lm_gguf,  # noqa: F401 (fixture)
)
from tests.support import make_executor, store_sink

MANIFEST = REPO_ROOT / "plugins" / "studio_writer_llamacpp" / "studio-plugin.toml"
PLUGIN_ID = "studio.writer-llamacpp"
PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def writer() -> LlamaCppWriter:
    return LlamaCppWriter()


def load(writer, path: Path, **load_options):
    options = writer.load_options.validate(load_options)
    return writer.load(options, LoadContext(model=ResolvedModel(id=str(path), path=path)))


@pytest.fixture(scope="module")
def loaded(writer, tiny_causal_lm_gguf):
    loaded = load(writer, tiny_causal_lm_gguf)
    yield loaded
    writer.unload(loaded)


@pytest.fixture(scope="module")
def plain_gguf(tmp_path_factory) -> Path:
    """The tiny GGUF without a chat template."""
    return build_tiny_causal_lm_gguf(tmp_path_factory.mktemp("plain-gguf"), chat_template=False)


def run(writer, loaded, request=None, cancel=None, **options) -> list:
    options = writer.run_options.validate({"seed": 7, "max_new_tokens": 24, **options})
    ctx = RunContext(model=ResolvedModel(id="tiny"), cancel=cancel or CancelToken())
    return list(writer.run(loaded, request or TextRequest(prompt=PROMPT), options, ctx))


def results(events) -> list[str]:
    return [e.assets[0].data.decode() for e in events if isinstance(e, Result)]


def streamed(events) -> str:
    return "".join(e.text for e in events if isinstance(e, Partial))


# --------------------------------------------------------------------------------------------
# Registration and contract
# --------------------------------------------------------------------------------------------


def test_the_manifest_declares_the_embedded_gemma():
    manifest = read_manifest(MANIFEST)
    assert manifest.id == PLUGIN_ID and manifest.panels == (Panel.WRITING,)
    assert manifest.requires == ("llama-cpp-python==0.3.36",)
    (model,) = manifest.models
    assert model.id == EMBEDDED_MODEL_ID and model.embedded
    assert "base model" in model.description and "does not follow instructions" in model.description


def test_the_plugin_is_installed_and_first_for_the_writing_panel():
    registry = PluginRegistry(plugin_dirs=())
    registry.discover()
    writing = [r.id for r in registry.records() if Panel.WRITING in r.panels]
    assert writing[:2] == [PLUGIN_ID, "studio.writer-transformers"]
    assert registry.get(PLUGIN_ID).enabled


def test_the_contract_on_the_tiny_gguf(tiny_causal_lm_gguf):
    check_plugin(
        MANIFEST,
        model=ResolvedModel(id="tiny", path=tiny_causal_lm_gguf),
        requests={Panel.WRITING: TextRequest(prompt=PROMPT)},
        run_options={"max_new_tokens": 4, "seed": 1},
    )


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def test_text_streams_in_order_and_the_result_is_what_was_shown(writer, loaded):
    events = run(writer, loaded, temperature=1.0)
    (text,) = results(events)
    assert text and streamed(events) == text
    assert isinstance(events[-1], Result)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and "tokens/s" in progress[-1].message
    details = next(e for e in events if isinstance(e, Result)).assets[0].details
    assert 1 <= details["tokens"] <= 24 and details["backend"] == "llama.cpp"
    assert details["stop_reason"] in ("length", "eos")


def test_the_same_seed_writes_the_same_text(writer, loaded):
    first = results(run(writer, loaded, temperature=1.5, seed=11))
    again = results(run(writer, loaded, temperature=1.5, seed=11))
    others = {tuple(results(run(writer, loaded, temperature=1.5, seed=s))) for s in (12, 13, 14)}
    assert first == again
    assert others - {tuple(first)}, "other seeds should write something else"


def test_greedy_ignores_the_seed(writer, loaded):
    assert results(run(writer, loaded, temperature=0.0, seed=1)) == results(
        run(writer, loaded, temperature=0.0, seed=2)
    )


def test_the_length_is_respected(writer, loaded):
    events = run(writer, loaded, temperature=1.0, max_new_tokens=3)
    details = next(e for e in events if isinstance(e, Result)).assets[0].details
    assert details["tokens"] <= 3


def test_a_stop_string_ends_the_text_and_is_left_out(writer, loaded):
    (full,) = results(run(writer, loaded, temperature=0.0, max_new_tokens=24))
    stop = full.strip()[len(full.strip()) // 2 :][:2]
    assert stop, full
    events = run(writer, loaded, temperature=0.0, max_new_tokens=24, stop_strings=stop)
    (cut,) = results(events)
    assert cut == full[: full.index(stop)]
    assert streamed(events) == cut
    if cut:
        details = next(e for e in events if isinstance(e, Result)).assets[0].details
        assert details["stop_reason"] == "stop_string"


def test_cancel_mid_stream_stops_within_a_token_and_keeps_nothing(writer, loaded):
    cancel = CancelToken()
    options = writer.run_options.validate({"seed": 3, "max_new_tokens": 200, "temperature": 1.0})
    ctx = RunContext(model=ResolvedModel(id="tiny"), cancel=cancel)
    events = []
    with pytest.raises(Cancelled):
        for event in writer.run(loaded, TextRequest(prompt=PROMPT), options, ctx):
            events.append(event)
            if isinstance(event, Partial):
                cancel.cancel()
    assert not [e for e in events if isinstance(e, Result)]
    assert len([e for e in events if isinstance(e, Partial)]) <= 2


def test_variations_use_consecutive_seeds(writer, loaded):
    events = run(writer, loaded, temperature=1.5, seed=20, variations=2)
    seeds = [e.assets[0].seed for e in events if isinstance(e, Result)]
    assert seeds == [20, 21]
    (single,) = results(run(writer, loaded, temperature=1.5, seed=21))
    assert results(events)[1] == single  # the second variation is seed 21's text


def test_instruct_uses_the_chat_template_when_the_model_has_one(writer, loaded, plain_gguf):
    request = TextRequest(mode="instruct", instruction="Summarise.", prompt="Cats sleep a lot.")
    events = run(writer, loaded, request, temperature=0.0)
    details = next(e for e in events if isinstance(e, Result)).assets[0].details
    assert details["used_chat_template"] is True
    plain = load(writer, plain_gguf)
    try:
        events = run(writer, plain, request, temperature=0.0)
        details = next(e for e in events if isinstance(e, Result)).assets[0].details
        assert details["used_chat_template"] is False
    finally:
        writer.unload(plain)


def test_requests_without_what_they_need_are_refused(writer, loaded):
    with pytest.raises(ValueError, match="Type an instruction first"):
        run(writer, loaded, TextRequest(mode="instruct", instruction=" "))
    with pytest.raises(ValueError, match="Unknown writing mode"):
        run(writer, loaded, TextRequest(mode="sing"))


def test_an_empty_page_or_a_text_too_long_for_the_context(writer, tiny_causal_lm_gguf):
    small = load(writer, tiny_causal_lm_gguf, context_length=32)
    try:
        with pytest.raises(ValueError, match="raise Context"):
            run(writer, small, TextRequest(prompt="word " * 200))
        # The fixture's model adds no BOS and has one: an empty page starts from it.
        (text,) = results(run(writer, small, TextRequest(prompt=""), max_new_tokens=4))
        assert text
    finally:
        writer.unload(small)


def test_unload_frees_the_model(writer, tiny_causal_lm_gguf):
    loaded = load(writer, tiny_causal_lm_gguf)
    assert writer.memory_bytes(loaded) > 0
    writer.unload(loaded)
    assert loaded.llama is None and writer.memory_bytes(loaded) == 0
    with pytest.raises(RuntimeError, match="unloaded"):
        run(writer, loaded)


# --------------------------------------------------------------------------------------------
# Jobs, recipes and bad files
# --------------------------------------------------------------------------------------------


def writer_executor(tmp_path, **kwargs):
    executor, sink = make_executor(tmp_path / "data", plugin_dirs=(), **kwargs)
    executor.registry = PluginRegistry(plugin_dirs=())  # the installed entry point
    return executor, sink


def writer_job(model: Path, request=None, **run_options) -> Job:
    return Job(
        plugin_id=PLUGIN_ID,
        panel=Panel.WRITING,
        request=request or TextRequest(prompt=PROMPT),
        load_options={"model": str(model)},
        run_options={"max_new_tokens": 8, **run_options},
    )


def test_a_job_stores_each_variation_with_its_recipe(tmp_path, tiny_causal_lm_gguf):
    store = ProjectStore.create(tmp_path / "p.studio")
    try:
        executor, _ = writer_executor(tmp_path, sink=store_sink(store))
        outcome = executor.execute(
            writer_job(tiny_causal_lm_gguf, seed=5, variations=2, temperature=1.0), CancelToken()
        )
        assert len(outcome.asset_ids) == 2
        recipe = store.get_asset(outcome.asset_ids[1]).recipe
        assert recipe.plugin_id == PLUGIN_ID and recipe.seed == 6
        assert recipe.request["prompt"] == PROMPT
        assert recipe.load_options["model"] == str(tiny_causal_lm_gguf)
        executor.shutdown()
    finally:
        store.close()


def test_a_cancel_keeps_the_finished_variations(tmp_path, tiny_causal_lm_gguf):
    executor, sink = writer_executor(tmp_path)
    cancel = CancelToken()
    results_seen = []

    def on_event(event):
        if isinstance(event, Progress) and sink.produced and not results_seen:
            results_seen.append(True)
            cancel.cancel()  # during the second variation

    with pytest.raises(JobCancelled) as caught:
        executor.execute(
            writer_job(tiny_causal_lm_gguf, variations=3, max_new_tokens=40, temperature=1.0),
            cancel,
            on_event,
        )
    assert len(caught.value.asset_ids) == 1 and len(sink.produced) == 1
    executor.shutdown()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("folder", "is a folder; the llama.cpp writer reads single .gguf files"),
        (b"not a model at all", "is not a GGUF file"),
        ("cut", "llama.cpp could not load model.gguf"),
    ],
)
def test_bad_files_fail_the_job_with_a_readable_message(
    tmp_path, tiny_causal_lm_gguf, content, message
):
    path = tmp_path / "model.gguf"
    if content == "folder":
        path.mkdir()
    elif content == "cut":
        path.write_bytes(tiny_causal_lm_gguf.read_bytes()[:5000])
    else:
        path.write_bytes(content)
    executor, sink = writer_executor(tmp_path)
    with pytest.raises(UserError) as caught:  # the user's file: exit code 2 on the command line
        executor.execute(writer_job(path), CancelToken())
    assert message in readable_error(caught.value)
    assert sink.produced == []
    executor.shutdown()


def test_check_gguf_file_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match=r"Choose a \.gguf"):
        check_gguf_file(None)
    with pytest.raises(ValueError, match="cannot be read"):
        check_gguf_file(tmp_path / "missing.gguf")


def test_llama_cpp_notes_go_to_the_log_not_the_terminal(writer, tiny_causal_lm_gguf, capfd):
    capfd.readouterr()
    loaded = load(writer, tiny_causal_lm_gguf)
    results(run(writer, loaded, max_new_tokens=3))
    assert "llama_" not in capfd.readouterr().err
