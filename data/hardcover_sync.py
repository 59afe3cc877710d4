"""Keeping Hardcover in step with what KOReader devices report (``shelver sync hardcover``).

For each organized book:

1. **Match** it to a Hardcover edition by ISBN-13, then ISBN-10 (``editions`` query), and store
   ``books.hardcover_book_id`` / ``hardcover_edition_id``.
2. **Decide** its state from the newest reading position of any of its documents
   (``data.reading``): 3 *Read* at >= 95 %, 4 *Paused* after 30 days without an update, else
   2 *Currently reading*.
3. **Push** only what changed since ``hardcover_sync_log``: the status (``insert_user_book``
   the first time, unless the book is already on the person's shelves; ``update_user_book``
   after) and the progress in pages, ``round(percentage x edition pages)``, skipped when the
   edition has no page count (``insert_user_book_read`` / ``update_user_book_read``). The
   matched ``edition_id`` is always sent.

Every book ends with an outcome (also kept in ``hardcover_sync_outcomes`` for a sync log
view); one book's failure never stops the others, except a refused token, which stops the run.
Requests go through the shared GraphQL client (``providers.graphql``) and the endpoint's one
rate limiter, shared with metadata fetches (60 in any minute, 10 in any 10 s); a 429 waits for
its ``Retry-After``. The token never appears in a log line
or an error message.

Rating is not pushed: shelver's schema has no rating of its own to send (``last_rating`` stays
empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from pydantic import BaseModel

from shelver.data import reading_insights
from shelver.data.books import Executor
from shelver.data.models import Row
from shelver.data.passwords import SecretUnavailable, unseal_token
from shelver.data.providers.graphql import GraphQLClient, answer_data
from shelver.data.providers.hardcover import LABEL, shared_limiter
from shelver.data.providers.http import (
    FailureKind,
    ProviderError,
    RetryPolicy,
    Sleep,
    make_client,
)
from shelver.data.providers.ratelimit import RateLimiter
from shelver.data.queries import query
from shelver.data.reading import ReadingState, owner_logins, state_of
from shelver.data.reading_insights import BookDates
from shelver.data.settings import ProviderSettings

log = logging.getLogger("shelver.hardcover")

TOKEN_ENV = "SHELVER_HARDCOVER_TOKEN"
SERVICE = "hardcover"

STATUS_READING = 2
STATUS_READ = 3
STATUS_PAUSED = 4
STATUS_FOR_STATE = {
    ReadingState.READING: STATUS_READING,
    ReadingState.FINISHED: STATUS_READ,
    ReadingState.PAUSED: STATUS_PAUSED,
}

EDITION_BY_ISBN_13 = """
query EditionByIsbn13($isbn: String!) {
  editions(where: {isbn_13: {_eq: $isbn}}, limit: 1) { id pages book { id } }
}"""
EDITION_BY_ISBN_10 = """
query EditionByIsbn10($isbn: String!) {
  editions(where: {isbn_10: {_eq: $isbn}}, limit: 1) { id pages book { id } }
}"""
EDITION_PAGES = """
query EditionPages($id: Int!) {
  editions(where: {id: {_eq: $id}}, limit: 1) { id pages book { id } }
}"""
EXISTING_USER_BOOK = """
query ExistingUserBook($book: Int!) {
  me {
    user_books(where: {book_id: {_eq: $book}}, limit: 1) {
      id status_id user_book_reads(order_by: {id: desc}, limit: 1) { id }
    }
  }
}"""
INSERT_USER_BOOK = """
mutation InsertUserBook($book: Int!, $status: Int!, $edition: Int!) {
  insert_user_book(object: {book_id: $book, status_id: $status, edition_id: $edition}) {
    id error
  }
}"""
UPDATE_USER_BOOK = """
mutation UpdateUserBook($id: Int!, $status: Int!, $edition: Int!) {
  update_user_book(id: $id, object: {status_id: $status, edition_id: $edition}) { id error }
}"""
INSERT_READ = """
mutation InsertUserBookRead($userBook: Int!, $pages: Int!, $edition: Int!, $started: date,
                            $finished: date) {
  insert_user_book_read(user_book_id: $userBook, user_book_read: {
    progress_pages: $pages, edition_id: $edition, started_at: $started, finished_at: $finished
  }) { id error }
}"""
UPDATE_READ = """
mutation UpdateUserBookRead($id: Int!, $pages: Int!, $edition: Int!, $finished: date) {
  update_user_book_read(id: $id, object: {
    progress_pages: $pages, edition_id: $edition, finished_at: $finished
  }) { id error }
}"""


class HardcoverError(Exception):
    """One request failed; the message is one readable line without secrets."""


class HardcoverAuthError(HardcoverError):
    """Hardcover refused the token: nothing else can work, so the sync stops."""


class HardcoverUnavailable(Exception):
    """No token is configured (or it cannot be read)."""


# --- the GraphQL client ------------------------------------------------------------------------

MAX_RETRY_AFTER_SECONDS = 300.0
"""A sync runs in the background: it waits out a ``Retry-After`` up to this long (a longer one
fails the book, with a word to try again later)."""
SYNC_POLICY = RetryPolicy(
    attempts=4, base_delay=1.0, max_delay=30.0, max_retry_after=MAX_RETRY_AFTER_SECONDS
)


def _sync_error(error: ProviderError) -> HardcoverError:
    """The shared client's failure as the sync's: a refused token stops the whole run."""
    if error.kind is FailureKind.AUTH:
        return HardcoverAuthError(str(error))
    return HardcoverError(str(error))


class HardcoverClient:
    """The sync's GraphQL requests: the shared client (rate limit, retries, plain-words errors),
    its failures as HardcoverError."""

    def __init__(self, graphql: GraphQLClient) -> None:
        self.graphql = graphql

    @property
    def requests(self) -> int:
        """How many HTTP requests were sent, retries included (for reports and tests)."""
        return self.graphql.stats.requests

    async def execute(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a successful answer; HardcoverError otherwise."""
        try:
            return await self.graphql.execute(document, variables)
        except ProviderError as exc:
            raise _sync_error(exc) from None

    @staticmethod
    def _data_of(response: httpx.Response) -> dict[str, Any]:
        try:
            return answer_data(response, LABEL)
        except ProviderError as exc:
            raise _sync_error(exc) from None


