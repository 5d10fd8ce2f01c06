"""The property-based tests of tests/reliability/test_properties.py at 10,000 cases each
(PNG text chunks, A1111 parameters, recipes, damaged project files), instead of CI's 200.

Prints each test's outcome and the time it took; any failure shows hypothesis's smallest
failing case.

    .venv/bin/python bench/bench_properties.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
            "--hypothesis-show-statistics",
            str(ROOT / "tests" / "reliability" / "test_properties.py"),
        ],
        cwd=ROOT,
        env={**os.environ, "STUDIO_HYPOTHESIS_PROFILE": "bench"},
    )  # fmt: skip
    print(f"took {time.monotonic() - started:.0f} s")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
