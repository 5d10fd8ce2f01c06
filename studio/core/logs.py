"""Logging to a file in the data directory; tracebacks go there, people get one sentence."""

from __future__ import annotations

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
