"""What the reading statistics say: per book (time, sessions, pace, time left) and across the
library (time per day, streak, books finished per month).

Statistics come from KOReader's page visits (``reading_page_visits``, see
``statistics_ingest``). A session is a run of visits each starting less than
:data:`SESSION_GAP` after the previous one ended; its time is the sum of its visits, so a
book's total equals the sum of its sessions. Days are local days of this machine.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from uuid import UUID

from pydantic import BaseModel

from shelver.data.books import Executor
from shelver.data.pg import Connection, session
from shelver.data.queries import query
from shelver.data.reading import book_positions
from shelver.data.reading_state import FINISHED_AT

SESSION_GAP = timedelta(minutes=10)
"""Page visits further apart than this start a new session."""
OWN_PACE_MIN_VISITS = 30
"""Below this many page visits, a book's time left uses the pace over all books."""


class StatSession(BaseModel):
    started_at: datetime
    ended_at: datetime
    seconds: int
    """Time on pages (the sum of the visits), not the wall-clock span."""
    pages: int
    visits: int
    start_fraction: float | None
    end_fraction: float | None
    total_pages: int | None = None


class BookReading(BaseModel):
    """Everything the statistics know about one book (or one unlinked document)."""

    book_id: UUID | None
    documents: list[str]
    title: str | None = None
    authors: str | None = None
    seconds: int
    sessions: list[StatSession]
    pages_read: int
    visits: int
    first_read: datetime | None
    last_read: datetime | None
    fraction: float | None
    """Where the person is now (the newest of the statistics and KoSync), 0..1."""
    pages_per_hour: float | None
    seconds_left: int | None
    """At the person's pace; None when the position or the page count is unknown."""


class DaySeconds(BaseModel):
    day: date
    seconds: int


class MonthCount(BaseModel):
    month: date
    """The first day of the month."""
    books: int


class LibraryReading(BaseModel):
    days: list[DaySeconds]
    """Every day of the period, oldest first (0 s on days without reading)."""
    streak: int
    """Consecutive days with reading up to today (or up to yesterday, before today's)."""
    finished_by_month: list[MonthCount]
    """Every month of the period, oldest first."""


def local_offset(at: float | None = None) -> timedelta:
    """This machine's offset from UTC now (days are cut at local midnight)."""
    moment = time.localtime(at)
    return timedelta(seconds=moment.tm_gmtoff or 0)


def local_today() -> date:
    return datetime.now().astimezone().date()


async def _sessions(db: Executor, documents: list[str]) -> list[StatSession]:
    records = await db.fetch(query("stats_sessions"), documents, SESSION_GAP.total_seconds())
    return [StatSession.model_validate(dict(r)) for r in records]


async def book_documents(db: Executor, book_id: UUID) -> list[str]:
    return [r[0] for r in await db.fetch("SELECT reading_book_documents($1)", book_id)]


async def book_reading(
    db: Executor, *, book_id: UUID | None = None, document: str | None = None
) -> BookReading | None:
    """The statistics of a library book, or of one document; None when there are none."""
    async with session(db) as conn:
        return await _book_reading(conn, book_id=book_id, document=document)


async def _book_reading(
    db: Connection, *, book_id: UUID | None, document: str | None
) -> BookReading | None:
    if book_id is not None:
        documents = await book_documents(db, book_id)
    else:
        documents = [document] if document else []
    if not documents:
        return None
    sessions = await _sessions(db, documents)
    if not sessions:
        return None
    stat_book = await db.fetchrow(query("stats_stat_book"), documents)
    pages_read = await db.fetchval(query("stats_pages_read"), documents)
    positions = await book_positions(db, book_id) if book_id is not None else []
    seconds = sum(s.seconds for s in sessions)
    visits = sum(s.visits for s in sessions)
    last = sessions[-1]
    fraction = last.end_fraction
    if positions and positions[0].updated_at > last.ended_at:
        fraction = float(positions[0].percentage)
    pace = seconds / visits if visits else None
    if visits < OWN_PACE_MIN_VISITS:
        pace = await db.fetchval(query("stats_overall_pace"), None) or pace
    seconds_left = None
    if fraction is not None and last.total_pages and pace:
        remaining_pages = max(0.0, 1.0 - fraction) * last.total_pages
        seconds_left = 0 if fraction >= float(FINISHED_AT) else round(remaining_pages * pace)
    return BookReading(
        book_id=book_id,
        documents=documents,
        title=stat_book["title"] if stat_book else None,
        authors=stat_book["authors"] if stat_book else None,
        seconds=seconds,
        sessions=sessions,
        pages_read=pages_read or 0,
        visits=visits,
        first_read=sessions[0].started_at,
        last_read=last.ended_at,
        fraction=fraction,
        pages_per_hour=visits * 3600 / seconds if seconds else None,
        seconds_left=seconds_left,
    )


