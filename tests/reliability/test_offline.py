"""Each panel's shipped default works with no network at all and never tries one (issue:
"Nothing gets in"): every run is a real ``studio generate`` in a network namespace of its own
(``unshare -n``: no interface but loopback) with an audit hook, in Studio and in its model
process, that records every attempt to connect to an internet address."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.plugin_api.sample_media import write_sample_png

AUDIT = """
import json, os, socket, sys

_LOG = os.environ["STUDIO_TEST_CONNECT_LOG"]


def _hook(event, args):
    if event in ("socket.connect", "socket.sendto") and getattr(args[0], "family", None) in (
        socket.AF_INET, socket.AF_INET6
    ):
        with open(_LOG, "a") as log:
            log.write(json.dumps([event, repr(args[1]), os.getpid()]) + "\\n")
    elif event == "socket.getaddrinfo":
        with open(_LOG, "a") as log:
            log.write(json.dumps([event, repr(args[0]), os.getpid()]) + "\\n")


sys.addaudithook(_hook)
"""


def network_namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


pytestmark = [
    pytest.mark.models,
    pytest.mark.skipif(
        not network_namespaces_work(), reason="this machine cannot make a network namespace"
    ),
]

DEFAULTS = {
    "writing": ["text", "--plugin", "studio.writer-llamacpp", "--set", "prompt=The sea",
                "--set", "max_new_tokens=8"],
    "voice": ["speech", "--plugin", "studio.voice-hibari", "--set", "text=Hello there."],
    "captioning": ["caption", "--plugin", "studio.caption-ocr-tags", "--input", "image=IMAGE"],
    "image-style": ["image", "--plugin", "studio.image-style", "--input", "init=IMAGE"],
    "image-upscale": ["image", "--plugin", "studio.image-upscale", "--input", "init=IMAGE"],
}  # fmt: skip


@pytest.mark.parametrize("panel", list(DEFAULTS))
def test_the_default_of_each_panel_runs_offline_and_never_tries_the_network(
    tmp_path: Path, panel: str
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(AUDIT)
    log = tmp_path / "connects.jsonl"
    image = write_sample_png(tmp_path / "sign.png", 96, 64)
    args = [a.replace("IMAGE", str(image)) for a in DEFAULTS[panel]]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hooks), os.getcwd()]),
        "STUDIO_TEST_CONNECT_LOG": str(log),
    }
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", "from studio.cli.main import run; run()",
         "generate", *args[:1], "--project", str(tmp_path / "p.studio"), *args[1:], "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout), done.stdout  # it made something
    attempts = log.read_text().splitlines() if log.exists() else []
    assert attempts == [], attempts