async def load_token(db: Executor, config_dir: Path, environ: dict[str, str] | None = None) -> str:
    """The API token: ``SHELVER_HARDCOVER_TOKEN``, else the sealed ``hardcover`` credential."""
    environ = dict(os.environ if environ is None else environ)
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        sealed = await db.fetchval(query("kosync_first_credential_secret"), SERVICE)
        if sealed:
            try:
                token = unseal_token(config_dir, sealed).strip()
            except SecretUnavailable as exc:
                raise HardcoverUnavailable(str(exc)) from None
    if token.lower().startswith("bearer "):
        token = token[7:].strip()  # Hardcover's settings page shows it with the prefix
    if not token:
        raise HardcoverUnavailable(
            f"no Hardcover token: set {TOKEN_ENV} or store one with "
            "'shelver credentials add hardcover default'"
        )
    return token


@contextlib.asynccontextmanager
async def open_client(
    settings: ProviderSettings,
    token: str,
    *,
    sleep: Sleep = asyncio.sleep,
    limiter: RateLimiter | None = None,
) -> AsyncIterator[HardcoverClient]:
    """A client for ``settings.hardcover_url`` within the configured limits."""
    async with make_client(settings) as http:
        graphql = GraphQLClient(
            http,
            settings.hardcover_url,
            token,
            service=LABEL,
            # The endpoint's one allowance, shared with any fetch running in this process.
            limiter=limiter
            or shared_limiter(settings.hardcover_url, settings.hardcover_requests_per_minute),
            policy=SYNC_POLICY,
        )
        graphql.sleep = sleep
        yield HardcoverClient(graphql)


