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
    ChoiceOption,
    Event,
    FloatOption,
    GeneratedAsset,
    InputSlot,
    IntOption,
    KnownModel,
    LoadContext,
    ModelPlugin,
    OptionSet,
    Progress,
    Request,
    Result,
    RunContext,
)
from studio.plugin_api.images import open_rgb

from .describer import Describer, compose, load_describer, row_texts, weights_file

EMBEDDED_MODEL_ID = "ocr-tags"
MODES = ("describe", "text", "tags")


class OcrTagsDescriber(ModelPlugin):
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
        self, loaded: Describer, request: Request, options: Mapping[str, Any], ctx: RunContext
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
                    title=" ".join(caption.split())[:60],
                    details=details,
                    input_roles=("image",),
                ),
            )
        )

    def unload(self, loaded: Describer) -> None:
        loaded.release()

    def memory_bytes(self, loaded: Describer) -> int:
        return loaded.parameter_bytes()
