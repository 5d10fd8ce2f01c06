"""``studio generate`` runs its job in a model process, as the window does: a native crash is
one sentence and exit code 1 (and a first job that failed leaves no project); the user's own
mistakes are exit code 2 with one sentence, whatever plugin meets them."""

from __future__ import annotations

import pytest

from studio.cli.main import main
from studio.plugin_api.sample_media import write_sample_png
from tests.fixtures.tiny_models import build_tiny_causal_lm
from tests.plugins.plugin_factory import write_folder_plugin

ABORTS = """
import os
from studio.plugin_api import *

class Plugin(ModelPlugin):
    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        yield Progress(fraction=0.1, message="about to crash")
        os.abort()  # what a fault in native code looks like from Python
"""


def generate(capsys, *args: str) -> tuple[int, str]:
    code = main(["generate", *args])
    return code, capsys.readouterr().err


def test_a_native_crash_is_one_sentence_exit_1_and_leaves_no_project(tmp_path, monkeypatch, capsys):
    write_folder_plugin(tmp_path / "plugins", "crashes_natively", code=ABORTS)
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    project = tmp_path / "new.studio"
    code, err = generate(capsys, "text", "--project", str(project), "--plugin", "crashes-natively")
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "studio: crashes-natively failed: The model process stopped unexpectedly"
    )
    assert "SIGABRT, a crash in native code" in last
    assert "Traceback" not in err
    assert list(tmp_path.glob("new.studio*")) == []


def test_a_crash_in_an_existing_project_keeps_the_project(tmp_path, monkeypatch, capsys):
    write_folder_plugin(tmp_path / "plugins", "crashes_natively", code=ABORTS)
    monkeypatch.setenv("STUDIO_PLUGIN_PATH", str(tmp_path / "plugins"))
    project = tmp_path / "kept.studio"
    image = write_sample_png(tmp_path / "a.png")
    assert main(["project", "import", str(project), str(image)]) == 0
    code, _ = generate(capsys, "text", "--project", str(project), "--plugin", "crashes-natively")
    assert code == 1 and project.is_file()


def test_a_folder_given_to_the_llama_cpp_writer_is_exit_2(tmp_path, capsys):
    folder = tmp_path / "some-model"
    folder.mkdir()
    args = ("--plugin", "studio.writer-llamacpp", "--set", f"model={folder}")
    code, err = generate(capsys, "text", "--project", str(tmp_path / "p.studio"), *args)
    assert code == 2, err
    assert "some-model is a folder; the llama.cpp writer reads single .gguf files" in err
    assert not (tmp_path / "p.studio").exists()


def test_a_model_folder_without_a_tokenizer_is_exit_2(tmp_path, capsys):
    folder = build_tiny_causal_lm(tmp_path / "lm")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"):
        (folder / name).unlink(missing_ok=True)
    args = ("--plugin", "studio.writer-transformers", "--set", f"model={folder}")
    code, err = generate(capsys, "text", "--project", str(tmp_path / "p.studio"), *args)
    assert code == 2, err
    assert "has no tokenizer" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "scale=3"), "scale"),  # an option value the plugin does not have
        (("--input", "init=SOUND"), "is audio, but the 'init' input of Upscaler takes an image"),
    ],
)
def test_user_mistakes_with_the_upscaler_are_exit_2(tmp_path, capsys, args, message):
    from studio.plugin_api.speech import encode_wav

    sound = tmp_path / "tone.wav"
    sound.write_bytes(encode_wav([0.0, 0.1, -0.1] * 800, 8000))
    picture = write_sample_png(tmp_path / "a.png", 48, 40)
    args = tuple(a.replace("SOUND", str(sound)) for a in args)
    if "--input" not in args:
        args += ("--input", f"init={picture}")
    project = tmp_path / "p.studio"
    code, err = generate(
        capsys, "image", "--project", str(project), "--plugin", "studio.image-upscale", *args
    )
    assert code == 2, err
    last = err.strip().splitlines()[-1]  # progress lines come before it
    assert last.startswith("studio: ") and message in last
    assert "Traceback" not in err
    assert not project.exists()