def current_streak(reading_days: set[date], today: date) -> int:
    """Days in a row with reading, ending today (or yesterday when today has none yet)."""
    day = today if today in reading_days else today - timedelta(days=1)
    streak = 0
    while day in reading_days:
        streak += 1
        day -= timedelta(days=1)
    return streak


STREAK_CHUNK_DAYS = 64
"""The streak is counted back over this many days at a time (each one indexed query)."""


async def _streak(db: Executor, today: date, offset: timedelta) -> int:
    """The current streak, reading only as far back as it goes."""
    reading_days: set[date] = set()
    last = today
    while True:
        first = last - timedelta(days=STREAK_CHUNK_DAYS - 1)
        records = await db.fetch(query("stats_reading_days"), offset, first, last)
        reading_days.update(r["day"] for r in records)
        streak = current_streak(reading_days, today)
        # Unbroken back to the start of what was read: the streak may go on further.
        if streak == 0 or (today - timedelta(days=streak)) > first:
            return streak
        last = first - timedelta(days=1)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _months_back(today: date, count: int) -> list[date]:
    months = [_month_start(today)]
    while len(months) < count:
        previous = months[-1] - timedelta(days=1)
        months.append(_month_start(previous))
    return months[::-1]


async def library_reading(
    db: Executor, *, days: int = 90, months: int = 12, today: date | None = None
) -> LibraryReading:
    """Time per day over the last ``days`` days, the streak, books finished per month."""
    today = today or local_today()
    offset = local_offset()
    first = today - timedelta(days=days - 1)
    async with session(db) as conn:
        daily = await conn.fetch(query("stats_daily_seconds"), first, offset)
        streak = await _streak(conn, today, offset)
        finished = await conn.fetch(query("stats_finished_books"))
    per_day = {r["day"]: int(r["seconds"]) for r in daily}
    series = [
        DaySeconds(day=first + timedelta(days=n), seconds=per_day.get(first + timedelta(days=n), 0))
        for n in range(days)
    ]
    month_list = _months_back(today, months)
    counts = dict.fromkeys(month_list, 0)
    for record in finished:
        local = (record["finished_at"] + offset).date()
        month = _month_start(local)
        if month in counts:
            counts[month] += 1
    return LibraryReading(
        days=series,
        streak=streak,
        finished_by_month=[MonthCount(month=m, books=counts[m]) for m in month_list],
    )


class BookDates(BaseModel):
    book_id: UUID
    first_read: datetime
    finished_at: datetime | None


async def book_dates(db: Executor, book_ids: list[UUID] | None = None) -> dict[UUID, BookDates]:
    """When each book was first read and finished, by the statistics (for Hardcover)."""
    records = await db.fetch(query("stats_book_dates"), book_ids)
    return {r["book_id"]: BookDates.model_validate(dict(r)) for r in records}


class DocumentSummary(BaseModel):
    document: str
    book_id: UUID | None
    title: str
    author: str | None
    seconds: int
    visits: int
    first_read: datetime | None
    last_read: datetime | None


async def documents(db: Executor) -> list[DocumentSummary]:
    """Every document with statistics, newest read first, titled by the library when linked."""
    return [
        DocumentSummary(
            document=r["document"],
            book_id=r["book_id"],
            title=r["title"] or r["stat_title"] or r["document"],
            author=r["author"] or (r["stat_authors"] or "").replace("\n", ", ") or None,
            seconds=r["seconds"] or 0,
            visits=r["visits"] or 0,
            first_read=r["first_read"],
            last_read=r["last_read"],
        )
        for r in await db.fetch(query("stats_documents"))
    ]
