"""Reading progress for the screens: current positions, history, sessions, links, live updates.

How a KoSync ``document`` finds its book (no stored link is needed for the two automatic ways):

* ``manual``: linked by hand with :func:`link_document` (table ``reading_document_links``);
* ``content_hash``: it equals a file's ``book_files.content_hash`` (KOReader's partial MD5);
* ``filename``: it equals ``md5(book_files.original_name)`` (KOReader's file-name method).

The lookup happens at query time (SQL function ``reading_document_book``), so progress a device
sent before the book was imported links itself the moment the file arrives.

Live updates: every insert or update of ``reading_progress`` (and every change of a hand-made
link) is announced with PostgreSQL NOTIFY on the channel :data:`PROGRESS_CHANNEL`
(``shelver_reading_progress``). The payload is JSON, parsed by :func:`parse_notice` into a
:class:`ProgressNotice`::

    {"kind": "progress", "document": "...", "device": "...", "percentage": 0.42,
     "timestamp": 1700000000, "login": "alice", ...}
    {"kind": "link", "document": "..."}

Notifications are sent when the writing transaction commits, one per changed row; under a
busy sync server they arrive in bursts, so a screen should coalesce them (e.g. refresh at most
a few times a second). Use :func:`progress_notifications` to receive them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ValidationError

from shelver.data.books import Executor
from shelver.data.models import DevicePositionFields, Row
from shelver.data.queries import query
from shelver.data.reading_state import ReadingState, state_of

PROGRESS_CHANNEL = "shelver_reading_progress"
"""NOTIFY channel announcing changes of current positions and hand-made links."""

SESSION_GAP = timedelta(minutes=30)
"""Updates further apart than this start a new reading session."""


class LinkMethod(StrEnum):
    MANUAL = "manual"
    CONTENT_HASH = "content_hash"
    FILENAME = "filename"


STATISTICS_DEVICE = "statistics"
"""The device of a document known only from KOReader's reading statistics (no position)."""


class UnknownBook(Exception):
    """A link names a book that does not exist."""


class CurrentPosition(DevicePositionFields):
    """The current position of one document on one device, with its book when linked."""

    state: ReadingState
    book_id: UUID | None = None
    """None: no book matches the document yet (shown as unlinked)."""
    link_method: LinkMethod | None = None
    title: str | None = None
    author: str | None = None
    login: str | None = None
    """The KoSync login that wrote it; None for a position of no login (see data.kosync)."""
    seconds_read: int | None = None
    """Time on its pages by KOReader's statistics; None when they have none."""


class DeviceSummary(Row):
    device: str
    documents: int
    last_seen: datetime


class LoginSummary(Row):
    """A KoSync login that has positions, and the logins whose positions it sees."""

    login: str
    positions: int
    last_seen: datetime
    sees: list[str]
    """Itself and the logins it shares positions with (``shelver credentials share``)."""


class HistoryEntry(Row):
    """One update a device sent (a row of ``reading_progress_history``)."""

    document: str
    device: str
    progress: str
    percentage: Decimal
    timestamp: int
    created_at: datetime


class ReadingSession(BaseModel):
    """Consecutive updates of one device with no gap longer than :data:`SESSION_GAP`."""

    device: str
    started_at: datetime
    ended_at: datetime
    start_percentage: Decimal
    end_percentage: Decimal
    updates: int

    @property
    def duration(self) -> timedelta:
        return self.ended_at - self.started_at


class DocumentLink(Row):
    book_id: UUID
    link_method: LinkMethod


class BookPosition(Row):
    """The newest position of a book across its documents and devices."""

    book_id: UUID
    document: str
    device: str
    percentage: Decimal
    timestamp: int
    updated_at: datetime
    login: str | None = None


PROGRESS_CHANGED = "progress"
"""The ``kind`` of a notice that carries a changed position."""
LINK_CHANGED = "link"
"""The ``kind`` of a notice that names a document whose hand-made link changed."""
STATISTICS_CHANGED = "statistics"
"""The ``kind`` of the notice sent when KOReader's reading statistics arrived (no document)."""
CONNECTION_LOST = "connection-lost"
"""The ``kind`` of the notice queued when the listening connection dies: nothing more will
arrive on that queue, so the listener should open a new one (and re-read what it missed)."""