# --- the sync ------------------------------------------------------------------------------


class SyncCandidate(Row):
    """An organized book as the sync sees it."""

    id: UUID
    title: str | None = None
    isbn_13: str | None = None
    isbn_10: str | None = None
    hardcover_book_id: int | None = None
    hardcover_edition_id: int | None = None
    percentage: Decimal | None = None
    read_at: datetime | None = None
    hardcover_user_book_id: int | None = None
    hardcover_read_id: int | None = None
    last_status: str | None = None
    last_progress: Decimal | None = None
    last_rating: Decimal | None = None


class Edition(BaseModel):
    id: int
    book_id: int
    pages: int | None = None


class SyncOutcome(BaseModel):
    """What happened to one book."""

    book_id: UUID
    title: str | None = None
    outcome: str
    """synced, unchanged, matched, no_isbn, not_found, no_progress or error."""
    detail: str | None = None
    status_id: int | None = None
    progress_pages: int | None = None
    matched_now: bool = False


class SyncLogLine(Row):
    """One line of the sync log view."""

    book_id: UUID
    title: str | None = None
    author: str | None = None
    hardcover_book_id: int | None = None
    hardcover_edition_id: int | None = None
    last_status: str | None = None
    last_progress: Decimal | None = None
    last_synced_at: datetime | None = None
    outcome: str | None = None
    detail: str | None = None
    recorded_at: datetime | None = None


def desired_status(percentage: Decimal, read_at: datetime, now: datetime) -> int:
    return STATUS_FOR_STATE[state_of(percentage, read_at, now)]


