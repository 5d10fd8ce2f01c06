"""The embedded describer: reading order, the description, Qt-safe OCR import, and (marked
``models``) the real RapidOCR and EfficientNet-Lite0 on generated pictures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from studio_caption_ocr_tags import describer
from studio_caption_ocr_tags.describer import (
    Tag,
    TextLine,
    blank_gaps,
    compose,
    reading_order,
    respace,
    row_texts,
)
from studio_caption_ocr_tags.plugin import EMBEDDED_MODEL_ID, OcrTagsDescriber

from studio.core.registry import PluginRegistry, PluginSource
from studio.plugin_api import (
    AssetKind,
    CancelToken,
    CaptionRequest,
    InputMedia,
    LoadContext,
    Panel,
    Progress,
    ResolvedModel,
    Result,
    RunContext,
    read_manifest,
)
from studio.plugin_api.testing import check_plugin
from tests.conftest import REPO_ROOT

PLUGIN_DIR = REPO_ROOT / "plugins" / "studio_caption_ocr_tags"
MANIFEST = PLUGIN_DIR / "studio-plugin.toml"
PLUGIN_ID = "studio.caption-ocr-tags"
SIGN_TEXT = "OPEN 24 HOURS"


def find_font() -> Path | None:
    """A TrueType font: matplotlib ships DejaVuSans; Debian has it under /usr/share/fonts."""
    candidates = []
    try:
        import matplotlib

        candidates.append(Path(matplotlib.__file__).parent / "mpl-data/fonts/ttf/DejaVuSans.ttf")
    except ImportError:
        pass
    candidates += [
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
    ]
    return next((path for path in candidates if path.is_file()), None)


def draw_sign(
    path: Path, text: str = SIGN_TEXT, size: int = 40, at: tuple[int, int] = (20, 40)
) -> Path:
    font_file = find_font()
    if font_file is None:
        pytest.skip("no TrueType font found to draw a sign with")
    image = Image.new("RGB", (max(400, size * len(text) * 2 // 3 + 40), 140), "white")
    ImageDraw.Draw(image).text(
        at, text, fill=(200, 0, 0), font=ImageFont.truetype(str(font_file), size)
    )
    image.save(path)
    return path


def line(text: str, x: float, y: float, w: float = 50, h: float = 20) -> TextLine:
    return TextLine(text=text, score=0.9, box=((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


def request_for(path: Path, question: str = "") -> CaptionRequest:
    return CaptionRequest(
        question=question,
        inputs=(InputMedia(role="image", path=path, kind=AssetKind.IMAGE, media_type="image/png"),),
    )


# --------------------------------------------------------------------------------------------
# Without the models
# --------------------------------------------------------------------------------------------


def test_the_manifest_is_honest_about_the_embedded_models():
    manifest = read_manifest(MANIFEST)
    assert manifest.id == PLUGIN_ID and manifest.panels == (Panel.CAPTIONING,)
    (model,) = manifest.models
    assert model.id == EMBEDDED_MODEL_ID and model.embedded
    assert "Apache-2.0" in model.licence and "MIT" in model.licence
    assert "not a captioning model" in manifest.description
    assert "cannot answer questions" in manifest.description
    assert not manifest.needs.network


def test_it_is_the_captioning_panels_first_builtin_plugin():
    registry = PluginRegistry(plugin_dirs=())
    record = registry.get(PLUGIN_ID)
    assert record.source is PluginSource.BUILTIN and record.enabled, record.reason
    captioners = [r.id for r in registry.records() if Panel.CAPTIONING in r.panels and r.enabled]
    assert captioners[0] == PLUGIN_ID  # the panel picks the first enabled one on first launch
    (slot,) = OcrTagsDescriber.inputs
    assert slot.role == "image" and slot.required


def test_text_boxes_are_read_in_reading_order():
    # Two rows, given in scrambled order; the second word of row one sits a little lower.
    found = [
        line("HOURS", 120, 80),
        line("24", 60, 80),
        line("WELCOME", 10, 10, w=80),
        line("OPEN", 10, 82),
        line("IN", 100, 13),
    ]
    assert [item.text for item in reading_order(found)] == ["WELCOME", "IN", "OPEN", "24", "HOURS"]
    assert row_texts(found) == ["WELCOME IN", "OPEN 24 HOURS"]
    assert row_texts([]) == []


def test_spaces_the_recogniser_dropped_are_restored_from_the_letter_boxes():
    def boxes(*spans):
        return [[[a, 0], [b, 0], [b, 10], [a, 10]] for a, b in spans]

    # "OPEN24": the gap between N and 2 is as wide as most of a letter.
    chars = list("OPEN24")
    spans = boxes((0, 20), (22, 42), (44, 64), (66, 86), (100, 120), (122, 142))
    assert respace(chars, spans) == "OPEN 24"
    # A space it did read stays single; letters close together stay together.
    assert respace(list("AB C"), boxes((0, 20), (21, 41), (50, 60), (60, 80))) == "AB C"
    assert respace(list("你好"), boxes((0, 20), (40, 60))) == "你好"
    assert respace(list("AB"), boxes((0, 20))) == "AB"  # mismatched: left as read


def test_blank_columns_between_letters_tell_spaces_from_letter_gaps():
    import numpy as np

    # Bold letters 10 wide and 20 high, 3 blank columns apart but 12 between C and D, in a
    # detector box with a margin of 5 (30 high).
    grey = np.full((40, 120), 255.0, dtype=np.float32)
    lefts = [10, 23, 36, 58, 71]
    for left in lefts:
        grey[10:30, left : left + 10] = 0.0
    line = [[5, 5], [86, 5], [86, 35], [5, 35]]
    chars = [[[x, 10], [x + 10, 10], [x + 10, 30], [x, 30]] for x in lefts]
    gaps = blank_gaps(grey, line, chars)
    assert [round(g, 2) for g in gaps] == [0.1, 0.1, 0.4, 0.1]
    assert respace(list("ABCDE"), chars, gaps) == "ABC DE"
    tilted = [[5, 5], [86, 25], [86, 55], [5, 35]]
    assert blank_gaps(grey, tilted, chars) is None


def test_the_description_combines_tags_and_text():
    tags = [Tag("espresso", 0.9, 967), Tag("coffee mug", 0.05, 504)]
    assert compose(tags, ["OPEN 24 HOURS"]) == (
        "An image tagged espresso, coffee mug. Text: OPEN 24 HOURS."
    )
    assert compose([], ["Hello!"]) == "An image. Text: Hello!"
    assert compose(tags, []) == "An image tagged espresso, coffee mug."
    assert compose(tags, ["A", "B"], mode="text") == "A\nB"
    assert compose([], [], mode="text") == "(no text found)"
    assert compose(tags, ["A"], mode="tags") == "espresso, coffee mug"


def test_importing_the_ocr_leaves_qts_environment_as_it_was(tmp_path, monkeypatch):
    # A stand-in for RapidOCR importing the full opencv-python, which sets Qt variables.
    package = tmp_path / "rapidocr_onnxruntime"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import os\n"
        "os.environ['QT_QPA_PLATFORM_PLUGIN_PATH'] = '/opencv/qt/plugins'\n"
        "os.environ['QT_QPA_FONTDIR'] = '/opencv/qt/fonts'\n"
        "os.environ.pop('QT_QPA_PLATFORM', None)\n"
        "class RapidOCR:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "rapidocr_onnxruntime", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.delenv("QT_QPA_PLATFORM_PLUGIN_PATH", raising=False)
    monkeypatch.delenv("QT_QPA_FONTDIR", raising=False)
    rapid = describer.import_rapidocr()
    assert rapid.__module__ == "rapidocr_onnxruntime"
    assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
    assert "QT_QPA_PLATFORM_PLUGIN_PATH" not in os.environ
    assert "QT_QPA_FONTDIR" not in os.environ
    sys.modules.pop("rapidocr_onnxruntime", None)


def test_a_question_is_refused_honestly(tmp_path):
    plugin = OcrTagsDescriber()
    path = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(path)
    ctx = RunContext(model=ResolvedModel(id="ocr-tags"))
    with pytest.raises(ValueError, match="cannot answer questions"):
        list(plugin.run(None, request_for(path, "what is this?"), {"mode": "describe"}, ctx))


# --------------------------------------------------------------------------------------------
# The real embedded models
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plugin() -> OcrTagsDescriber:
    return OcrTagsDescriber()


@pytest.fixture(scope="module")
def loaded(plugin):
    weights = plugin.known_model_path(read_manifest(MANIFEST).models[0], Path("/nonexistent"))
    seen = []

    def load_weights(path):
        seen.append(path)
        from studio.plugin_api.safe_loading import safe_torch_load

        return safe_torch_load(path)

    ctx = LoadContext(
        model=ResolvedModel(id=EMBEDDED_MODEL_ID, path=weights, embedded=True), threads=2
    )
    ctx.load_weights = load_weights  # type: ignore[method-assign]
    describer_ = plugin.load({}, ctx)
    assert seen == [weights]  # the state dict went through the weights-only loader
    yield describer_
    plugin.unload(describer_)


def run(plugin, loaded, path: Path, **options):
    opts = plugin.run_options.validate(options)
    ctx = RunContext(model=ResolvedModel(id=EMBEDDED_MODEL_ID), cancel=CancelToken())
    events = list(plugin.run(loaded, request_for(path), opts, ctx))
    assert isinstance(events[0], Progress)
    (result,) = [e for e in events if isinstance(e, Result)]
    (asset,) = result.assets
    assert asset.kind is AssetKind.CAPTION and asset.input_roles == ("image",)
    return asset.data.decode(), asset.details


@pytest.mark.models
def test_the_plugin_keeps_the_contract():
    from studio_caption_ocr_tags.describer import weights_file

    check_plugin(
        MANIFEST, model=ResolvedModel(id=EMBEDDED_MODEL_ID, path=weights_file(), embedded=True)
    )


@pytest.mark.models
def test_ocr_reads_a_signs_text_exactly(plugin, loaded, tmp_path):
    sign = draw_sign(tmp_path / "sign.png")
    text, details = run(plugin, loaded, sign, mode="text")
    assert text == SIGN_TEXT
    assert details["text_lines"] == [SIGN_TEXT]
    (found,) = details["ocr"]
    assert found["text"] == SIGN_TEXT and found["score"] > 0.8 and len(found["box"]) == 4
    described, _ = run(plugin, loaded, sign)
    assert described.endswith(f"Text: {SIGN_TEXT}.")
    fast, _ = run(plugin, loaded, sign, mode="text", text_detail="fast")
    assert fast == SIGN_TEXT


@pytest.mark.models
@pytest.mark.parametrize(
    ("text", "size", "at"),
    [(SIGN_TEXT, 36, (20, 50)), ("TAKE AWAY COFFEE", 28, (20, 30))],
)
def test_words_of_other_signs_keep_their_spaces(plugin, loaded, tmp_path, text, size, at):
    # Renderings where the recogniser alone read "OPEN24HOURS" or "TAKEAWAYCOFFEE".
    sign = draw_sign(tmp_path / "sign.png", text, size, at)
    read, _ = run(plugin, loaded, sign, mode="text")
    assert read == text


@pytest.mark.models
def test_tags_come_with_scores(plugin, loaded, tmp_path):
    # A generated picture: an orange disc on a blue-green ground.
    path = tmp_path / "picture.png"
    image = Image.new("RGB", (256, 256), (40, 120, 140))
    ImageDraw.Draw(image).ellipse((60, 60, 196, 196), fill=(250, 140, 20))
    image.save(path)
    text, details = run(plugin, loaded, path, mode="tags", tags=5, min_score=0.0)
    tags = details["tags"]
    assert len(tags) == 5
    scores = [tag["score"] for tag in tags]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert all(isinstance(tag["label"], str) and tag["label"] for tag in tags)
    assert text == ", ".join(tag["label"] for tag in tags)
    assert details["ocr"] == []  # tags only: the OCR did not run
    _, strict_details = run(plugin, loaded, path, mode="tags", tags=5, min_score=0.99)
    assert all(tag["score"] >= 0.99 for tag in strict_details["tags"])
    described, _ = run(plugin, loaded, path, tags=2, min_score=0.0)
    assert described.startswith("An image tagged ") and "Text:" not in described


@pytest.mark.models
def test_bad_files_get_clear_messages(plugin, loaded, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.png"
    notes.write_text("hello")
    sign = draw_sign(tmp_path / "sign.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(sign.read_bytes()[:200])
    for path, message in (
        (empty, "empty.png is empty"),
        (notes, "notes.png is not an image"),
        (cut, "cut.png is damaged or truncated"),
    ):
        with pytest.raises(ValueError, match=message):
            run(plugin, loaded, path)
