"""Playback never hangs the window: takes loaded, played, sought and closed in quick
succession, many times, while other processes keep the CPU busy (that is when Qt's FFmpeg
backend and a direct call from Python deadlocked on the GIL: see studio.qt.audio_player)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = Path(__file__).with_name("audio_player_child.py")
BURN = "while True: pass"


def test_playback_controls_never_deadlock_on_a_busy_cpu() -> None:
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(2)]
    try:
        result = subprocess.run(
            [sys.executable, str(CHILD), "100"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        )
    except subprocess.TimeoutExpired as exc:
        rounds = (exc.stdout or b"").decode().split()
        raise AssertionError(f"playback hung after {len(rounds)} of 100 rounds") from None
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "done"
