"""The Reading progress list's rules without an app: filters, sorts, chips, cells, sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shelver.data.reading import CurrentPosition, ReadingSession, ReadingState
from shelver.screens.progress_hardcover import summarize
from shelver.screens.progress_view import (
    ProgressFilters,
    ProgressSort,
    arrange,
    book_cell,
    chips,
    row_cells,
)
from shelver.widgets.progress_history import duration_text

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def position(document, device, percentage, minutes_ago, title=None, state="reading"):
    return CurrentPosition(
        document=document,
        device=device,
        percentage=Decimal(str(percentage)),
        progress="p",
        timestamp=0,
        updated_at=NOW - timedelta(minutes=minutes_ago),
        state=ReadingState(state),
        book_id=uuid.uuid4() if title else None,
        title=title,
        author="Ann Author" if title else None,
    )


ROWS = [
    position("d1", "kobo", 0.5, 10, "Emma"),
    position("d2", "phone", 0.2, 5, "dune"),
    position("d3", "Boox", 0.97, 60, None, "finished"),
]


def test_default_order_is_newest_first_and_each_sort_has_its_direction():
    assert [r.document for r in arrange(ROWS, ProgressFilters())] == ["d2", "d1", "d3"]
    by_title = ProgressFilters().next_sort()
    assert by_title.sort is ProgressSort.TITLE
    # Case-insensitive titles, unlinked documents last.
    assert [r.document for r in arrange(ROWS, by_title)] == ["d2", "d1", "d3"]
    by_percentage = by_title.next_sort()
    assert [r.document for r in arrange(ROWS, by_percentage)] == ["d3", "d1", "d2"]
    flipped = ProgressFilters(sort=ProgressSort.PERCENTAGE, reverse=True)
    assert [r.document for r in arrange(ROWS, flipped)] == ["d2", "d1", "d3"]
    by_device = by_percentage.next_sort()
    assert [r.device for r in arrange(ROWS, by_device)] == ["Boox", "kobo", "phone"]
    by_time = by_device.next_sort()
    assert by_time.sort is ProgressSort.TIME_READ
    # Longest read first by KOReader's statistics; rows they do not know come last.
    timed = [
        ROWS[0].model_copy(update={"seconds_read": 60}),
        ROWS[1],
        ROWS[2].model_copy(update={"seconds_read": 7200}),
    ]
    assert [r.document for r in arrange(timed, by_time)] == ["d3", "d1", "d2"]
    assert by_time.next_sort().sort is ProgressSort.UPDATED


def test_text_filter_matches_every_word_anywhere():
    assert [r.document for r in arrange(ROWS, ProgressFilters(text="EMMA kobo"))] == ["d1"]
    assert [r.document for r in arrange(ROWS, ProgressFilters(text="ann"))] == ["d2", "d1"]
    assert [r.document for r in arrange(ROWS, ProgressFilters(text="d3"))] == ["d3"]
    assert arrange(ROWS, ProgressFilters(text="nothing")) == []


def test_device_and_state_cycles():
    filters = ProgressFilters()
    seen = []
    for _ in range(3):
        filters = filters.next_device(["Boox", "kobo"])
        seen.append(filters.device)
    assert seen == ["Boox", "kobo", None]
    # A device that went away starts the cycle over.
    assert ProgressFilters(device="gone").next_device(["kobo"]).device is None
    states = []
    filters = ProgressFilters()
    for _ in range(4):
        filters = filters.next_state()
        states.append(filters.state)
    assert states == [ReadingState.READING, ReadingState.FINISHED, ReadingState.PAUSED, None]
    busy = ProgressFilters(device="kobo", state=ReadingState.PAUSED, text="x", reverse=True)
    assert busy.active and not busy.cleared().active and busy.cleared().reverse


def test_chips_and_cells():
    line = chips(ProgressFilters(device="kobo"), 1, 3).plain
    assert "sort: last update ↓" in line and "device: kobo" in line and "state: all" in line
    assert "1 of 3" in line
    cells = row_cells(ROWS[0], 20, NOW)
    assert str(cells[0]) == "Emma" and "50%" in str(cells[2]) and str(cells[3]) == "reading"
    assert str(cells[4]) == "—"  # no statistics: no time read
    assert str(cells[5]) == "10 min ago"
    timed = row_cells(ROWS[0].model_copy(update={"seconds_read": 4510}), 20, NOW)
    assert str(timed[4]) == "1h15"
    unlinked = book_cell(ROWS[2], 14).plain
    assert unlinked.startswith("unlinked ") and len(unlinked) <= 14


def test_durations_and_summaries():
    assert duration_text(timedelta(seconds=20)) == "<1m"
    assert duration_text(timedelta(minutes=42)) == "42m"
    assert duration_text(timedelta(minutes=125)) == "2h05"
    session = ReadingSession(
        device="kobo",
        started_at=NOW,
        ended_at=NOW + timedelta(minutes=3),
        start_percentage=Decimal("0.1"),
        end_percentage=Decimal("0.2"),
        updates=2,
    )
    assert session.duration == timedelta(minutes=3)
    assert summarize([]).startswith("Hardcover: no book")


def test_time_read_cells_fit_five_characters():
    from shelver.widgets.format import short_reading_time

    cells = [short_reading_time(s) for s in (None, 30, 900, 4510, 99 * 3600 + 59 * 60, 500 * 3600)]
    assert cells == ["—", "<1m", "15m", "1h15", "99h59", "500h"]
    assert max(len(c) for c in cells) <= 5
