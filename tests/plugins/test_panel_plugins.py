"""The author's side of the plugin API: one class per panel with one method, the seed chosen
before every run, ``CancelToken.on_cancel``, choices listed at run time, WAV bytes from
``speak``."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from studio.plugin_api import (
    AssetKind,
    Cancelled,
    CancelToken,
    CaptioningPlugin,
    CaptionRequest,
    ChoiceOption,
    ImagePlugin,
    ImageRequest,
    InputMedia,
    ModelPlugin,
    OptionError,
    OptionSet,
    Partial,
    Result,
    RunContext,
    SeedOption,
    SpeechRequest,
    TextRequest,
    VoicePlugin,
    WritingPlugin,
)
from studio.plugin_api.entry import EntryError, import_entry
from studio.plugin_api.manifest import read_manifest
from studio.plugin_api.options import choose_seed
from studio.plugin_api.sample_media import write_sample_png
from studio.plugin_api.speech import SENTENCE_PAUSE_S, encode_wav, read_wav
from studio.plugin_api.testing import ContractViolation, check_plugin
from tests.plugins.plugin_factory import write_folder_plugin

REPO = Path(__file__).parents[2]


def events_of(plugin, request, options=None, cancel=None):
    ctx = RunContext(model=None, cancel=cancel or CancelToken())
    return list(plugin.run(plugin.load({}, ctx), request, options or {}, ctx))


def wav_of(samples, rate: int, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(samples)
    return buffer.getvalue()


# --- one class per panel -----------------------------------------------------------------


class Words(WritingPlugin):
    def write(self, loaded, request, options, ctx):
        yield from (word + " " for word in request.prompt.split())


class Whole(WritingPlugin):
    def write(self, loaded, request, options, ctx):
        return request.prompt.upper()


def test_a_writing_plugin_streams_what_write_yields_and_keeps_the_whole_text():
    events = events_of(Words(), TextRequest(prompt="one two three"))
    assert [e.text for e in events if isinstance(e, Partial)] == ["one ", "two ", "three "]
    (asset,) = events[-1].assets
    assert asset.kind is AssetKind.TEXT and asset.data == b"one two three "
    (asset,) = events_of(Whole(), TextRequest(prompt="shout"))[-1].assets
    assert asset.data == b"SHOUT"


def test_a_writing_plugin_that_writes_nothing_says_so():
    with pytest.raises(ValueError, match="wrote nothing"):
        events_of(Whole(), TextRequest(prompt="  "))


class Square(ImagePlugin):
    run_options = OptionSet(SeedOption())

    def draw(self, loaded, request, options, ctx):
        from PIL import Image

        return Image.new("RGB", (8, 8), (options["seed"] % 256, 0, 0))


def test_an_image_plugin_returns_a_picture_and_the_asset_carries_png_and_seed():
    (asset,) = events_of(Square(), ImageRequest(prompt="red"), {"seed": 200})[-1].assets
    assert asset.media_type == "image/png" and asset.data.startswith(b"\x89PNG")
    assert asset.seed == 200 and "seed 200" in asset.title
    from PIL import Image

    assert Image.open(io.BytesIO(asset.data)).getpixel((3, 3)) == (200, 0, 0)


class Sizer(CaptioningPlugin):
    def describe(self, loaded, image, request, options, ctx):
        from PIL import Image

        with Image.open(image) as picture:
            return f"{picture.width} wide"


def test_a_captioning_plugin_gets_the_image_file_and_declares_it(tmp_path):
    image = write_sample_png(tmp_path / "a.png", width=20, height=10)
    request = CaptionRequest(inputs=(InputMedia(role="image", path=image, kind=AssetKind.IMAGE),))
    (asset,) = events_of(Sizer(), request)[-1].assets
    assert asset.kind is AssetKind.CAPTION and asset.data == b"20 wide"
    assert asset.input_roles == ("image",)
    assert [slot.role for slot in Sizer.inputs] == ["image"] and Sizer.inputs[0].required


class Program(VoicePlugin):
    """Speaks each sentence as a WAV made from its words (a stand-in for a program)."""

    def speak(self, loaded, sentence, options, ctx):
        return wav_of(np.full(100 * len(sentence.split()), 1000, "<i2").tobytes(), 8000)


def test_a_voice_plugin_joins_the_wav_files_speak_returns_exactly():
    events = events_of(Program(), SpeechRequest(text="One two. Three four five."))
    (asset,) = events[-1].assets
    samples, rate = read_wav(asset.data)
    pause = round(SENTENCE_PAUSE_S * 8000)
    assert rate == 8000 and len(samples) == 200 + pause + 300
    int16 = np.frombuffer(asset.data[44:], "<i2")
    assert set(int16[:200]) == {1000} and set(int16[200 : 200 + pause]) == {0}
    assert asset.title.startswith("“One two.") and asset.details["sentences"] == 2


class Drifting(VoicePlugin):
    def speak(self, loaded, sentence, options, ctx):
        rate = 8000 if sentence.startswith("One") else 16000
        return wav_of(np.ones(50, "<i2").tobytes(), rate)


def test_a_voice_whose_sentences_change_rate_is_stopped_with_the_reason():
    with pytest.raises(ValueError, match="16000 Hz after 8000 Hz"):
        events_of(Drifting(), SpeechRequest(text="One. Two."))


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_read_wav_takes_every_pcm_width_and_mixes_channels(width):
    levels = {1: b"\xc0", 2: (16384).to_bytes(2, "little"), 3: (1 << 22).to_bytes(3, "little")}
    one = levels.get(width, (1 << 30).to_bytes(4, "little"))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(width)
        out.setframerate(11025)
        silent = b"\x80" if width == 1 else bytes(width)  # 8-bit WAV is unsigned
        out.writeframes((one + silent) * 10)  # left at half level, right silent
    samples, rate = read_wav(buffer.getvalue())
    assert rate == 11025 and len(samples) == 10
    assert np.allclose(samples, 0.25, atol=0.01)


def test_read_wav_refuses_what_is_not_a_wav():
    with pytest.raises(ValueError, match="not a PCM WAV"):
        read_wav(b"RIFF....not a wave at all")


def test_a_piped_wav_header_with_an_unknown_length_is_read():
    wav = bytearray(encode_wav(np.linspace(-0.5, 0.5, 400), 22050))
    wav[4:8] = wav[40:44] = (0x7FFFF000).to_bytes(4, "little")  # as espeak-ng --stdout writes
    samples, rate = read_wav(bytes(wav))
    assert rate == 22050 and len(samples) == 400


def test_a_panel_class_needs_its_method_or_run(tmp_path):
    folder = write_folder_plugin(
        tmp_path,
        "panel_nothing",
        panels=["voice"],
        code="from studio.plugin_api import VoicePlugin\n\nclass Plugin(VoicePlugin):\n    pass\n",
    )
    with pytest.raises(EntryError, match=r"must define speak\(\) \(or run\(\)\)"):
        import_entry(read_manifest(folder / "studio-plugin.toml"), folder)


def test_a_panel_class_must_serve_its_manifests_panel(tmp_path):
    folder = write_folder_plugin(
        tmp_path,
        "panel_wrong",
        panels=["writing"],
        code="from studio.plugin_api import VoicePlugin\n\nclass Plugin(VoicePlugin):\n"
        "    def speak(self, loaded, sentence, options, ctx):\n        return b''\n",
    )
    with pytest.raises(EntryError, match="plugin for the voice panel, but the manifest's panels"):
        import_entry(read_manifest(folder / "studio-plugin.toml"), folder)


# --- the seed ------------------------------------------------------------------------------


def test_choose_seed_replaces_only_minus_one():
    assert choose_seed({"seed": 7, "x": 1}) == {"seed": 7, "x": 1}
    assert choose_seed({"x": 1}) == {"x": 1}
    seeds = {choose_seed({"seed": -1})["seed"] for _ in range(20)}
    assert len(seeds) > 1 and all(0 <= seed < 2**32 for seed in seeds)


SEES_MINUS_ONE = """
from studio.plugin_api import OptionSet, SeedOption, WritingPlugin

