"""Review: everything the Review screen needs from the data layer, and approval.

* ``load_item`` gathers one book with its files, candidates (with strength), fetch statuses and
  the book it may duplicate: one call, so the next book can be prefetched while the user works.
* ``preselect`` says which candidate each field starts on: only **strong** candidates pre-select.
* ``approve`` files the book (``data.organize``) and writes the chosen values,
  ``selected_fields`` on each candidate used, ``approved_at`` and status ``organized``: one
  operation of the move journal (``data.move_journal``), so a crash at any moment leaves the
  book either in review with its files in the inbox or organized with its files in the library
  and the approved values stored.
* Duplicates (``possible_duplicate_of``): ``skip`` leaves the book in the inbox; ``keep_both``
  approves it beside the other; ``replace`` moves the other book's files to ``rejected/`` (never
  deleted, a ``.reason.txt`` beside them holding its metadata) and removes its row. Approving a
  flagged book without an action keeps both: the screen showed the banner.
* ``next_in_queue`` walks the review queue, oldest first, wrapping around.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from shelver.data import books, confidence, fetching, move_journal
from shelver.data.books import Executor
from shelver.data.home import Home
from shelver.data.models import Book, BookFields, BookFile, Candidate
from shelver.data.move_journal import MoveError, PlannedMove
from shelver.data.organize import library_plan, rejection_plan
from shelver.data.queries import query
from shelver.data.settings import Settings

EDITABLE_FIELDS = tuple(BookFields.model_fields)
"""The fields a reviewer chooses, in display order."""


class ReviewError(Exception):
    """An approval that cannot be done as asked; one readable line, nothing changed."""


class DuplicateAction(StrEnum):
    """What to do with a book that may duplicate another."""

    SKIP = "skip"
    KEEP_BOTH = "keep_both"
    REPLACE = "replace"


@dataclass
class ScoredCandidate:
    """A candidate with its strength, as the Review screen lists it."""

    candidate: Candidate
    strength: confidence.Strength

    @property
    def fields(self) -> BookFields:
        return BookFields.model_validate(self.candidate.normalized)


@dataclass
class ReviewItem:
    """One book, ready to review."""

    book: Book
    files: list[BookFile]
    candidates: list[ScoredCandidate]
    """``file`` first, then by confidence."""
    statuses: list[fetching.FetchStatus] = field(default_factory=list)
    duplicate_of: Book | None = None

    @property
    def preselected(self) -> dict[str, UUID]:
        return preselect([c.candidate for c in self.candidates])


async def load_item(db: Executor, book_id: UUID) -> ReviewItem | None:
    """The book with everything the Review screen shows, or None if it is gone."""
    book = await books.get(db, book_id)
    if book is None:
        return None
    candidates = await books.candidates_of(db, book_id)
    duplicate = (
        await books.get(db, book.possible_duplicate_of) if book.possible_duplicate_of else None
    )
    return ReviewItem(
        book=book,
        files=await books.files_of(db, book_id),
        candidates=[
            ScoredCandidate(c, confidence.strength(float(c.confidence))) for c in candidates
        ],
        statuses=await fetching.statuses_of(db, book_id),
        duplicate_of=duplicate,
    )


def _has_value(value: Any) -> bool:
    return value not in (None, "", [], {})


def preselect(candidates: list[Candidate]) -> dict[str, UUID]:
    """Field -> candidate id of the best **strong** candidate that has a value for it."""
    chosen: dict[str, UUID] = {}
    strong = [
        c
        for c in candidates
        if c.source != "file"
        and confidence.strength(float(c.confidence)) is confidence.Strength.STRONG
    ]
    strong.sort(key=lambda c: c.confidence, reverse=True)
    for candidate in strong:
        for name in EDITABLE_FIELDS:
            if name not in chosen and _has_value(candidate.normalized.get(name)):
                chosen[name] = candidate.id
    return chosen


async def next_in_queue(database: Any, after_book_id: UUID | None = None) -> Book | None:
    """The review book after ``after_book_id`` (oldest first), wrapping to the start."""
    pool = getattr(database, "pool", database)
    book_id = await pool.fetchval(query("review_next_in_queue"), after_book_id)
    if book_id is None:
        book_id = await pool.fetchval(query("review_first_in_queue_except"), after_book_id)
    return await books.get(pool, book_id) if book_id else None


async def skip(database: Any, book_id: UUID) -> Book:
    """Leave a (possibly duplicate) book in the inbox, untouched otherwise."""
    pool = getattr(database, "pool", database)
    record = await pool.fetchrow(query("review_back_to_inbox"), book_id)
    if record is None:
        raise ReviewError(f"no book {book_id}")
    return Book.from_record(record)


def merge_choice(book: Book, chosen: dict[str, Any]) -> BookFields:
    """The book's fields with the chosen values laid over them, validated."""
    unknown = sorted(set(chosen) - set(EDITABLE_FIELDS))
    if unknown:
        raise ReviewError(f"not a book field: {', '.join(unknown)}")
    current = book.model_dump(include=set(EDITABLE_FIELDS))
    try:
        fields = BookFields.model_validate({**current, **chosen})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReviewError(f"{where}: {first['msg']}") from None
    try:  # text the database cannot hold is refused here, before any file moves
        move_journal.check_storable(fields.model_dump(mode="json"))
    except MoveError as exc:
        raise ReviewError(str(exc)) from None
    return fields


