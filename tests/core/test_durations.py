"""The one way Studio writes a length of time (sounds, time left, the player's clock)."""

from __future__ import annotations

from studio.core.durations import format_duration


def test_durations_are_minutes_and_seconds_then_hours():
    assert [format_duration(s) for s in (-3, 0.4, 42.9, 60, 725, 3599.99, 3723)] == [
        "0:00",
        "0:00",
        "0:42",
        "1:00",
        "12:05",
        "59:59",
        "1:02:03",
    ]


def test_a_clock_shows_tenths_rounded_down():
    assert [format_duration(s, tenths=True) for s in (0, 2.3, 59.96, 65.31, 3723.45)] == [
        "0:00.0",
        "0:02.3",
        "0:59.9",
        "1:05.3",
        "1:02:03.4",
    ]


def test_sizes_read_as_file_managers_show_them():
    from studio.core.durations import format_size

    assert format_size(812) == "812 bytes"
    assert format_size(1_100) == "1.1 KB"
    assert format_size(4_200_000) == "4.2 MB"
    assert format_size(3 * 10**12) == "3000.0 GB"
