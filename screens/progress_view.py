"""What the Reading progress list shows and in which order: filters, sorts, chips and cells.

Kept apart from the screen so the rules (what a filter matches, how a sort orders, what a row
looks like) can be read and tested without an app running.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from rich.text import Text

from shelver.data.reading import CurrentPosition
from shelver.data.reading_state import POSITION_STATES, ReadingState
from shelver.widgets.format import clip, fraction_bar, relative_time, short_reading_time


class ProgressSort(StrEnum):
    """The orders the list cycles through (``o``); each has its natural direction."""

    UPDATED = "updated"
    TITLE = "title"
    PERCENTAGE = "percentage"
    DEVICE = "device"
    TIME_READ = "time_read"
    """By KOReader's statistics (rows without come last)."""


SORT_LABELS = {
    ProgressSort.UPDATED: "last update",
    ProgressSort.TITLE: "title",
    ProgressSort.PERCENTAGE: "percentage",
    ProgressSort.DEVICE: "device",
    ProgressSort.TIME_READ: "time read",
}
# Newest, furthest and longest read first; names alphabetically.
NATURALLY_DESCENDING = {ProgressSort.UPDATED, ProgressSort.PERCENTAGE, ProgressSort.TIME_READ}

STATE_STYLES = {
    ReadingState.READING: "cyan",
    ReadingState.FINISHED: "green",
    ReadingState.PAUSED: "yellow",
}
STATE_CYCLE: tuple[ReadingState | None, ...] = (None, *POSITION_STATES)

UNLINKED = "unlinked "


def row_key(position: CurrentPosition) -> str:
    """One row per (document, device): the key that keeps the cursor on it across refreshes."""
    return f"{position.document}\x00{position.device}"


@dataclass(frozen=True)
class ProgressFilters:
    """The list's filters and order. Login, device and state are asked of the database; the
    text filter and the order apply to the rows it returned."""

    login: str | None = None
    """Only what this KoSync login sees: its own positions and those of the logins it shares
    positions with."""
    device: str | None = None
    state: ReadingState | None = None
    text: str = ""
    sort: ProgressSort = ProgressSort.UPDATED
    reverse: bool = False
    """Flip the sort's natural direction."""

    @property
    def active(self) -> bool:
        return (
            self.login is not None
            or self.device is not None
            or self.state is not None
            or bool(self.text)
        )

    def next_sort(self) -> ProgressFilters:
        order = list(ProgressSort)
        return replace(self, sort=order[(order.index(self.sort) + 1) % len(order)], reverse=False)

    def next_state(self) -> ProgressFilters:
        return replace(self, state=STATE_CYCLE[(STATE_CYCLE.index(self.state) + 1) % 4])

    def next_device(self, devices: list[str]) -> ProgressFilters:
        """All devices, then each known device in turn, then all again."""
        return replace(self, device=_next_in_cycle(self.device, devices))

    def next_login(self, logins: list[str]) -> ProgressFilters:
        """All logins, then each login in turn, then all again. Another login sees other
        devices, so the device filter starts over."""
        return replace(self, login=_next_in_cycle(self.login, logins), device=None)

    def cleared(self) -> ProgressFilters:
        return ProgressFilters(sort=self.sort, reverse=self.reverse)


def _next_in_cycle(current: str | None, values: list[str]) -> str | None:
    """None (all), then each value in turn, then None again; None when ``current`` is gone."""
    cycle: list[str | None] = [None, *values]
    if current not in cycle:
        return None
    return cycle[(cycle.index(current) + 1) % len(cycle)]


def book_label(position: CurrentPosition) -> str:
    return (position.title or "(untitled)") if position.book_id else position.document


def matches_text(position: CurrentPosition, text: str) -> bool:
    """Case-insensitive: every word appears in the title, author, document id, device or
    login."""
    parts = (position.title, position.author, position.document, position.device, position.login)
    haystack = " ".join(part or "" for part in parts).casefold()
    return all(word in haystack for word in text.casefold().split())