def _hardcover_book_id(used: list[Candidate]) -> int | None:
    for candidate in used:
        stem = candidate.source.removeprefix(fetching.MANUAL_PREFIX).split("#")[0]
        value = candidate.normalized.get("hardcover_book_id")
        if stem == "hardcover" and isinstance(value, int):
            return value
    return None


async def _replacement_plan(
    pool: Any, home: Home, book: Book
) -> tuple[list[PlannedMove], UUID | None]:
    """The older duplicate's files to rejected/ (with its metadata beside them), and its id."""
    old = await books.get(pool, book.possible_duplicate_of) if book.possible_duplicate_of else None
    if old is None:
        return [], None
    metadata = old.model_dump(mode="json", include=set(EDITABLE_FIELDS) | {"id", "status"})
    reason = (
        f"replaced by book {book.id} ({book.title or 'untitled'}) during review.\n"
        f"The replaced book's metadata:\n{json.dumps(metadata, ensure_ascii=False, indent=2)}"
    )
    return await rejection_plan(pool, home, old.id, reason), old.id


@move_journal.finisher
async def finish_replacement(conn: Any, payload: dict[str, Any]) -> None:
    """The database half of setting a replaced duplicate aside: its row goes."""
    await conn.execute(query("review_delete_replaced_book"), UUID(payload["book_id"]))


async def _replace(pool: Any, home: Home, book: Book) -> None:
    """Move the older duplicate's files to rejected/ and remove its row: one operation, done
    before the approval so the new book can take the names it frees."""
    plan, old_id = await _replacement_plan(pool, home, book)
    if old_id is None:
        return
    try:
        await move_journal.apply(
            pool, plan, finisher=finish_replacement, payload={"book_id": str(old_id)}
        )
    except MoveError as exc:
        raise ReviewError(f"could not set the replaced book aside: {exc}") from None


@move_journal.finisher
async def finish_approval(conn: Any, payload: dict[str, Any]) -> None:
    """The database half of an approval (run by the move journal once the files are placed)."""
    book_id = UUID(payload["book_id"])
    fields = BookFields.model_validate(payload["fields"])
    await conn.execute(
        query("review_write_book"), book_id, *fields.sql_values(), payload["hardcover_book_id"]
    )
    await conn.execute(query("review_clear_selected_fields"), book_id)
    for candidate_id, names in payload["used_candidates"].items():
        await conn.execute(query("review_set_selected_fields"), UUID(candidate_id), book_id, names)


async def approve(
    database: Any,
    home: Home,
    settings: Settings,
    book_id: UUID,
    chosen: dict[str, Any],
    used_candidates: dict[UUID, list[str]],
    *,
    duplicate: DuplicateAction | None = None,
) -> Book:
    """Approve a book: write ``chosen``, mark the candidates used, file it in the library.

    ``chosen`` maps field -> value (fields not named keep their value); ``used_candidates``
    maps candidate id -> the fields taken from it. Raises ``ReviewError`` (one line) when the
    choice is invalid or the files cannot be filed; the book then stays where it was.
    """
    pool = database.pool
    if duplicate is DuplicateAction.SKIP:
        return await skip(database, book_id)
    book = await books.get(pool, book_id)
    if book is None:
        raise ReviewError(f"no book {book_id}")
    fields = merge_choice(book, chosen)
    candidates = {c.id: c for c in await books.candidates_of(pool, book_id)}
    for candidate_id, names in used_candidates.items():
        if candidate_id not in candidates:
            raise ReviewError(f"candidate {candidate_id} does not belong to this book")
        if bad := sorted(set(names) - set(EDITABLE_FIELDS)):
            raise ReviewError(f"not a book field: {', '.join(bad)}")
    used = [candidates[c] for c in used_candidates]
    payload = {
        "book_id": str(book_id),
        "fields": fields.model_dump(mode="json"),
        "hardcover_book_id": _hardcover_book_id(used),
        "used_candidates": {
            str(candidate_id): [n for n in EDITABLE_FIELDS if n in set(names)]
            for candidate_id, names in used_candidates.items()
        },
    }
    if duplicate is DuplicateAction.REPLACE:
        await _replace(pool, home, book)
    try:
        plan = await library_plan(pool, home, settings, book_id, fields)
        await move_journal.apply(pool, plan, finisher=finish_approval, payload=payload)
    except MoveError as exc:
        raise ReviewError(str(exc)) from None
    approved = await books.get(pool, book_id)
    if approved is None:
        raise ReviewError(f"book {book_id} vanished while it was approved")
    return approved
