"""Reading states and the rules that decide them, for every part of shelver.

One rule each: a book or a position counts as finished from :data:`FINISHED_AT` (KOReader
rarely reports exactly 1.0), a position as paused after :data:`PAUSED_AFTER` without an update.
SQL reads the same two values from the functions ``reading_finished_at()`` and
``reading_paused_after()`` (migration 0019); a test checks that the two sides agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

FINISHED_AT = Decimal("0.95")
"""A position at or beyond this fraction counts as finished."""
PAUSED_AFTER = timedelta(days=30)
"""A position not updated for this long counts as paused."""


class ReadingState(StrEnum):
    UNREAD = "unread"
    READING = "reading"
    FINISHED = "finished"
    PAUSED = "paused"


BOOK_STATES = (ReadingState.UNREAD, ReadingState.READING, ReadingState.FINISHED)
"""What a book in the Library can be: from the furthest position any device reported."""
POSITION_STATES = (ReadingState.READING, ReadingState.FINISHED, ReadingState.PAUSED)
"""What one device's position can be (Reading progress, Hardcover sync)."""


def finished(percentage: Decimal | float) -> bool:
    return Decimal(str(percentage)) >= FINISHED_AT


def book_state(percentage: Decimal | float | None) -> ReadingState:
    """Unread without progress, finished from :data:`FINISHED_AT`, reading in between."""
    if percentage is None or percentage <= 0:
        return ReadingState.UNREAD
    return ReadingState.FINISHED if finished(percentage) else ReadingState.READING


def state_of(percentage: Decimal | float, updated_at: datetime, now: datetime) -> ReadingState:
    """A position's state: finished, paused after :data:`PAUSED_AFTER` idle, else reading."""
    if finished(percentage):
        return ReadingState.FINISHED
    if now - updated_at > PAUSED_AFTER:
        return ReadingState.PAUSED
    return ReadingState.READING
