"""Describe: a captioning plugin with no model that states an image's size and mean colour."""

from __future__ import annotations

from studio.plugin_api import (
    AssetKind,
    CaptioningPlugin,
    GeneratedAsset,
    OptionSet,
    Progress,
    Result,
)
from studio.plugin_api.testing.common import FAIL_OPTION, fail_if_asked


class DescribeImage(CaptioningPlugin):
    run_options = OptionSet(FAIL_OPTION)

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        from PIL import Image, ImageStat  # light, but still only when a run needs it

        image_input = request.input("image")
        if image_input is None:
            raise ValueError("Give an image to describe.")
        ctx.cancel.raise_if_cancelled()
        fail_if_asked(options, 0)
        with Image.open(image_input.path) as image:
            width, height = image.size
            red, green, blue = (round(v) for v in ImageStat.Stat(image.convert("RGB")).mean)
        caption = f"A {width}×{height} image with mean colour rgb({red}, {green}, {blue})."
        if request.question:
            caption = f"I can only tell size and colour. {caption}"
        yield Progress(fraction=1.0, message="described")
        asset = GeneratedAsset.from_text(
            caption, kind=AssetKind.CAPTION, title=caption[:40], input_roles=("image",)
        )
        yield Result(assets=(asset,))
