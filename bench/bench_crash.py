"""The kill -9 harness at scale: 1,000 SIGKILLs at random moments of real work on one project
(``studio project import`` of fresh pictures, ``studio project export``, and speech jobs with the
embedded voice, each a real ``studio`` process with its model process), checking after every
kill that the project opens, passes its full integrity check and holds every asset a killed
process reported committed.

Prints kills (by work), runs that ended before their kill, integrity failures, lost committed
assets, torn exports and model processes left behind.

    .venv/bin/python bench/bench_crash.py [--kills 1000] [--mix import=4,export=2,speech=4]
                                          [--seed N] [--dir D]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.kill_harness import run_kills


def parse_mix(text: str, kills: int) -> dict[str, int]:
    weights = {}
    for part in text.split(","):
        work, _, weight = part.partition("=")
        weights[work.strip()] = float(weight or 1)
    total = sum(weights.values())
    plan = {work: round(kills * weight / total) for work, weight in weights.items()}
    first = next(iter(plan))
    plan[first] += kills - sum(plan.values())
    return plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--mix", default="import=4,export=2,speech=4")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    seed = random.randrange(1 << 30) if args.seed is None else args.seed
    plan = parse_mix(args.mix, args.kills)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-crash-"))
    print(f"plan {plan}, seed {seed}, project in {folder}", flush=True)
    started = time.monotonic()
    stats = run_kills(folder, plan, seed=seed, report=lambda now: print(now.line(), flush=True))
    print(stats.line())
    print(f"took {time.monotonic() - started:.0f} s")
    for problem in stats.problems[:20]:
        print("  ", problem)
    failed = (
        stats.integrity_failures
        or stats.lost
        or stats.torn_exports
        or stats.orphans
        or stats.stale_parts
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
