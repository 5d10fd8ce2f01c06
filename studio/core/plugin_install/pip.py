"""Run Studio's own pip (``sys.executable -m pip``) with the installer's extra arguments."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass

from studio.core.errors import UserError

log = logging.getLogger(__name__)

BASE_ARGS = ("--disable-pip-version-check", "--no-input")


@dataclass(frozen=True)
class Pip:
    """``extra``: added to every call (``--no-index --find-links DIR``, an index URL...)."""

    extra: tuple[str, ...] = ()
    python: str = sys.executable

    def run(self, command: str, *argv: str) -> subprocess.CompletedProcess[str]:
        cmd = [self.python, "-m", "pip", command, *BASE_ARGS, *argv, *self.extra]
        log.info("running %s", " ".join(cmd))
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise UserError(f"pip could not be started ({exc.strerror or exc}).") from None
        if done.returncode:
            log.info("pip %s failed (%s):\n%s", command, done.returncode, done.stderr)
        return done


def pip_error(done: subprocess.CompletedProcess[str]) -> str:
    """pip's own last error line, without its 'ERROR: ' prefix (or its exit status)."""
    lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    if errors:
        return errors[-1].rstrip(".")
    return lines[-1].rstrip(".") if lines else f"pip exited with status {done.returncode}"
