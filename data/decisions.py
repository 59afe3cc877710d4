"""Saying no, and taking a decision back: reject, undo, send back to review, delete.

* ``reject`` moves a book's files to ``rejected/`` (a ``.reason.txt`` beside each), keeps a full
  snapshot of the row, its files and candidates in ``rejected_books``, and removes the row.
  Nothing is deleted: ``restore_rejected`` puts the book back exactly as it was (its files
  back where they were). Deleting a book from the library is the same operation.
* ``undo_approval`` returns a just-approved book to review with the values it had before, its
  files back in the inbox where they came from.
* ``send_back_to_review`` returns a library book to the review queue (its files stay put until
  it is approved again).

Every decision goes through ``data.review_guard.decision_on``: locked, and refused with nothing
written when the book was decided or changed elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from shelver.data import books
from shelver.data.home import Home
from shelver.data.models import Book, BookFields, BookFile, BookStatus
from shelver.data.organize import OrganizeError, move_file, reject_book_files
from shelver.data.queries import query
from shelver.data.review_guard import ReviewError, StaleBook, decision_on, quoted

EDITABLE = set(BookFields.model_fields)
REASON_SUFFIX = ".reason.txt"


@dataclass(frozen=True)
class Rejection:
    """A rejected book: the row as it was and where its files went."""

    book: Book
    moved_to: list[Path]


async def reject(
    database: Any,
    home: Home,
    book_id: UUID,
    reason: str,
    *,
    expected_version: datetime | None = None,
    title: str | None = None,
    statuses: tuple[BookStatus, ...] = (BookStatus.REVIEW, BookStatus.INBOX),
) -> Rejection:
    """Move the book's files to rejected/ with the reason beside them; remove its row (kept
    whole in ``rejected_books``)."""
    pool = database.pool
    async with decision_on(
        pool, book_id, statuses=statuses, expected_version=expected_version, title=title
    ) as (conn, book):
        metadata = book.model_dump(mode="json", include=EDITABLE)
        text = (
            f"{quoted(book.title)} by {book.author or 'unknown author'}: {reason}.\n"
            f"Its metadata:\n{json.dumps(metadata, ensure_ascii=False, indent=2)}"
        )
        files = await books.files_of(conn, book_id)
        try:
            moved = await reject_book_files(pool, home, book_id, text)
        except OrganizeError as exc:
            raise ReviewError(f"could not set {quoted(book.title)} aside: {exc}") from None
        # The snapshot keeps each file's place before the move; moved_to says where it is now.
        where = {str(f.id): str(p) for f, p in zip(files, moved, strict=True)}
        await _restore_file_places(conn, files)  # the snapshot must hold the old places
        await conn.execute(query("review_record_rejection"), book_id, reason, json.dumps(where))
        await conn.execute(query("review_delete_book"), book_id)
    return Rejection(book, moved)


async def _restore_file_places(conn: Any, files: list[BookFile]) -> None:
    for book_file in files:
        await conn.execute(
            query("review_place_file"), book_file.id, book_file.inbox_path, book_file.storage_path
        )


async def restore_rejected(database: Any, home: Home, book_id: UUID) -> Book:
    """Put a rejected book back as it was: its row, candidates, and files where they were."""
    pool = database.pool
    record = await pool.fetchrow(query("review_rejection"), book_id)
    if record is None:
        raise StaleBook("that rejection is no longer on record; nothing to undo")
    moved_to: dict[str, str] = json.loads(record["moved_to"])
    async with pool.acquire() as conn, conn.transaction():
        if await books.get(conn, book_id) is not None:
            raise StaleBook(f"{quoted(record['title'])} is already back")
        await conn.fetchrow(query("review_restore_rejected"), book_id)
        await conn.execute(query("review_forget_rejection"), book_id)
        files = await books.files_of(conn, book_id)
    # The row is back (committed) pointing at the old places; now the files follow.
    for book_file in files:
        now_at = moved_to.get(str(book_file.id))
        back_to = book_file.inbox_path or book_file.storage_path
        if now_at is None or back_to is None or now_at == back_to:
            continue
        await _move_back(pool, book_file, Path(now_at), Path(back_to))
    book = await books.get(pool, book_id)
    assert book is not None
    return book


async def _move_back(pool: Any, book_file: BookFile, now_at: Path, back_to: Path) -> None:
    """Move one file from ``now_at`` to ``back_to`` and point its row there again."""
    at_now = book_file.model_copy(update={"inbox_path": None, "storage_path": str(now_at)})
    try:
        target = await move_file(pool, at_now, back_to)
    except OrganizeError as exc:
        raise ReviewError(f"could not move {book_file.original_name} back: {exc}") from None
    inbox = str(target) if book_file.inbox_path else None
    storage = None if book_file.inbox_path else str(target)
    await pool.execute(query("review_place_file"), book_file.id, inbox, storage)
    reason = now_at.with_name(now_at.name + REASON_SUFFIX)
    await asyncio.to_thread(reason.unlink, missing_ok=True)


async def undo_approval(
    database: Any,
    home: Home,
    before: Book,
    files_before: list[BookFile],
    *,
    approved_version: datetime,
) -> Book:
    """Return a just-approved book to review as it was ``before``; its files go back to where
    they were (the inbox). Refused when the book changed since the approval."""
    pool = database.pool
    async with decision_on(
        pool,
        before.id,
        statuses=(BookStatus.ORGANIZED,),
        expected_version=approved_version,
        title=before.title,
    ) as (conn, _):
        now = {f.id: f for f in await books.files_of(conn, before.id)}
        for old in files_before:
            current = now.get(old.id)
            if current is None or current.storage_path is None:
                continue
            back_to = old.inbox_path or old.storage_path
            if back_to and back_to != current.storage_path:
                await _move_back(pool, old, Path(current.storage_path), Path(back_to))
        record = await conn.fetchrow(
            query("review_restore_fields"),
            before.id,
            *BookFields.model_validate(before.model_dump(include=EDITABLE)).sql_values(),
            before.hardcover_book_id,
            before.hardcover_edition_id,
            before.possible_duplicate_of,
        )
        await conn.execute(query("review_clear_selected_fields"), before.id)
    return Book.from_record(record)


async def send_back_to_review(
    database: Any,
    book_id: UUID,
    *,
    expected_version: datetime | None = None,
    title: str | None = None,
) -> Book:
    """A library book goes back to the review queue, values and files as they are."""
    pool = database.pool
    async with decision_on(
        pool,
        book_id,
        statuses=(BookStatus.ORGANIZED,),
        expected_version=expected_version,
        title=title,
    ) as (conn, _):
        record = await conn.fetchrow(query("review_back_to_review"), book_id)
    return Book.from_record(record)


async def delete_from_library(
    database: Any,
    home: Home,
    book_id: UUID,
    *,
    expected_version: datetime | None = None,
    title: str | None = None,
) -> Rejection:
    """Remove a library book: its files to rejected/, its row kept in ``rejected_books``."""
    return await reject(
        database,
        home,
        book_id,
        "deleted from the library",
        expected_version=expected_version,
        title=title,
        statuses=(BookStatus.ORGANIZED, BookStatus.REVIEW, BookStatus.INBOX),
    )
