"""The Library: organized books searched, filtered, sorted, paged, shown in detail and edited.

Search runs on ``books.search_vector``: every word must match and the last one is a prefix, so
results follow each keystroke; the words are taken from the text by PostgreSQL itself (see
``shelver_search_tsquery`` in ``sql/migrations/0005_library.sql``), so nothing typed can act
as a query operator. When full text finds nothing, a trigram search on title and author offers
close spellings ("tolkein" finds Tolkien).

Lists never load every row: ``page`` returns one keyset page (the sort keys of its last row are
the cursor of the next), and ``count`` says how many rows there are, or how many come before a
given row, so a view can be sized and can put its cursor back on a book after a refresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from shelver.data import books, reading_insights
from shelver.data.books import Executor
from shelver.data.library_models import (
    BookDetail,
    BookEdit,
    DevicePosition,
    ExtraField,
    HardcoverState,
    LibraryPage,
    LibraryQuery,
    LibraryRow,
    LibrarySort,
    PageCursor,
    without_nul,
)
from shelver.data.models import Book
from shelver.data.pg import session
from shelver.data.queries import composed, query
from shelver.data.validation import clean_terms

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 5_000
# Full text finding fewer rows than this on a first page brings in typo-tolerant matches. Only
# "nothing at all": a rare word matching one book is the usual search, and trigram scoring
# every keystroke of it would cost more than the search itself.
FUZZY_BELOW = 1
FUZZY_ROWS = 20
# A search is ranked when it matches at most RANK_LIMIT books. Beyond that (one letter, "the")
# it is listed by title: up to SORT_LIMIT matches sorted outright, more by walking the title
# index, which finds a first page at once when matches are everywhere but would crawl past a
# cluster (every "Songs of ..." title) that a sort of a few thousand rows handles easily.
RANK_LIMIT = 2_000
SORT_LIMIT = 5_000


class BookNotFound(LookupError):
    """No book has that id."""


def statement(name: str) -> str:
    """``library_count`` with the one shared ``library_candidates``."""
    return composed(name, candidates="library_candidates")


def page_statement(mode: str, descending: bool, tsquery: str | None) -> str:
    """``library_page`` holding only the branch (``library_order_*``) that lists ``mode``:
    the statement is planned on every call, and the branches it would drop cost more to plan
    than the one that runs costs to run."""
    if mode == "relevance":
        order = "relevance" if tsquery else "title"  # nothing to rank: by title
    elif mode == "title_walk":
        order = "title"
    elif mode == "title_sorted":
        order = "title_sorted"
    else:
        # The reading orders share a branch: SQL picks the number they sort by (`metric`).
        reading = mode in NUMERIC_READING_SORTS
        order = ("reading" if reading else mode) + ("_desc" if descending else "")
    return composed("library_page", candidates="library_candidates", order=f"library_order_{order}")


async def search_tsquery(db: Executor, text: str) -> str | None:
    """The tsquery (as text) that ``text`` searches for, or None when it has no words."""
    text = without_nul(text or "")
    if not text.strip():
        return None
    return await db.fetchval(query("library_search_tsquery"), text)


def _wordless(library_query: LibraryQuery, tsquery: str | None) -> bool:
    """Text was typed but holds no word to search for (``!!!``): nothing matches it."""
    return not tsquery and bool(without_nul(library_query.text or "").strip())


def _filter_args(library_query: LibraryQuery) -> list[Any]:
    f = library_query.filters
    return [f.author, f.genre, f.tag, f.language, f.format, f.reading and f.reading.value]


def _cursor_args(cursor: PageCursor | None) -> list[Any]:
    if cursor is None:
        return [None, None, None, None]
    return [cursor.text_key, cursor.title_key, cursor.number_key, cursor.id]


NUMERIC_READING_SORTS = (LibrarySort.READING, LibrarySort.LAST_READ, LibrarySort.TIME_READ)


def _row_cursor(record: Any, ordered_by: LibrarySort, descending: bool) -> PageCursor:
    text_key = None
    number_key = None
    if ordered_by is LibrarySort.AUTHOR:
        text_key = record["author_key"]
    elif ordered_by is LibrarySort.LANGUAGE:
        text_key = record["language_key"]
    elif ordered_by is LibrarySort.YEAR:
        number_key = float(record["year_key"])
    elif ordered_by in NUMERIC_READING_SORTS:
        # A page's rows carry the order's number as reading_key; library_row_keys names each.
        number_key = record.get(f"{ordered_by.value}_key", record["reading_key"])
    elif ordered_by is LibrarySort.RELEVANCE:
        number_key = record["rank"]
    return PageCursor(
        ordered_by=ordered_by,
        descending=descending and ordered_by is not LibrarySort.RELEVANCE,
        text_key=text_key,
        title_key=record["title_key"],
        number_key=number_key,
        id=record["id"],
    )


def _row(record: Any, *, match: str, cursor: PageCursor | None) -> LibraryRow:
    return LibraryRow(
        id=record["id"],
        title=record["title"],
        author=record["author"],
        published_year=record["published_year"],
        language=record["language"],
        formats=list(record["formats"]),
        reading_percentage=record["reading_percentage"],
        rank=record["rank"],
        match=match,
        cursor=cursor,
    )


async def page(
    db: Executor,
    library_query: LibraryQuery,
    *,
    after: PageCursor | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    tsquery: str | None = None,
    fuzzy: bool = True,
) -> LibraryPage:
    """One page of the Library for ``library_query``, starting after ``after``.

    ``tsquery`` may be passed when the caller already turned the text into one (to save a
    round trip per page); otherwise it is derived here. On the first page of a search that
    full text answers with fewer than ``FUZZY_BELOW`` rows, and when no filter is set,
    typo-tolerant matches follow the full-text ones (marked ``match='fuzzy'``); such a page
    is the only one.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    if tsquery is None:
        tsquery = await search_tsquery(db, library_query.text)
    if _wordless(library_query, tsquery):
        return LibraryPage(rows=[])
    if after is not None:
        sort, descending = after.ordered_by, after.descending
    else:
        sort, descending = library_query.sort, library_query.descending
    if sort is LibrarySort.RELEVANCE:
        descending = False  # best first, always
    mode = sort.value
    total = None
    if sort is LibrarySort.RELEVANCE and tsquery and after is None:
        mode, matches = await _search_mode(db, library_query, tsquery)
        total = matches if matches <= SORT_LIMIT else None  # above, the count was capped
    records = await db.fetch(
        page_statement(mode, descending, tsquery),
        tsquery,
        *_filter_args(library_query),
        mode,
        descending,
        *_cursor_args(after),
        limit,
        False,
    )
    match = "fulltext" if tsquery else "browse"
    rows = []
    for record in records:
        ordered_by = LibrarySort(record["ordered_by"])
        rows.append(_row(record, match=match, cursor=_row_cursor(record, ordered_by, descending)))
    next_cursor = rows[-1].cursor if len(rows) == limit else None
    if (
        fuzzy
        and tsquery
        and after is None
        and len(rows) < FUZZY_BELOW
        and not library_query.filters.active
    ):
        extra = await fuzzy_rows(db, library_query.text, exclude={r.id for r in rows})
        if extra:
            return LibraryPage(rows=rows + extra[: max(0, limit - len(rows))], fuzzy=True)
    return LibraryPage(rows=rows, next_cursor=next_cursor, total=total)


