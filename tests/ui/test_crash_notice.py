"""With models in the window's own process, a crash there is named at the next start, which
offers to turn model processes back on."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from studio.core.crash_marks import CrashMarks
from studio.core.services import build_core_services
from studio.ui.crash_notice import offer_model_processes_after_crash

CRASH = """
import os, sys
from studio.core.crash_marks import CrashMarks
from pathlib import Path
marks = CrashMarks(Path(sys.argv[1]))
with marks.running("job-1", "studio.writer-llamacpp", "llama.cpp writer", ""):
    os.abort()
"""


def test_a_crashed_in_process_job_is_named_and_model_processes_are_offered(studio_data_dir):
    done = subprocess.run([sys.executable, "-c", CRASH, str(studio_data_dir)], check=False)
    assert done.returncode < 0  # the process died inside the job, leaving its mark
    services = build_core_services()
    services.settings_file.save(dataclasses.replace(services.settings, isolate_models=False))
    services = build_core_services()
    asked = []

    def ask(text):
        asked.append(text)
        return True

    assert offer_model_processes_after_crash(services, ask) is True
    assert "while llama.cpp writer was running inside the window" in asked[0]
    assert str(services.paths.log_file) in asked[0]
    assert build_core_services().settings.isolate_models is True
    assert offer_model_processes_after_crash(build_core_services(), ask) is False  # asked once


def test_a_job_that_ends_normally_leaves_no_mark(studio_data_dir):
    marks = CrashMarks(studio_data_dir)
    with marks.running("job-2", "x", "X", ""):
        assert len(list(marks.folder.glob("*.json"))) == 1
    assert marks.left_behind() == []
