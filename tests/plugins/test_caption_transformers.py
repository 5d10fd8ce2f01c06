"""The built-in transformers captioner on tiny random BLIP models: caption and question modes,
options, bad folders and images, and batches (good and corrupt files, cancel, sidecars, lineage)
through the job executor into a real project."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from studio_caption_transformers.captioning import bad_words_ids, caption_image, parse_avoid_words
from studio_caption_transformers.loading import Family, load_captioner
from studio_caption_transformers.plugin import TransformersCaptioner

from studio.core.caption_batch import (
    BatchItem,
    BatchSettings,
    CaptionBatch,
    ItemStatus,
    SidecarMode,
    SidecarSettings,
    items_from_assets,
    items_from_paths,
    write_sidecar,
)
from studio.core.errors import UserError
from studio.core.jobs import Job
from studio.core.media.importing import read_media_file
from studio.core.pipeline import JobPipeline
from studio.core.project.store import ProjectStore
from studio.core.recipe import Recipe
from studio.core.registry import PluginRegistry, PluginSource
from studio.plugin_api import (
    AssetKind,
    Cancelled,
    CancelToken,
    CaptionRequest,
    InputMedia,
    LoadContext,
    Panel,
    Progress,
    RemoteCodeRequired,
    ResolvedModel,
    Result,
    RunContext,
    UnsafeWeights,
)
from studio.plugin_api.images import open_rgb
from studio.plugin_api.testing import check_plugin
from tests.conftest import REPO_ROOT
from tests.core.pickle_helpers import TrainingCheckpoint
from tests.fixtures.tiny_models import (
    tiny_blip_dir,  # noqa: F401 (fixture)
    tiny_blip_vqa_dir,  # noqa: F401 (fixture)
)
from tests.support import import_inputs, make_executor

PLUGIN_DIR = REPO_ROOT / "plugins" / "studio_caption_transformers"
MANIFEST = PLUGIN_DIR / "studio-plugin.toml"
PLUGIN_ID = "studio.caption-transformers"
GREEDY = {"max_new_tokens": 8, "num_beams": 1, "sampling": False, "prefix": "", "avoid_words": ""}


@pytest.fixture(scope="module")
def captioner(tiny_blip_dir):
    return load_captioner(tiny_blip_dir)


@pytest.fixture(scope="module")
def vqa(tiny_blip_vqa_dir):
    return load_captioner(tiny_blip_vqa_dir)


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "photo.png"
    image = Image.new("RGB", (48, 40), (30, 120, 200))
    image.paste((250, 200, 20), (10, 10, 30, 30))
    image.save(path)
    return path


def request_for(path: Path, question: str = "") -> CaptionRequest:
    return CaptionRequest(
        question=question,
        inputs=(InputMedia(role="image", path=path, kind=AssetKind.IMAGE, media_type="image/png"),),
    )


def run_plugin(loaded, request, cancel: CancelToken | None = None, **options):
    plugin = TransformersCaptioner()
    opts = plugin.run_options.validate({**GREEDY, **options})
    ctx = RunContext(model=ResolvedModel(id="tiny"), cancel=cancel or CancelToken())
    return list(plugin.run(loaded, request, opts, ctx))


def caption_of(events) -> str:
    (result,) = [e for e in events if isinstance(e, Result)]
    (asset,) = result.assets
    assert asset.kind is AssetKind.CAPTION and asset.input_roles == ("image",)
    return asset.data.decode()


# --------------------------------------------------------------------------------------------
# The plugin and its modes
# --------------------------------------------------------------------------------------------


def test_it_registers_through_the_entry_point_and_declares_its_image_input():
    record = PluginRegistry(plugin_dirs=()).get(PLUGIN_ID)
    assert record.source is PluginSource.BUILTIN
    assert record.enabled, record.reason
    (slot,) = TransformersCaptioner.inputs
    assert slot.role == "image" and slot.kind is AssetKind.IMAGE and slot.required
    names = set(TransformersCaptioner.run_options.names)
    assert {"max_new_tokens", "num_beams", "sampling", "prefix", "avoid_words", "seed"} <= names


def test_the_plugin_keeps_the_contract(tiny_blip_dir):
    check_plugin(MANIFEST, model=ResolvedModel(id="tiny", path=tiny_blip_dir))


def test_blip_loads_in_float32_with_its_family(captioner, vqa):
    assert captioner.family == Family.BLIP and captioner.model.dtype == torch.float32
    assert vqa.family == Family.BLIP_VQA and vqa.answers_questions
    assert not captioner.answers_questions


def test_caption_mode_is_deterministic_and_reports_progress(captioner, photo):
    events = run_plugin(captioner, request_for(photo))
    assert any(isinstance(e, Progress) for e in events)
    first = caption_of(events)
    assert first.strip()
    assert caption_of(run_plugin(captioner, request_for(photo))) == first
    (result,) = [e for e in events if isinstance(e, Result)]
    details = result.assets[0].details
    assert details["mode"] == "caption" and details["image"] == "photo.png"
    assert (details["width"], details["height"]) == (48, 40)


def test_a_prefix_is_continued(captioner, photo):
    text = caption_of(run_plugin(captioner, request_for(photo), prefix="a picture of"))
    assert text.startswith("a picture of")


def test_words_to_avoid_do_not_appear(captioner, photo):
    plain = caption_of(run_plugin(captioner, request_for(photo), max_new_tokens=12))
    word = next(w for w in plain.split() if len(w) > 2 and w.isalpha())
    avoided = caption_of(
        run_plugin(captioner, request_for(photo), max_new_tokens=12, avoid_words=f"{word}, zebra")
    )
    assert word not in avoided.split()
    assert avoided != plain


def test_avoid_words_are_split_on_commas_and_lines(captioner):
    assert parse_avoid_words("cat, dog\n  a red car ,,") == ["cat", "dog", "a red car"]
    assert bad_words_ids(captioner.tokenizer, []) is None
    assert bad_words_ids(captioner.tokenizer, ["river"])


def test_beams_and_sampling_run(captioner, photo):
    beams = caption_of(run_plugin(captioner, request_for(photo), num_beams=3))
    assert beams.strip()
    one = caption_of(run_plugin(captioner, request_for(photo), sampling=True, seed=5))
    two = caption_of(run_plugin(captioner, request_for(photo), sampling=True, seed=5))
    assert one == two


def test_question_mode_answers_with_a_vqa_model(vqa, photo):
    events = run_plugin(vqa, request_for(photo, "what colour is the square?"))
    assert caption_of(events).strip()
    (result,) = [e for e in events if isinstance(e, Result)]
    assert result.assets[0].details["mode"] == "question"


def test_a_caption_model_refuses_a_question_instead_of_pretending(captioner, photo):
    with pytest.raises(ValueError, match="cannot answer questions"):
        run_plugin(captioner, request_for(photo, "what is this?"))


def test_a_vqa_model_needs_a_question(vqa, photo):
    with pytest.raises(ValueError, match="type a question"):
        run_plugin(vqa, request_for(photo))


def test_cancel_stops_generation_and_keeps_nothing(captioner, photo):
    cancel = CancelToken()
    image = open_rgb(photo)
    calls = []

    original = captioner.model.generate

    def generate(*args, **kwargs):
        criteria = kwargs["stopping_criteria"]
        calls.append(criteria)
        cancel.cancel()
        return original(*args, **kwargs)

    captioner.model.generate = generate
    try:
        with pytest.raises(Cancelled):
            caption_image(captioner, image, GREEDY, cancel=cancel)
    finally:
        del captioner.model.generate
    assert calls


def test_a_missing_image_input_is_refused(captioner):
    with pytest.raises(ValueError, match="Give an image"):
        run_plugin(captioner, CaptionRequest())


def build_tiny_vit_gpt2(folder: Path) -> Path:
    """A tiny random ViT-GPT2 VisionEncoderDecoder with its image processor and tokenizer (a
    folder without processor_config.json, like the real ViT-GPT2 captioner)."""
    from transformers import (
        GPT2Config,
        GPT2TokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessorPil,
    )

    from tests.fixtures.tiny_models import CAUSAL_LM_EOS, CAUSAL_LM_PAD, train_byte_level_bpe

    folder.mkdir(parents=True, exist_ok=True)
    backend = train_byte_level_bpe()
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=backend,
        bos_token=CAUSAL_LM_EOS,
        eos_token=CAUSAL_LM_EOS,
        unk_token=CAUSAL_LM_EOS,
        pad_token=CAUSAL_LM_PAD,
        model_max_length=64,
    )
    encoder = ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
    )
    decoder = GPT2Config(
        vocab_size=backend.get_vocab_size(),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        add_cross_attention=True,
        is_decoder=True,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.bos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(0)
    VisionEncoderDecoderModel(config=config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def test_a_vit_gpt2_encoder_decoder_captions_and_continues_a_prefix(tmp_path, photo):
    loaded = load_captioner(build_tiny_vit_gpt2(tmp_path / "vit-gpt2"))
    assert loaded.family == Family.ENCODER_DECODER
    assert loaded.architecture == "VisionEncoderDecoderModel"
    assert isinstance(caption_of(run_plugin(loaded, request_for(photo))), str)
    text = caption_of(run_plugin(loaded, request_for(photo), prefix="once upon"))
    assert text.startswith("once upon")
    with pytest.raises(ValueError, match="cannot answer questions"):
        run_plugin(loaded, request_for(photo, "what is it?"))


def build_tiny_blip2(folder: Path) -> Path:
    """A tiny random BLIP-2 (vision tower, Q-Former, OPT language model) with its processor."""
    from transformers import (
        Blip2Config,
        Blip2ForConditionalGeneration,
        Blip2Processor,
        Blip2QFormerConfig,
        Blip2VisionConfig,
        BlipImageProcessorPil,
        GPT2TokenizerFast,
        OPTConfig,
    )

    from tests.fixtures.tiny_models import CAUSAL_LM_EOS, CAUSAL_LM_PAD, train_byte_level_bpe

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=train_byte_level_bpe(),
        bos_token=CAUSAL_LM_EOS,
        eos_token=CAUSAL_LM_EOS,
        unk_token=CAUSAL_LM_EOS,
        pad_token=CAUSAL_LM_PAD,
        model_max_length=128,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    small = {"num_hidden_layers": 2, "num_attention_heads": 4}
    config = Blip2Config(
        vision_config=Blip2VisionConfig(
            hidden_size=32, intermediate_size=37, image_size=32, patch_size=8, **small
        ).to_dict(),
        qformer_config=Blip2QFormerConfig(
            hidden_size=32, intermediate_size=37, encoder_hidden_size=32, **small
        ).to_dict(),
        text_config=OPTConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            ffn_dim=37,
            max_position_embeddings=128,
            word_embed_proj_dim=32,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **small,
        ).to_dict(),
        num_query_tokens=4,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    torch.manual_seed(0)
    Blip2ForConditionalGeneration(config).eval().save_pretrained(folder)
    image_processor = BlipImageProcessorPil(size={"height": 32, "width": 32})
    Blip2Processor(
        image_processor=image_processor, tokenizer=tokenizer, num_query_tokens=4
    ).save_pretrained(folder)
    return folder


def test_blip2_captions_and_answers_without_repeating_the_question(tmp_path, photo):
    loaded = load_captioner(build_tiny_blip2(tmp_path / "blip2"))
    assert loaded.family == Family.BLIP2 and loaded.answers_questions
    assert isinstance(caption_of(run_plugin(loaded, request_for(photo))), str)
    answer = caption_of(run_plugin(loaded, request_for(photo, "what is it?")))
    assert "Question" not in answer and "Answer" not in answer
    text = caption_of(run_plugin(loaded, request_for(photo), prefix="a photo of"))
    assert text.startswith("a photo of")


CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
    "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
)


def build_tiny_llava(folder: Path) -> Path:
    """A tiny random LLaVA (CLIP vision tower, Llama language model): a generic
    image-text-to-text model whose processor has a chat template."""
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        GPT2TokenizerFast,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    from tests.fixtures.tiny_models import CAUSAL_LM_EOS, CAUSAL_LM_PAD, train_byte_level_bpe

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=train_byte_level_bpe(),
        bos_token=CAUSAL_LM_EOS,
        eos_token=CAUSAL_LM_EOS,
        unk_token=CAUSAL_LM_EOS,
        pad_token=CAUSAL_LM_PAD,
        model_max_length=256,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    small = {"num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32, image_size=32, patch_size=8, projection_dim=32, **small
        ).to_dict(),
        text_config=LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_key_value_heads=4,
            max_position_embeddings=256,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **small,
        ).to_dict(),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).eval().save_pretrained(folder)
    LlavaProcessor(
        image_processor=CLIPImageProcessorPil(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="full",
        chat_template=CHAT_TEMPLATE,
        num_additional_image_tokens=1,
    ).save_pretrained(folder)
    return folder


def test_a_generic_image_text_to_text_model_is_asked_through_its_chat_template(tmp_path, photo):
    from studio_caption_transformers.captioning import build_inputs

    loaded = load_captioner(build_tiny_llava(tmp_path / "llava"))
    assert loaded.family == Family.CHAT and loaded.answers_questions
    image = open_rgb(photo)
    prompt = loaded.tokenizer.decode(build_inputs(loaded, image, "", "")["input_ids"][0])
    assert "user: " in prompt and "Describe this image." in prompt
    assert prompt.endswith("assistant:")
    prompt = loaded.tokenizer.decode(build_inputs(loaded, image, "what is it?", "")["input_ids"][0])
    assert "what is it?" in prompt
    for request in (request_for(photo), request_for(photo, "what is it?")):
        answer = caption_of(run_plugin(loaded, request))
        assert "assistant:" not in answer and "Describe" not in answer  # the prompt is cut off


# --------------------------------------------------------------------------------------------
# Model folders
# --------------------------------------------------------------------------------------------


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(folder, target)
    return target


def test_no_model_chosen_says_to_choose_a_folder(tmp_path, photo):
    executor, _ = caption_executor(tmp_path)
    job = Job(plugin_id=PLUGIN_ID, panel=Panel.CAPTIONING, request=request_for(photo))
    with pytest.raises(UserError, match="choose a model folder"):
        executor.execute(job, CancelToken())


def test_a_folder_without_config_is_refused(tmp_path, tiny_blip_dir):
    folder = copy_of(tiny_blip_dir, tmp_path)
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_captioner(folder)


def test_a_model_that_does_not_read_images_is_refused(tmp_path, tiny_blip_dir):
    folder = copy_of(tiny_blip_dir, tmp_path)
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ValueError, match="does not turn images into text"):
        load_captioner(folder)


def test_an_unknown_architecture_is_named(tmp_path, tiny_blip_dir):
    folder = copy_of(tiny_blip_dir, tmp_path)
    (folder / "config.json").write_text(json.dumps({"model_type": "no-such-model"}))
    with pytest.raises(ValueError, match="unknown architecture 'no-such-model'"):
        load_captioner(folder)


def test_a_folder_without_weights_is_refused(tmp_path, tiny_blip_dir):
    folder = copy_of(tiny_blip_dir, tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="has no weights"):
        load_captioner(folder)


def test_a_folder_with_its_own_code_needs_consent(tmp_path, tiny_blip_dir):
    folder = copy_of(tiny_blip_dir, tmp_path)
    config = {"model_type": "acme-captioner", "auto_map": {"AutoModel": "acme.Model"}}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(RemoteCodeRequired):
        load_captioner(folder)


def test_a_pickle_only_folder_loads_weights_only(tmp_path, tiny_blip_dir, photo):
    folder = copy_of(tiny_blip_dir, tmp_path)
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    seen = []

    def load_weights(path):
        seen.append(path.name)
        return torch.load(path, weights_only=True)

    loaded = load_captioner(folder, load_weights=load_weights)
    assert seen == ["pytorch_model.bin"]
    original = load_captioner(tiny_blip_dir)
    image = open_rgb(photo)
    assert caption_image(loaded, image, GREEDY) == caption_image(original, image, GREEDY)


def test_a_pickle_that_needs_full_unpickling_asks_for_consent(tmp_path, tiny_blip_dir):
    folder = copy_of(tiny_blip_dir, tmp_path)
    (folder / "model.safetensors").unlink()
    torch.save({"model": TrainingCheckpoint()}, folder / "pytorch_model.bin")
    plugin = TransformersCaptioner()
    ctx = LoadContext(model=ResolvedModel(id=str(folder), path=folder))
    with pytest.raises(UnsafeWeights):
        plugin.load(plugin.load_options.validate({}), ctx)


# --------------------------------------------------------------------------------------------
# Bad images
# --------------------------------------------------------------------------------------------


def test_bad_images_get_clear_messages_naming_the_file(tmp_path, captioner, photo):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo.read_bytes()[:120])
    for path, message in (
        (empty, "empty.png is empty"),
        (text, "notes.png is not an image"),
        (cut, "cut.png is damaged or truncated"),
    ):
        with pytest.raises(ValueError, match=message):
            run_plugin(captioner, request_for(path))


def test_a_decompression_bomb_is_not_decoded(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (10_000, 10_000)).save(bomb, optimize=True)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(ValueError, match=r"bomb\.png has 10000×10000 pixels.*decompression bomb"):
        open_rgb(bomb)


def test_an_animated_gif_is_read_at_its_first_frame(tmp_path):
    gif = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = open_rgb(gif)
    assert image.mode == "RGB" and image.getpixel((8, 8))[0] > 200


def test_a_16_bit_tiff_is_scaled_not_clipped(tmp_path):
    import numpy as np

    tiff = tmp_path / "deep.tif"
    ramp = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (8, 1))
    deep = Image.fromarray(ramp)
    assert deep.mode == "I;16"
    deep.save(tiff)
    image = open_rgb(tiff)
    row = [image.getpixel((x, 4))[0] for x in (0, 32, 63)]
    assert row[0] < 10 and 100 < row[1] < 160 and row[2] > 245


def test_transparency_lands_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(path)
    assert open_rgb(path).getpixel((1, 1)) == (255, 255, 255)


# --------------------------------------------------------------------------------------------
# Batches through the executor into a project
# --------------------------------------------------------------------------------------------


def caption_executor(tmp_path):
    executor, sink = make_executor(tmp_path / "data", plugin_dirs=())
    executor.registry = PluginRegistry(plugin_dirs=())  # the installed entry points
    return executor, sink


def run_batch(executor, store, settings, items, cancel=None, **callbacks):
    """A caption batch through the job pipeline, run to its end on ``executor``."""
    pipeline = JobPipeline(executor.registry, executor.check)
    on_event = callbacks.pop("on_event", lambda event: None)
    batch = CaptionBatch(pipeline, store, settings, items, **callbacks)
    return batch.run(executor, cancel or CancelToken(), on_event)


def write_folder(folder: Path, photo: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    good = []
    for index, colour in enumerate(((200, 40, 40), (40, 200, 40), (40, 40, 200), (90, 90, 90))):
        path = folder / f"good-{index}.png"
        Image.new("RGB", (24, 24), colour).save(path)
        good.append(path)
    (folder / "bad-empty.png").write_bytes(b"")
    (folder / "bad-text.jpg").write_text("hello")
    (folder / "bad-cut.png").write_bytes(photo.read_bytes()[:100])
    (folder / "readme.md").write_text("not an image")  # not listed at all
    return good


def batch_settings(model: Path, **kwargs) -> BatchSettings:
    return BatchSettings(
        plugin_id=PLUGIN_ID,
        load_options={"model": str(model)},
        run_options={"max_new_tokens": 6, "num_beams": 1},
        device="cpu",
        **kwargs,
    )


def test_a_folder_batch_captions_good_images_and_lists_corrupt_ones(tmp_path, tiny_blip_dir, photo):
    good = write_folder(tmp_path / "photos", photo)
    executor, _ = caption_executor(tmp_path)
    store = ProjectStore.create(tmp_path / "p.studio")
    try:
        summary = run_batch(
            executor,
            store,
            batch_settings(tiny_blip_dir, sidecar=SidecarSettings()),
            items_from_paths([tmp_path / "photos"]),
        )
        assert (summary.done, summary.skipped, summary.failed) == (4, 3, 0)
        skipped = {o.item.path.name: o.message for o in summary.outcomes if o.message and
                   o.status is ItemStatus.SKIPPED}  # fmt: skip
        assert skipped == {
            "bad-cut.png": "bad-cut.png skipped: it is not a readable PNG image "
            + skipped["bad-cut.png"].split("image ", 1)[1],
            "bad-empty.png": "bad-empty.png skipped: it is empty.",
            "bad-text.jpg": "bad-text.jpg skipped: its name promises a JPEG image but it is "
            "not one.",
        }
        assert store.counts_by_kind()[AssetKind.CAPTION] == 4
        assert store.counts_by_kind()[AssetKind.IMAGE] == 4  # skipped files were not imported
        for outcome in summary.outcomes:
            if outcome.status is ItemStatus.DONE:
                caption = store.get_asset(outcome.asset_id)
                (link,) = caption.recipe.inputs
                assert link.role == "image" and link.asset_id == outcome.image_asset_id
                image = store.get_asset(link.asset_id)
                assert image.recipe.request["file_name"] == outcome.item.path.name
                assert store.read_blob(caption.id).decode() == outcome.caption
                assert outcome.sidecar.read_text() == outcome.caption + "\n"
        assert sorted(p.name for p in (tmp_path / "photos").glob("*.txt")) == [
            f"{p.stem}.txt" for p in good
        ]
        # The same folder again, appending: the pictures are linked, not imported twice.
        again = run_batch(
            executor,
            store,
            batch_settings(tiny_blip_dir, sidecar=SidecarSettings(mode=SidecarMode.APPEND)),
            items_from_paths([tmp_path / "photos"]),
        )
        assert again.done == 4
        assert store.counts_by_kind()[AssetKind.CAPTION] == 8
        assert store.counts_by_kind()[AssetKind.IMAGE] == 4
        first = {o.item.path: o.image_asset_id for o in summary.outcomes}
        assert all(first[o.item.path] == o.image_asset_id for o in again.outcomes if o.asset_id)
        assert len(good[0].with_suffix(".txt").read_text().splitlines()) == 2
    finally:
        store.close()


def test_cancel_midway_keeps_finished_captions_and_half_of_nothing(tmp_path, tiny_blip_dir, photo):
    write_folder(tmp_path / "photos", photo)
    executor, _ = caption_executor(tmp_path)
    store = ProjectStore.create(tmp_path / "p.studio")
    cancel = CancelToken()
    started: list[BatchItem] = []
    seen = []

    def on_event(event) -> None:
        # Cancel while the third good image is being captioned.
        if isinstance(event, Progress) and event.message == "Captioning…":
            seen.append(started[-1].path.name)
            if len(seen) == 3:
                cancel.cancel()

    try:
        summary = run_batch(
            executor,
            store,
            batch_settings(tiny_blip_dir, sidecar=SidecarSettings()),
            items_from_paths([tmp_path / "photos"]),
            cancel,
            on_event=on_event,
            on_item_started=started.append,
        )
        assert summary.cancelled
        statuses = [(o.item.path.name, o.status) for o in summary.outcomes]
        assert statuses[-1] == ("good-2.png", ItemStatus.CANCELLED)
        assert [n for n, s in statuses if s is ItemStatus.DONE] == ["good-0.png", "good-1.png"]
        assert store.counts_by_kind()[AssetKind.CAPTION] == 2
        assert store.counts_by_kind()[AssetKind.IMAGE] == 2  # the cancelled image not imported
        assert not (tmp_path / "photos" / "good-2.txt").exists()
        assert not (tmp_path / "photos" / "good-3.txt").exists()
        assert not list((tmp_path / "photos").glob(".*"))  # no temporary sidecar left
    finally:
        store.close()


def test_awkward_but_valid_images_are_captioned_and_a_bomb_is_skipped(tmp_path, tiny_blip_dir):
    import numpy as np

    folder = tmp_path / "odd"
    folder.mkdir()
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], loop=0)
    Image.fromarray(np.tile(np.linspace(0, 65535, 32, dtype=np.uint16), (8, 1))).save(
        folder / "deep.tif"
    )
    Image.new("1", (10_000, 10_000)).save(folder / "bomb.png", optimize=True)
    executor, _ = caption_executor(tmp_path)
    store = ProjectStore.create(tmp_path / "p.studio")
    try:
        summary = run_batch(
            executor, store, batch_settings(tiny_blip_dir), items_from_paths([folder])
        )
        outcomes = {o.item.path.name: o for o in summary.outcomes}
        assert outcomes["anim.gif"].status is ItemStatus.DONE
        assert outcomes["deep.tif"].status is ItemStatus.DONE
        assert outcomes["bomb.png"].status is ItemStatus.SKIPPED
        assert "bomb.png skipped" in outcomes["bomb.png"].message
        assert "decompression bomb" in outcomes["bomb.png"].message
    finally:
        store.close()


def test_sidecar_modes(tmp_path):
    image = tmp_path / "cat.png"
    image.write_bytes(b"")
    path, what = write_sidecar(image, "first", SidecarSettings())
    assert (path.name, what, path.read_text()) == ("cat.txt", "written", "first\n")
    _, what = write_sidecar(image, "second", SidecarSettings(mode=SidecarMode.SKIP))
    assert what == "skipped" and path.read_text() == "first\n"
    _, what = write_sidecar(image, "second", SidecarSettings(mode=SidecarMode.APPEND))
    assert what == "appended" and path.read_text() == "first\nsecond\n"
    _, what = write_sidecar(image, "third", SidecarSettings(mode="overwrite"))
    assert what == "written" and path.read_text() == "third\n"
    other, _ = write_sidecar(image, "tags", SidecarSettings(extension="caption"))
    assert other.name == "cat.caption"
    for bad in ("", ".", "a/b", ".png", "JPG"):
        with pytest.raises(UserError):
            SidecarSettings(extension=bad)


def test_sidecars_only_store_nothing_in_the_project(tmp_path, tiny_blip_dir, photo):
    good = write_folder(tmp_path / "photos", photo)
    executor, _ = caption_executor(tmp_path)
    settings = batch_settings(
        tiny_blip_dir,
        store_assets=False,
        sidecar=SidecarSettings(extension=".caption", mode=SidecarMode.SKIP),
    )
    (tmp_path / "photos" / "good-0.caption").write_text("mine\n")
    summary = run_batch(executor, None, settings, items_from_paths(good))
    assert summary.done == 4
    assert (tmp_path / "photos" / "good-0.caption").read_text() == "mine\n"  # skipped
    assert (tmp_path / "photos" / "good-1.caption").read_text().strip()
    with pytest.raises(UserError, match="Choose where the captions go"):
        BatchSettings(plugin_id=PLUGIN_ID, store_assets=False)


def test_captioning_a_project_image_records_which_image_it_describes(
    tmp_path, tiny_blip_dir, photo
):
    executor, _ = caption_executor(tmp_path)
    store = ProjectStore.create(tmp_path / "p.studio")
    try:
        # An image "made in the Image panel" (another picture than the imported one).
        other = tmp_path / "made.png"
        Image.new("RGB", (20, 20), (200, 10, 10)).save(other)
        media = read_media_file(other)
        made = store.add_asset(
            kind=AssetKind.IMAGE,
            data=media.data,
            media_type="image/png",
            recipe=Recipe.for_import("made.png"),
            title="made here",
        )
        (imported,) = import_inputs(store, [("image", photo)])
        summary = run_batch(
            executor,
            store,
            batch_settings(tiny_blip_dir),
            items_from_assets([made.id, imported.asset_id]),
        )
        assert summary.done == 2, summary.outcomes
        for outcome, source in zip(summary.outcomes, (made.id, imported.asset_id), strict=True):
            caption = store.get_asset(outcome.asset_id)
            assert [(i.asset_id, i.role) for i in caption.recipe.inputs] == [(source, "image")]
            assert [a.id for a in store.ancestors(caption.id)] == [source]
        assert store.counts_by_kind()[AssetKind.IMAGE] == 2  # nothing imported again
    finally:
        store.close()


def test_a_batch_without_a_model_stops_at_once_with_one_message(tmp_path, photo):
    good = write_folder(tmp_path / "photos", photo)
    executor, _ = caption_executor(tmp_path)
    settings = BatchSettings(plugin_id=PLUGIN_ID, sidecar=SidecarSettings(), store_assets=False)
    summary = run_batch(executor, None, settings, items_from_paths(good))
    assert summary.stopped_by and "choose a model folder" in summary.stopped_by
    assert len(summary.outcomes) == 1
    assert not list((tmp_path / "photos").glob("*.txt"))
