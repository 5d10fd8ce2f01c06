"""One caption or answer from a loaded model: prompts per family, generation options, cancel.

- **Caption mode** (empty question): BLIP and BLIP-2 caption the image, continuing the
  ``prefix`` when one is given ("a photograph of"); ViT-GPT2 style encoder-decoders caption it
  (a prefix is fed to the decoder); chat models are asked "Describe this image." (or the prefix as
  the instruction).
- **Question mode**: BLIP VQA models take the question; BLIP-2 gets "Question: … Answer:"; chat
  models get the question next to the image. A captioning-only model refuses with a clear
  message instead of pretending to answer.

Generation: ``max_new_tokens``, ``num_beams``, sampling with ``temperature`` and ``seed``, and
``avoid_words`` as ``bad_words_ids``. Cancel stops at the next token (a ``StoppingCriteria``)
and raises :class:`Cancelled`, so nothing half-made is kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from studio.plugin_api import (
    AssetKind,
    Cancelled,
    CancelToken,
    Event,
    GeneratedAsset,
    Progress,
    Request,
    Result,
    RunContext,
)
from studio.plugin_api.images import open_rgb
from studio.plugin_api.titles import input_name, join_title, quote

from .loading import Family, LoadedCaptioner

DEFAULT_INSTRUCTION = "Describe this image."


def parse_avoid_words(text: str) -> list[str]:
    """Words or phrases to avoid: separated by commas or new lines, blanks dropped."""
    return [
        word.strip() for chunk in text.splitlines() for word in chunk.split(",") if word.strip()
    ]


def bad_words_ids(tokenizer: Any, words: list[str]) -> list[list[int]] | None:
    """Token id sequences for ``bad_words_ids``: each word as written and after a space (BPE
    tokenizers spell a word differently at the start of a text and after a space)."""
    if not words or tokenizer is None:
        return None
    sequences: list[list[int]] = []
    for word in words:
        for variant in (word, f" {word}", word.lower(), f" {word.lower()}"):
            ids = tokenizer(variant, add_special_tokens=False).input_ids
            if ids and ids not in sequences:
                sequences.append(list(ids))
    return sequences or None


def _stopper(cancel: CancelToken) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _CancelCriteria(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            stop = cancel.cancelled
            return torch.full(
                (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
            )

    return StoppingCriteriaList([_CancelCriteria()])


def build_inputs(loaded: LoadedCaptioner, image: Any, question: str, prefix: str) -> Any:
    """The processor's tensors for this family, image and question (or prefix)."""
    processor = loaded.processor
    family = loaded.family
    if question and not loaded.answers_questions:
        raise ValueError(
            f"This model ({loaded.architecture}) writes captions and cannot answer questions: "
            "clear the question, or choose a question-answering model folder (such as BLIP "
            "VQA, BLIP-2 or an image-text-to-text chat model)."
        )
    if family == Family.BLIP_VQA:
        if not question:
            raise ValueError(
                "This model (BlipForQuestionAnswering) answers questions about an image: type "
                "a question, or choose a captioning model folder."
            )
        return processor(images=image, text=question, return_tensors="pt")
    if family == Family.BLIP:
        return processor(images=image, text=prefix or None, return_tensors="pt")
    if family == Family.BLIP2:
        text = f"Question: {question} Answer:" if question else (prefix or None)
        return processor(images=image, text=text, return_tensors="pt")
    if family == Family.ENCODER_DECODER:
        data = dict(processor(images=image, return_tensors="pt"))
        if prefix and loaded.tokenizer is not None:
            import torch

            ids = loaded.tokenizer(prefix, add_special_tokens=False, return_tensors="pt").input_ids
            start = loaded.model.config.decoder_start_token_id
            if start is None:
                start = loaded.model.config.decoder.bos_token_id
            if start is not None:
                ids = torch.cat([torch.tensor([[start]]), ids], dim=1)
            data["decoder_input_ids"] = ids
        return data
    # A generic image-text-to-text model: a chat message when the processor has a template.
    instruction = question or prefix or DEFAULT_INSTRUCTION
    if getattr(processor, "chat_template", None):
        messages = [
            {
                "role": "user",
                "content": [{"type": "image"}, {"type": "text", "text": instruction}],
            }
        ]
        text = processor.apply_chat_template(messages, add_generation_prompt=True)
        return processor(images=[image], text=text, return_tensors="pt")
    return processor(images=image, text=instruction, return_tensors="pt")


