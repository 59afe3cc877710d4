"""Helpers for the Library tests: organized books with files and reading progress."""

from __future__ import annotations

import hashlib
from uuid import UUID

from shelver.data import books
from shelver.data.books import Executor
from shelver.data.models import BookFields, BookStatus


async def add_book(
    db: Executor,
    title: str | None,
    author: str | None = None,
    *,
    status: BookStatus = BookStatus.ORGANIZED,
    formats: tuple[str, ...] = ("epub",),
    progress: dict[str, float] | None = None,
    **fields: object,
) -> UUID:
    """One book with a file per format; ``progress`` maps device name to percentage on the
    first file."""
    book = await books.insert(db, BookFields(title=title, author=author, **fields), status=status)
    for number, fmt in enumerate(formats):
        digest = hashlib.md5(f"{book.id}-{number}".encode()).hexdigest()
        await books.add_file(
            db,
            book.id,
            format=fmt,
            original_name=f"{title or 'untitled'}.{fmt}",
            file_size=1000 * (number + 1),
            checksum=hashlib.sha256(digest.encode()).hexdigest(),
            content_hash=digest,
            storage_path=f"library/{book.id}/{number}.{fmt}",
        )
        if number == 0:
            for device, percentage in (progress or {}).items():
                await db.execute(
                    "INSERT INTO reading_progress (document, device, progress, percentage)"
                    " VALUES ($1, $2, '/body/p[1]', $3)",
                    digest,
                    device,
                    percentage,
                )
    return book.id
