"""Writing the sample library of ``shelver demo`` (the rows themselves live in app/demo.py).

Each function inserts one row with the statements of ``sql/queries/demo.sql``; `seed_once`
runs a filler inside one transaction, under an advisory lock, only when there are no books.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from shelver.data.models import BookFields, BookStatus
from shelver.data.pg import Connection
from shelver.data.queries import query


async def seed_once(pool: asyncpg.Pool, fill: Callable[[Connection], Awaitable[None]]) -> bool:
    """Run ``fill`` in one transaction when the database holds no books; True if it ran."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(query("demo_lock"))
        if await conn.fetchval(query("demo_book_count")):
            return False
        await fill(conn)
        return True


async def insert_book(
    conn: Connection,
    fields: BookFields,
    *,
    status: BookStatus,
    created_at: datetime,
    approved_at: datetime | None = None,
    hardcover_book_id: int | None = None,
    hardcover_edition_id: int | None = None,
) -> UUID:
    return await conn.fetchval(
        query("demo_insert_book"),
        status.value,
        *fields.sql_values(),
        hardcover_book_id,
        hardcover_edition_id,
        approved_at,
        created_at,
    )


async def mark_duplicate(conn: Connection, book_id: UUID, duplicate_of: UUID) -> None:
    await conn.execute(query("demo_mark_duplicate"), book_id, duplicate_of)


async def insert_file(
    conn: Connection,
    book_id: UUID,
    *,
    format: str,
    original_name: str,
    file_size: int,
    checksum: str,
    content_hash: str,
    created_at: datetime,
    storage_path: str | None = None,
    inbox_path: str | None = None,
) -> None:
    await conn.execute(
        query("demo_insert_file"),
        book_id,
        format,
        original_name,
        storage_path,
        inbox_path,
        file_size,
        checksum,
        content_hash,
        created_at,
    )


async def insert_candidate(
    conn: Connection,
    book_id: UUID,
    *,
    source: str,
    normalized: BookFields,
    confidence: float,
    raw_response: Any = None,
    selected_fields: list[str] | None = None,
) -> None:
    await conn.execute(
        query("demo_insert_candidate"),
        book_id,
        source,
        raw_response,
        normalized.model_dump(mode="json"),
        Decimal(str(round(confidence, 4))),
        selected_fields or [],
    )


async def insert_progress(
    conn: Connection,
    *,
    document: str,
    device: str,
    device_id: str,
    progress: str,
    percentage: float,
    timestamp: int,
    login: str,
) -> None:
    """The current position of KoSync login ``login`` (as a PUT would leave it), payload
    included."""
    payload = {
        "document": document,
        "progress": progress,
        "percentage": percentage,
        "device": device,
        "device_id": device_id,
    }
    await conn.execute(
        query("demo_insert_progress"),
        document,
        device,
        device_id,
        progress,
        Decimal(str(round(percentage, 4))),
        timestamp,
        payload,
        login,
    )


async def insert_progress_history(
    conn: Connection,
    *,
    document: str,
    device: str,
    progress: str,
    percentage: float,
    timestamp: int,
) -> None:
    await conn.execute(
        query("demo_insert_progress_history"),
        document,
        device,
        progress,
        Decimal(str(round(percentage, 4))),
        timestamp,
    )


async def insert_credential(
    conn: Connection,
    *,
    service: str,
    username: str,
    password_hash: str,
    created_at: datetime,
) -> None:
    await conn.execute(
        query("demo_insert_credential"), service, username, password_hash, created_at
    )


async def insert_sync_log(
    conn: Connection,
    book_id: UUID,
    *,
    user_book_id: int,
    read_id: int,
    status: str,
    progress: float,
    rating: float | None,
    synced_at: datetime,
) -> None:
    await conn.execute(
        query("demo_insert_sync_log"),
        book_id,
        user_book_id,
        read_id,
        status,
        Decimal(str(round(progress, 4))),
        None if rating is None else Decimal(str(rating)),
        synced_at,
    )
