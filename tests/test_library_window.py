"""LibraryWindow (index access over keyset pages) on a real database, alone and behind a
BookTable in a Pilot-driven app."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from textual.app import App, ComposeResult

from shelver.data import library
from shelver.data.library_models import LibraryQuery, LibraryRow
from shelver.data.library_window import LibraryWindow
from shelver.widgets.book_table import BookTable, Column, settle
from tests.library_support import add_book

SIZE = 1_234


@pytest.fixture
async def many(database):
    """SIZE organized books with repeating titles (ties) and a few years."""
    db = database.pool
    records = [
        (uuid.uuid4(), "organized", f"Title {i % 400:03d}", f"Author {i % 7}", 1900 + i % 50)
        for i in range(SIZE)
    ]
    async with db.acquire() as conn:
        await conn.copy_records_to_table(
            "books",
            records=records,
            columns=("id", "status", "title", "author", "published_year"),
        )
    return db


async def reference(db, query: LibraryQuery) -> list[LibraryRow]:
    """The whole list, read in big keyset pages."""
    rows: list[LibraryRow] = []
    cursor = None
    while True:
        result = await library.page(db, query, after=cursor, limit=5_000)
        rows.extend(result.rows)
        cursor = result.next_cursor
        if cursor is None:
            return rows


@pytest.mark.parametrize(
    "query",
    [
        LibraryQuery(sort="title"),
        LibraryQuery(sort="author", descending=True),
        LibraryQuery(sort="year"),
        LibraryQuery(text="title"),  # a broad search: listed by title
        LibraryQuery(text="author 3"),
    ],
)
async def test_window_reads_any_range(many, query):
    expected = [r.id for r in await reference(many, query)]
    window = LibraryWindow(many, query, block_size=50, walk_page=300)
    assert await window.count() == len(expected)
    n = len(expected)
    for start, count in [(0, 50), (n - 50, 50), (n // 2, 50), (n // 2 - 50, 50), (100, 50)]:
        start = max(0, start)
        rows = await window.fetch(start, count)
        assert [r.id for r in rows] == expected[start : start + count], (start, count)
    # a fresh window jumping straight to the end and then just before the middle
    window = LibraryWindow(many, query, block_size=50, walk_page=300)
    assert [r.id for r in await window.fetch(n - 10, 50)] == expected[n - 10 :]
    middle = (n // 2) // 50 * 50
    assert [r.id for r in await window.fetch(middle, 50)] == expected[middle : middle + 50]
    assert await window.locate(expected[middle + 7]) == middle + 7
    assert await window.locate(uuid.uuid4()) is None


async def test_window_over_a_fuzzy_answer(database):
    await add_book(database.pool, "The Hobbit", "J. R. R. Tolkien")
    window = LibraryWindow(database.pool, LibraryQuery(text="tolkein"))
    rows = await window.fetch(0, 100)
    assert [r.match for r in rows] == ["fuzzy"]
    assert await window.count() == 1


class LibraryTableApp(App):
    def __init__(self, window: LibraryWindow) -> None:
        super().__init__()
        self.window = window
        self.moved: list[LibraryRow | None] = []

    def compose(self) -> ComposeResult:
        yield BookTable(
            [
                Column("Title", lambda r: r.title or ""),
                Column("Author", lambda r: r.author or "", width=10),
                Column("Year", lambda r: str(r.published_year or ""), width=4),
            ]
        )

    def on_mount(self) -> None:
        table = self.query_one(BookTable)
        table.focus()
        table.set_source(self.window)

    def on_book_table_cursor_moved(self, message: BookTable.CursorMoved) -> None:
        self.moved.append(message.row)


async def test_table_over_the_database(many):
    query = LibraryQuery(sort="title")
    expected = await reference(many, query)
    app = LibraryTableApp(LibraryWindow(many, query))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(BookTable)
        await settle(table)
        await pilot.pause()
        assert table.total == SIZE
        assert table.cursor_row.id == expected[0].id
        await pilot.press("end")
        await settle(table)
        assert table.cursor_row.id == expected[-1].id
        await pilot.press("pageup", "pageup", "up")
        await settle(table)
        index = table.cursor_index
        assert table.cursor_row.id == expected[index].id

        # an edit moves the book under the cursor elsewhere; a reload follows it there
        target = table.cursor_row.id
        await many.execute("UPDATE books SET title = 'AAAA first' WHERE id = $1", target)
        table.set_source(LibraryWindow(many, query), keep_cursor=True)
        await settle(table)
        await pilot.pause()
        assert table.cursor_index == 0
        assert table.cursor_row.id == target
        assert app.moved[-1].id == target


@pytest.mark.parametrize(("text", "matches"), [("tome", 6_000), ("cluster", 3_000)])
async def test_broad_searches_are_listed_by_title(database, text, matches):
    """More than 2,000 matches are listed by title (walked or sorted): same rows, same order
    as the title sort, page after page."""
    db = database.pool
    records = [
        (
            uuid.uuid4(),
            "organized",
            f"{'Zeta Cluster' if i % 2 else 'Alpha'} Tome {i % 500:03d}",
            f"Author {i % 11}",
        )
        for i in range(6_000)
    ]
    async with db.acquire() as conn:
        await conn.copy_records_to_table(
            "books", records=records, columns=("id", "status", "title", "author")
        )
        await conn.execute("ANALYZE books")
    by_title = await reference(db, LibraryQuery(text=text, sort="title"))
    assert len(by_title) == matches
    first = await library.page(db, LibraryQuery(text=text), limit=100)
    assert first.rows[0].cursor.ordered_by.value == "title"
    window = LibraryWindow(db, LibraryQuery(text=text), block_size=500)
    assert await window.count() == matches
    ids = []
    for start in range(0, matches, 500):
        ids.extend(r.id for r in await window.fetch(start, 500))
    assert ids == [r.id for r in by_title]


async def test_a_search_counts_its_matches_once(database_dsn, database):
    """A keystroke in the Library search: the first page and the count need one count query
    (the search already counts its matches to decide how to order them)."""
    for i in range(30):
        await add_book(database.pool, title=f"Keystroke {i:02d}", author="Counted Author")
    statements: list[str] = []
    count_sql = library.statement("library_count")

    async def log_queries(conn) -> None:
        conn.add_query_logger(lambda record: statements.append(record.query))

    pool = await asyncpg.create_pool(database_dsn, min_size=1, max_size=4, init=log_queries)
    try:
        window = LibraryWindow(pool, LibraryQuery(text="keystroke"), block_size=10)
        rows = await window.fetch(0, 10)
        total = await window.count()
    finally:
        await pool.close()
    assert len(rows) == 10 and total == 30
    assert statements.count(count_sql) == 1
