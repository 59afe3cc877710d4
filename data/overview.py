"""Read-only lookups behind the app shell's screens: queue order, first pages, counts.

Everything here returns pydantic models; the screens never see asyncpg records.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from shelver.data.books import Executor
from shelver.data.models import BookListRow, Row
from shelver.data.queries import query


class DatabaseCounts(Row):
    """How much of everything the database holds (shown on the Settings screen)."""

    books: int = 0
    files: int = 0
    candidates: int = 0
    documents: int = 0
    devices: int = 0
    history_entries: int = 0
    api_keys: int = 0


async def review_queue(db: Executor, *, limit: int = 200) -> list[BookListRow]:
    """Books waiting for review, oldest first (the order they are worked through)."""
    return [
        BookListRow.from_record(r) for r in await db.fetch(query("overview_review_queue"), limit)
    ]


async def database_counts(db: Executor) -> DatabaseCounts:
    return DatabaseCounts.from_record(await db.fetchrow(query("overview_database_counts")))


def redact_dsn(dsn: str) -> str:
    """The DSN with any password (in the authority or a ``password=`` parameter) as ``***``."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rsplit('@', 1)[-1]}"
    params = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in params):
        hidden = [(key, "***" if key == "password" else value) for key, value in params]
        query_text = urlencode(hidden, safe="/:*")
    else:
        query_text = parts.query
    if netloc == parts.netloc and query_text == parts.query:
        return dsn
    # Built by hand: urlunsplit drops the "//" of an empty authority (socket DSNs have one).
    text = f"{parts.scheme}://{netloc}{parts.path}"
    return text + (f"?{query_text}" if query_text else "")
