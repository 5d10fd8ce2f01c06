"""One CPU for every Studio process: the cross-process lease against fixed thread counts.

    python bench/bench_cpu_lease.py --part writer [--rounds 5]
    python bench/bench_cpu_lease.py --part cli [--rounds 3] [--baseline REVISION]

**writer**: the Writing panel's default (Gemma 3 270M on llama.cpp) writes 64 tokens while
another CPU-bound program (a Python busy loop) runs. Interleaved rounds: the job's threads from
the lease (it sees the busy core and takes what is left) against a fixed 2 threads (what every
job took before). Prints tokens/s of each and the ratio lease ÷ fixed; also a quiet round of each.

**cli**: two ``studio generate`` runs of the same writing job started at once, against the same
two one after the other (wall time, interleaved rounds). Goal: at once ÷ one after the other
<= 0.8. With ``--baseline REV``, the same is measured on that revision's code (a temporary
worktree), in turn with the working tree's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "studio.writer-llamacpp"
PROMPT = "Write a long story about a lighthouse keeper and the sea."
TOKENS = 64


@contextlib.contextmanager
def burner():
    """Another program keeping one core busy."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(1.5)  # the lease's probe looks at about the last second
    try:
        yield
    finally:
        process.kill()
        process.wait()


def part_writer(rounds: int) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
    from studio.core.jobs import Job, Partial, Started
    from studio.core.scheduler import DeviceScheduler
    from studio.core.services import build_core_services
    from studio.plugin_api import CancelToken, Panel, TextRequest

    services = build_core_services()
    executor = services.executor
    leased = executor.scheduler
    fixed = DeviceScheduler(cpu_threads=2)
    produced = []

    def sink(asset) -> str:
        produced.append(asset)
        return f"a{len(produced)}"

    job = executor.check(
        Job(
            plugin_id=PLUGIN,
            panel=Panel.WRITING,
            request=TextRequest(prompt=PROMPT),
            run_options={"max_new_tokens": TOKENS, "seed": 1, "temperature": 0.8},
            device="cpu",
        )
    )

    def once(scheduler) -> tuple[float, int]:
        executor.scheduler = scheduler
        pieces, threads, first = [], [0], [0.0]

        def on_event(event) -> None:
            if isinstance(event, Started):
                threads[0] = event.threads
            elif isinstance(event, Partial):
                if not pieces:
                    first[0] = time.perf_counter()
                pieces.append(event.text)

        executor.execute(job, CancelToken(), on_event, sink)
        elapsed = time.perf_counter() - first[0]
        return (len(pieces) - 1) / elapsed, threads[0]

    once(leased)  # loads the model
    results: dict[str, list[float]] = {"lease": [], "fixed 2": []}
    given: list[int] = []
    print("quiet:", end=" ")
    for name, scheduler in (("lease", leased), ("fixed 2", fixed)):
        rate, threads = once(scheduler)
        print(f"{name} {rate:.1f} tok/s ({threads} threads)", end="; ")
    print()
    with burner():
        for index in range(rounds):
            order = [("lease", leased), ("fixed 2", fixed)]
            if index % 2:
                order.reverse()
            for name, scheduler in order:
                rate, threads = once(scheduler)
                results[name].append(rate)
                if name == "lease":
                    given.append(threads)
    lease, fixed_rate = (statistics.median(results[k]) for k in ("lease", "fixed 2"))
    print(f"with a busy program beside it ({rounds} interleaved rounds, pieces/s ~ tokens/s):")
    print(f"  lease   {lease:6.1f} tok/s  threads given {given}  {results['lease']}")
    print(f"  fixed 2 {fixed_rate:6.1f} tok/s  {results['fixed 2']}")
    print(f"  lease / fixed 2 = {lease / fixed_rate:.2f}")


def cli_job(root: Path, project: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{root}:{root / 'plugins'}")
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from studio.cli.main import run; run()",
            "generate",
            "text",
            "--project",
            str(project),
            "--plugin",
            PLUGIN,
            "--set",
            f"prompt={PROMPT}",
            "--set",
            f"max_new_tokens={TOKENS * 2}",
            "--set",
            "seed=1",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def two_jobs(root: Path, folder: Path, together: bool) -> float:
    started = time.perf_counter()
    if together:
        jobs = [cli_job(root, folder / f"p{i}.studio") for i in range(2)]
        codes = [job.wait() for job in jobs]
    else:
        codes = [cli_job(root, folder / f"p{i}.studio").wait() for i in range(2)]
    if any(codes):
        raise SystemExit(f"a CLI job failed: {codes}")
    return time.perf_counter() - started


def part_cli(rounds: int, baseline: str | None) -> None:
    roots = {"working tree": ROOT}
    worktree = None
    if baseline:
        worktree = Path(tempfile.mkdtemp(prefix="studio-baseline-"))
        subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "worktree",
                "add",
                "--detach",
                "--force",
                str(worktree),
                baseline,
            ],
            check=True,
            capture_output=True,
        )
        roots = {baseline: worktree, **roots}
    ratios: dict[str, list[float]] = {name: [] for name in roots}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            for root in roots.values():
                two_jobs(root, folder, False)  # warm: files in the page cache, projects made
            for index in range(rounds):
                for name, root in roots.items():
                    order = [False, True] if index % 2 else [True, False]
                    times = {together: two_jobs(root, folder, together) for together in order}
                    ratios[name].append(times[True] / times[False])
                    print(
                        f"{name}: at once {times[True]:.1f} s, one after the other "
                        f"{times[False]:.1f} s, ratio {ratios[name][-1]:.2f}",
                        flush=True,
                    )
    finally:
        if worktree is not None:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                capture_output=True,
            )
    for name, values in ratios.items():
        median = statistics.median(values)
        each = [round(v, 2) for v in values]
        print(f"{name}: two CLI jobs at once / one after the other, median {median:.2f} {each}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("writer", "cli"), default="writer")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="a revision to measure the same way, in turn")
    args = parser.parse_args()
    if args.part == "writer":
        part_writer(args.rounds)
    else:
        part_cli(args.rounds, args.baseline)


if __name__ == "__main__":
    main()
