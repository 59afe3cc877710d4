"""Browsing the Library: keyset pages in every order, ties, inserts while scrolling, filters,
counts and positions."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shelver.data import library
from shelver.data.db import Database
from shelver.data.library_models import (
    LibraryFilters,
    LibraryQuery,
    LibraryRow,
    LibrarySort,
    ReadingState,
)
from tests.conftest import read_only_database
from tests.library_support import add_book

SORTS = [s for s in LibrarySort if s is not LibrarySort.RELEVANCE]


async def all_pages(db, library_query: LibraryQuery, size: int) -> list[LibraryRow]:
    rows: list[LibraryRow] = []
    cursor = None
    for _ in range(1000):
        result = await library.page(db, library_query, after=cursor, limit=size)
        rows.extend(result.rows)
        cursor = result.next_cursor
        if cursor is None:
            return rows
    raise AssertionError("pagination did not end")


async def seed_varied(db) -> None:
    """Books with equal titles, equal authors, missing values, accents and mixed case."""
    for index in range(12):
        await add_book(db, "Same Title", "Same Author", published_year=2000, language="en")
        await add_book(db, "Same Title", f"Author {index % 3}", published_year=1990 + index % 2)
    await add_book(db, "apple", "zed", language="fr", published_year=1800)
    await add_book(db, "Banana", "Émile", language="de", progress={"Kobo": 0.5})
    await add_book(db, "Échec et mat", "émile", language="fr", progress={"Kobo": 1.0})
    await add_book(db, "echo", None, language=None, progress={"Kobo": 0.2, "Kindle": 0.7})
    await add_book(db, None, "Nobody", published_year=None)
    await add_book(db, "zebra", "Aaron", formats=("pdf", "epub"), progress={"Kobo": 0.5})


@pytest.fixture(scope="module")
async def varied(server_dsn: str, template_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """``seed_varied``'s books, shared by the tests that only read (most of them, in many
    orders and page sizes)."""
    async with read_only_database(server_dsn, seed_varied) as pool:
        yield pool


@pytest.fixture
async def own_varied(database: Database) -> asyncpg.Pool:
    """The same books in this test's own database, for the tests that add or delete."""
    await seed_varied(database.pool)
    return database.pool


@pytest.mark.parametrize(("sort", "descending"), list(itertools.product(SORTS, [False, True])))
@pytest.mark.parametrize("size", [1, 5, 7])
async def test_pages_equal_one_big_page(varied, sort, descending, size):
    query = LibraryQuery(sort=sort, descending=descending)
    whole = (await library.page(varied, query, limit=1000)).rows
    paged = await all_pages(varied, query, size)
    assert [r.id for r in paged] == [r.id for r in whole]
    assert len({r.id for r in paged}) == len(paged) == 30


async def test_title_order_ignores_case_and_accents_and_puts_missing_last(varied):
    rows = (await library.page(varied, LibraryQuery(sort=LibrarySort.TITLE), limit=100)).rows
    titles = [r.title for r in rows]
    assert titles[:4] == ["apple", "Banana", "Échec et mat", "echo"]
    assert titles[-2:] == ["zebra", None]
    desc = (await library.page(varied, LibraryQuery(sort="title", descending=True), limit=100)).rows
    assert [r.id for r in desc] == [r.id for r in reversed(rows)]


async def test_other_orders(varied):
    async def first(sort, descending=False, key=lambda r: r.title):
        q = LibraryQuery(sort=sort, descending=descending)
        return [key(r) for r in (await library.page(varied, q, limit=100)).rows]

    authors = await first("author", key=lambda r: r.author)
    assert authors[0] == "Aaron"
    assert authors[-1] is None  # no author sorts last
    # "Émile" and "émile" tie on the folded key and fall back to title order
    emile = [i for i, a in enumerate(authors) if a and a.lower() == "émile"]
    assert emile == [emile[0], emile[0] + 1]
    years = await first("year", key=lambda r: r.published_year)
    assert years[0] == 1800
    known = sorted(y for y in years if y is not None)
    assert years == known + [None] * (len(years) - len(known))
    languages = await first("language", key=lambda r: r.language)
    assert languages[0] == "de"
    assert languages[-1] is None
    reading = await first("reading", descending=True, key=lambda r: r.reading_percentage)
    assert [float(x) for x in reading[:4]] == [1.0, 0.7, 0.5, 0.5]
    assert reading[4:] == [None] * 26


