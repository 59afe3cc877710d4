"""The guard every review decision passes: the book is locked, and it is still what was shown.

A decision (approve, reject, undo, send back) names the book *and* the version the person saw
(``books.updated_at``). ``decision_on`` holds the book's decision lock (a PostgreSQL advisory
lock, tried without waiting: a second shelver window deciding the same book is told at once) for
the whole decision, file moves included, and refuses, with nothing written, when the book is
gone, has left the statuses the decision applies to, or changed since it was shown. An advisory
lock, not a row lock: the move journal's finisher writes the row from its own connection.
Two windows can therefore never approve one book twice, nor approve values neither saw.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from shelver.data.models import Book, BookStatus
from shelver.data.queries import query


class ReviewError(Exception):
    """A decision that cannot be made as asked; one readable line, nothing changed."""


class StaleBook(ReviewError):
    """The book is no longer what the person saw (decided elsewhere, changed, or gone): the
    screen drops it and shows the database's state instead of retrying."""


def quoted(title: str | None) -> str:
    """A book as messages name it: its title, never its id."""
    return f"“{title or 'untitled'}”"


STATUS_WORDS = {
    BookStatus.INBOX: "is back in the inbox",
    BookStatus.REVIEW: "is waiting for review",
    BookStatus.ORGANIZED: "is already in the library",
}


@asynccontextmanager
async def decision_on(
    pool: Any,
    book_id: UUID,
    *,
    statuses: Collection[BookStatus],
    expected_version: datetime | None,
    title: str | None = None,
) -> AsyncIterator[tuple[Any, Book]]:
    """A connection holding the book's decision lock, and the book as it is.

    ``title`` (what the screen showed) names the book in messages when it is gone.
    """
    async with pool.acquire() as conn:
        if not await conn.fetchval(query("review_try_lock_decision"), book_id):
            raise ReviewError(
                f"{quoted(title)} is being decided in another shelver window; "
                "nothing was changed here"
            )
        try:
            yield conn, await _as_shown(conn, book_id, statuses, expected_version, title)
        finally:
            await conn.execute(query("review_unlock_decision"), book_id)


async def _as_shown(
    conn: Any,
    book_id: UUID,
    statuses: Collection[BookStatus],
    expected_version: datetime | None,
    title: str | None,
) -> Book:
    record = await conn.fetchrow(query("get_book"), book_id)
    if record is None:
        raise StaleBook(f"{quoted(title)} is gone (rejected or deleted elsewhere)")
    book = Book.from_record(record)
    if book.status not in statuses:
        raise StaleBook(f"{quoted(book.title)} {STATUS_WORDS[book.status]}; nothing changed")
    if expected_version is not None and book.updated_at != expected_version:
        raise StaleBook(
            f"{quoted(book.title)} changed since it was shown (another window or command "
            "edited it); look at it again"
        )
    return book
