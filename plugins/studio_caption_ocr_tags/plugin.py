"""The embedded describer plugin: options, where the models are, load and run.

Both models ship in PyPI packages (see ``studio-plugin.toml``): nothing is downloaded, nothing
is picked by the user. A run reads one image (request input ``"image"``) and yields one caption
asset whose details hold the tags with their scores and the text lines with their boxes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from studio.plugin_api import (
    AssetKind,
    CaptioningPlugin,
    CaptionRequest,
    ChoiceOption,
    EngineCheck,
    EngineCheckFailed,
    Event,
    FloatOption,
    GeneratedAsset,
    InputMedia,
    InputSlot,
    IntOption,
    KnownModel,
    LoadContext,
    OptionSet,
    Progress,
    ResolvedModel,
    Result,
    RunContext,
)
from studio.plugin_api.engine_checks import CheckContext, check_picture, run_plugin
from studio.plugin_api.images import open_rgb
from studio.plugin_api.titles import input_name, join_title, quote

from .describer import Describer, compose, load_describer, row_texts, weights_file

EMBEDDED_MODEL_ID = "ocr-tags"
MODES = ("describe", "text", "tags")
CHECK_TEXT = "OPEN 24 HOURS"


class OcrTagsDescriber(CaptioningPlugin):
    """Describes an image by the text in it and its likeliest ImageNet classes."""

    inputs = (
        InputSlot(
            role="image",
            label="Image",
            kind=AssetKind.IMAGE,
            required=True,
            description="The picture to describe (PNG, JPEG, WebP, GIF, BMP or TIFF).",
        ),
    )
    run_options = OptionSet(
        ChoiceOption(
            name="mode",
            default="describe",
            choices=MODES,
            description="describe: tags and text in one sentence; text: only the text found "
            "(one line per row, OCR); tags: only the ImageNet tags.",
        ),
        IntOption(
            name="tags",
            default=3,
            minimum=1,
            maximum=10,
            label="Number of tags",
            description="How many of the likeliest ImageNet classes to name at most.",
        ),
        FloatOption(
            name="min_score",
            default=0.1,
            minimum=0.0,
            maximum=1.0,
            step=0.05,
            label="Minimum tag score",
            description="Leave out tags the classifier is less sure of than this (0 to 1).",
        ),
        ChoiceOption(
            name="text_detail",
            default="fine",
            choices=("fine", "fast"),
            label="Text search",
            description="fine: look for text in the image enlarged (finds small print; about "
            "a second per image on two cores); fast: at the image's own size, 3-5 times "
            "faster for big batches, but small text is missed.",
        ),
        FloatOption(
            name="min_text_score",
            default=0.5,
            minimum=0.0,
            maximum=1.0,
            step=0.05,
            label="Minimum text confidence",
            description="Leave out text lines the OCR is less sure of than this (0 to 1).",
            advanced=True,
        ),
    )

    engine_checks = (
        EngineCheck(id="rapidocr", label="RapidOCR (ONNX)", packages=("rapidocr-onnxruntime",)),
        EngineCheck(
            id="efficientnet",
            label="EfficientNet-Lite0 tagger (torch)",
            packages=("torch", "efficientnet-lite-pytorch"),
        ),
    )

    def check_engine(self, ctx: CheckContext) -> str:
        """RapidOCR reads rendered text back; the tagger's float32 scores match float64's."""
        model = ResolvedModel(id=EMBEDDED_MODEL_ID, path=weights_file())
        if ctx.check.id == "rapidocr":
            return self._check_ocr(model, ctx)
        return self._check_tagger(model, ctx)

    def _check_ocr(self, model: ResolvedModel, ctx: CheckContext) -> str:
        from PIL import Image, ImageDraw, ImageFont

        picture = Image.new("RGB", (420, 110), (250, 250, 245))
        font = ImageFont.load_default(size=44)
        ImageDraw.Draw(picture).text((24, 28), CHECK_TEXT, fill=(20, 20, 30), font=font)
        path = ctx.workdir / "sign.png"
        picture.save(path)
        request = CaptionRequest(
            inputs=(
                InputMedia(role="image", path=path, kind=AssetKind.IMAGE, media_type="image/png"),
            )
        )
        (asset,) = run_plugin(self, model, request, ctx, run_options={"mode": "text"})
        read = " ".join(asset.data.decode("utf-8").split())
        if read.upper() != CHECK_TEXT:
            raise EngineCheckFailed(f"read {read!r} from a picture of {CHECK_TEXT!r}")
        return f"read {read!r}"

    def _check_tagger(self, model: ResolvedModel, ctx: CheckContext) -> str:
        import torch

        from .describer import load_classifier, preprocess

        classifier = load_classifier(weights_file(), ctx.load_context(model).load_weights)
        batch = preprocess(check_picture(224))
        with torch.inference_mode():
            single = torch.softmax(classifier(batch)[0], dim=0)
            double = torch.softmax(classifier.double()(batch.double())[0], dim=0)
        gap = float((single.double() - double).abs().max())
        top_single, top_double = int(single.argmax()), int(double.argmax())
        if gap > 1e-3 or top_single != top_double:
            raise EngineCheckFailed(
                f"float32 scores differ from float64 by {gap:.2g} (classes {top_single} and "
                f"{top_double})"
            )
        return f"float32 within {gap:.1g} of float64"

    def known_model_path(self, model: KnownModel, cache_dir: Path) -> Path:
        if model.id != EMBEDDED_MODEL_ID:
            return super().known_model_path(model, cache_dir)
        return weights_file()

    def prepare(self) -> None:
        import torch  # noqa: F401 - imported ahead of the first run, in the model process

        from .describer import import_rapidocr

        import_rapidocr()

    def load(self, options: Mapping[str, Any], ctx: LoadContext) -> Describer:
        path = ctx.model.path
        weights = Path(path) if path is not None and Path(path).is_file() else None
        ctx.report_progress(None, "Loading the text reader and the tagger…")
        return load_describer(weights, threads=ctx.threads, load_weights=ctx.load_weights)

    def run(
        self,
        loaded: Describer,
        request: CaptionRequest,
        options: Mapping[str, Any],
        ctx: RunContext,
    ) -> Iterator[Event]:
        image_input = request.input("image")
        if image_input is None:
            raise ValueError("Give an image to describe.")
        question = str(getattr(request, "question", "") or "").strip()
        if question:
            raise ValueError(
                "The embedded describer cannot answer questions; it only reads text and names "
                "what it sees. Clear the question, or choose the Transformers captioner with a "
                "question-answering model folder (such as BLIP VQA)."
            )
        mode = options["mode"]
        ctx.cancel.raise_if_cancelled()
        rgb = open_rgb(image_input.path)
        ctx.cancel.raise_if_cancelled()
        tags = []
        lines = []
        if mode in ("describe", "tags"):
            yield Progress(fraction=0.3, message="Tagging…")
            tags = loaded.tags(rgb, count=options["tags"], min_score=options["min_score"])
            ctx.cancel.raise_if_cancelled()
        if mode in ("describe", "text"):
            yield Progress(fraction=0.6, message="Reading the text…")
            lines = loaded.read_text(
                rgb, min_score=options["min_text_score"], detail=options["text_detail"]
            )
            ctx.cancel.raise_if_cancelled()
        rows = row_texts(lines)
        caption = compose(tags, rows, mode)
        details = {
            "mode": mode,
            "image": image_input.path.name,
            "width": rgb.width,
            "height": rgb.height,
            "tags": [tag.to_json() for tag in tags],
            "text_lines": rows,
            "ocr": [line.to_json() for line in lines],
        }
        yield Progress(fraction=1.0, message="Described")
        yield Result(
            assets=(
                GeneratedAsset.from_text(
                    caption,
                    kind=AssetKind.CAPTION,
                    title=join_title(
                        ", ".join(tag.label for tag in tags), quote(" ".join(rows)) if rows else ""
                    )
                    or join_title(caption, input_name(image_input)),
                    details=details,
                    input_roles=("image",),
                ),
            )
        )

    def unload(self, loaded: Describer) -> None:
        loaded.release()

    def memory_bytes(self, loaded: Describer) -> int:
        return loaded.parameter_bytes()
