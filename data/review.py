"""Review: everything the Review screen needs from the data layer, and approval.

* ``load_item`` gathers one book with its files, candidates (with strength), fetch statuses and
  the book it may duplicate: one call, so the next book can be prefetched while the user works.
* ``preselect`` says which candidate each field starts on: only **strong** candidates pre-select,
  and ISBN-13 and ISBN-10 always come from one candidate (one edition).
* ``approve`` files the book (``data.organize``) and writes the chosen values,
  ``selected_fields`` on each candidate used, ``approved_at`` and status ``organized``: one
  operation of the move journal (``data.move_journal``), so a crash at any moment leaves the
  book either in review with its files in the inbox or organized with its files in the library
  and the approved values stored. It names the
  version of the book that was shown; ``data.review_guard`` refuses a book decided or changed
  elsewhere. A Hardcover link (``hardcover_book_id``/``hardcover_edition_id``) follows identity:
  only a candidate whose title and author, or whose ISBN, were taken (or one linked explicitly).
* Duplicates (``possible_duplicate_of``), decided at approval: ``skip`` rejects the new file
  (``data.decisions.reject``); ``keep_both`` approves it beside the other; ``replace`` moves the
  other book's files to ``rejected/`` (never deleted, a ``.reason.txt`` beside them) and removes
  its row; ``add_format`` files the new file beside the existing book's as another of its
  ``book_files`` and drops the new row (a snapshot kept for undo). Approving a flagged book
  without an action keeps both.
* ``next_in_queue`` walks the review queue, oldest first, wrapping around.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from shelver.data import books, confidence, fetching, move_journal
from shelver.data.books import Executor
from shelver.data.home import Home
from shelver.data.importing.isbn import isbn13_to_10
from shelver.data.models import Book, BookFields, BookFile, BookStatus, Candidate
from shelver.data.move_journal import MoveError, PlannedMove
from shelver.data.organize import library_plan, library_root, rejection_plan, relative_path
from shelver.data.queries import query
from shelver.data.review_guard import ReviewError, StaleBook, decision_on, quoted
from shelver.data.settings import Settings

__all__ = ["ReviewError", "StaleBook"]

EDITABLE_FIELDS = tuple(BookFields.model_fields)
"""The fields a reviewer chooses, in display order."""


class DuplicateAction(StrEnum):
    """What to do with a book that may duplicate another."""

    SKIP = "skip"
    """Reject the new file (to rejected/, nothing deleted)."""
    KEEP_BOTH = "keep_both"
    REPLACE = "replace"
    """The new book takes the other's place; the other's files go to rejected/."""
    ADD_FORMAT = "add_format"
    """The new file becomes another format of the existing book, filed in its folder."""


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
    duplicate_files: list[BookFile] = field(default_factory=list)

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
        duplicate_files=await books.files_of(db, duplicate.id) if duplicate else [],
    )


ISBN_FIELDS = ("isbn_13", "isbn_10")
"""Taken together from one source: two ISBNs of one edition."""


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
            if name in ISBN_FIELDS:
                continue
            if name not in chosen and _has_value(candidate.normalized.get(name)):
                chosen[name] = candidate.id
    # Both ISBNs from one candidate (one edition): the best strong one that has either.
    for candidate in strong:
        names = [n for n in ISBN_FIELDS if _has_value(candidate.normalized.get(n))]
        if names:
            chosen.update(dict.fromkeys(names, candidate.id))
            break
    return chosen


async def next_in_queue(database: Any, after_book_id: UUID | None = None) -> Book | None:
    """The review book after ``after_book_id`` (oldest first), wrapping to the start."""
    pool = getattr(database, "pool", database)
    book_id = await pool.fetchval(query("review_next_in_queue"), after_book_id)
    if book_id is None:
        book_id = await pool.fetchval(query("review_first_in_queue_except"), after_book_id)
    return await books.get(pool, book_id) if book_id else None


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
    if set(ISBN_FIELDS) & set(chosen) and not same_edition(fields.isbn_13, fields.isbn_10):
        raise ReviewError(
            f"ISBN-13 {fields.isbn_13} and ISBN-10 {fields.isbn_10} are not the same edition; "
            "take both from one source"
        )
    return fields


def same_edition(isbn_13: str | None, isbn_10: str | None) -> bool:
    """Can these two ISBNs name one edition? (A 978 ISBN-13 determines its ISBN-10.)"""
    if not isbn_13 or not isbn_10:
        return True
    return isbn13_to_10(isbn_13) == isbn_10.upper()


@dataclass(frozen=True)
class HardcoverLink:
    book_id: int | None = None
    edition_id: int | None = None


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def hardcover_link(
    used: list[tuple[Candidate, list[str]]], linked: Candidate | None = None
) -> HardcoverLink:
    """The Hardcover work/edition a book takes: only from a candidate whose identity was taken
    (title and author, or an ISBN), or one linked explicitly. One field (pages, say) taken
    from a weak match does not make the book that work."""
    for candidate, names in [*([(linked, [])] if linked else []), *used]:
        stem = candidate.source.removeprefix(fetching.MANUAL_PREFIX).split("#")[0]
        if stem != "hardcover":
            continue
        work = _as_int(candidate.normalized.get("hardcover_book_id"))
        edition = _as_int(candidate.normalized.get("hardcover_edition_id"))
        took_isbn = bool(set(names) & set(ISBN_FIELDS))
        took_work = {"title", "author"} <= set(names)
        if candidate is linked or took_isbn:
            return HardcoverLink(work, edition)
        if took_work:
            return HardcoverLink(work, None)  # the work, but no particular edition
    return HardcoverLink()


async def _replacement_plan(pool: Any, home: Home, book: Book, old: Book) -> list[PlannedMove]:
    """The older duplicate's files to rejected/, with its metadata beside them."""
    metadata = old.model_dump(mode="json", include=set(EDITABLE_FIELDS) | {"status"})
    reason = (
        f"replaced by {quoted(book.title)} during review.\n"
        f"The replaced book's metadata:\n{json.dumps(metadata, ensure_ascii=False, indent=2)}"
    )
    return await rejection_plan(pool, home, old.id, reason)


