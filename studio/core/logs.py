"""Logging to a file in the data directory; tracebacks go there, people get one sentence."""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers

from studio.core.paths import Paths


def configure_logging(paths: Paths, level: int = logging.INFO) -> None:
    """Send Studio's log records to ``<data dir>/logs/studio.log`` (rotated at 2 MB)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "studio_log", False)]:
        if getattr(old, "baseFilename", None) == str(paths.log_file.absolute()):
            return
        root.removeHandler(old)  # the data directory changed (tests do this)
        old.close()
    try:
        paths.logs_dir.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            paths.log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.studio_log = True  # type: ignore[attr-defined]
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)


_crash_file = None


def enable_crash_stacks(paths: Paths) -> None:
    """Let Python's faulthandler write the stack of a native crash (SIGSEGV, SIGABRT...) into
    the log file, where the next start, and a person, can find it."""
    global _crash_file
    try:
        paths.logs_dir.mkdir(parents=True, exist_ok=True)
        crash_file = open(paths.log_file, "a", encoding="utf-8")  # noqa: SIM115 - kept open
    except OSError:
        return
    faulthandler.enable(file=crash_file, all_threads=True)
    if _crash_file is not None:
        _crash_file.close()
    _crash_file = crash_file
