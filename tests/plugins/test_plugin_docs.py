"""docs/plugins.md works as written: every example on the page runs here.

- A code block after ``<!-- file: PATH -->`` is a file of a tutorial, written to PATH.
- ``sh`` blocks run with bash, in order, in the folder the files were written to, with
  Studio's own ``python`` and ``studio`` first on PATH and a data folder of their own: they
  run the tutorials' tests, install the plugins and make a take.
- ``python`` blocks without a file run as they are (their ``assert`` lines check them).
- ``toml`` blocks without a file parse.
- ``text`` blocks are command synopses, not examples.

The reference section names every public name of the plugin API.
"""

from __future__ import annotations

import importlib
import inspect
import io
import os
import re
import shutil
import subprocess
import sys
import tomllib
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import studio.plugin_api as api
from studio.core.project.store import ProjectStore
from studio.plugin_api.speech import SENTENCE_PAUSE_S

DOC = Path(__file__).parents[2] / "docs" / "plugins.md"
_FILE = re.compile(r"^<!-- file: (?P<path>[\w./-]+) -->$")
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\w*)$")


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int
    file: str | None = None


def blocks(markdown: str) -> list[Block]:
    found: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        marker = _FILE.match(lines[index - 1]) if index else None
        indent = len(fence["indent"])
        start = index + 1
        index = start
        while not lines[index].strip().startswith("```"):
            index += 1
        text = "\n".join(line[indent:] for line in lines[start:index]) + "\n"
        found.append(Block(fence["lang"], text, start, marker["path"] if marker else None))
        index += 1
    return found


DOC_BLOCKS = blocks(DOC.read_text(encoding="utf-8"))


def test_every_block_is_a_file_a_command_or_code_that_runs():
    kinds = {(block.lang, block.file is not None) for block in DOC_BLOCKS}
    assert kinds <= {
        ("toml", True),
        ("python", True),
        ("toml", False),
        ("python", False),
        ("sh", False),
        ("text", False),
    }, kinds
    synopses = [block for block in DOC_BLOCKS if block.lang == "text"]
    assert all(line.startswith("studio ") for b in synopses for line in b.text.splitlines())
    assert sum(block.file is not None for block in DOC_BLOCKS) == 6  # two plugins, 3 files each


@pytest.mark.parametrize(
    "block",
    [b for b in DOC_BLOCKS if b.lang == "python" and b.file is None],
    ids=lambda b: f"line{b.line}",
)
def test_a_python_example_runs(block):
    exec(compile(block.text, f"{DOC.name}:{block.line}", "exec"), {"__name__": "doc_example"})


@pytest.mark.parametrize(
    "block",
    [b for b in DOC_BLOCKS if b.lang == "toml" and b.file is None],
    ids=lambda b: f"line{b.line}",
)
def test_a_toml_example_parses(block):
    assert tomllib.loads(block.text)


def espeak_samples(text: str, voice: str) -> tuple[np.ndarray, int]:
    """What espeak-ng says for ``text`` with the tutorial's default speed and pitch."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-s", "175", "-p", "50"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as clip:
        rate = clip.getframerate()
        return np.frombuffer(clip.readframes(clip.getnframes()), "<i2"), rate


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt)")
def test_the_tutorials_work_as_written(tmp_path):
    for block in DOC_BLOCKS:
        if block.file:
            path = tmp_path / block.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, encoding="utf-8")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "STUDIO_DATA_DIR": str(tmp_path / "data"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("STUDIO_PLUGIN_PATH", None)
    for block in (b for b in DOC_BLOCKS if b.lang == "sh"):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.text],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"line {block.line}:\n{done.stdout}\n{done.stderr}"

    # The take is espeak-ng's own audio for each sentence, joined by Studio's pause: the
    # plugin, its install and the job pipeline between them changed nothing.
    store = ProjectStore.open(tmp_path / "demo.studio", read_only=True)
    try:
        (take,) = store.list_assets()
        data = store.read_blob(take.id)
    finally:
        store.close()
    with wave.open(io.BytesIO(data)) as clip:
        samples = np.frombuffer(clip.readframes(clip.getnframes()), "<i2")
        rate = clip.getframerate()
    first, espeak_rate = espeak_samples("Hello there.", "en-gb")
    second, _ = espeak_samples("This voice comes from a program.", "en-gb")
    pause = np.zeros(round(SENTENCE_PAUSE_S * espeak_rate), np.int16)
    assert rate == espeak_rate
    assert np.array_equal(samples, np.concatenate([first, pause, second]))
    assert np.sqrt(np.mean((samples / 32768.0) ** 2)) > 0.02  # speech, not silence

    skeleton = tmp_path / "acme-voice"
    assert (skeleton / "acme_voice" / "plugin.py").is_file()
    assert (tmp_path / "data" / "plugins" / "acme-voice" / "studio-plugin.toml").is_file()


REFERENCED_MODULES = (
    "studio.plugin_api.panel_plugins",
    "studio.plugin_api.engine_checks",
    "studio.plugin_api.safe_loading",
    "studio.plugin_api.images",
    "studio.plugin_api.speech",
    "studio.plugin_api.titles",
    "studio.plugin_api.sample_media",
    "studio.plugin_api.testing",
)


def public_names() -> set[str]:
    names = set(api.__all__)
    for module_name in REFERENCED_MODULES:
        module = importlib.import_module(module_name)
        names |= {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module_name
        }
    return names


def test_the_reference_names_every_public_name():
    reference = DOC.read_text(encoding="utf-8").split("\n## Reference\n", 1)[1]
    mentioned = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)[`(.]", reference))
    assert public_names() - mentioned == set()
