"""Saying no, and taking a decision back: reject, undo, send back to review, delete.

* ``reject`` moves a book's files to ``rejected/`` (a ``.reason.txt`` beside each), keeps a full
  snapshot of the row, its files and candidates in ``rejected_books``, and removes the row.
  Nothing is deleted: ``restore_rejected`` puts the book back exactly as it was (its files
  back where they were). Deleting a book from the library is the same operation.
* ``undo_approval`` returns a just-approved book to review with the values it had before, its
  files back in the inbox where they came from; ``undo_add_format`` does the same for a book
  whose file was added to another as another format.
* ``send_back_to_review`` returns a library book to the review queue (its files stay put until
  it is approved again).

Every decision goes through ``data.review_guard.decision_on``: locked, and refused with nothing
written when the book was decided or changed elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from shelver.data import books, move_journal
from shelver.data.home import Home
from shelver.data.models import Book, BookFields, BookFile, BookStatus
from shelver.data.move_journal import MoveError, PlannedMove
from shelver.data.organize import library_plan, rejection_plan
from shelver.data.queries import query
from shelver.data.review_guard import ReviewError, StaleBook, decision_on, quoted
from shelver.data.settings import Settings

EDITABLE = set(BookFields.model_fields)


@dataclass(frozen=True)
class Rejection:
    """A rejected book: the row as it was and where its files went."""

    book: Book
    moved_to: list[Path]


@move_journal.finisher
async def finish_rejection(conn: Any, payload: dict[str, Any]) -> None:
    """The database half of a rejection: the snapshot (files at their old places, and where
    they went) is kept in ``rejected_books``; the row goes."""
    book_id = UUID(payload["book_id"])
    moved_to = {}
    for book_file in await books.files_of(conn, book_id):
        moved_to[str(book_file.id)] = book_file.storage_path
        inbox, storage = payload["places"].get(str(book_file.id), [None, None])
        await conn.execute(query("review_place_file"), book_file.id, inbox, storage)
    await conn.execute(
        query("review_record_rejection"), book_id, payload["reason"], json.dumps(moved_to)
    )
    await conn.execute(query("review_delete_book"), book_id)


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
    whole in ``rejected_books``). One journaled operation."""
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
        payload = {
            "book_id": str(book_id),
            "reason": reason,
            "places": {str(f.id): [f.inbox_path, f.storage_path] for f in files},
        }
        try:
            moved = await move_journal.apply(
                pool,
                await rejection_plan(pool, home, book_id, text),
                finisher=finish_rejection,
                payload=payload,
            )
        except MoveError as exc:
            raise ReviewError(f"could not set {quoted(book.title)} aside: {exc}") from None
    return Rejection(book, moved)


async def restore_rejected(database: Any, home: Home, book_id: UUID) -> Book:
    """Put a rejected book back as it was: its row, candidates, and files where they were."""
    pool = database.pool
    record = await pool.fetchrow(query("review_rejection"), book_id)
    if record is None:
        raise StaleBook("that rejection is no longer on record; nothing to undo")
    moved_to: dict[str, str | None] = json.loads(record["moved_to"])
    async with pool.acquire() as conn, conn.transaction():
        if await books.get(conn, book_id) is not None:
            raise StaleBook(f"{quoted(record['title'])} is already back")
        await conn.fetchrow(query("review_restore_rejected"), book_id)
        await conn.execute(query("review_forget_rejection"), book_id)
        files = await books.files_of(conn, book_id)
        # The rows say where the files are now (rejected/); the move below takes them back.
        for book_file in files:
            if moved_to.get(str(book_file.id)):
                await conn.execute(
                    query("review_place_file"), book_file.id, None, moved_to[str(book_file.id)]
                )
    plan = []
    reasons = []  # the sidecars that said why each file was set aside
    for old in files:
        now_at = moved_to.get(str(old.id))
        back_to = old.inbox_path or old.storage_path
        if now_at and back_to and now_at != back_to:
            plan.append(_back(old, Path(now_at), Path(back_to)))
            reasons.append(Path(now_at + move_journal.SIDECAR_SUFFIX))
    try:
        await move_journal.apply(pool, plan)
    except MoveError as exc:
        raise ReviewError(f"could not move {quoted(record['title'])} back: {exc}") from None
    for reason in reasons:
        reason.unlink(missing_ok=True)
    book = await books.get(pool, book_id)
    assert book is not None
    return book


def _back(old: BookFile, now_at: Path, back_to: Path) -> PlannedMove:
    """The move of one file from ``now_at`` back to where it was (inbox or library)."""
    at_now = old.model_copy(update={"inbox_path": None, "storage_path": str(now_at)})
    return PlannedMove(at_now, back_to, lands_in="inbox" if old.inbox_path else "storage")


