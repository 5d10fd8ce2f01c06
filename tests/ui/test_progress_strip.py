"""The panels' progress bar: shows the fraction done, moves only while busy, and never
animates a running bar (Qt's own did, 60 frames a second, taken from the model's CPU)."""

from __future__ import annotations

from PySide6.QtGui import QPalette

from studio.ui.widgets import JobProgress, ProgressStrip


def highlighted_columns(strip: ProgressStrip) -> list[int]:
    """The columns of the strip's middle row painted in the highlight colour."""
    image = strip.grab().toImage()
    highlight = strip.palette().color(QPalette.ColorRole.Highlight)
    row = image.height() // 2
    return [x for x in range(image.width()) if image.pixelColor(x, row).rgb() == highlight.rgb()]


def test_the_fraction_done_is_filled_from_the_left(qtbot):
    strip = ProgressStrip()
    qtbot.addWidget(strip)
    strip.resize(200, 10)
    strip.show()
    assert highlighted_columns(strip) == []
    strip.set_fraction(0.5)
    filled = highlighted_columns(strip)
    assert 80 <= len(filled) <= 100 and filled[0] < 5
    strip.set_fraction(1.0)
    assert len(highlighted_columns(strip)) > 180
    strip.set_fraction(7.0)  # out of range: clamped
    assert strip.fraction() == 1.0


def test_only_a_busy_strip_moves(qtbot):
    strip = ProgressStrip()
    qtbot.addWidget(strip)
    strip.resize(200, 10)
    strip.set_fraction(0.3)
    strip.show()
    assert not strip._busy_timer.isActive()  # a running bar with a fraction repaints on change
    strip.set_fraction(None)
    assert strip._busy_timer.isActive()
    first = highlighted_columns(strip)
    qtbot.waitUntil(lambda: highlighted_columns(strip) != first, timeout=2000)
    strip.hide()
    assert not strip._busy_timer.isActive()  # nothing moves where nobody sees it
    strip.show()
    assert strip._busy_timer.isActive()
    strip.set_fraction(0.0)
    assert not strip._busy_timer.isActive()


def test_job_progress_shows_the_message_and_time_left(qtbot):
    progress = JobProgress()
    qtbot.addWidget(progress)
    progress.update_progress(0.25, "sentence 5 of 20", 75)
    assert progress.label.text() == "sentence 5 of 20 · 25% · 1:15 left"
    assert progress.bar.fraction() == 0.25
    progress.waiting(2)
    assert progress.bar.fraction() is None
    progress.idle("Done")
    assert progress.bar.fraction() == 0.0 and progress.label.text() == "Done"
