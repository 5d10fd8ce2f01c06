"""OpenCV beside PySide6: after the upscaler ran in the app's process, Qt still starts.

The ncnn upscaler packages import ``cv2``. The full ``opencv-python`` wheel bundles its own Qt
and sets ``QT_QPA_PLATFORM_PLUGIN_PATH``/``QT_QPA_FONTDIR`` when imported, which breaks the
platform plugin lookup of PySide6 started later in that process (or in a child that inherits
the environment). The plugin imports the packages through a guard that puts every ``QT_*``
variable back. These tests run the real plugin on the thread executor in a fresh process, once
with the installed (headless) OpenCV and once with a stand-in ``cv2`` that does what the full
wheel does to the environment, and then start a QApplication with a window.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from studio_image_upscale.quiet_cv2 import import_without_qt_side_effects

from tests.conftest import REPO_ROOT

# What opencv-python's cv2/__init__.py does on Linux (its bundled Qt 5 plugins and fonts).
FULL_OPENCV_STAND_IN = """
import os
os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"] = os.path.join(os.path.dirname(__file__), "qt", "plugins")
os.environ["QT_QPA_FONTDIR"] = os.path.join(os.path.dirname(__file__), "qt", "fonts")
os.environ.pop("QT_QPA_PLATFORM", None)
COLOR_BGR2RGB = 4
COLOR_RGB2BGR = 4
"""

RUN_THEN_START_QT = """
import os, sys
from pathlib import Path
from PIL import Image

sys.path.insert(0, {repo!r})
before = {{k: v for k, v in os.environ.items() if k.startswith("QT_")}}

from studio.core.registry import PluginRegistry
from studio.plugin_api import AssetKind, CancelToken, ImageRequest, InputMedia, Panel
from studio.core.jobs import Job
from tests.support import make_executor

picture = Path({workdir!r}) / "photo.png"
Image.new("RGB", (40, 32), (200, 40, 40)).save(picture)
executor, sink = make_executor(Path({workdir!r}) / "data", plugin_dirs=())
executor.registry = PluginRegistry(plugin_dirs=())
job = Job(
    plugin_id="studio.image-upscale",
    panel=Panel.IMAGE,
    request=ImageRequest(inputs=(InputMedia(role="init", path=picture, kind=AssetKind.IMAGE),)),
    device="cpu",
)
outcome = executor.execute(job, CancelToken())
assert len(sink.produced) == 1, sink.produced
assert "cv2" in sys.modules, "the ncnn package did not import cv2"
print("cv2 from", sys.modules["cv2"].__file__)
after = {{k: v for k, v in os.environ.items() if k.startswith("QT_")}}
assert after == before, (before, after)

from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel("still works")
label.show()
app.processEvents()
assert label.isVisible()
print("QT OK", app.platformName())
"""


def run_in_fresh_process(tmp_path: Path, fake_cv2: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_DATA_DIR=str(tmp_path / "data"))
    env.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    if fake_cv2:
        stand_in = tmp_path / "stand-in" / "cv2"
        stand_in.mkdir(parents=True)
        (stand_in / "__init__.py").write_text(FULL_OPENCV_STAND_IN)
        env["PYTHONPATH"] = str(stand_in.parent)
    script = RUN_THEN_START_QT.format(repo=str(REPO_ROOT), workdir=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("fake_cv2", [False, True], ids=["installed-opencv", "full-opencv-env"])
def test_qt_starts_after_the_upscaler_ran_in_the_same_process(tmp_path, fake_cv2):
    done = run_in_fresh_process(tmp_path, fake_cv2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "QT OK offscreen" in done.stdout
    where = "stand-in" if fake_cv2 else "site-packages"
    assert where in done.stdout.split("cv2 from", 1)[1].splitlines()[0]


def test_the_guard_puts_back_every_qt_variable(tmp_path, monkeypatch):
    module = tmp_path / "qt_meddler.py"
    module.write_text(
        textwrap.dedent(
            """
            import os
            os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"] = "/somewhere/else"
            os.environ["QT_QPA_PLATFORM"] = "xcb"
            os.environ.pop("QT_SCALE_FACTOR", None)
            os.environ["NOT_QT"] = "kept"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("QT_SCALE_FACTOR", "1.5")
    monkeypatch.delenv("QT_QPA_PLATFORM_PLUGIN_PATH", raising=False)
    monkeypatch.delenv("NOT_QT", raising=False)
    import_without_qt_side_effects("qt_meddler")
    sys.modules.pop("qt_meddler", None)
    assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
    assert os.environ["QT_SCALE_FACTOR"] == "1.5"
    assert "QT_QPA_PLATFORM_PLUGIN_PATH" not in os.environ
    assert os.environ["NOT_QT"] == "kept"  # only Qt's variables are guarded
