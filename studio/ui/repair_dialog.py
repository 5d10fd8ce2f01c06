"""Repairing a damaged project from the window: the offer, the progress, and the report."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from studio.core.errors import UserError
from studio.core.project.repair import RepairCancelled, RepairReport
from studio.qt.project_repair import RepairRun

log = logging.getLogger(__name__)

REPAIR_TITLE = "The project is damaged"


def offer_repair(parent: QWidget, path: Path, problem: str) -> bool:
    """Say what is wrong with ``path`` and offer to repair it; True when the user chose to."""
    box = QMessageBox(QMessageBox.Icon.Warning, REPAIR_TITLE, problem, parent=parent)
    box.setInformativeText(
        f"Repair saves every intact asset, with its recipe and lineage, into a new project "
        f"beside it, and tells you what could not be saved. {path.name} itself is not changed."
    )
    repair = box.addButton("&Repair…", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(repair)
    box.exec()
    return box.clickedButton() is repair


def run_repair(parent: QWidget, path: Path) -> RepairReport | None:
    """Repair ``path`` off the GUI thread behind a progress dialog (Cancel stops it); the
    report, or None when it failed or was cancelled (after saying why)."""
    dialog = QProgressDialog(f"Repairing {path.name}…", "Cancel", 0, 0, parent)
    dialog.setWindowTitle("Repair project")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    run = RepairRun(path, dialog)
    loop = QEventLoop()
    outcome: list[object] = []

    def progressed(done: int, total: int, text: str) -> None:
        dialog.setMaximum(total)
        dialog.setValue(done)
        dialog.setLabelText(f"Repairing {path.name}: {text}")

    def finished(result: object) -> None:
        outcome.append(result)
        loop.quit()

    run.progressed.connect(progressed)
    run.finished.connect(finished)
    dialog.canceled.connect(run.cancel)
    run.start()
    loop.exec()
    dialog.reset()
    dialog.deleteLater()
    result = outcome[0]
    if isinstance(result, RepairReport):
        return result
    if isinstance(result, RepairCancelled):
        return None
    if isinstance(result, UserError | OSError):
        QMessageBox.warning(parent, "Cannot repair the project", str(result))
    else:
        log.error("repairing %s failed", path, exc_info=result)  # type: ignore[arg-type]
        QMessageBox.critical(
            parent, "Cannot repair the project", f"The repair failed ({result}); see the log."
        )
    return None


def report_text(report: RepairReport) -> tuple[str, str]:
    """The report's sentence, and the lists of what was lost or kept in part (for the
    dialog's details)."""
    lines = [f"Lost {i.asset_id} ({i.title}): {i.why}." for i in report.lost]
    lines += [f"Kept {i.asset_id} ({i.title}), but {i.why}." for i in report.partly_kept]
    lines += list(report.notes)
    return report.summary(), "\n".join(lines)


def show_report(parent: QWidget, report: RepairReport) -> bool:
    """Show what the repair kept and lost; True when the user wants the repaired project
    opened."""
    summary, details = report_text(report)
    if report.target is None:
        QMessageBox.information(parent, "Nothing to repair", summary)
        return False
    icon = QMessageBox.Icon.Warning if report.lost else QMessageBox.Icon.Information
    box = QMessageBox(icon, "Project repaired", summary, parent=parent)
    if details:
        box.setInformativeText(
            "Show Details lists each asset that could not be saved, or was saved without part "
            "of it, with the reason."
        )
        box.setDetailedText(details)
    open_ = box.addButton("&Open Repaired Project", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Close)
    box.setDefaultButton(open_)
    box.exec()
    return box.clickedButton() is open_
