"""A document survives kill -9 while it is typed: reopened, it holds the text up to the last
save, which is at most about a second old."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio.core.project import ProjectStore
from studio.qt.writing_documents import MAX_SAVE_DELAY_MS

CHILD = Path(__file__).with_name("typing_child.py")
TEXT = "The lighthouse keeper counted the waves every night. " * 10
SLACK_S = 0.75  # a busy machine commits later; the promise is about one second


def test_a_kill_during_typing_loses_at_most_the_last_second(tmp_path: Path) -> None:
    project = tmp_path / "novel.studio"
    ProjectStore.create(project).close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(Path.cwd())}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(project), TEXT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    typed_at: dict[int, float] = {}
    try:
        assert child.stdout is not None
        for line in child.stdout:
            count, moment = line.split()
            typed_at[int(count)] = float(moment)
            if int(count) >= 200:  # about three seconds of steady typing
                break
        child.send_signal(signal.SIGKILL)
        killed_at = time.time()
    finally:
        child.kill()
        _, errors = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, errors
    assert typed_at, errors

    with ProjectStore.open(project) as store:
        assert store.integrity_check().ok
        (document,) = store.documents()
        saved = store.open_document(document.id).text
    assert TEXT.startswith(saved)
    # Everything typed more than a second (plus slack) before the kill was committed.
    deadline = killed_at - MAX_SAVE_DELAY_MS / 1000 - SLACK_S
    must_have = max((n for n, moment in typed_at.items() if moment < deadline), default=0)
    assert must_have > 50, "the child typed too slowly for the test to mean anything"
    assert len(saved) >= must_have, (len(saved), must_have, max(typed_at))
