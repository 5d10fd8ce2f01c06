"""Turn a pickle checkpoint into safetensors, only with the user's consent for that file.

Full unpickling can run any code a file carries, so it happens here and nowhere else: after
the user consented for the file's exact content (:class:`ConsentKind.UNPICKLE`), in a child
process (:mod:`studio.core.safety.convert_child`) so that no unpickled object lives in the
app. What comes out is a safetensors file that plugins load like any other; it is named by the
source's SHA-256, so converting the same content again reuses it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import UserError
from studio.core.offline import OFFLINE_VARIABLES
from studio.core.paths import Paths
from studio.core.safety.consent import (
    ConsentKind,
    ConsentStore,
    content_hash,
    write_text_atomically,
)
from studio.plugin_api.safe_loading import WeightsFormat, detect_weights_format

log = logging.getLogger(__name__)

CONVERTED_DIR_NAME = "converted"
CHILD_MODULE = "studio.core.safety.convert_child"
_EXIT_CHANGED = 3  # convert_child.EXIT_CHANGED, kept here so the app never imports the child


class ConsentRequired(UserError):
    """The file needs full unpickling and the user has not consented for its content."""


class ConversionFailed(UserError):
    """The child process could not read the file or write safetensors."""


@dataclass(frozen=True)
class ConversionReport:
    """What a conversion kept and dropped, saved beside its output as ``<sha256>.json``.

    Attributes:
        source: the pickle file converted (where it was at the time).
        sha256: the SHA-256 of its content.
        output: the safetensors file written.
        tensors: how many tensors it holds.
        dropped: the entries that were not tensors (epoch, optimizer state, training
            arguments...) or were tensors safetensors cannot hold.
    """

    source: Path
    sha256: str
    output: Path
    tensors: int
    dropped: tuple[str, ...]


def converted_dir(paths: Paths) -> Path:
    """Where converted safetensors files go in Studio's data directory."""
    return paths.data_dir / CONVERTED_DIR_NAME


def convert_to_safetensors(path: Path, consents: ConsentStore, out_dir: Path) -> Path:
    """Convert the pickle file ``path`` to ``out_dir/<sha256>.safetensors``; returns that path.

    Refuses unless ``consents`` holds full-unpickling consent for the file's current content.
    The unpickling runs in a child process, offline, which checks the content hash again on
    the handle it reads. An earlier conversion of the same content is reused.

    Raises:
        UserError: the file is missing, a folder, or not a pickle file.
        ConsentRequired: no consent for this file's content.
        ConversionFailed: the file could not be unpickled or holds no tensors.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if path.is_dir():
        raise UserError(f"{path} is a folder; name the pickle file to convert.")
    found = detect_weights_format(path)
    if found is not WeightsFormat.PICKLE:
        raise UserError(
            f"{path.name} is {found.description}, not a pickle file, so there is nothing to "
            "convert."
        )
    sha256 = content_hash(ConsentKind.UNPICKLE, path)
    if not consents.is_hash_granted(ConsentKind.UNPICKLE, sha256):
        raise ConsentRequired(
            f"{path.name} needs full unpickling, which can run code, and you have not allowed "
            f'it for this content; if you trust it, run "studio consent grant '
            f'{shlex.quote(str(path))}" first.'
        )
    output = out_dir / f"{sha256}.safetensors"
    if output.is_file() and detect_weights_format(output) is WeightsFormat.SAFETENSORS:
        log.info("reusing %s for %s", output, path)
        return output
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary = out_dir / f".{sha256}.{os.getpid()}.safetensors.tmp"
    try:
        report = _run_child(path, sha256, temporary, out_dir)
        if detect_weights_format(temporary) is not WeightsFormat.SAFETENSORS:
            raise ConversionFailed(f"Converting {path.name} did not produce a safetensors file.")
        os.replace(temporary, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    dropped = tuple(str(name) for name in report.get("dropped", ()))
    if dropped:
        log.warning("converting %s dropped %d entries: %s", path, len(dropped), ", ".join(dropped))
    _write_report(
        ConversionReport(
            source=Path(os.path.abspath(path)),
            sha256=sha256,
            output=output,
            tensors=int(report.get("tensors", 0)),
            dropped=dropped,
        )
    )
    return output


def read_conversion_report(output: Path) -> ConversionReport | None:
    """The report saved beside a converted file, or None if there is none (or it is damaged)."""
    try:
        data = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
        return ConversionReport(
            source=Path(data["source"]),
            sha256=str(data["sha256"]),
            output=output,
            tensors=int(data["tensors"]),
            dropped=tuple(str(name) for name in data["dropped"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _run_child(path: Path, sha256: str, temporary: Path, out_dir: Path) -> dict:
    environment = dict(os.environ)
    environment.update(OFFLINE_VARIABLES)
    # The child sees the modules the app sees (the classes a checkpoint names must import
    # there), and runs in the output folder, not in whatever folder the user is in.
    environment["PYTHONPATH"] = os.pathsep.join(entry for entry in sys.path if entry)
    done = subprocess.run(
        [sys.executable, "-m", CHILD_MODULE, str(path), sha256, str(temporary)],
        cwd=out_dir,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == _EXIT_CHANGED:
        raise ConsentRequired(_last_line(done.stderr))
    if done.returncode != 0:
        log.error("converting %s failed (exit %d): %s", path, done.returncode, done.stderr)
        raise ConversionFailed(
            _last_line(done.stderr) or f"Converting {path.name} failed (exit {done.returncode})."
        )
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError) as exc:
        raise ConversionFailed(f"Converting {path.name} gave no report.") from exc
    return report if isinstance(report, dict) else {}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _write_report(report: ConversionReport) -> None:
    data = {
        "source": str(report.source),
        "sha256": report.sha256,
        "output": str(report.output),
        "tensors": report.tensors,
        "dropped": list(report.dropped),
    }
    write_text_atomically(report.output.with_suffix(".json"), json.dumps(data, indent=2) + "\n")