class Plugin(WritingPlugin):
    run_options = OptionSet(SeedOption())

    def write(self, loaded, request, options, ctx):
        if options["seed"] == -1:
            raise AssertionError("the plugin was handed seed -1")
        return f"seed {options['seed']}"
"""


def test_check_plugin_hands_a_concrete_seed_as_studio_does(tmp_path):
    folder = write_folder_plugin(tmp_path, "panel_seeded", panels=["writing"], code=SEES_MINUS_ONE)
    check_plugin(folder / "studio-plugin.toml", check_light_import=False)


def test_check_plugin_refuses_an_asset_that_records_seed_minus_one(tmp_path):
    code = SEES_MINUS_ONE + (
        "\n    def run(self, loaded, request, options, ctx):\n"
        "        from studio.plugin_api import GeneratedAsset, Result\n"
        "        yield Result(assets=(GeneratedAsset.from_text('x', seed=-1),))\n"
    )
    folder = write_folder_plugin(tmp_path, "panel_minus_one", panels=["writing"], code=code)
    with pytest.raises(ContractViolation, match="an asset's seed is -1"):
        check_plugin(folder / "studio-plugin.toml", check_light_import=False)


def test_no_built_in_plugin_picks_its_own_seed_or_checks_its_request_type():
    sources = [*REPO.glob("plugins/*/*.py"), *REPO.glob("studio/builtin_support/*.py")]
    assert len(sources) > 20
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert "randrange" not in text, path
        assert "isinstance(request" not in text, path


# --- CancelToken.on_cancel -----------------------------------------------------------------


def test_on_cancel_stops_a_program_at_once_and_raises_cancelled():
    token = CancelToken()
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled), token.on_cancel(process.kill):
        process.wait(timeout=30)
    assert time.monotonic() - started < 5
    assert process.returncode is not None and process.returncode < 0


def test_on_cancel_calls_nothing_when_the_work_finishes():
    calls = []
    token = CancelToken()
    with token.on_cancel(lambda: calls.append("called")):
        time.sleep(0.12)
    token.cancel()
    time.sleep(0.12)
    assert calls == []


def test_on_cancel_of_a_job_cancelled_already_calls_at_once():
    calls = []
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled), token.on_cancel(lambda: calls.append("called")):
        assert calls == ["called"]


def test_on_cancel_turns_the_error_of_the_stopped_work_into_cancelled():
    token = CancelToken()
    with pytest.raises(Cancelled), token.on_cancel(lambda: None):
        token.cancel()
        raise BrokenPipeError("the program was killed")


# --- choices at run time -------------------------------------------------------------------


def test_choices_from_is_asked_once_when_needed_never_at_definition():
    asked = []

    def voices():
        asked.append(1)
        return ["de", "fr", "en-us"]

    option = ChoiceOption(name="voice", default="en-us", choices_from=voices, description="v")
    options = OptionSet(option)
    assert asked == []
    assert options.validate({}) == {"voice": "en-us"} and asked == []  # the default is valid
    assert options.validate({"voice": "fr"}) == {"voice": "fr"}
    assert option.current_choices() == ("en-us", "de", "fr")
    assert option.schema()["choices"] == ["en-us", "de", "fr"]
    with pytest.raises(OptionError, match="'xx' is not one of en-us, de, fr"):
        options.parse("voice", "xx")
    assert asked == [1]


def test_choices_from_that_fails_leaves_the_fixed_choices_and_the_default():
    def missing_program():
        raise FileNotFoundError("espeak-ng")

    option = ChoiceOption(
        name="voice",
        default="en",
        choices=("en", "fr"),
        choices_from=missing_program,
        description="v",
    )
    assert option.current_choices() == ("en", "fr")


def test_a_choice_option_needs_choices_or_a_way_to_find_them():
    with pytest.raises(ValueError, match="has no choices"):
        ChoiceOption(name="voice", default="en", description="v")


# --- the API stays version 1 ---------------------------------------------------------------


class OldStyle(ModelPlugin):
    """A plugin as written before the panel classes: it handles -1 and checks the request."""

    run_options = OptionSet(SeedOption())

    def load(self, options, ctx):
        return None

    def run(self, loaded, request, options, ctx):
        from studio.plugin_api import GeneratedAsset

        seed = options["seed"] if options["seed"] >= 0 else 1234
        if not isinstance(request, TextRequest):
            raise ValueError("text only")
        yield Result(assets=(GeneratedAsset.from_text(request.prompt, seed=seed),))


def test_a_plugin_written_the_old_way_still_runs():
    import studio.plugin_api as api

    assert api.API_VERSION == 1 and api.MIN_API_VERSION == 1
    (asset,) = events_of(OldStyle(), TextRequest(prompt="hi"), {"seed": -1})[-1].assets
    assert asset.data == b"hi" and asset.seed == 1234


def test_check_plugin_says_when_a_program_the_plugin_needs_is_missing(tmp_path):
    folder = write_folder_plugin(
        tmp_path,
        "panel_needs_program",
        panels=["writing"],
        code=SEES_MINUS_ONE,
        extra_manifest='\n[needs]\nprograms = ["no-such-program-for-studio"]\n',
    )
    with pytest.raises(ContractViolation, match="needs the program no-such-program-for-studio"):
        check_plugin(folder / "studio-plugin.toml", check_light_import=False)