async def skip(
    db: Executor,
    library_query: LibraryQuery,
    after: PageCursor | None,
    count: int,
    *,
    first_mark: int,
    every: int,
    tsquery: str | None,
) -> list[tuple[int, PageCursor]]:
    """Move ``count`` rows on from ``after`` without building rows: the cursors of the rows
    at offsets ``first_mark``, ``first_mark + every``, ... and of the last row reached, as
    (offset, cursor), offsets counted from 1 (the row just after ``after``, or the first row
    of a query that is not ranked when ``after`` is None)."""
    if after is not None:
        sort, descending = after.ordered_by, after.descending
    else:
        sort, descending = library_query.sort, library_query.descending
    records = await db.fetch(
        page_statement(sort.value, descending, tsquery),
        tsquery,
        *_filter_args(library_query),
        sort.value,
        descending,
        *_cursor_args(after),
        max(1, min(count, MAX_PAGE_SIZE)),
        True,
    )
    marks = []
    for offset, record in enumerate(records, start=1):
        at_mark = offset >= first_mark and (offset - first_mark) % every == 0
        if at_mark or offset == len(records):
            marks.append((offset, _row_cursor(record, sort, descending)))
    return marks


async def _search_mode(db: Executor, library_query: LibraryQuery, tsquery: str) -> tuple[str, int]:
    """How to order a search's first page (ranked, or by title, sorted or walked), and how
    many books match, counted up to ``SORT_LIMIT + 1``.

    Decided before the page query, so that query's plan holds only the branch it runs."""
    matches = await db.fetchval(
        statement("library_count"),
        tsquery,
        *_filter_args(library_query),
        LibrarySort.RELEVANCE.value,
        False,
        None,
        None,
        None,
        None,
        SORT_LIMIT + 1,
    )
    if matches <= RANK_LIMIT:
        return LibrarySort.RELEVANCE.value, matches
    return ("title_sorted" if matches <= SORT_LIMIT else "title_walk"), matches


async def fuzzy_rows(
    db: Executor, text: str, *, exclude: Iterable[UUID] = (), limit: int = FUZZY_ROWS
) -> list[LibraryRow]:
    """Books whose title or author is spelled like ``text``, best first."""
    text = without_nul(text)
    if len(text.strip()) < 3:
        return []
    skip = set(exclude)
    matches = [
        m for m in await db.fetch(query("library_fuzzy_matches"), text, limit) if m[0] not in skip
    ]
    if not matches:
        return []
    records = await db.fetch(
        query("library_rows_by_ids"), [m[0] for m in matches], [m[1] for m in matches]
    )
    return [_row(r, match="fuzzy", cursor=None) for r in records]