@move_journal.finisher
async def finish_undo_approval(conn: Any, payload: dict[str, Any]) -> None:
    """The database half of undoing an approval: the values as they were, back in review."""
    book_id = UUID(payload["book_id"])
    await conn.execute(
        query("review_restore_fields"),
        book_id,
        *BookFields.model_validate(payload["fields"]).sql_values(),
        payload["hardcover_book_id"],
        payload["hardcover_edition_id"],
        UUID(payload["duplicate_of"]) if payload["duplicate_of"] else None,
    )
    await conn.execute(query("review_clear_selected_fields"), book_id)


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
        plan = []
        for old in files_before:
            current = now.get(old.id)
            back_to = old.inbox_path or old.storage_path
            if current and current.storage_path and back_to and back_to != current.storage_path:
                plan.append(_back(old, Path(current.storage_path), Path(back_to)))
        payload = {
            "book_id": str(before.id),
            "fields": BookFields.model_validate(before.model_dump(include=EDITABLE)).model_dump(
                mode="json"
            ),
            "hardcover_book_id": before.hardcover_book_id,
            "hardcover_edition_id": before.hardcover_edition_id,
            "duplicate_of": str(before.possible_duplicate_of or "") or None,
        }
        try:
            await move_journal.apply(pool, plan, finisher=finish_undo_approval, payload=payload)
        except MoveError as exc:
            raise ReviewError(f"could not undo {quoted(before.title)}: {exc}") from None
    book = await books.get(pool, before.id)
    assert book is not None
    return book


@move_journal.finisher
async def finish_undo_add_format(conn: Any, payload: dict[str, Any]) -> None:
    """The database half of undoing "add as another format": the book is back from its
    snapshot, waiting for review, and its files are its own again."""
    book_id = UUID(payload["book_id"])
    await conn.execute(query("review_restore_added_format"), book_id)
    for file_id in payload["file_ids"]:
        await conn.execute(query("review_move_file_to_book"), UUID(file_id), book_id)
    await conn.execute(query("review_forget_rejection"), book_id)


async def undo_add_format(
    database: Any,
    home: Home,
    before: Book,
    files_before: list[BookFile],
    *,
    into: UUID,
    into_version: datetime | None,
) -> Book:
    """Take back "add as another format": the files leave the book ``into`` (refused when it
    changed since) and go back to the inbox; ``before`` is back in review as it was."""
    pool = database.pool
    if await pool.fetchval(query("review_rejection"), before.id) is None:
        raise StaleBook(f"{quoted(before.title)} is no longer on record; nothing to undo")
    async with decision_on(
        pool, into, statuses=(BookStatus.ORGANIZED,), expected_version=into_version
    ) as (conn, existing):
        if await books.get(conn, before.id) is not None:
            raise StaleBook(f"{quoted(before.title)} is already back")
        now = {f.id: f for f in await books.files_of(conn, into)}
        plan = []
        for old in files_before:
            current = now.get(old.id)
            back_to = old.inbox_path or old.storage_path
            if current is None or not current.storage_path or not back_to:
                raise StaleBook(
                    f"the {old.format.upper()} file is no longer part of "
                    f"{quoted(existing.title)}; nothing changed"
                )
            plan.append(_back(old, Path(current.storage_path), Path(back_to)))
        payload = {"book_id": str(before.id), "file_ids": [str(f.id) for f in files_before]}
        try:
            await move_journal.apply(pool, plan, finisher=finish_undo_add_format, payload=payload)
        except MoveError as exc:
            raise ReviewError(f"could not undo {quoted(before.title)}: {exc}") from None
    book = await books.get(pool, before.id)
    assert book is not None
    return book


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


async def refile(database: Any, home: Home, settings: Settings, book_id: UUID) -> list[Path]:
    """Move a library book's files to where the template puts them now (after an edit of its
    author or title, say), through the move journal. Files already in place stay; the paths
    of the files that moved."""
    pool = database.pool
    book = await books.get(pool, book_id)
    if book is None or book.status is not BookStatus.ORGANIZED:
        return []
    fields = BookFields.model_validate(book.model_dump(include=EDITABLE))
    plan = [
        move
        for move in await library_plan(pool, home, settings, book_id, fields)
        if move.book_file.storage_path
        and not move.book_file.inbox_path
        and Path(move.book_file.storage_path) != move.target
        and Path(move.book_file.storage_path).exists()
    ]
    if not plan:
        return []
    try:
        return await move_journal.apply(pool, plan)
    except MoveError as exc:
        raise ReviewError(f"could not move the files of {quoted(book.title)}: {exc}") from None