def progress_pages(percentage: Decimal, pages: int) -> int:
    """``round(percentage x pages)``, halves rounded up."""
    return int((Decimal(percentage) * pages).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _edition_of(data: dict[str, Any]) -> Edition | None:
    editions = data.get("editions")
    if not isinstance(editions, list) or not editions:
        return None
    first = editions[0]
    try:
        book: dict[str, Any] = first.get("book") or {}
        pages = first.get("pages")
        # the nested book as asked for, or the plain column some answers carry
        book_id = book.get("id")
        if book_id is None:
            book_id = first["book_id"]
        return Edition(
            id=int(first["id"]),
            book_id=int(book_id),
            pages=int(pages) if pages else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise HardcoverError("Hardcover's edition answer is missing its id or book") from None


async def find_edition(
    client: HardcoverClient, isbn_13: str | None, isbn_10: str | None
) -> Edition | None:
    """The edition with this ISBN-13, else this ISBN-10; None when Hardcover has neither."""
    if isbn_13:
        edition = _edition_of(await client.execute(EDITION_BY_ISBN_13, {"isbn": isbn_13}))
        if edition:
            return edition
    if isbn_10:
        return _edition_of(await client.execute(EDITION_BY_ISBN_10, {"isbn": isbn_10}))
    return None


async def find_user_book(
    client: HardcoverClient, hardcover_book: int
) -> tuple[int, int | None, int | None] | None:
    """(user_book id, its status, its latest read id) when the book is already on a shelf."""
    data = await client.execute(EXISTING_USER_BOOK, {"book": hardcover_book})
    users = data.get("me")
    user = users[0] if isinstance(users, list) and users else users
    shelves = user.get("user_books") if isinstance(user, dict) else None
    if not isinstance(shelves, list) or not shelves or not isinstance(shelves[0], dict):
        return None
    entry = shelves[0]
    reads = entry.get("user_book_reads") or []
    try:
        user_book_id = int(entry["id"])
        status = int(entry["status_id"]) if entry.get("status_id") is not None else None
        read_id = int(reads[0]["id"]) if reads and isinstance(reads[0], dict) else None
    except (KeyError, TypeError, ValueError):
        raise HardcoverError("Hardcover's user_books answer is missing its id") from None
    return user_book_id, status, read_id


def _mutation_id(data: dict[str, Any], field: str) -> int:
    result = data.get(field)
    if not isinstance(result, dict):
        raise HardcoverError(f"Hardcover's {field} answer is empty")
    if result.get("error"):
        raise HardcoverError(f"Hardcover refused {field}: {str(result['error'])[:200]}")
    try:
        return int(result["id"])
    except (KeyError, TypeError, ValueError):
        raise HardcoverError(f"Hardcover's {field} answer has no id") from None


async def _save_log(
    db: Executor,
    book_id: UUID,
    user_book_id: int | None,
    read_id: int | None,
    status: str | None,
    progress: Decimal | None,
) -> None:
    await db.execute(
        query("hardcover_save_log"), book_id, user_book_id, read_id, status, progress, None
    )


async def _sync_one(
    db: Executor,
    client: HardcoverClient,
    book: SyncCandidate,
    now: datetime,
    dates: BookDates | None = None,
) -> SyncOutcome:
    """``dates``: when KOReader's statistics saw the book first read and finished; they are
    sent as the read's started and finished dates (else the first position and today)."""
    outcome = SyncOutcome(book_id=book.id, title=book.title, outcome="unchanged")
    edition_id = book.hardcover_edition_id
    hardcover_book = book.hardcover_book_id
    pages: int | None = None
    if edition_id is None or hardcover_book is None:
        if not (book.isbn_13 or book.isbn_10):
            return outcome.model_copy(
                update={"outcome": "no_isbn", "detail": "no ISBN to match on Hardcover"}
            )
        edition = await find_edition(client, book.isbn_13, book.isbn_10)
        if edition is None:
            isbns = " / ".join(i for i in (book.isbn_13, book.isbn_10) if i)
            return outcome.model_copy(
                update={"outcome": "not_found", "detail": f"no Hardcover edition for {isbns}"}
            )
        await db.execute(query("hardcover_set_match"), book.id, edition.book_id, edition.id)
        edition_id, hardcover_book, pages = edition.id, edition.book_id, edition.pages
        outcome = outcome.model_copy(update={"matched_now": True, "outcome": "matched"})
    if book.percentage is None or book.read_at is None:
        return outcome.model_copy(
            update={
                "outcome": "matched" if outcome.matched_now else "no_progress",
                "detail": "no reading progress from a device yet",
            }
        )
    status = desired_status(book.percentage, book.read_at, now)
    status_changed = book.last_status != str(status)
    progress_changed = book.last_progress != book.percentage
    if not status_changed and not progress_changed:
        return outcome.model_copy(update={"outcome": "unchanged", "status_id": status})

    user_book_id, read_id = book.hardcover_user_book_id, book.hardcover_read_id
    remote_status: int | None = None
    if user_book_id is None:
        # The book may already be on the person's Hardcover shelves (added on the website).
        existing = await find_user_book(client, hardcover_book)
        if existing is not None:
            user_book_id, remote_status, read_id = existing
            status_changed = remote_status != status
    if user_book_id is None:
        data = await client.execute(
            INSERT_USER_BOOK, {"book": hardcover_book, "status": status, "edition": edition_id}
        )
        user_book_id = _mutation_id(data, "insert_user_book")
    elif status_changed:
        data = await client.execute(
            UPDATE_USER_BOOK, {"id": user_book_id, "status": status, "edition": edition_id}
        )
        _mutation_id(data, "update_user_book")
    # Recorded at once, so a failure below never leads to a second user_book next time.
    await _save_log(db, book.id, user_book_id, read_id, str(status), book.last_progress)

    detail = f"status {status}"
    pushed_pages: int | None = None
    if progress_changed or read_id is None:
        if pages is None:
            found = _edition_of(await client.execute(EDITION_PAGES, {"id": edition_id}))
            pages = found.pages if found else None
        if pages:
            pushed_pages = progress_pages(book.percentage, pages)
            finished = None
            if status == STATUS_READ:
                done_at = dates.finished_at if dates and dates.finished_at else None
                finished = (done_at.astimezone().date() if done_at else now.date()).isoformat()
            if read_id is None:
                started: date = (
                    dates.first_read.astimezone().date() if dates else book.read_at.date()
                )
                data = await client.execute(
                    INSERT_READ,
                    {
                        "userBook": user_book_id,
                        "pages": pushed_pages,
                        "edition": edition_id,
                        "started": started.isoformat(),
                        "finished": finished,
                    },
                )
                read_id = _mutation_id(data, "insert_user_book_read")
            else:
                data = await client.execute(
                    UPDATE_READ,
                    {
                        "id": read_id,
                        "pages": pushed_pages,
                        "edition": edition_id,
                        "finished": finished,
                    },
                )
                _mutation_id(data, "update_user_book_read")
            detail += f", page {pushed_pages} of {pages}"
        else:
            detail += "; progress skipped: the edition has no page count"
    await _save_log(db, book.id, user_book_id, read_id, str(status), book.percentage)
    return outcome.model_copy(
        update={
            "outcome": "synced",
            "detail": detail,
            "status_id": status,
            "progress_pages": pushed_pages,
        }
    )


async def sync(
    db: Executor,
    client: HardcoverClient,
    *,
    book_ids: list[UUID] | None = None,
    include_unread: bool = False,
    now: datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[SyncOutcome]:
    """Sync the organized books a device has reported on; one outcome per book, in title order.

    The positions sent are the library owner's (``reading.owner_logins``: the first KoSync
    login and those sharing with it): the Hardcover account is one person's, and another
    login's reading is not theirs.

    ``book_ids`` picks books (read or not); ``include_unread`` also matches every other
    organized book (at 60 requests a minute, a big library takes a while). A refused token
    records an error for the book at hand and raises HardcoverAuthError.
    """
    now = now or datetime.now(UTC)
    records = await db.fetch(
        query("hardcover_sync_books"),
        book_ids,
        include_unread or book_ids is not None,
        await owner_logins(db),
    )
    books = [SyncCandidate.from_record(r) for r in records]
    dates = await reading_insights.book_dates(db, [b.id for b in books])
    outcomes: list[SyncOutcome] = []
    for done, book in enumerate(books, start=1):
        try:
            outcome = await _sync_one(db, client, book, now, dates.get(book.id))
        except HardcoverAuthError as exc:
            await db.execute(query("hardcover_record_outcome"), book.id, "error", str(exc))
            raise
        except HardcoverError as exc:
            outcome = SyncOutcome(
                book_id=book.id, title=book.title, outcome="error", detail=str(exc)
            )
        await db.execute(
            query("hardcover_record_outcome"), book.id, outcome.outcome, outcome.detail
        )
        log.info("hardcover sync %s: %s %s", book.id, outcome.outcome, outcome.detail or "")
        outcomes.append(outcome)
        if on_progress is not None:
            on_progress(done, len(books))
    return outcomes


async def sync_log(db: Executor, *, limit: int = 1000) -> list[SyncLogLine]:
    """Every organized book with its match, what was last sent and the last outcome."""
    return [SyncLogLine.from_record(r) for r in await db.fetch(query("hardcover_sync_view"), limit)]


async def run(
    db: Executor,
    config_dir: Path,
    settings: ProviderSettings,
    *,
    book_ids: list[UUID] | None = None,
    include_unread: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[SyncOutcome]:
    """Everything a screen action needs in one call: find the token, connect, sync.

    Raises HardcoverUnavailable (no token) or HardcoverAuthError (token refused); every other
    problem is an outcome of its book.
    """
    token = await load_token(db, config_dir)
    async with open_client(settings, token) as client:
        return await sync(
            db, client, book_ids=book_ids, include_unread=include_unread, on_progress=on_progress
        )