async def search(
    db: Executor, text: str, *, limit: int = 20, library_query: LibraryQuery | None = None
) -> list[LibraryRow]:
    """The best ``limit`` books for ``text`` (what ``shelver search`` prints)."""
    base = library_query or LibraryQuery()
    result = await page(db, base.model_copy(update={"text": text}), limit=limit)
    return result.rows


async def count(db: Executor, library_query: LibraryQuery, *, tsquery: str | None = None) -> int:
    """How many books the query lists."""
    if tsquery is None:
        tsquery = await search_tsquery(db, library_query.text)
    if _wordless(library_query, tsquery):
        return 0
    return await db.fetchval(
        statement("library_count"),
        tsquery,
        *_filter_args(library_query),
        library_query.sort.value,
        library_query.descending,
        None,
        None,
        None,
        None,
        None,
    )


async def position(
    db: Executor, library_query: LibraryQuery, row: LibraryRow, *, tsquery: str | None = None
) -> int:
    """How many rows come before ``row`` in its list (its zero-based index)."""
    if row.cursor is None:
        raise ValueError("a fuzzy match has no place in a sorted list")
    if tsquery is None:
        tsquery = await search_tsquery(db, library_query.text)
    if _wordless(library_query, tsquery):
        return 0
    return await db.fetchval(
        statement("library_count"),
        tsquery,
        *_filter_args(library_query),
        row.cursor.ordered_by.value,
        row.cursor.descending,
        *_cursor_args(row.cursor),
        None,
    )


async def locate(
    db: Executor, library_query: LibraryQuery, book_id: UUID, *, tsquery: str | None = None
) -> int | None:
    """The index ``book_id`` has (or would have) in the list of ``library_query``; None when it
    is not an organized book matching the search. Filters are not checked: a caller that
    needs certainty compares the id of the row found at that index."""
    if tsquery is None:
        tsquery = await search_tsquery(db, library_query.text)
    record = await db.fetchrow(query("library_row_keys"), book_id, tsquery)
    if record is None or not record["matches"]:
        return None
    ordered_by = await _ordered_by(db, library_query, tsquery)
    cursor = _row_cursor(record, ordered_by, library_query.descending)
    return await db.fetchval(
        statement("library_count"),
        tsquery,
        *_filter_args(library_query),
        ordered_by.value,
        cursor.descending,
        *_cursor_args(cursor),
        None,
    )


async def _ordered_by(
    db: Executor, library_query: LibraryQuery, tsquery: str | None
) -> LibrarySort:
    """The order the first page really uses (relevance falls back to title when broad)."""
    if library_query.sort is not LibrarySort.RELEVANCE:
        return library_query.sort
    first = await page(db, library_query, limit=1, tsquery=tsquery, fuzzy=False)
    if first.rows and first.rows[0].cursor:
        return first.rows[0].cursor.ordered_by
    return LibrarySort.TITLE


async def detail(db: Executor, book_id: UUID) -> BookDetail:
    """The book, its files, each device's position in it and its Hardcover sync state."""
    async with session(db) as conn:
        book = await books.get(conn, book_id)
        if book is None:
            raise BookNotFound(str(book_id))
        files = await books.files_of(conn, book_id)
        positions = [
            DevicePosition.from_record(r)
            for r in await conn.fetch(query("library_book_positions"), book_id)
        ]
        sync = await conn.fetchrow(query("library_book_hardcover_sync"), book_id)
        extras = [
            ExtraField(**{**dict(r), "value": json.loads(r["value"])})
            for r in await conn.fetch(query("calibre_extra_fields"), book_id)
        ]
        return BookDetail(
            book=book,
            files=files,
            positions=positions,
            rating=await conn.fetchval(query("calibre_book_rating"), book_id),
            extras=extras,
            hardcover_sync=HardcoverState.from_record(sync) if sync else None,
            statistics=await reading_insights.book_reading(conn, book_id=book_id),
        )


async def update_book(db: Executor, book_id: UUID, edit: BookEdit) -> Book:
    """Write the fields ``edit`` sets (already validated by the model); returns the new row."""
    fields = edit.changed_fields()
    record = await db.fetchrow(
        query("library_update_book"),
        book_id,
        fields,
        edit.title,
        edit.author,
        edit.isbn_10,
        edit.isbn_13,
        edit.publisher,
        edit.published_year,
        edit.language,
        edit.description,
        edit.cover_url,
        edit.page_count,
        edit.genres if edit.genres is not None else [],
        edit.tags if edit.tags is not None else [],
    )
    if record is None:
        raise BookNotFound(str(book_id))
    return Book.from_record(record)


async def edit_tags(
    db: Executor,
    book_ids: Sequence[UUID],
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> list[UUID]:
    """Add and remove tags on many books at once (case-insensitive); the ids that changed."""
    to_add, to_remove = clean_terms(list(add)), clean_terms(list(remove))
    if not book_ids or not (to_add or to_remove):
        return []
    records = await db.fetch(query("library_edit_tags"), list(book_ids), to_add, to_remove)
    return [r["id"] for r in records]
