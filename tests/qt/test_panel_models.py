"""Each panel driven through its model alone, without a widget: options, inputs, run, cancel,
results, error and restore, on the light test plugins (real jobs, real project writes)."""

from __future__ import annotations

import pytest

from studio.plugin_api import AssetKind, Panel
from studio.plugin_api.sample_media import write_sample_png
from studio.qt.panel_model import PanelModel
from tests.qt.asset_samples import add


@pytest.fixture
def models(services, session, runners, qtbot):
    made = {panel: PanelModel(panel, services, session, runners[panel]) for panel in Panel}
    for model in made.values():
        model.refresh_plugins()
    return made


def run(qtbot, model: PanelModel, signal: str = "job_finished", timeout: int = 15_000):
    with qtbot.waitSignal(getattr(model, signal), timeout=timeout) as ended:
        job_id = model.run()
        assert job_id is not None, model.error
    return ended.args


def test_writing_runs_with_its_options_and_fields_and_keeps_the_result(qtbot, models, session):
    model = models[Panel.WRITING]
    assert model.plugin_id == "studio-test.echo"
    model.set_options(run={"repeat": 2, "uppercase": True})
    model.set_fields({"prompt": "once more", "mode": "continue"})
    streamed: list[str] = []
    model.text_received.connect(streamed.append)
    busy: list[bool] = []
    model.busy_changed.connect(busy.append)
    _, asset_ids = run(qtbot, model)
    (asset_id,) = asset_ids
    assert model.results == [asset_id]
    assert busy[0] is True and busy[-1] is False
    assert model.status.startswith("Done: 1 asset saved")
    text = session.store.read_blob(asset_id).decode()
    assert text == "ONCE MORE ONCE MORE" and "".join(streamed) == text
    recipe = session.asset(asset_id).recipe
    assert recipe.plugin_id == "studio-test.echo"
    assert dict(recipe.run_options)["repeat"] == 2
    assert dict(recipe.request)["prompt"] == "once more"


def test_an_input_file_becomes_the_results_lineage(qtbot, models, session, tmp_path):
    model = models[Panel.CAPTIONING]
    picture = write_sample_png(tmp_path / "cat.png", 48, 32)
    changed: list[str] = []
    model.input_changed.connect(changed.append)
    model.set_input("image", path=picture)
    assert changed == ["image"] and model.input_name("image") == "cat.png"
    model.set_fields({"question": ""})
    _, (caption_id,) = run(qtbot, model)
    caption = session.asset(caption_id)
    assert caption.kind is AssetKind.CAPTION
    (link,) = caption.recipe.inputs
    assert link.role == "image" and model.stored_inputs["image"] == link.asset_id
    # sent on as a project asset, it is named by its title, not by its id
    model.set_input("image", asset_id=link.asset_id)
    assert model.input("image").path is None
    assert "cat" in model.input_name("image") and link.asset_id[-6:] not in model.input_name(
        "image"
    )


def test_voice_records_the_text_asset_it_spoke(qtbot, models, session):
    model = models[Panel.VOICE]
    assert model.select_plugin("studio-test.tone")
    text_id = add(session.store, AssetKind.TEXT, b"Hello there.", "A greeting").id
    model.source = text_id
    model.set_fields({"text": "Hello there."})
    _, (take_id,) = run(qtbot, model)
    take = session.asset(take_id)
    assert take.kind is AssetKind.AUDIO
    assert [(i.role, i.asset_id) for i in take.recipe.inputs] == [("source", text_id)]


def test_cancel_stops_the_job_and_says_so(qtbot, models):
    model = models[Panel.IMAGE]
    model.set_options(run={"steps": 50, "delay_ms": 200})
    model.set_fields({"prompt": "slow"})
    with qtbot.waitSignal(model.job_started, timeout=10_000):
        model.run()
    with qtbot.waitSignal(model.job_cancelled, timeout=15_000) as cancelled:
        model.cancel()
    assert cancelled.args[1] == ()
    assert model.status == "Cancelled" and not model.busy and model.results == []


def test_a_failing_job_shows_its_error_and_another_plugin_clears_it(qtbot, models):
    model = models[Panel.WRITING]
    model.set_options(run={"fail_at_step": 1})
    model.set_fields({"prompt": "a b", "mode": "continue"})
    _, message = run(qtbot, model, "job_failed")
    assert model.error == message and message
    assert model.status == "Failed"
    # The error belonged to that plugin: picking another one clears it.
    errors: list[str] = []
    model.error_changed.connect(errors.append)
    assert model.select_plugin("studio.writer-transformers")
    assert model.error == "" and errors == [""]


def test_bad_options_are_a_sentence_and_never_a_job(models, runners):
    model = models[Panel.WRITING]
    model.set_options(run={"repeat": 1000})
    model.set_fields({"prompt": "x", "mode": "continue"})
    assert model.run() is None
    assert "Option 'repeat': 1000 is out of range" in model.error
    assert not runners[Panel.WRITING].busy


