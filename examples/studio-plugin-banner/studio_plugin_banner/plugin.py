"""The banner writer. Its requirement (``banner_font``) is imported in ``load()``, never at
module level: Studio reads the plugin's options without it."""

from __future__ import annotations

from studio.plugin_api import ChoiceOption, GeneratedAsset, ModelPlugin, OptionSet, Progress, Result


class BannerWriter(ModelPlugin):
    run_options = OptionSet(
        ChoiceOption(
            name="ink",
            default="#",
            choices=("#", "*", "@", "█"),
            description="The character the letters are drawn with.",
        ),
    )

    def load(self, options, ctx):
        import banner_font

        return banner_font

    def run(self, loaded, request, options, ctx):
        text = request.prompt.strip()
        if not text:
            raise ValueError("Type a prompt first: Banner draws its words.")
        ctx.cancel.raise_if_cancelled()
        yield Progress(fraction=0.5, message="drawing")
        banner = loaded.render(text, ink=options["ink"])
        yield Result(assets=(GeneratedAsset.from_text(banner, title=f"Banner: {text[:32]}"),))
