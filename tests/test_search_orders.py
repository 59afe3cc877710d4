"""A search's first page in each of its orders (ranked, sorted by title, walked by title) against
the order SQL gives on its own, and the folding every sort key is built on (0030_inline_fold.sql).

The thresholds that choose the order (RANK_LIMIT, SORT_LIMIT) are lowered so a small library
reaches every branch."""

from __future__ import annotations

import pytest

from shelver.data import library
from shelver.data.library_models import LibraryFilters, LibraryQuery, LibrarySort
from tests.library_support import add_book

TITLES = [
    "Common Ground",
    "common ground",  # a tie on the folded title: id decides
    "Émile and the common",
    "Ecole commune",  # not a match: "common" is a prefix of no word here
    "Zebra of the Common Common",  # ranks higher: the word twice
    "Ångström common",
    "Œuvres common",
    "Straße common",
    "Война common",
    "a common thread",
    None,  # no title (found by its author): last by title
    "common",
]


@pytest.fixture
async def matches(database):
    db = database.pool
    for index, title in enumerate(TITLES * 2):
        author = "Common Writer" if title is None else f"Author {index % 5}"
        await add_book(db, title, author, formats=("epub", "pdf")[: 1 + index % 2])
    await add_book(db, "Unrelated", "Nobody")
    return db


async def expected_ids(db, order_by: str) -> list:
    rows = await db.fetch(
        f"""SELECT b.id FROM books b, shelver_search_tsquery('common') q
            WHERE b.status = 'organized' AND b.search_vector @@ q
            ORDER BY {order_by}"""
    )
    return [r["id"] for r in rows]


async def pages(db, query: LibraryQuery, size: int) -> list:
    rows, cursor = [], None
    while True:
        result = await library.page(db, query, after=cursor, limit=size)
        rows.extend(result.rows)
        cursor = result.next_cursor
        if cursor is None:
            return rows


@pytest.mark.parametrize(
    ("rank_limit", "sort_limit", "ordered_by"),
    [
        (1000, 5000, LibrarySort.RELEVANCE),  # few enough to rank
        (5, 1000, LibrarySort.TITLE),  # sorted outright
        (5, 10, LibrarySort.TITLE),  # too many to sort: the title index is walked
    ],
)
@pytest.mark.parametrize("size", [1, 7, 100])
async def test_each_order_of_a_search_matches_sql(
    matches, monkeypatch, rank_limit, sort_limit, ordered_by, size
):
    monkeypatch.setattr(library, "RANK_LIMIT", rank_limit)
    monkeypatch.setattr(library, "SORT_LIMIT", sort_limit)
    title_key = 'shelver_sort_key(b.title) COLLATE "C"'
    if ordered_by is LibrarySort.RELEVANCE:
        order = f"ts_rank(b.search_vector, q) DESC, {title_key}, b.id"
    else:
        order = f"{title_key}, b.id"
    expected = await expected_ids(matches, order)
    assert len(expected) == 22

    rows = await pages(matches, LibraryQuery(text="common"), size)
    assert [r.id for r in rows] == expected
    assert {r.cursor.ordered_by for r in rows} == {ordered_by}
    # The columns of each row are the book's own, whichever way the page found it.
    record = {
        r["id"]: r
        for r in await matches.fetch(
            "SELECT b.id, b.title, b.author, count(f.id) AS files FROM books b"
            " JOIN book_files f ON f.book_id = b.id GROUP BY b.id"
        )
    }
    for row in rows:
        assert (row.title, row.author) == (record[row.id]["title"], record[row.id]["author"])
        assert len(row.formats) == record[row.id]["files"]
    first = await library.page(matches, LibraryQuery(text="common"), limit=size)
    assert first.total == (22 if sort_limit >= 22 else None)  # a walk did not count them all


async def test_a_sorted_search_keeps_its_filters(matches, monkeypatch):
    monkeypatch.setattr(library, "RANK_LIMIT", 2)
    query = LibraryQuery(text="common", filters=LibraryFilters(format="pdf"))
    rows = (await library.page(matches, query, limit=100)).rows
    with_pdf = await expected_ids(
        matches,
        """EXISTS (SELECT 1 FROM book_files f WHERE f.book_id = b.id AND f.format = 'pdf') DESC,
           shelver_sort_key(b.title) COLLATE "C", b.id""",
    )
    assert [r.id for r in rows] == with_pdf[: len(rows)] and len(rows) == 10
    assert all(r.formats == ["epub", "pdf"] for r in rows)
    assert rows[0].cursor.ordered_by is LibrarySort.TITLE


FOLDED = [
    "Émile Zola",
    "ÆSOP’S FABLES",
    "Œdipe",
    "Straße",
    "İstanbul",
    "Ångström",
    "Tiếng Việt",
    "Война и мир",
    "Ελληνικά",
    "already plain",
    "",
    "ﬁne ligature",
    "x" * 5000,
]


async def test_fold_gives_what_unaccent_and_lower_give(database):
    """The fold, rewritten so PostgreSQL inlines it, folds exactly as before: every index built
    on it stays valid."""
    async with database.pool.acquire() as conn:
        for text in [*FOLDED, None]:
            folded = await conn.fetchval("SELECT shelver_fold($1::text)", text)
            reference = await conn.fetchval(
                "SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1::text))", text
            )
            assert folded == reference, text
        assert await conn.fetchval("SELECT shelver_fold('Émile')") == "emile"


async def test_sort_keys_are_inlined_and_still_walk_their_index(database):
    """Inlined, a sort key costs a fraction of a call per row (a broad search computes one per
    match); and the title index, defined on the function, still serves the title order."""
    async with database.pool.acquire() as conn:
        plan = "\n".join(
            r[0]
            for r in await conn.fetch("EXPLAIN (VERBOSE) SELECT shelver_sort_key(title) FROM books")
        )
        assert "ts_lexize" in plan and "shelver_fold" not in plan, plan
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute("SET LOCAL enable_sort = off")
            plan = "\n".join(
                r[0]
                for r in await conn.fetch(
                    """EXPLAIN SELECT id FROM books WHERE status = 'organized'
                       ORDER BY shelver_sort_key(title) COLLATE "C", id LIMIT 5"""
                )
            )
        assert "books_library_title_idx" in plan, plan
