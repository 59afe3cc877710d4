"""How Library search behaves: a table of queries against a small real library."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shelver.data import library
from shelver.data.library_models import LibraryFilters, LibraryQuery, LibrarySort
from shelver.data.models import BookStatus
from tests.conftest import read_only_database
from tests.library_support import add_book


async def seed_shelf(db: asyncpg.Pool) -> None:
    """A handful of organized books (and one still in the inbox) with tricky spellings."""
    await add_book(db, "The Hobbit", "J. R. R. Tolkien", genres=["Fantasy"], language="en")
    await add_book(db, "The Silmarillion", "J. R. R. Tolkien", genres=["Fantasy"])
    await add_book(db, "Germinal", "Émile Zola", language="fr")
    await add_book(db, "Cien años de soledad", "Gabriel García Márquez", language="es")
    await add_book(db, "At Swim-Two-Birds", "Flann O'Brien")
    await add_book(db, "Rock & Roll Tales", "Ann Author")
    await add_book(db, "100% Wolf", "Jayne Lyons")
    await add_book(db, "C:\\Temp and Other Poems", "Ann Author")
    await add_book(db, "Dune", "Frank Herbert")
    await add_book(
        db, "Sand Book", "Some One", description="Nothing like dune, the desert planet novel"
    )
    await add_book(db, "The Hobbit (inbox copy)", "J. R. R. Tolkien", status=BookStatus.INBOX)


@pytest.fixture(scope="module")
async def shelf(server_dsn: str, template_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """``seed_shelf``'s books, shared by the module's tests (they only search: an injection
    that wrote would fail the module)."""
    async with read_only_database(server_dsn, seed_shelf) as pool:
        yield pool


async def titles(db, text: str, **kwargs) -> list[str]:
    result = await library.page(db, LibraryQuery(text=text, **kwargs), limit=50)
    return [row.title for row in result.rows]


async def fulltext_titles(db, text: str) -> list[str]:
    result = await library.page(db, LibraryQuery(text=text), limit=50)
    return [row.title for row in result.rows if row.match == "fulltext"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # prefix on the last word
        ("hob", {"The Hobbit"}),
        ("silm", {"The Silmarillion"}),
        # every word must match, across title and author, in any order
        ("hobbit tolkien", {"The Hobbit"}),
        ("tolkien hobbit", {"The Hobbit"}),
        ("tolkien", {"The Hobbit", "The Silmarillion"}),
        ("tolk", {"The Hobbit", "The Silmarillion"}),
        ("hobbit herbert", set()),
        # only a prefix on the LAST word
        ("hob tolkien", set()),
        # accents and case ignored, both ways
        ("emile zola", {"Germinal"}),
        ("ÉMILE", {"Germinal"}),
        ("garcia marquez", {"Cien años de soledad"}),
        ("anos soledad", {"Cien años de soledad"}),
        ("AÑOS", {"Cien años de soledad"}),
        # punctuation inside names and titles
        ("o'brien", {"At Swim-Two-Birds"}),
        ("obrien", set()),
        ("swim two birds", {"At Swim-Two-Birds"}),
        ("rock & roll", {"Rock & Roll Tales"}),
        ("rock | roll", {"Rock & Roll Tales"}),
        ("!rock", {"Rock & Roll Tales"}),
        ("100%", {"100% Wolf"}),
        ("c:\\temp", {"C:\\Temp and Other Poems"}),
        ("poems:*", {"C:\\Temp and Other Poems"}),
        ("(wolf)", {"100% Wolf"}),
        ("wolf <-> 100", {"100% Wolf"}),
        # genres are searchable too
        ("fantasy", {"The Hobbit", "The Silmarillion"}),
    ],
)
async def test_full_text_table(shelf, text, expected):
    assert set(await fulltext_titles(shelf, text)) == expected


async def test_inbox_books_are_not_in_the_library(shelf):
    found = await titles(shelf, "inbox copy")
    assert "The Hobbit (inbox copy)" not in found


async def test_title_matches_rank_above_description_matches(shelf):
    found = await fulltext_titles(shelf, "dune")
    assert found == ["Dune", "Sand Book"]


async def test_ties_in_rank_are_ordered_by_title(shelf):
    assert await fulltext_titles(shelf, "tolkien") == ["The Hobbit", "The Silmarillion"]


@pytest.mark.parametrize(
    ("typo", "title"),
    [("tolkein", "The Hobbit"), ("silmarilion", "The Silmarillion"), ("germnial", "Germinal")],
)
async def test_typos_fall_back_to_trigram_matches(shelf, typo, title):
    result = await library.page(shelf, LibraryQuery(text=typo), limit=20)
    assert result.fuzzy
    assert title in [row.title for row in result.rows if row.match == "fuzzy"]
    assert result.next_cursor is None


async def test_exact_hits_come_before_fuzzy_ones(shelf):
    result = await library.page(shelf, LibraryQuery(text="germinal"), limit=20)
    assert result.rows[0].title == "Germinal"
    assert result.rows[0].match == "fulltext"


@pytest.mark.parametrize(
    "text",
    [
        "'",
        "&",
        "|",
        "!",
        ":*",
        "\\",
        "%",
        "_",
        "(",
        ")",
        "<->",
        "''",
        "\\'",
        "a:* & | !b",
        "'; DROP TABLE books; --",
        "%_%",
        "$1",
        "::",
        "\x00".replace("\x00", ""),
        "   ",
    ],
)
async def test_metacharacters_are_just_text(shelf, text):
    result = await library.page(shelf, LibraryQuery(text=text), limit=50)
    assert isinstance(result.rows, list)
    # the table is still there and whole
    assert await library.count(shelf, LibraryQuery()) == 10


@pytest.mark.parametrize("text", ["", "   "])
async def test_empty_query_browses_the_whole_library_by_title(shelf, text):
    result = await library.page(shelf, LibraryQuery(text=text), limit=50)
    found = [row.title for row in result.rows]
    assert len(found) == 10
    assert found[0] == "100% Wolf"
    assert all(row.match == "browse" for row in result.rows)


async def test_very_long_query(shelf):
    long_text = "hobbit " + "x" * 20_000 + " " + "tolkien " * 2_000
    result = await library.page(shelf, LibraryQuery(text=long_text), limit=20)
    assert isinstance(result.rows, list)
    many_words = " ".join(["tolkien"] * 300)
    assert set(await fulltext_titles(shelf, many_words)) == {"The Hobbit", "The Silmarillion"}


async def test_search_combines_with_filters(shelf):
    fantasy = LibraryFilters(genre="fantasy")
    found = await titles(shelf, "the", filters=fantasy)
    assert set(found) == {"The Hobbit", "The Silmarillion"}
    assert await titles(shelf, "hobbit", filters=LibraryFilters(language="FR")) == []


async def test_search_with_another_sort(shelf):
    found = await titles(shelf, "tolkien", sort=LibrarySort.TITLE, descending=True)
    assert found == ["The Silmarillion", "The Hobbit"]


async def test_search_function_used_by_the_command_line(shelf):
    rows = await library.search(shelf, "tolkien", limit=1)
    assert [r.title for r in rows] == ["The Hobbit"]


async def test_tsquery_quotes_every_word(shelf):
    assert await library.search_tsquery(shelf, "Émile's & | zo") == "'emile' & 's' & 'zo':*"
    assert await library.search_tsquery(shelf, "!!") is None
    assert await library.search_tsquery(shelf, "") is None


@settings(
    max_examples=60,
    deadline=None,
)
@given(text=st.text(max_size=60))
async def test_any_typed_text_is_a_safe_search(shelf, text):
    """Whatever is typed, the search runs, and the inbox copy never leaks in."""
    result = await library.page(shelf, LibraryQuery(text=text), limit=20)
    assert "The Hobbit (inbox copy)" not in {row.title for row in result.rows}
    assert await library.count(shelf, LibraryQuery(text=text)) >= 0


@settings(
    max_examples=40,
    deadline=None,
)
@given(value=st.text(max_size=30))
async def test_any_filter_text_is_safe(shelf, value):
    filters = LibraryFilters(author=value, genre=value, tag=value, language=value, format=value)
    query = LibraryQuery(filters=filters, sort=LibrarySort.AUTHOR)
    rows = (await library.page(shelf, query, limit=20)).rows
    assert await library.count(shelf, query) == len(rows)
    # an author filter alone matches by substring, with % and _ meaning themselves
    only_author = LibraryQuery(filters=LibraryFilters(author=value))
    found = {r.author for r in (await library.page(shelf, only_author, limit=50)).rows}
    folded = " ".join(value.replace("\x00", "").split()).casefold()
    if folded and all(ch.isascii() for ch in folded):
        assert all(folded in plain(author or "") for author in found)


def plain(value: str) -> str:
    """Lower case without accents (enough for the names on the shelf)."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@pytest.mark.parametrize("text", ["!!!", "&|", "&&", "-", "'\"", "  ?  "])
async def test_a_query_with_no_words_finds_nothing(shelf, text: str):
    """Punctuation alone is a search for nothing, not a listing of everything."""
    assert await titles(shelf, text) == []
    assert await library.count(shelf, LibraryQuery(text=text)) == 0
