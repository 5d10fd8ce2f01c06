"""Engine self-checks: run each plugin's known-answer checks where they run, remember verdicts.

A check runs in a process of its own (:mod:`studio.core.engine_check_child`), so a native crash
is a verdict ("crashes on this CPU") and not the end of Studio. Each variant of a check is tried
in order until one passes: the first is the engine's normal way, later ones are cures. Verdicts
are kept in ``<data dir>/engine-checks.json``, each with the signature it was made under (CPU
model and flags, Python, the plugin's version and the versions of the packages the check
names); a verdict made under another signature is stale and the check runs again on first use.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from studio.core.registry import PluginRegistry, PluginUnavailable
from studio.plugin_api import EngineCheck, ModelPlugin

log = logging.getLogger(__name__)

VERDICTS_FILE = "engine-checks.json"
RESULT_MARKER = "STUDIO-ENGINE-CHECK "
PLUGIN_DIRS_ENV = "STUDIO_CHECK_PLUGIN_DIRS"
_STORE_VERSION = 1

# What a failed attempt means, in the words the app shows.
CRASHED, WRONG, HUNG, BROKEN, PASSED = "crashed", "wrong", "hung", "error", "passed"
REASONS = {
    CRASHED: "crashes on this CPU",
    WRONG: "gives wrong output on this CPU",
    HUNG: "hangs on this CPU",
    BROKEN: "cannot start on this machine",
}


@functools.cache
def _cpu_info() -> tuple[str, tuple[str, ...]]:
    """The CPU's model name and feature flags (Linux /proc/cpuinfo; elsewhere what platform
    says)."""
    model, flags = "", ()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = tuple(sorted(value.split()))
            if model and flags:
                break
    return model or platform.processor() or platform.machine(), flags


def cpu_signature() -> str:
    """The CPU as far as compiled kernels care: model name and a hash of its flags."""
    model, flags = _cpu_info()
    digest = hashlib.sha256(" ".join(flags).encode()).hexdigest()[:16]
    return f"{model} ({platform.machine()}, flags {digest})"


def cpu_features() -> list[str]:
    """The flags that decide which kernels native engines pick (AMX, AVX-512, AVX2...)."""
    _, flags = _cpu_info()
    wanted = ("amx", "avx512", "avx2", "avx_vnni", "fma", "f16c", "neon", "asimd", "sve")
    return [flag for flag in flags if flag.startswith(wanted)]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "missing"


def check_signature(plugin_version: str, check: EngineCheck) -> str:
    """What a verdict holds for: this CPU, Python, plugin version and package versions."""
    parts = {
        "cpu": cpu_signature(),
        "python": platform.python_version(),
        "plugin": plugin_version,
        "packages": {name: _version(name) for name in sorted(check.packages)},
        "variants": list(check.variants),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """One variant of a check, run once: ``outcome`` is passed, crashed, wrong, hung or error."""

    variant: str
    outcome: str
    detail: str
    seconds: float


@dataclass(frozen=True)
class Verdict:
    """Whether an engine works on this machine, and how to run it.

    Attributes:
        passed: one variant gave the known answer.
        variant: the variant to run the engine with ("" when none passed).
        attempts: every variant tried, in order.
        signature: see :func:`check_signature`.
    """

    plugin_id: str
    check_id: str
    label: str
    passed: bool
    variant: str
    attempts: tuple[Attempt, ...]
    signature: str
    checked_at: float = field(default_factory=time.time)

    @property
    def seconds(self) -> float:
        return sum(attempt.seconds for attempt in self.attempts)

    @property
    def reason(self) -> str:
        """Why it cannot be used here ("crashes on this CPU"), "" when it passed."""
        if self.passed or not self.attempts:
            return ""
        return REASONS.get(self.attempts[0].outcome, "fails on this machine")

    def summary(self) -> str:
        """One line for people: what passed, or what went wrong (and which cure was used)."""
        if not self.attempts:
            return "not checked"
        last = self.attempts[-1]
        if not self.passed:
            first = self.attempts[0]
            return f"{self.reason} ({first.detail})"
        if len(self.attempts) == 1:
            return last.detail
        failed = "; ".join(
            f"{a.variant} {REASONS.get(a.outcome, a.outcome)} ({a.detail})"
            for a in self.attempts[:-1]
        )
        return f"{last.detail}, run as '{last.variant}' because {failed}"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        attempts = tuple(Attempt(**a) for a in data.get("attempts", ()))
        return cls(**{**data, "attempts": attempts})


class EngineUnusable(RuntimeError):
    """A job needs an engine that failed its check on this machine (the message says which,
    why, and what to use instead)."""


class VerdictStore:
    """The verdicts of this data directory, shared by every Studio process (file-locked)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[tuple[int, int], dict[str, dict]] | None = None

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> VerdictStore:
        return cls(data_dir / VERDICTS_FILE)

    @contextlib.contextmanager
    def _locked(self, name: str = "") -> Iterator[None]:
        """An exclusive lock shared by every Studio process (``name``: one of several)."""
        try:
            import fcntl
        except ImportError:  # Windows: writes are atomic replacements; good enough
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        suffix = f".{hashlib.sha256(name.encode()).hexdigest()[:12]}.lock" if name else ".lock"
        with open(self.path.with_suffix(suffix), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def running(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Held while the check ``key`` runs, so that two processes (the window and a model
        process, say) meeting the same unchecked engine run it once."""
        return self._locked(key)

    def _read(self) -> dict[str, dict]:
        """The stored verdicts (parsed again only when the file changed: panels ask often)."""
        try:
            stat = self.path.stat()
        except OSError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._seen is not None and self._seen[0] == stamp:
            return self._seen[1]
        verdicts = self._parse()
        self._seen = (stamp, verdicts)
        return verdicts

    def _parse(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != _STORE_VERSION:
            return {}
        verdicts = data.get("verdicts")
        return verdicts if isinstance(verdicts, dict) else {}

    def get(self, plugin_id: str, check_id: str, signature: str) -> Verdict | None:
        entry = self._read().get(f"{plugin_id}/{check_id}")
        if not isinstance(entry, dict) or entry.get("signature") != signature:
            return None
        try:
            return Verdict.from_json(entry)
        except (TypeError, ValueError):
            return None

    def put(self, verdict: Verdict) -> None:
        with self._locked():
            verdicts = dict(self._parse())
            verdicts[f"{verdict.plugin_id}/{verdict.check_id}"] = verdict.to_json()
            data = {"version": _STORE_VERSION, "verdicts": verdicts}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            os.replace(temporary, self.path)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def run_attempt(
    plugin_id: str,
    check: EngineCheck,
    variant: str,
    *,
    data_dir: Path,
    plugin_dirs: Sequence[Path],
) -> Attempt:
    """Run one variant of a check in a fresh Python process and judge how it ended."""
    env = {
        **os.environ,
        "STUDIO_DATA_DIR": str(data_dir),
        PLUGIN_DIRS_ENV: os.pathsep.join(str(p) for p in plugin_dirs),
        "PYTHONFAULTHANDLER": "1",
    }
    command = [sys.executable, "-m", "studio.core.engine_check_child", plugin_id, check.id, variant]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="studio-check-") as workdir:
        try:
            done = subprocess.run(
                command,
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=check.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            seconds = time.perf_counter() - started
            return Attempt(variant, HUNG, f"no answer in {check.timeout:.0f} s", seconds)
    seconds = round(time.perf_counter() - started, 3)
    result = next(
        (
            line[len(RESULT_MARKER) :]
            for line in reversed(done.stdout.splitlines())
            if line.startswith(RESULT_MARKER)
        ),
        None,
    )
    if done.returncode < 0 or (result is None and done.returncode != 0):
        stack = done.stderr.strip()
        if stack:
            log.warning(
                "engine check %s/%s (%s) ended badly:\n%s", plugin_id, check.id, variant, stack
            )
    if result is not None:
        try:
            outcome, detail = json.loads(result)
            return Attempt(variant, str(outcome), str(detail), seconds)
        except (ValueError, TypeError):
            pass
    if done.returncode < 0:
        return Attempt(variant, CRASHED, f"{_signal_name(done.returncode)} while checking", seconds)
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    if done.returncode in (134, 139) or any("Fatal Python error" in line for line in lines):
        return Attempt(variant, CRASHED, f"exit code {done.returncode} while checking", seconds)
    return Attempt(variant, BROKEN, lines[-1] if lines else f"exit code {done.returncode}", seconds)


class EngineChecks:
    """The engine checks of every plugin, their cached verdicts, and running them."""

    def __init__(
        self,
        registry: PluginRegistry,
        store: VerdictStore,
        *,
        data_dir: Path,
        plugin_dirs: Sequence[Path] = (),
    ) -> None:
        self.registry = registry
        self.store = store
        self.data_dir = data_dir
        self.plugin_dirs = tuple(plugin_dirs)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._signatures: dict[tuple[str, str], str] = {}

    def checks_of(self, plugin_id: str) -> tuple[EngineCheck, ...]:
        try:
            plugin_class: type[ModelPlugin] = self.registry.plugin_class(plugin_id)
        except PluginUnavailable:
            return ()
        return tuple(plugin_class.engine_checks)

    def _signature(self, plugin_id: str, check: EngineCheck) -> str:
        """The check's signature, worked out once per process (package versions are read
        from their metadata, which takes a few milliseconds each)."""
        key = (plugin_id, check.id)
        if key not in self._signatures:
            self._signatures[key] = check_signature(self.registry.get(plugin_id).version, check)
        return self._signatures[key]

    def cached(self, plugin_id: str, check: EngineCheck) -> Verdict | None:
        """The verdict made on this machine under the current versions, if any (no run)."""
        return self.store.get(plugin_id, check.id, self._signature(plugin_id, check))

    def run(
        self, plugin_id: str, check: EngineCheck, say: Callable[[str], None] = lambda text: None
    ) -> Verdict:
        """Run the check now (each variant until one passes) and store the verdict."""
        signature = self._signature(plugin_id, check)
        attempts: list[Attempt] = []
        for variant in check.variants:
            say(f"Checking {check.label} on this machine…")
            attempt = run_attempt(
                plugin_id, check, variant, data_dir=self.data_dir, plugin_dirs=self.plugin_dirs
            )
            attempts.append(attempt)
            log.info(
                "engine check %s/%s variant %s: %s (%s, %.1f s)",
                plugin_id,
                check.id,
                variant,
                attempt.outcome,
                attempt.detail,
                attempt.seconds,
            )
            if attempt.outcome == PASSED or attempt.outcome == BROKEN:
                break  # a cure does not mend a missing library
        passed = attempts[-1].outcome == PASSED
        verdict = Verdict(
            plugin_id=plugin_id,
            check_id=check.id,
            label=check.label,
            passed=passed,
            variant=attempts[-1].variant if passed else "",
            attempts=tuple(attempts),
            signature=signature,
        )
        try:
            self.store.put(verdict)
        except OSError:
            log.warning("could not store the verdict of %s/%s", plugin_id, check.id, exc_info=True)
        return verdict

    def ensure(
        self, plugin_id: str, check: EngineCheck, say: Callable[[str], None] = lambda text: None
    ) -> Verdict:
        """The cached verdict, or the check run now (once, however many threads ask)."""
        key = f"{plugin_id}/{check.id}"
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock, self.store.running(key):
            return self.cached(plugin_id, check) or self.run(plugin_id, check, say)

    def covering(self, plugin_id: str, model_id: str) -> tuple[EngineCheck, ...]:
        return tuple(check for check in self.checks_of(plugin_id) if check.covers(model_id))

    def unusable_reason(self, plugin_id: str, model_id: str | None = None) -> str:
        """From cached verdicts only (no run): why ``plugin_id`` (with ``model_id``, or as a
        whole: its own checks, or every one of its embedded models) cannot run here, or ""
        when nothing known stands against it."""
        if model_id is not None:
            checks = self.covering(plugin_id, model_id)
        else:
            checks = tuple(c for c in self.checks_of(plugin_id) if not c.models)
        for check in checks:
            verdict = self.cached(plugin_id, check)
            if verdict is not None and not verdict.passed:
                return f"{check.label} {verdict.reason}"
        if model_id is None:
            embedded = self._embedded_models(plugin_id)
            reasons = [self.unusable_reason(plugin_id, m) for m in embedded]
            if embedded and all(reasons):
                return "; ".join(reasons)
        return ""

    def _embedded_models(self, plugin_id: str) -> list[str]:
        manifest = self.registry.get(plugin_id).manifest
        return [m.id for m in manifest.models if m.embedded] if manifest else []

    def default_model(self, plugin_id: str) -> str | None:
        """The embedded model an empty ``model`` means here, from cached verdicts: the first
        with nothing known against it (None when the plugin has no embedded model)."""
        embedded = self._embedded_models(plugin_id)
        usable = [m for m in embedded if not self.unusable_reason(plugin_id, m)]
        return usable[0] if usable else (embedded[0] if embedded else None)

    def variants_for(
        self, plugin_id: str, model_id: str, say: Callable[[str], None] = lambda text: None
    ) -> dict[str, str]:
        """Make sure every check covering ``model_id`` has passed (running those not yet run)
        and return the variant each passed with; :class:`EngineUnusable` when one failed."""
        variants: dict[str, str] = {}
        for check in self.covering(plugin_id, model_id):
            verdict = self.ensure(plugin_id, check, say)
            if not verdict.passed:
                raise EngineUnusable(
                    f"{check.label} {verdict.reason} ({verdict.attempts[0].detail} in its "
                    "self-check), so it is not used here; 'studio doctor' lists what works."
                )
            variants[check.id] = verdict.variant
        return variants

    def all_checks(self) -> list[tuple[str, EngineCheck]]:
        """(plugin id, check) for every enabled plugin that declares checks."""
        return [
            (record.id, check)
            for record in self.registry.records()
            if record.enabled
            for check in self.checks_of(record.id)
        ]
