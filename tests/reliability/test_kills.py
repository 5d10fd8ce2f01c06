"""kill -9 at random moments of real work loses nothing committed and damages nothing (issue:
"The project file never loses or corrupts work"). About 100 kills in all; ``bench/bench_crash.py``
runs 1,000."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.reliability.kill_harness import KillStats, run_kills


def assert_nothing_lost(stats: KillStats, seed: int) -> None:
    said = f"seed {seed}: {stats.line()}; {stats.problems[:5]}"
    assert stats.integrity_failures == 0, said
    assert stats.lost == 0, said
    assert stats.torn_exports == 0, said
    assert stats.orphans == 0, said
    assert stats.stale_parts == 0, said
    assert stats.committed > 0, said  # the runs did commit work that had to survive


def test_sixty_kills_during_imports_and_exports_lose_nothing(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)  # new moments each run; the seed is in the message
    stats = run_kills(tmp_path, {"import": 35, "export": 25}, seed=seed)
    assert stats.kills == 60, stats.problems
    assert_nothing_lost(stats, seed)


@pytest.mark.models
def test_forty_kills_during_speech_jobs_lose_nothing_and_leave_no_model_process(
    tmp_path: Path,
) -> None:
    seed = random.randrange(1 << 30)
    stats = run_kills(tmp_path, {"speech": 30, "import": 10}, seed=seed)
    assert stats.kills == 40, stats.problems
    assert_nothing_lost(stats, seed)
