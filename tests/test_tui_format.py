"""Cell formatting and DSN redaction: what the screens print for sizes, ages, bars and URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.cells import cell_len

from shelver.data.overview import redact_dsn
from shelver.widgets.format import clip, fraction_bar, human_size, relative_time

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (999, "999 B"), (1536, "1.5 KB"), (2_400_000, "2.4 MB"), (35_000_000, "35 MB")],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=12), "12 min ago"),
        (timedelta(hours=3, minutes=5), "3 h ago"),
        (timedelta(hours=30), "yesterday"),
        (timedelta(days=9), "9 d ago"),
        (timedelta(seconds=-20), "just now"),  # a device clock slightly ahead
    ],
)
def test_relative_time(ago: timedelta, text: str) -> None:
    assert relative_time(NOW - ago, NOW) == text


def test_relative_time_of_old_and_missing_moments() -> None:
    assert relative_time(NOW - timedelta(days=90), NOW).startswith("2026-08-2")
    assert relative_time(None, NOW) == "—"


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("Short", 10),
        ("A rather long title indeed", 12),
        ("吾輩は猫である 夏目漱石", 9),
        ("a\nb\tc", 5),
    ],
)
def test_clip_fits_terminal_cells(text: str, width: int) -> None:
    clipped = clip(text, width)
    assert cell_len(clipped) <= width
    assert "\n" not in clipped and "\t" not in clipped
    if cell_len(" ".join(text.split())) > width:
        assert clipped.endswith("…")


def test_clip_placeholder() -> None:
    assert clip(None, 5) == "—" and clip("", 5, "?") == "?"


def test_fraction_bar() -> None:
    assert fraction_bar(0.42, width=10).plain == "████░░░░░░  42%"
    assert fraction_bar(1.7, width=4).plain == "████ 100%"  # clamped
    assert fraction_bar(None).plain == "—"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql:///shelver?host=/run/pg", "postgresql:///shelver?host=/run/pg"),
        (
            "postgresql://u@h/db?password=secret&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("postgresql:///db?host=/tmp&password=p", "postgresql:///db?host=/tmp&password=***"),
    ],
)
def test_redact_dsn_hides_passwords(dsn: str, shown: str) -> None:
    assert redact_dsn(dsn) == shown
    assert "secret" not in redact_dsn(dsn)


def test_failures_are_described_for_people() -> None:
    import asyncpg

    from shelver.data.db import DatabaseUnavailable
    from shelver.screens.dialogs.error import describe_failure

    assert describe_failure(DatabaseUnavailable("no server")).title == "Cannot open the database"
    undefined = asyncpg.UndefinedTableError('relation "books" does not exist')
    assert describe_failure(undefined).title == "Database error"
    assert "books" in describe_failure(undefined).message
    reset = describe_failure(ConnectionResetError(104, "Connection reset by peer"))
    assert reset.title == "Cannot reach the database"
    missing = describe_failure(FileNotFoundError(2, "No such file or directory", "/x/y.epub"))
    assert missing.title == "File system error" and "/x/y.epub" in missing.message
    odd = describe_failure(ValueError("bad value"))
    assert odd.title == "Something went wrong" and "ValueError: bad value" in odd.message


def test_calendar_summary_without_timed_reading_says_where_the_streak_comes_from() -> None:
    from datetime import date

    from shelver.data.reading_insights import DaySeconds, LibraryReading
    from shelver.widgets.reading_stats import library_summary

    today = date(2026, 11, 25)
    days = [DaySeconds(day=today - timedelta(days=n), seconds=0) for n in range(90)][::-1]
    positions_only = library_summary(
        LibraryReading(days=days, streak=7, finished_by_month=[]), today
    )
    assert "Streak 7 days (synced positions)" in positions_only.plain
    assert "no reading time recorded" in positions_only.plain
    assert " on 0 days" not in positions_only.plain

    days[-1] = DaySeconds(day=today, seconds=1800)
    timed = library_summary(LibraryReading(days=days, streak=1, finished_by_month=[]), today)
    assert "Streak 1 day ·" in timed.plain and "on 1 day" in timed.plain