NOTICE_TEXT_LIMIT = 512
"""The NOTIFY payload cuts text values to this many characters (0003/0009 migrations)."""


class ProgressNotice(BaseModel):
    """One NOTIFY from :data:`PROGRESS_CHANNEL`: a "progress" notice carries the position
    itself (what a screen shows of it, but its book), a "link" notice only the document."""

    kind: str
    document: str
    device: str | None = None
    device_id: str | None = None
    progress: str | None = None
    percentage: float | None = None
    timestamp: int | None = None
    updated_at: datetime | None = None
    login: str | None = None
    """The KoSync login that wrote the position (None: a position of no login)."""

    @property
    def complete(self) -> bool:
        """A progress notice whose values are whole (none was cut to fit the payload)."""
        texts = (self.document, self.device, self.device_id, self.progress, self.login)
        return (
            self.kind == PROGRESS_CHANGED
            and self.device is not None
            and self.progress is not None
            and self.percentage is not None
            and self.updated_at is not None
            and all(text is None or len(text) < NOTICE_TEXT_LIMIT for text in texts)
        )

    def position(self, book: CurrentPosition | None, now: datetime) -> CurrentPosition:
        """The position this (complete) notice announces, linked like ``book`` (another
        position of the same document) or unlinked when None."""
        percentage = Decimal(str(self.percentage))
        updated_at = self.updated_at or now
        return CurrentPosition(
            document=self.document,
            device=self.device or "",
            device_id=self.device_id,
            progress=self.progress or "",
            percentage=percentage,
            timestamp=self.timestamp or 0,
            updated_at=updated_at,
            state=state_of(percentage, updated_at, now),
            book_id=book.book_id if book else None,
            link_method=book.link_method if book else None,
            title=book.title if book else None,
            author=book.author if book else None,
            login=self.login,
            seconds_read=book.seconds_read if book else None,
        )


async def current_positions(
    db: Executor,
    *,
    device: str | None = None,
    book_id: UUID | None = None,
    linked: bool | None = None,
    state: ReadingState | None = None,
    documents: list[str] | None = None,
    login: str | None = None,
    limit: int = 1000,
    statistics_only: bool = False,
) -> list[CurrentPosition]:
    """Current positions, newest first; each filter is optional. ``login``: only what that
    KoSync login sees (its own positions and those of the logins it shares with).
    ``statistics_only``: also the documents known only from KOReader's statistics, as device
    :data:`STATISTICS_DEVICE` (not KoSync positions: for lists of what was read)."""
    records = await db.fetch(
        query("reading_current_positions"),
        device,
        book_id,
        linked,
        state.value if state else None,
        limit,
        documents,
        login,
        statistics_only,
    )
    return [CurrentPosition.from_record(r) for r in records]


async def devices(db: Executor, *, login: str | None = None) -> list[DeviceSummary]:
    """Every device with a position (``login``: only among what that login sees)."""
    records = await db.fetch(query("reading_devices"), login)
    return [DeviceSummary.from_record(r) for r in records]


async def logins(db: Executor) -> list[LoginSummary]:
    """Every KoSync login that has positions, by name."""
    return [LoginSummary.from_record(r) for r in await db.fetch(query("reading_logins"))]


async def document_history(
    db: Executor, document: str, *, login: str | None = None, limit: int = 5000
) -> list[HistoryEntry]:
    """Every update of ``document``, oldest first (``login``: only what that login sees)."""
    records = await db.fetch(query("reading_document_history"), document, limit, login)
    return [HistoryEntry.from_record(r) for r in records]


async def book_history(
    db: Executor, book_id: UUID, *, login: str | None = None, limit: int = 5000
) -> list[HistoryEntry]:
    """Every update of every document linked to ``book_id``, oldest first (``login``: only
    what that login sees)."""
    records = await db.fetch(query("reading_book_history"), book_id, limit, login)
    return [HistoryEntry.from_record(r) for r in records]