def test_restore_puts_back_plugin_options_fields_and_inputs(qtbot, models, session, tmp_path):
    image = models[Panel.IMAGE]
    image.set_options(run={"width": 40, "height": 24, "seed": 7})
    image.set_fields({"prompt": "a harbour", "negative_prompt": "fog"})
    image.set_input("init", path=write_sample_png(tmp_path / "start.png", 40, 24))
    _, (made,) = run(qtbot, image)
    init_id = image.stored_inputs["init"]

    fresh = PanelModel(Panel.IMAGE, image.services, session, image.runner)
    fresh.refresh_plugins()
    told: list[str] = []
    fresh.options_changed.connect(lambda: told.append("options"))
    fresh.fields_changed.connect(lambda: told.append("fields"))
    assert fresh.restore_recipe(session.asset(made)) == []
    assert told == ["options", "fields"]
    assert fresh.plugin_id == "studio-test.gradient"
    assert fresh.run_options == {"width": 40, "height": 24, "seed": 7}
    assert fresh.fields["prompt"] == "a harbour" and fresh.fields["negative_prompt"] == "fog"
    assert fresh.input("init").asset_id == init_id
    # the same job again gives the same picture
    _, (again,) = run(qtbot, fresh)
    assert session.store.read_blob(again) == session.store.read_blob(made)


def test_options_a_plugin_does_not_know_are_named_by_label(models):
    model = models[Panel.IMAGE]
    assert model.select_plugin("studio.image-style")
    rejected = model.take_options({}, {"keep_size": False, "steps": 20, "strength": 0.5})
    assert rejected == ["steps"]
    assert model.run_options == {"keep_size": False, "strength": 0.5}
    assert model.labels(["keep_size", "keep_colours", "negative_prompt"]) == [
        "Keep original size",
        "Keep colours",
        "Negative prompt",
    ]


def test_inputs_follow_the_plugin_and_a_model_to_bring_is_asked_for(models):
    model = models[Panel.IMAGE]
    assert model.select_plugin("studio.image-style")
    assert model.input_roles() == ("init", "style")
    assert model.input_label("init", "Init image") == "Image"
    assert not model.needs_model()
    assert model.select_plugin("studio.image-upscale")
    assert model.input_roles() == ("init",)
    diffusers = "studio.image-diffusers"
    if any(c.plugin_id == diffusers and c.usable for c in model.plugins):
        assert model.select_plugin(diffusers)
        assert "mask" in model.input_roles() and model.needs_model()
        model.set_fields({"prompt": "x"})
        assert model.run() is None and model.error.startswith("No model is imported")


def test_a_plugin_that_is_not_usable_cannot_be_picked(models, services):
    model = models[Panel.WRITING]
    before = model.plugin_id
    assert not model.select_plugin("no.such-plugin")
    assert model.plugin_id == before


PANEL_JOBS = {
    # panel: (plugin, fields, needs an image input, takes a delay)
    Panel.WRITING: ("studio-test.echo", {"prompt": "one two three", "mode": "continue"}, False),
    Panel.IMAGE: ("studio-test.gradient", {"prompt": "a field"}, False),
    Panel.VOICE: ("studio-test.tone", {"text": "One. Two. Three."}, False),
    Panel.CAPTIONING: ("studio-test.describe", {"question": ""}, True),
}


def ready(model: PanelModel, tmp_path, **run_options) -> None:
    plugin, fields, needs_image = PANEL_JOBS[model.panel]
    assert model.select_plugin(plugin)
    model.set_fields(fields)
    model.set_options(run=run_options)
    if needs_image:
        model.set_input("image", path=write_sample_png(tmp_path / "in.png", 24, 16))


@pytest.mark.parametrize("panel", list(Panel))
def test_every_panel_runs_fails_and_restores_through_its_model(
    qtbot, models, session, tmp_path, panel
):
    model = models[panel]
    ready(model, tmp_path)
    _, (made,) = run(qtbot, model)
    assert model.results == [made] and model.error == ""
    # a failure: its sentence is the model's error, and the project is unchanged
    before = len(session.store.list_assets())
    ready(model, tmp_path, fail_at_step=0)
    _, message = run(qtbot, model, "job_failed")
    assert "failed on purpose" in message and model.error == message
    assert len(session.store.list_assets()) == before
    # restore: a fresh model takes the first job's plugin, options and fields back
    fresh = PanelModel(panel, model.services, session, model.runner)
    fresh.refresh_plugins()
    assert fresh.restore_recipe(session.asset(made)) == []
    recipe = session.asset(made).recipe
    assert fresh.plugin_id == PANEL_JOBS[panel][0]
    # the options were the defaults; a seed that was random is restored as the one chosen
    assert {k: v for k, v in fresh.run_options.items() if k != "seed"} == {}
    assert fresh.run_options.get("seed") == recipe.seed
    for name, value in PANEL_JOBS[panel][1].items():
        assert fresh.fields.get(name, "") == value
    _, (again,) = run(qtbot, fresh)
    assert session.asset(again).recipe.plugin_id == PANEL_JOBS[panel][0]


@pytest.mark.parametrize("panel", [Panel.WRITING, Panel.IMAGE, Panel.VOICE])
def test_every_panel_cancels_through_its_model(qtbot, models, tmp_path, panel):
    model = models[panel]
    ready(model, tmp_path, delay_ms=300)
    with qtbot.waitSignal(model.job_started, timeout=10_000):
        model.run()
    with qtbot.waitSignal(model.job_cancelled, timeout=15_000):
        model.cancel()
    assert model.status.startswith("Cancelled") and not model.busy