async def test_inserts_while_scrolling_neither_skip_nor_repeat(own_varied):
    query = LibraryQuery(sort=LibrarySort.TITLE)
    first = await library.page(own_varied, query, limit=5)
    seen = [r.id for r in first.rows]
    before = await add_book(own_varied, "Aardvark", "New")  # sorts before the cursor
    after = await add_book(own_varied, "Zulu", "New")  # sorts after it
    cursor = first.next_cursor
    while cursor is not None:
        result = await library.page(own_varied, query, after=cursor, limit=5)
        seen.extend(r.id for r in result.rows)
        cursor = result.next_cursor
    assert len(seen) == len(set(seen)) == 31
    assert after in seen
    assert before not in seen


async def test_deleting_the_cursor_row_does_not_break_the_next_page(own_varied):
    query = LibraryQuery(sort=LibrarySort.AUTHOR)
    first = await library.page(own_varied, query, limit=4)
    await own_varied.execute("DELETE FROM books WHERE id = $1", first.rows[-1].id)
    rest = await all_pages_after(own_varied, query, first.next_cursor)
    assert len(rest) == 26


async def all_pages_after(db, query, cursor):
    rows = []
    while cursor is not None:
        result = await library.page(db, query, after=cursor, limit=6)
        rows.extend(result.rows)
        cursor = result.next_cursor
    return rows


@pytest.mark.parametrize(("sort", "descending"), list(itertools.product(SORTS, [False, True])))
async def test_count_position_and_locate(varied, sort, descending):
    query = LibraryQuery(sort=sort, descending=descending)
    rows = (await library.page(varied, query, limit=100)).rows
    assert await library.count(varied, query) == len(rows)
    for index in (0, 3, 17, len(rows) - 1):
        assert await library.position(varied, query, rows[index]) == index
        assert await library.locate(varied, query, rows[index].id) == index


async def test_positions_in_a_relevance_search(varied):
    query = LibraryQuery(text="same")
    rows = (await library.page(varied, query, limit=100)).rows
    assert rows and rows[0].cursor.ordered_by is LibrarySort.RELEVANCE
    assert await library.count(varied, query) == len(rows) == 24
    for index in (0, 5, 23):
        assert await library.position(varied, query, rows[index]) == index
        assert await library.locate(varied, query, rows[index].id) == index


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (LibraryFilters(author="emile"), {"Banana", "Échec et mat"}),
        (LibraryFilters(author="%"), set()),
        (LibraryFilters(author="_"), set()),
        (LibraryFilters(language="FR"), {"apple", "Échec et mat"}),
        (LibraryFilters(format="PDF"), {"zebra"}),
        (LibraryFilters(reading=ReadingState.FINISHED), {"Échec et mat"}),
        (LibraryFilters(reading=ReadingState.READING), {"Banana", "echo", "zebra"}),
        (LibraryFilters(author="aaron", format="epub"), {"zebra"}),
        (LibraryFilters(author="  "), None),  # blank filters are off
    ],
)
async def test_filters(varied, filters, expected):
    query = LibraryQuery(filters=filters, sort=LibrarySort.TITLE)
    rows = (await library.page(varied, query, limit=100)).rows
    if expected is None:
        assert len(rows) == 30
    else:
        assert {r.title for r in rows} == expected
    assert await library.count(varied, query) == len(rows)


async def test_unread_filter(varied):
    query = LibraryQuery(filters=LibraryFilters(reading="unread"))
    rows = (await library.page(varied, query, limit=100)).rows
    assert len(rows) == 26
    assert all(r.reading_state is ReadingState.UNREAD for r in rows)


async def test_genre_and_tag_filters(database):
    db = database.pool
    await add_book(db, "One", genres=["Science Fiction"], tags=["to-read", "Signed"])
    await add_book(db, "Two", genres=["Science"], tags=["signed"])
    await add_book(db, "Three", genres=["Économie"])

    async def found(**kwargs):
        query = LibraryQuery(filters=LibraryFilters(**kwargs), sort="title")
        return {r.title for r in (await library.page(db, query, limit=10)).rows}

    assert await found(genre="science") == {"Two"}
    assert await found(genre="science fiction") == {"One"}
    assert await found(genre="economie") == {"Three"}
    assert await found(tag="SIGNED") == {"One", "Two"}
    assert await found(tag="signed", genre="science") == {"Two"}


async def test_rows_carry_formats_and_reading(varied):
    query = LibraryQuery(text="zebra")
    row = (await library.page(varied, query, limit=5)).rows[0]
    assert row.formats == ["epub", "pdf"]
    assert float(row.reading_percentage) == 0.5
    assert row.reading_state is ReadingState.READING
    assert row.model_dump(mode="json")["reading_percentage"] == 0.5
