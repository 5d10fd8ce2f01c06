"""Echo: a writing plugin with no model that streams the prompt back, word by word."""

from __future__ import annotations

from studio.plugin_api import (
    BoolOption,
    Cancelled,
    GeneratedAsset,
    IntOption,
    OptionSet,
    Partial,
    Progress,
    Result,
    WritingPlugin,
)
from studio.plugin_api.testing.common import DELAY_OPTION, FAIL_OPTION, fail_if_asked


class EchoWriter(WritingPlugin):
    run_options = OptionSet(
        IntOption(name="repeat", default=1, minimum=1, maximum=100, description="Say it N times."),
        BoolOption(name="uppercase", default=False, description="Shout the words."),
        DELAY_OPTION,
        FAIL_OPTION,
    )

    def load(self, options, ctx):
        return {"ready": True}

    def run(self, loaded, request, options, ctx):
        words = request.prompt.split() * options["repeat"]
        if not words:
            raise ValueError("Type a prompt first: Echo repeats its words.")
        pieces = []
        for index, word in enumerate(words):
            ctx.cancel.raise_if_cancelled()
            fail_if_asked(options, index)
            piece = (word.upper() if options["uppercase"] else word) + (
                " " if index < len(words) - 1 else ""
            )
            pieces.append(piece)
            yield Partial(text=piece)
            yield Progress(
                fraction=(index + 1) / len(words), message=f"word {index + 1} of {len(words)}"
            )
            if options["delay_ms"] and ctx.cancel.wait(options["delay_ms"] / 1000):
                raise Cancelled()
        text = "".join(pieces)
        yield Result(assets=(GeneratedAsset.from_text(text, title=text[:40]),))
