"""Books, their files and their metadata candidates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from shelver.data.models import (
    Book,
    BookFields,
    BookFile,
    BookListRow,
    BookStatus,
    Candidate,
    StatusCounts,
)
from shelver.data.pg import Executor as Executor  # re-exported: modules name it from here
from shelver.data.queries import query


async def count_by_status(db: Executor) -> StatusCounts:
    record = await db.fetchrow(query("count_books_by_status"))
    return StatusCounts.from_record(record)


async def list_by_status(
    db: Executor,
    status: BookStatus,
    *,
    limit: int = 200,
    after: tuple[datetime, UUID] | None = None,
) -> list[BookListRow]:
    """A page of books in ``status``, newest first; ``after`` is the last row of the page before."""
    after_created, after_id = after if after else (None, None)
    records = await db.fetch(
        query("list_books_by_status"), status.value, after_created, after_id, limit
    )
    return [BookListRow.from_record(r) for r in records]


async def get(db: Executor, book_id: UUID) -> Book | None:
    record = await db.fetchrow(query("get_book"), book_id)
    return Book.from_record(record) if record else None


async def insert(
    db: Executor,
    fields: BookFields,
    *,
    status: BookStatus = BookStatus.INBOX,
    cover_path: str | None = None,
) -> Book:
    record = await db.fetchrow(query("insert_book"), status.value, *fields.sql_values(), cover_path)
    return Book.from_record(record)


async def files_of(db: Executor, book_id: UUID) -> list[BookFile]:
    return [BookFile.from_record(r) for r in await db.fetch(query("list_book_files"), book_id)]


async def add_file(
    db: Executor,
    book_id: UUID,
    *,
    format: str,
    original_name: str,
    file_size: int,
    checksum: str | None,
    content_hash: str | None,
    inbox_path: str | None = None,
    storage_path: str | None = None,
) -> BookFile:
    record = await db.fetchrow(
        query("insert_book_file"),
        book_id,
        format,
        original_name,
        storage_path,
        inbox_path,
        file_size,
        checksum,
        content_hash,
    )
    return BookFile.from_record(record)


async def candidates_of(db: Executor, book_id: UUID) -> list[Candidate]:
    return [Candidate.from_record(r) for r in await db.fetch(query("list_candidates"), book_id)]


async def upsert_candidate(
    db: Executor,
    book_id: UUID,
    *,
    source: str,
    normalized: BookFields,
    confidence: float | Decimal,
    raw_response: Any = None,
) -> Candidate:
    record = await db.fetchrow(
        query("upsert_candidate"),
        book_id,
        source,
        raw_response,
        normalized.model_dump(mode="json"),
        Decimal(str(round(float(confidence), 4))),
    )
    return Candidate.from_record(record)
