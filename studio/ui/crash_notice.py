"""At start, after a crash that took the window down: say what crashed, offer model processes."""

from __future__ import annotations

import dataclasses
import logging

from PySide6.QtWidgets import QMessageBox

from studio.core.crash_marks import CrashMarks
from studio.core.services import CoreServices

log = logging.getLogger(__name__)


def crash_message(names: list[str], log_file: str) -> str:
    running = " and ".join(dict.fromkeys(names))
    return (
        f"Studio closed unexpectedly the last time, while {running} was running inside the "
        "window (models in separate processes were turned off in the preferences). A crash in "
        "a model's native code ends the whole window that way; in a model process of its own "
        f"it ends only that job. The crash's stack is in {log_file}.\n\n"
        "Run models in separate processes again?"
    )


def offer_model_processes_after_crash(services: CoreServices, ask=None) -> bool:
    """If jobs were left running by a crashed window, tell the user and offer to turn model
    processes back on (True when they were turned on). ``ask`` replaces the question box in
    tests: it gets the text and returns the answer."""
    crashed = CrashMarks(services.paths.data_dir).left_behind()
    if not crashed:
        return False
    for job in crashed:
        log.error("the last session ended while %s (%s) ran in-process", job.plugin_id, job.job_id)
    text = crash_message([job.plugin_name for job in crashed], str(services.paths.log_file))
    if services.settings.isolate_models:
        return False  # already back on (changed by hand); nothing to offer
    if ask is None:
        answer = QMessageBox.question(
            None,
            "Studio closed unexpectedly",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        yes = answer == QMessageBox.StandardButton.Yes
    else:
        yes = ask(text)
    if yes:
        services.settings = dataclasses.replace(services.settings, isolate_models=True)
        services.settings_file.save(services.settings)
    return yes