@move_journal.finisher
async def finish_replacement(conn: Any, payload: dict[str, Any]) -> None:
    """The database half of setting a replaced duplicate aside: its row goes; the replacement
    keeps its cover when it has none of its own."""
    await conn.execute(query("review_take_cover"), UUID(payload["by"]), UUID(payload["book_id"]))
    await conn.execute(query("review_delete_replaced_book"), UUID(payload["book_id"]))


async def _replace(pool: Any, home: Home, book: Book, old: Book) -> None:
    """Move the older duplicate's files to rejected/ and remove its row: one operation, done
    before the approval so the new book can take the names it frees."""
    plan = await _replacement_plan(pool, home, book, old)
    try:
        await move_journal.apply(
            pool,
            plan,
            finisher=finish_replacement,
            payload={"book_id": str(old.id), "by": str(book.id)},
        )
    except MoveError as exc:
        raise ReviewError(f"could not set the replaced book aside: {exc}") from None


@move_journal.finisher
async def finish_approval(conn: Any, payload: dict[str, Any]) -> None:
    """The database half of an approval (run by the move journal once the files are placed)."""
    book_id = UUID(payload["book_id"])
    fields = BookFields.model_validate(payload["fields"])
    await conn.execute(
        query("review_write_book"),
        book_id,
        *fields.sql_values(),
        payload["hardcover_book_id"],
        payload.get("hardcover_edition_id"),
    )
    await conn.execute(query("review_clear_selected_fields"), book_id)
    for candidate_id, names in payload["used_candidates"].items():
        await conn.execute(query("review_set_selected_fields"), UUID(candidate_id), book_id, names)


@move_journal.finisher
async def finish_add_format(conn: Any, payload: dict[str, Any]) -> None:
    """The database half of "add as another format": the files join the existing book, the
    new book's row goes (kept whole in ``rejected_books`` so ``u`` can take it back, see
    ``data.decisions.undo_add_format``)."""
    existing = UUID(payload["existing_id"])
    await conn.execute(
        query("review_record_rejection"),
        UUID(payload["book_id"]),
        f"added as another format of {quoted(payload.get('existing_title'))}",
        json.dumps(payload.get("places", {})),
    )
    for file_id in payload["file_ids"]:
        await conn.execute(query("review_move_file_to_book"), UUID(file_id), existing)
    await conn.execute(query("review_delete_book"), UUID(payload["book_id"]))


