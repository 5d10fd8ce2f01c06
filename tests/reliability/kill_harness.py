"""The kill -9 harness: Studio's command line doing real work on one project (imports, exports,
speech jobs) is killed with SIGKILL at random moments, and after every kill the project must
open, pass its full integrity check, and still hold every asset the killed process had reported
committed.

Used by ``tests/reliability/test_kills.py`` (about 100 kills) and ``bench/bench_crash.py``
(1,000 kills). Every run is a real ``studio`` process, started as a user starts it; a model
process it started must end with it.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.project import ProjectStore
from studio.core.project.ids import is_asset_id
from studio.core.project.opening import inspect_project_file

STUDIO = "import sys; sys.argv[0] = 'studio'; from studio.cli.main import run; run()"
IMPORTED = re.compile(r"^Imported .* as \w+ (\w{26})$")
SENTENCES = [
    "The lighthouse keeper counted the ships at dusk.",
    "A small boat drifted past the harbour wall, its sail folded.",
    "Rain fell on the tin roof all night, and nobody slept.",
]
ORPHAN_GRACE_S = 5.0


@dataclass
class KillStats:
    """What the kills did (printed by the bench, asserted by the test)."""

    kills: int = 0
    """Runs killed while they were working."""
    ended_first: int = 0
    """Runs that ended on their own before their kill came (not counted as kills)."""
    committed: int = 0
    """Assets the killed or finished runs reported committed."""
    lost: int = 0
    """Of those, assets missing after a kill."""
    integrity_failures: int = 0
    """Kills after which the project failed to open or failed its full integrity check."""
    torn_exports: int = 0
    """Exported files under their final name that are not whole."""
    orphans: int = 0
    """Processes of a killed run (a model process) still alive after the grace time."""
    stale_parts: int = 0
    """Temporary files of killed exports still there after an export that ran to its end."""
    by_work: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        works = ", ".join(f"{work} {count}" for work, count in sorted(self.by_work.items()))
        return (
            f"kills {self.kills} ({works}); ended before the kill {self.ended_first}; "
            f"integrity failures {self.integrity_failures}; lost committed assets {self.lost} "
            f"of {self.committed}; torn exports {self.torn_exports}; orphan processes "
            f"{self.orphans}; temporary files left after a whole export {self.stale_parts}"
        )


class KillHarness:
    """Runs of ``studio`` against ``folder/Crash.studio``, each killed at a random moment."""

    def __init__(self, folder: Path, *, seed: int = 1) -> None:
        self.folder = Path(folder)
        self.project = self.folder / "Crash.studio"
        self.exports = self.folder / "exported"
        self.random = random.Random(seed)
        self.stats = KillStats()
        self.expected: set[str] = set()
        self._inputs = 0

    # the work -------------------------------------------------------------------------------

    def _fresh_pictures(self, count: int) -> list[str]:
        from PIL import Image

        folder = self.folder / "inputs"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for _ in range(count):
            self._inputs += 1
            path = folder / f"picture-{self._inputs}.png"
            size = self.random.choice((48, 96, 128))
            Image.effect_noise((size, size), 30 + self._inputs % 60).convert("RGB").save(path)
            paths.append(str(path))
        return paths

    def _argv(self, work: str) -> list[str]:
        if work == "import":
            return ["project", "import", str(self.project), *self._fresh_pictures(12)]
        if work == "export":
            return ["project", "export", str(self.project), str(self.exports), "--overwrite"]
        if work == "speech":
            text = " ".join(self.random.sample(SENTENCES, 2))
            return [
                "generate",
                "speech",
                "--project",
                str(self.project),
                "--plugin",
                "studio.voice-hibari",
                "--set",
                f"text={text}",
            ]
        raise ValueError(work)

    def calibrate(self, work: str) -> float:
        """How long a whole run of ``work`` takes here (the kills fall inside that span)."""
        started = time.monotonic()
        self.run_once(work, kill_after=None)
        return time.monotonic() - started

    def run_once(self, work: str, kill_after: tuple[float, float] | None) -> None:
        """Start one run of ``work``, kill it with SIGKILL after a random time within
        ``kill_after`` (seconds; None: let it finish), then check the project."""
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-c", STUDIO, *self._argv(work)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its model process is in its group, to find it after
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        if kill_after is None:
            child.wait()
        else:
            delay = self.random.uniform(*kill_after) - (time.monotonic() - started)
            time.sleep(max(0.0, delay))
        killed = kill_after is not None and child.poll() is None
        if killed:
            child.send_signal(signal.SIGKILL)
            self.stats.kills += 1
            self.stats.by_work[work] += 1
        elif kill_after is not None:
            self.stats.ended_first += 1
        output = child.communicate()[0].decode("utf-8", "replace")
        self._collect(work, output)
        self.stats.orphans += _reap_group(child.pid)
        self.check(work, killed=killed)

    def _collect(self, work: str, output: str) -> None:
        for line in output.splitlines():
            found = IMPORTED.match(line.strip()) if work == "import" else None
            if found:
                asset_id = found.group(1)
            elif work == "speech" and line.split() and is_asset_id(line.split()[0]):
                asset_id = line.split()[0]
            else:
                continue
            if asset_id not in self.expected:
                self.expected.add(asset_id)
                self.stats.committed += 1

    # the checks -----------------------------------------------------------------------------

    def check(self, work: str, *, killed: bool) -> None:
        if self.project.exists():
            self._check_project(work)
        if work == "export":
            self._check_exports(killed=killed)

    def _check_project(self, work: str) -> None:
        try:
            inspect_project_file(self.project)  # what every command does first
            with ProjectStore.open(self.project, background_check=False) as store:
                report = store.integrity_check()
                present = {a.id for a in store.list_assets(deleted=None)}
        except Exception as exc:  # any failure to open after a kill is one
            self.stats.integrity_failures += 1
            self.stats.problems.append(f"after a kill during {work}: {exc}")
            return
        if not report.ok:
            self.stats.integrity_failures += 1
            self.stats.problems.append(f"after a kill during {work}: {report.summary}")
        missing = self.expected - present
        if missing:
            self.stats.lost += len(missing)
            self.stats.problems.append(f"after a kill during {work}: lost {sorted(missing)}")
            self.expected -= missing  # counted once

    def _check_exports(self, *, killed: bool) -> None:
        if not self.exports.is_dir():
            return
        for path in self.exports.iterdir():
            if path.name.startswith(".") and path.name.endswith(".part"):
                self.stats.stale_parts += not killed  # a whole export cleans up after kills
                continue
            if path.name.startswith(".") or not path.is_file():
                continue
            if not _whole(path):
                self.stats.torn_exports += 1
                self.stats.problems.append(f"{path.name} was exported torn")


def _whole(path: Path) -> bool:
    data = path.read_bytes()
    try:
        if path.suffix == ".png":
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                image.load()
        elif path.suffix in (".wav", ".flac"):
            import soundfile

            soundfile.read(io.BytesIO(data))
        elif path.suffix == ".json":
            import json

            json.loads(data)
    except Exception:
        return False
    return True


def _reap_group(pid: int) -> int:
    """Wait for the killed run's process group to end (a model process notices its parent is
    gone); kill what is left after the grace time and return how many that was."""
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while time.monotonic() < deadline:
        if not group_members(pid):
            return 0
        time.sleep(0.05)
    left = group_members(pid)
    for member in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    return len(left)


def group_members(pgid: int) -> list[int]:
    """The live processes (zombies left out) of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def run_kills(
    folder: Path,
    plan: dict[str, int],
    *,
    seed: int = 1,
    report: Callable[[KillStats], None] | None = None,
) -> KillStats:
    """Kill as many runs of each work as ``plan`` says, interleaved at random on one project.

    Each work is first run twice to the end, to learn how long it takes here; its kills then
    fall between 30% and 100% of that time (the first part is Python starting). A run that
    ends before its kill does not count; the next one is started. ``report`` gets the counts
    every 50 kills."""
    harness = KillHarness(folder, seed=seed)
    spans = {}
    for work in plan:
        took = max(harness.calibrate(work) for _ in range(2))
        spans[work] = (0.3 * took, took)
    runs_allowed = 3 * sum(plan.values()) + 20
    for _ in range(runs_allowed):
        left = [work for work, count in plan.items() if harness.stats.by_work[work] < count]
        if not left:
            break
        work = harness.random.choice(left)
        kills = harness.stats.kills
        harness.run_once(work, spans[work])
        if report is not None and harness.stats.kills != kills and harness.stats.kills % 50 == 0:
            report(harness.stats)
    else:
        harness.stats.problems.append("too many runs ended before their kill")
    return harness.stats