def arrange(positions: list[CurrentPosition], filters: ProgressFilters) -> list[CurrentPosition]:
    """Apply the text filter and the order (ties: newest first, then document and device)."""
    rows = [p for p in positions if matches_text(p, filters.text)] if filters.text else positions
    # Stable sorts: the tie-breakers first, then the chosen key.
    rows = sorted(rows, key=lambda p: (p.document, p.device))
    rows.sort(key=lambda p: p.updated_at, reverse=True)
    descending = (filters.sort in NATURALLY_DESCENDING) != filters.reverse
    if filters.sort is ProgressSort.UPDATED:
        rows.sort(key=lambda p: p.updated_at, reverse=descending)
    elif filters.sort is ProgressSort.TITLE:
        rows.sort(key=lambda p: (p.book_id is None, book_label(p).casefold()), reverse=descending)
    elif filters.sort is ProgressSort.PERCENTAGE:
        rows.sort(key=lambda p: p.percentage, reverse=descending)
    elif filters.sort is ProgressSort.TIME_READ:
        rows.sort(
            key=lambda p: -1 if p.seconds_read is None else p.seconds_read, reverse=descending
        )
    else:
        rows.sort(key=lambda p: p.device.casefold(), reverse=descending)
    return rows


def chips(filters: ProgressFilters, shown: int, total: int, *, logins: bool = False) -> Text:
    """The line under the heading: order and filters, each with its key, lit when active
    (the login filter when there are KoSync logins to pick from, ``logins``)."""
    line = Text()

    def chip(key: str, label: str, value: str, active: bool) -> None:
        if line:
            line.append(" ")
        line.append(f" {key} ", "reverse bold")
        line.append(f" {label}: ", "dim")
        line.append(value, "bold yellow" if active else "")

    descending = (filters.sort in NATURALLY_DESCENDING) != filters.reverse
    chip("o", "sort", f"{SORT_LABELS[filters.sort]} {'↓' if descending else '↑'}", False)
    if logins or filters.login is not None:
        chip("w", "login", clip(filters.login or "all", 12), filters.login is not None)
    chip("d", "device", filters.device or "all", filters.device is not None)
    chip("t", "state", filters.state.value if filters.state else "all", filters.state is not None)
    if filters.text:
        chip("/", "text", clip(filters.text, 12), True)
    if shown != total:
        line.append(f"  {shown} of {total}", "dim")
    # What else there is, while the line has room (it is cut at the screen's edge).
    if filters.active:
        line.append("  x", "bold")
        line.append(" clear", "dim")
    if not filters.text:
        line.append("  /", "bold")
        line.append(" filter", "dim")
    line.append("  g", "bold")
    line.append(" sync log", "dim")
    return line


def state_cell(state: ReadingState) -> Text:
    return Text(state.value, STATE_STYLES[state])


class BookCell(Text):
    """The Book column's cell, which knows its row (:func:`row_key`): a live update puts the
    table in its new order with ``DataTable.sort`` instead of filling it again."""

    def __init__(self, position: CurrentPosition) -> None:
        super().__init__()
        self.row_key = row_key(position)


def book_cell(position: CurrentPosition, width: int) -> BookCell:
    """The book's title, or the document id marked as unlinked."""
    cell = BookCell(position)
    if position.book_id is not None:
        cell.append(clip(position.title or "(untitled)", width))
    else:
        cell.append(UNLINKED, "yellow")
        cell.append(clip(position.document, max(width - len(UNLINKED), 4)), "dim")
    return cell


def row_cells(position: CurrentPosition, title_width: int, now: datetime) -> list[object]:
    """The cells of one row, in the table's column order."""
    return [
        book_cell(position, title_width),
        Text(clip(position.device, DEVICE_WIDTH)),  # a str cell would be read as markup
        fraction_bar(position.percentage, width=BAR_WIDTH),
        state_cell(position.state),
        short_reading_time(position.seconds_read),
        relative_time(position.updated_at, now),
    ]


DEVICE_WIDTH = 12  # "Kobo Libra 2" and "statistics" (a book known only from them) fit
BAR_WIDTH = 7
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("device", "Device", DEVICE_WIDTH),
    ("progress", "Progress", BAR_WIDTH + 5),
    ("state", "State", 8),
    ("read", "Read", 5),
    ("updated", "Updated", 10),
)
"""The fixed columns after the flexible Book column: (key, label, width)."""