def sessions_from_history(
    entries: list[HistoryEntry], *, gap: timedelta = SESSION_GAP
) -> list[ReadingSession]:
    """Group updates into sessions per device (oldest first, as the history is ordered)."""
    open_sessions: dict[str, ReadingSession] = {}
    finished: list[ReadingSession] = []
    # KoSync sends one position per sitting, so a new session starts where the book was
    # left (on any device): "31→48 %", not "48→48 %".
    previous: Decimal | None = None
    for entry in sorted(entries, key=lambda e: (e.created_at, e.timestamp)):
        left_at, previous = previous, entry.percentage
        current = open_sessions.get(entry.device)
        if current is not None and entry.created_at - current.ended_at <= gap:
            open_sessions[entry.device] = current.model_copy(
                update={
                    "ended_at": entry.created_at,
                    "end_percentage": entry.percentage,
                    "updates": current.updates + 1,
                }
            )
            continue
        if current is not None:
            finished.append(current)
        open_sessions[entry.device] = ReadingSession(
            device=entry.device,
            started_at=entry.created_at,
            ended_at=entry.created_at,
            start_percentage=entry.percentage if left_at is None else left_at,
            end_percentage=entry.percentage,
            updates=1,
        )
    finished.extend(open_sessions.values())
    return sorted(finished, key=lambda s: (s.started_at, s.device))


async def document_link(db: Executor, document: str) -> DocumentLink | None:
    """The book ``document`` belongs to and how it was found; None when unlinked."""
    record = await db.fetchrow(query("reading_document_book"), document)
    return DocumentLink.from_record(record) if record and record["book_id"] else None


async def link_document(db: Executor, document: str, book_id: UUID) -> None:
    """Link ``document`` to ``book_id`` by hand; a hand-made link wins over digest matches."""
    try:
        await db.fetchval(query("reading_link_document"), document, book_id)
    except asyncpg.ForeignKeyViolationError:
        raise UnknownBook(f"no book with id {book_id}") from None


async def unlink_document(db: Executor, document: str) -> bool:
    """Remove a hand-made link; False when there was none. Digest matches stay."""
    return await db.fetchval(query("reading_unlink_document"), document) is not None


async def book_positions(
    db: Executor, book_id: UUID | None = None, *, logins: list[str] | None = None
) -> list[BookPosition]:
    """The newest position of each linked book (or of one book); ``logins``: only positions
    these KoSync logins wrote."""
    records = await db.fetch(query("reading_book_positions"), book_id, logins)
    return [BookPosition.from_record(r) for r in records]


async def owner_logins(db: Executor) -> list[str] | None:
    """The library owner's KoSync logins: the first login made and those sharing positions
    with it (whose reading Hardcover receives). None when there is no KoSync login: then every
    position is the owner's."""
    group = await db.fetchval(query("reading_owner_logins"))
    return list(group) if group else None


def parse_notice(payload: str) -> ProgressNotice | None:
    """A notification's payload as a model; None for anything unexpected."""
    try:
        return ProgressNotice.model_validate(json.loads(payload))
    except (ValueError, ValidationError):
        return None


@contextlib.asynccontextmanager
async def progress_notifications(
    pool: asyncpg.Pool,
) -> AsyncIterator[asyncio.Queue[ProgressNotice]]:
    """LISTEN on :data:`PROGRESS_CHANNEL` while the block runs; notices arrive on the queue.

    Holds one pooled connection for the duration (a listener needs its own session)::

        async with progress_notifications(pool) as notices:
            notice = await notices.get()
    """
    notices: asyncio.Queue[ProgressNotice] = asyncio.Queue()

    def on_notify(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        notice = parse_notice(str(payload))  # asyncpg hands over the text as sent
        if notice is not None:
            notices.put_nowait(notice)

    def on_terminated(_conn: Any) -> None:
        # A dropped session hears nothing more: say so instead of falling silent.
        notices.put_nowait(ProgressNotice(kind=CONNECTION_LOST, document=""))

    async with pool.acquire() as conn:
        conn.add_termination_listener(on_terminated)
        await conn.add_listener(PROGRESS_CHANNEL, on_notify)
        try:
            yield notices
        finally:
            conn.remove_termination_listener(on_terminated)
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await conn.remove_listener(PROGRESS_CHANNEL, on_notify)
