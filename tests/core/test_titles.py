"""Asset titles: short, cut at word boundaries, and telling siblings apart (the model, voice,
seed, a re-run), whether the plugin gives the title or Studio makes it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from studio.core.jobs import Job, ProducedAsset
from studio.core.pipeline import Draft, ResultSink, draft_from_recipe, execute_prepared
from studio.core.project.assets import derive_title
from studio.core.project.store import ProjectStore
from studio.core.recipe import Recipe, RecipeInput
from studio.core.services import build_core_services
from studio.core.titles import default_title, rerun_title, writing_title
from studio.plugin_api import (
    AssetKind,
    CancelToken,
    CaptionRequest,
    GeneratedAsset,
    ImageRequest,
    InputMedia,
    Panel,
    ResolvedModel,
    SpeechRequest,
    TextRequest,
)
from studio.plugin_api.sample_media import write_sample_png
from studio.plugin_api.speech import take_title
from studio.plugin_api.titles import (
    TITLE_LIMIT,
    input_name,
    join_title,
    one_line,
    quote,
    shorten,
)

KEEPER = (
    "The lighthouse keeper climbed the hundred and twelve steps every evening, long before "
    "the fog came in from the sea."
)


# --------------------------------------------------------------------------------------------
# The helpers plugins use (studio.plugin_api.titles)
# --------------------------------------------------------------------------------------------


def test_shorten_cuts_at_a_word_boundary_with_an_ellipsis():
    assert shorten(KEEPER, 40) == "The lighthouse keeper climbed the…"
    assert shorten("Once upon a time", 40) == "Once upon a time"  # short enough: unchanged
    assert shorten("  Once\nupon\ta time ", 40) == "Once upon a time"  # one line
    assert shorten("It rained, and then it snowed", 12) == "It rained…"  # no "rained,…"


def test_shorten_cuts_inside_a_word_only_when_it_is_one_long_word():
    assert shorten("Pneumonoultramicroscopicsilicovolcanoconiosis", 12) == "Pneumonoult…"
    assert shorten("a Pneumonoultramicroscopicsilicovolcanoconiosis", 12) == "a Pneumonou…"


def test_titles_never_exceed_their_limit():
    rng = random.Random(7)
    words = ["a", "lighthouse", "at", "dusk,", "Pneumonoultramicroscopic", "·", "—", "sea."]
    for _ in range(500):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(0, 40)))
        limit = rng.randrange(2, 100)
        assert len(shorten(text, limit)) <= limit
        assert len(join_title(text, "seed 1234", quote(text), limit=limit)) <= max(limit, 25)
        if len(one_line(text)) > limit:
            assert shorten(text, limit).endswith("…")


def test_join_title_shortens_the_long_part_and_keeps_the_short_ones():
    prompt = "A lighthouse at dusk, with fog rolling in over the rocks and a red boat " * 2
    title = join_title(prompt, "seed 1234")
    assert title.endswith("… · seed 1234") and len(title) <= TITLE_LIMIT
    assert join_title("Lighthouse at dusk", "", "seed 1234") == "Lighthouse at dusk · seed 1234"
    assert join_title("", "") == ""


def test_a_quoted_part_is_shortened_inside_its_quotes():
    title = join_title(quote(KEEPER), "Hibari heart")
    assert title.startswith("“The lighthouse keeper climbed the hundred")
    assert title.endswith("…” · Hibari heart") and len(title) <= TITLE_LIMIT


def test_take_title_quotes_the_text_and_names_the_voice():
    assert take_title(KEEPER, "Hibari heart", "") == (
        "“The lighthouse keeper climbed the hundred and twelve steps…” · Hibari heart"
    )
    assert take_title("Hello there.") == "“Hello there.”"  # the plugin API's old call still works
    assert take_title("Hi", "Hibari heart", "1.5× speed") == "“Hi” · Hibari heart · 1.5× speed"
    assert take_title("  ") == "Empty take"


def test_an_input_is_named_by_its_file_or_by_its_asset_title():
    file = InputMedia(role="init", path=Path("/x/photo.png"), kind=AssetKind.IMAGE, media_type="")
    asset = InputMedia(
        role="init", path=Path("/tmp/0/Red square.png"), kind=AssetKind.IMAGE, asset_id="01A"
    )
    assert input_name(file) == "photo.png" and input_name(asset) == "Red square"


# --------------------------------------------------------------------------------------------
# Titles Studio makes (studio.core.titles)
# --------------------------------------------------------------------------------------------


def test_a_continuation_is_titled_by_its_own_text_after_the_start_it_continues():
    request = {"prompt": "Once upon a time", "mode": "continue"}
    first = writing_title(" there lived a fisherman who loved the sea.", request)
    second = writing_title(" a dragon slept under the mountain.", request)
    assert first == "Once upon a time there lived a fisherman who loved the sea."
    assert second == "Once upon a time a dragon slept under the mountain."
    long_prompt = {"prompt": "It was a dark and stormy night; the rain fell in torrents"}
    assert writing_title(" and the ship sank.", long_prompt) == (
        "It was a dark and stormy… and the ship sank."
    )
    long_text = writing_title(" " + KEEPER * 2, request)
    assert long_text.startswith("Once upon a time The lighthouse keeper")
    assert long_text.endswith("…") and len(long_text) <= TITLE_LIMIT


def test_an_instruction_reply_and_empty_results_say_what_they_are():
    instruct = {"prompt": KEEPER, "instruction": "Summarise it.", "mode": "instruct"}
    assert writing_title("A keeper climbs his tower.", instruct) == "A keeper climbs his tower."
    assert writing_title("", instruct) == "Empty reply to “Summarise it.”"
    assert writing_title("", {"prompt": "Once upon a time"}) == (
        "Empty continuation of “Once upon a time”"
    )
    assert writing_title("Fresh words.", {"prompt": ""}) == "Fresh words."


def produced(
    panel: Panel, request, asset: GeneratedAsset, run_options: dict | None = None
) -> ProducedAsset:
    return ProducedAsset(
        job=Job(plugin_id="studio-test.any", panel=panel, request=request),
        plugin_version="1",
        model=ResolvedModel(id="m"),
        load_options={},
        run_options=run_options or {},
        asset=asset,
    )


def test_default_titles_for_results_their_plugin_left_untitled():
    story = produced(
        Panel.WRITING,
        TextRequest(prompt="Once upon a time"),
        GeneratedAsset.from_text(" there lived a fisherman."),
    )
    assert default_title(story) == "Once upon a time there lived a fisherman."
    image = produced(
        Panel.IMAGE,
        ImageRequest(prompt="Lighthouse at dusk"),
        GeneratedAsset(kind=AssetKind.IMAGE, data=b"", media_type="image/png", seed=1234),
    )
    assert default_title(image) == "Lighthouse at dusk · seed 1234"
    variation = produced(
        Panel.IMAGE,
        ImageRequest(prompt="Lighthouse at dusk"),
        GeneratedAsset(
            kind=AssetKind.IMAGE, data=b"", media_type="image/png", details={"variation": 2}
        ),
    )
    assert default_title(variation) == "Lighthouse at dusk · variation 2"
    speech = produced(
        Panel.VOICE,
        SpeechRequest(text=KEEPER),
        GeneratedAsset(kind=AssetKind.AUDIO, data=b"", media_type="audio/wav"),
    )
    assert default_title(speech).startswith("“The lighthouse keeper") and (
        default_title(speech).endswith("…”")
    )
    caption = produced(
        Panel.CAPTIONING,
        CaptionRequest(),
        GeneratedAsset.from_text("", kind=AssetKind.CAPTION),
    )
    assert default_title(caption) == "Empty caption"


def test_a_rerun_keeps_the_title_and_counts():
    assert rerun_title("Lighthouse at dusk · seed 1234", ()) == (
        "Lighthouse at dusk · seed 1234 · re-run"
    )
    taken = {"Lighthouse at dusk · seed 1234 · re-run"}
    assert rerun_title("Lighthouse at dusk · seed 1234", taken) == (
        "Lighthouse at dusk · seed 1234 · re-run 2"
    )
    taken.add("Lighthouse at dusk · seed 1234 · re-run 2")
    # A re-run of a re-run counts with its original's.
    assert rerun_title("Lighthouse at dusk · seed 1234 · re-run 2", taken) == (
        "Lighthouse at dusk · seed 1234 · re-run 3"
    )
    long = rerun_title(join_title(KEEPER, "seed 99"), ())
    assert long.endswith("… · seed 99 · re-run") and len(long) <= TITLE_LIMIT


def test_derive_title_cuts_at_a_word_boundary():
    recipe = Recipe.for_import("notes.txt")
    assert derive_title(AssetKind.TEXT, KEEPER.encode(), recipe, limit=40) == (
        "The lighthouse keeper climbed the…"
    )


# --------------------------------------------------------------------------------------------
# The sink: what is stored
# --------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    store = ProjectStore.create(tmp_path / "p.studio")
    yield store
    store.close()


def image_result(title: str, seed: int = 1) -> ProducedAsset:
    return produced(
        Panel.IMAGE,
        ImageRequest(prompt="Lighthouse at dusk"),
        GeneratedAsset(
            kind=AssetKind.IMAGE,
            data=write_sample_png_bytes(),
            media_type="image/png",
            title=title,
            seed=seed,
        ),
    )


def write_sample_png_bytes() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return write_sample_png(Path(folder) / "s.png", 8, 8).read_bytes()


def test_the_sink_keeps_a_plugins_title_on_one_line_and_shortened(store):
    sink = ResultSink(store)
    asset_id = sink(image_result("Lighthouse\nat dusk · seed 1"))
    assert store.get_asset(asset_id).title == "Lighthouse at dusk · seed 1"
    long_id = sink(image_result(KEEPER * 2))
    title = store.get_asset(long_id).title
    assert len(title) <= TITLE_LIMIT and title.endswith("…")
    whole = one_line(KEEPER * 2)
    assert whole.startswith(title[:-1]) and whole[len(title) - 1] in " ,"  # a whole word


def test_reruns_are_told_apart_from_their_original_and_each_other(store):
    original = ResultSink(store)(image_result("Lighthouse at dusk · seed 1"))
    rerun = ResultSink(store, details={"rerun_of": original})
    first, second = rerun(image_result("ignored")), rerun(image_result("ignored"))
    assert store.get_asset(first).title == "Lighthouse at dusk · seed 1 · re-run"
    assert store.get_asset(second).title == "Lighthouse at dusk · seed 1 · re-run 2"
    # A renamed original lends its new name; a re-run of a re-run counts on.
    store.rename_asset(original, "Harbour light")
    renamed = ResultSink(store, details={"rerun_of": original})(image_result("x"))
    assert store.get_asset(renamed).title == "Harbour light · re-run"
    again = ResultSink(store, details={"rerun_of": second})(image_result("x"))
    assert store.get_asset(again).title == "Lighthouse at dusk · seed 1 · re-run 3"


@pytest.fixture
def services(test_plugins):
    services = build_core_services()
    services.registry.discover()
    yield services
    services.cache.unload_all()


def run_draft(services, store, draft: Draft) -> str:
    prepared = services.pipeline.run_ready(draft, store)
    outcome = execute_prepared(services.executor, prepared, prepared.sink(store), CancelToken())
    (asset_id,) = outcome.asset_ids
    return asset_id


def test_a_recipe_run_again_is_titled_as_a_rerun(services, store):
    draft = Draft(
        plugin_id="studio-test.gradient",
        panel=Panel.IMAGE,
        fields={"prompt": "Lighthouse at dusk"},
        run_options={"seed": 5},
    )
    original = run_draft(services, store, draft)
    assert store.get_asset(original).title == "Lighthouse at dusk"
    rerun = run_draft(services, store, draft_from_recipe(store, original))
    assert store.get_asset(rerun).title == "Lighthouse at dusk · re-run"
    second = run_draft(services, store, draft_from_recipe(store, original))
    assert store.get_asset(second).title == "Lighthouse at dusk · re-run 2"


def test_a_project_asset_reaches_the_plugin_as_a_file_named_after_its_title(
    services, store, tmp_path
):
    photo = write_sample_png(tmp_path / "photo.png", 40, 30)
    image = store.add_asset(
        kind=AssetKind.IMAGE,
        data=photo.read_bytes(),
        media_type="image/png",
        recipe=Recipe.for_import("photo.png"),
        title="Harbour: at dawn?",
    )
    draft = Draft(
        plugin_id="studio-test.describe",
        panel=Panel.CAPTIONING,
        assets=(RecipeInput(asset_id=image.id, role="image"),),
    )
    prepared = services.pipeline.run_ready(draft, store)
    try:
        (item,) = prepared.job.request.inputs
        assert item.path.name == "Harbour - at dawn.png" and item.asset_id == image.id
        assert item.path.read_bytes() == photo.read_bytes()
        assert input_name(item) == "Harbour - at dawn"
    finally:
        prepared.close()
