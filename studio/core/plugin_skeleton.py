"""``studio plugins new NAME --panel P``: a plugin package to start from.

It writes a project folder that installs as it is (``studio plugins install NAME``), passes
:func:`~studio.plugin_api.testing.check_plugin` as it is, and does something small but real
for its panel, so that an author changes working code instead of filling in blanks::

    NAME/
      pyproject.toml            package data carries the manifest; no entry point needed
      README.md
      PACKAGE/__init__.py
      PACKAGE/studio-plugin.toml
      PACKAGE/plugin.py         one panel base class, one method
      tests/test_PACKAGE.py     check_plugin on the manifest
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import UserError
from studio.plugin_api import API_VERSION, Panel

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,60}[a-z0-9]$")

_PLUGINS: dict[Panel, tuple[str, str, str]] = {
    # panel: (class name, what it does, the plugin module's body after the imports)
    Panel.WRITING: (
        "Writer",
        "Writes the prompt back in capitals, word by word.",
        '''from studio.plugin_api import BoolOption, OptionSet, WritingPlugin


class Writer(WritingPlugin):
    run_options = OptionSet(
        BoolOption(name="shout", default=True, description="Write the words in capitals."),
    )

    def write(self, loaded, request, options, ctx):
        """Yield the text piece by piece: the panel shows each piece as it comes."""
        words = (request.prompt or request.instruction).split()
        for index, word in enumerate(words):
            space = " " if index < len(words) - 1 else ""
            yield (word.upper() if options["shout"] else word) + space
''',
    ),
    Panel.IMAGE: (
        "Painter",
        "Paints a gradient in a colour picked by the seed.",
        '''import random

from studio.plugin_api import ImagePlugin, IntOption, OptionSet, SeedOption


class Painter(ImagePlugin):
    run_options = OptionSet(
        IntOption(
            name="width", default=256, minimum=16, maximum=2048, description="Width in pixels."
        ),
        IntOption(
            name="height", default=256, minimum=16, maximum=2048, description="Height in pixels."
        ),
        SeedOption(),
    )

    def draw(self, loaded, request, options, ctx):
        """Return a PIL image (or PNG bytes). Studio has chosen the seed already."""
        from PIL import Image  # import heavy libraries where they are used, never at the top

        red, green, blue = random.Random(options["seed"]).choices(range(256), k=3)
        width, height = options["width"], options["height"]
        picture = Image.new("RGB", (width, height))
        picture.putdata(
            [
                (red * x // width, green * y // height, blue)
                for y in range(height)
                for x in range(width)
            ]
        )
        return picture
''',
    ),
    Panel.VOICE: (
        "Voice",
        "Says each sentence as a tone, one short beep a word.",
        '''import math

from studio.plugin_api import IntOption, OptionSet, VoicePlugin


class Voice(VoicePlugin):
    sample_rate = 16_000  # speak() returns float samples at this rate (or return WAV bytes)
    run_options = OptionSet(
        IntOption(
            name="pitch", default=440, minimum=50, maximum=2000, description="The tone in Hz."
        ),
    )

    def speak(self, loaded, sentence, options, ctx):
        """One sentence's audio; Studio splits the text, shows progress and joins the takes."""
        step = 2 * math.pi * options["pitch"] / self.sample_rate
        beep = [0.3 * math.sin(step * i) for i in range(self.sample_rate // 8)]
        gap = [0.0] * (self.sample_rate // 16)
        return (beep + gap) * len(sentence.split())
''',
    ),
    Panel.CAPTIONING: (
        "Describer",
        "Describes an image by its size and shape.",
        '''from studio.plugin_api import BoolOption, CaptioningPlugin, OptionSet
from studio.plugin_api.images import open_image


class Describer(CaptioningPlugin):
    run_options = OptionSet(
        BoolOption(name="exact", default=False, description="Give the size in pixels."),
    )

    def describe(self, loaded, image, request, options, ctx):
        """The caption of the image file ``image`` (upright, any format Studio opens)."""
        width, height = open_image(image).size
        shape = "wide" if width > height else "tall" if height > width else "square"
        return f"A {shape} picture" + (f" of {width}×{height} pixels." if options["exact"] else ".")
''',
    ),
}


@dataclass(frozen=True)
class Skeleton:
    """What :func:`write_skeleton` made."""

    folder: Path
    package: str
    plugin_id: str
    files: tuple[Path, ...]


def check_name(name: str) -> str:
    """``name`` if it can name a plugin project (``acme-voice``); a UserError otherwise."""
    if not _NAME.match(name):
        raise UserError(
            f"'{name}' cannot name a plugin: use 2 to 62 lowercase letters, digits and dashes, "
            "starting with a letter (such as acme-voice)."
        )
    return name


def skeleton_files(name: str, panel: Panel) -> dict[str, str]:
    """The files of a new plugin project, by path inside its folder."""
    package = check_name(name).replace("-", "_")
    class_name, does, body = _PLUGINS[panel]
    title = name.replace("-", " ").capitalize()
    manifest = f'''id = "{name}"
name = "{title}"
version = "0.1.0"
api_version = {API_VERSION}
panels = ["{panel.value}"]
licence = "MIT"
entry = "{package}.plugin:{class_name}"
description = "{does}"
requires = []

[needs]
network = false
'''
    pyproject = f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.1.0"
description = "{does}"
license = {{ text = "MIT" }}
requires-python = ">=3.11"
dependencies = []

# Studio installs this as a plugin folder of its own ('studio plugins install'), so it needs
# no entry point; the manifest travels as package data.
[tool.setuptools]
packages = ["{package}"]

[tool.setuptools.package-data]
{package} = ["studio-plugin.toml"]
'''
    test = f'''"""The plugin contract: run with `pytest` in Studio's environment."""

from pathlib import Path

from studio.plugin_api.testing import check_plugin

MANIFEST = Path(__file__).parents[1] / "{package}" / "studio-plugin.toml"


def test_the_plugin_keeps_the_contract():
    check_plugin(MANIFEST)
'''
    readme = f"""# {title}

A Studio plugin for the {panel.value.capitalize()} panel. {does}

- Edit `{package}/plugin.py` (the plugin) and `{package}/studio-plugin.toml` (its manifest).
- Test: `pytest tests` with Studio's Python.
- Install into Studio: `studio plugins install .` (or build a wheel: `pip wheel --no-deps .`).

The guide is docs/plugins.md in Studio's repository.
"""
    return {
        "pyproject.toml": pyproject,
        "README.md": readme,
        f"{package}/__init__.py": f'"""{title}: a Studio plugin."""\n',
        f"{package}/studio-plugin.toml": manifest,
        f"{package}/plugin.py": f'"""{title}: {does[0].lower()}{does[1:]}"""\n\n{body}',
        f"tests/test_{package}.py": test,
    }


def write_skeleton(parent: Path, name: str, panel: Panel) -> Skeleton:
    """Write the project ``parent / name``; a UserError (nothing written) if the name is not
    usable or the folder exists."""
    files = skeleton_files(name, panel)
    folder = Path(parent) / name
    if folder.exists() or folder.is_symlink():
        raise UserError(f"{folder} exists already: pick another name or folder.")
    if not Path(parent).is_dir():
        raise UserError(f"{parent} is not a folder.")
    written = []
    folder.mkdir()
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return Skeleton(
        folder=folder, package=name.replace("-", "_"), plugin_id=name, files=tuple(written)
    )