async def _add_as_format(
    pool: Any, home: Home, settings: Settings, book: Book, existing: Book
) -> Book:
    """File the book's files in the existing book's folder, as more of its ``book_files``."""
    if existing.status is not BookStatus.ORGANIZED:
        raise ReviewError(
            f"{quoted(existing.title)} is not in the library yet; approve it first, then add "
            "this file to it"
        )
    existing_fields = BookFields.model_validate(existing.model_dump(include=set(EDITABLE_FIELDS)))
    placed = [f.storage_path for f in await books.files_of(pool, existing.id) if f.storage_path]
    plan = []
    for book_file in await books.files_of(pool, book.id):
        relative = relative_path(
            settings.library_template, existing_fields, book_file.original_name, book_file.format
        )
        root = library_root(home, settings)
        folder = Path(placed[0]).parent if placed else root / relative.parent
        plan.append(PlannedMove(book_file, folder / relative.name))
    payload = {
        "book_id": str(book.id),
        "existing_id": str(existing.id),
        "existing_title": existing.title,
        "file_ids": [str(m.book_file.id) for m in plan],
        "places": {str(m.book_file.id): m.book_file.inbox_path for m in plan},
    }
    try:
        await move_journal.apply(pool, plan, finisher=finish_add_format, payload=payload)
    except MoveError as exc:
        raise ReviewError(str(exc)) from None
    return await books.get(pool, existing.id) or existing


async def approve(
    database: Any,
    home: Home,
    settings: Settings,
    book_id: UUID,
    chosen: dict[str, Any],
    used_candidates: dict[UUID, list[str]],
    *,
    duplicate: DuplicateAction | None = None,
    expected_version: datetime | None = None,
    title: str | None = None,
    link_candidate: UUID | None = None,
) -> Book:
    """Approve a book: write ``chosen``, mark the candidates used, file it in the library.

    ``chosen`` maps field -> value (fields not named keep their value); ``used_candidates``
    maps candidate id -> the fields taken from it. ``expected_version`` is the ``updated_at`` of
    the book as shown (``StaleBook`` when it was decided or changed since; ``title`` names it
    then). Raises ``ReviewError`` (one line) when the choice is invalid or the files cannot be
    filed; the book then stays where it was. Returns the book as approved (for ``add_format``:
    the existing book the file joined).
    """
    pool = database.pool
    if duplicate is DuplicateAction.SKIP:
        from shelver.data.decisions import reject

        rejected = await reject(
            database,
            home,
            book_id,
            "skipped during review: a duplicate of a book already there",
            expected_version=expected_version,
            title=title,
        )
        return rejected.book
    async with decision_on(
        pool,
        book_id,
        statuses=(BookStatus.REVIEW, BookStatus.INBOX),
        expected_version=expected_version,
        title=title,
    ) as (conn, book):
        fields = merge_choice(book, chosen)
        candidates = {c.id: c for c in await books.candidates_of(conn, book_id)}
        for candidate_id, names in used_candidates.items():
            if candidate_id not in candidates:
                raise StaleBook(
                    f"a source of {quoted(book.title)} was replaced by a new fetch; look again"
                )
            if bad := sorted(set(names) - set(EDITABLE_FIELDS)):
                raise ReviewError(f"not a book field: {', '.join(bad)}")
        if link_candidate is not None and link_candidate not in candidates:
            raise StaleBook(f"the linked candidate of {quoted(book.title)} is gone; look again")
        other = (
            await books.get(conn, book.possible_duplicate_of)
            if book.possible_duplicate_of
            else None
        )
        if duplicate is DuplicateAction.ADD_FORMAT:
            if other is None:
                raise StaleBook(f"the book {quoted(book.title)} duplicated is gone; look again")
            return await _add_as_format(pool, home, settings, book, other)
        used = [(candidates[c], names) for c, names in used_candidates.items()]
        link = hardcover_link(used, candidates.get(link_candidate) if link_candidate else None)
        payload = {
            "book_id": str(book_id),
            "fields": fields.model_dump(mode="json"),
            "hardcover_book_id": link.book_id,
            "hardcover_edition_id": link.edition_id,
            "used_candidates": {
                str(candidate_id): [n for n in EDITABLE_FIELDS if n in set(names)]
                for candidate_id, names in used_candidates.items()
            },
        }
        if duplicate is DuplicateAction.REPLACE and other is not None:
            await _replace(pool, home, book, other)
        try:
            plan = await library_plan(pool, home, settings, book_id, fields)
            await move_journal.apply(pool, plan, finisher=finish_approval, payload=payload)
        except MoveError as exc:
            raise ReviewError(str(exc)) from None
    approved = await books.get(pool, book_id)
    if approved is None:
        raise StaleBook(f"{quoted(book.title)} vanished while it was approved")
    return approved