def _decode(loaded: LoadedCaptioner, output: Any, inputs: Mapping[str, Any], question: str) -> str:
    ids = output[0]
    # Models with a decoder-only language model (BLIP-2, chat models) return the prompt before
    # what they wrote. A question or a chat prompt is cut off; a caption prefix stays, since
    # the caption continues it.
    strip = loaded.family == Family.CHAT or (loaded.family == Family.BLIP2 and bool(question))
    prompt = inputs.get("input_ids")
    if strip and prompt is not None:
        length = prompt.shape[1]
        if ids.shape[0] >= length and bool((ids[:length] == prompt[0].to(ids.device)).all()):
            ids = ids[length:]
    decode = getattr(loaded.processor, "decode", None) or loaded.tokenizer.decode
    return " ".join(decode(ids, skip_special_tokens=True).split())


def caption_image(
    loaded: LoadedCaptioner,
    image: Any,
    options: Mapping[str, Any],
    *,
    question: str = "",
    cancel: CancelToken | None = None,
) -> str:
    """Caption ``image`` (an RGB ``PIL.Image``), or answer ``question`` about it."""
    import torch

    cancel = cancel or CancelToken()
    prefix = str(options.get("prefix", "") or "").strip()
    inputs = build_inputs(loaded, image, question.strip(), prefix)
    inputs = {
        key: value.to(loaded.device) if hasattr(value, "to") else value
        for key, value in dict(inputs).items()
    }
    if "pixel_values" in inputs and loaded.model.dtype != inputs["pixel_values"].dtype:
        inputs["pixel_values"] = inputs["pixel_values"].to(loaded.model.dtype)
    sampling = bool(options.get("sampling", False))
    kwargs: dict[str, Any] = {
        "max_new_tokens": int(options.get("max_new_tokens", 40)),
        "num_beams": 1 if sampling else int(options.get("num_beams", 1)),
        "do_sample": sampling,
        "stopping_criteria": _stopper(cancel),
    }
    if sampling:
        kwargs["temperature"] = float(options.get("temperature", 1.0))
        kwargs["top_p"] = 0.9
        torch.manual_seed(options["seed"])
    bad = bad_words_ids(loaded.tokenizer, parse_avoid_words(str(options.get("avoid_words", ""))))
    if bad:
        kwargs["bad_words_ids"] = bad
    with torch.inference_mode():
        output = loaded.model.generate(**inputs, **kwargs)
    if cancel.cancelled:
        raise Cancelled()
    return _decode(loaded, output, inputs, question.strip())


def run_request(
    loaded: LoadedCaptioner, request: Request, options: Mapping[str, Any], ctx: RunContext
) -> Iterator[Event]:
    """The plugin's run: one image in, one caption asset out."""
    image_input = request.input("image")
    if image_input is None:
        raise ValueError("Give an image to caption.")
    question = str(getattr(request, "question", "") or "").strip()
    ctx.cancel.raise_if_cancelled()
    image = open_rgb(image_input.path)
    ctx.cancel.raise_if_cancelled()
    yield Progress(fraction=None, message="Answering…" if question else "Captioning…")
    text = caption_image(loaded, image, options, question=question, cancel=ctx.cancel)
    ctx.cancel.raise_if_cancelled()
    details = {
        "mode": "question" if question else "caption",
        "image": image_input.path.name,
        "width": image.width,
        "height": image.height,
        "architecture": loaded.architecture,
    }
    yield Progress(fraction=1.0, message="Done")
    yield Result(
        assets=(
            GeneratedAsset.from_text(
                text,
                kind=AssetKind.CAPTION,
                title=join_title(text, quote(question) if question else "")
                or join_title("Empty caption", input_name(image_input)),
                seed=options.get("seed") if options.get("sampling") else None,
                details=details,
                input_roles=("image",),
            ),
        )
    )
