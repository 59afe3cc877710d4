"""Named queries load from the sql package and parse strictly."""

from __future__ import annotations

import pytest

from shelver.data.library_models import LibrarySort
from shelver.data.queries import UnknownQuery, all_queries, composed, parse_queries, query


def test_parse_splits_named_statements():
    text = "-- preamble\n-- name: one\nSELECT 1;\n\n-- name: two\nSELECT 2\nFROM t;\n"
    assert parse_queries(text) == {"one": "SELECT 1", "two": "SELECT 2\nFROM t"}


def test_duplicate_and_empty_names_are_errors():
    with pytest.raises(ValueError, match="defined twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;")
    with pytest.raises(ValueError, match="empty"):
        parse_queries("-- name: a\n\n-- name: b\nSELECT 2;")


def test_bundled_queries_are_loaded_once_and_found_by_name():
    assert all_queries() is all_queries()
    assert query("count_books_by_status").startswith("SELECT")
    with pytest.raises(UnknownQuery):
        query("no_such_query")


async def test_every_bundled_query_is_valid_sql(database):
    """PREPARE each statement: a typo in any .sql file fails here, not in front of a user."""
    from shelver.data import library, opds

    # The OPDS title pages and the Library page and count are built from shared pieces: prepare
    # each statement as data.opds and data.library assemble it, not the fragments on their own.
    fragments = (
        "opds_page_by_title",
        "opds_filter_",
        "opds_with_reading",
        "library_candidates",
        "library_order_",
    )
    assembled = ("library_page", "library_count")
    statements = {
        name: statement
        for name, statement in all_queries().items()
        if not name.startswith(fragments) and name not in assembled
    }
    for group in opds.Group:
        statements[f"opds page of {group.value}"] = opds._page_statement(group)
    statements["library_count"] = library.statement("library_count")
    for mode in ("relevance", "title_walk", "title_sorted", *(s.value for s in LibrarySort)):
        for descending in (False, True):
            for tsquery in (None, "'word'"):
                page = library.page_statement(mode, descending, tsquery)
                statements[f"library_page in {mode}, {descending=}, {tsquery=}"] = page
    async with database.pool.acquire() as conn, conn.transaction():
        # Statistics import statements read a temporary staging table made in their transaction.
        await conn.execute(all_queries()["stats_create_staging"])
        for name, statement in statements.items():
            try:
                await conn.prepare(statement)
            except Exception as exc:  # pragma: no cover - the assertion message is the point
                pytest.fail(f"query {name!r} does not prepare: {exc}")


def test_a_fragment_is_spliced_where_its_marker_is():
    from shelver.data import library

    page = library.page_statement("author", True, None)
    count = composed("library_count", candidates="library_candidates")
    shared = query("library_candidates")
    # One text for the rows a Library list holds, in both the page and its count.
    assert shared in page and shared in count and "/*candidates*/" not in page + count
    # A page holds the branch of its own order only (the others would only cost planning).
    assert query("library_order_author_desc") in page and "/*order*/" not in page
    assert query("library_order_author") not in page.replace(query("library_order_author_desc"), "")
    with pytest.raises(ValueError, match="no /\\*nowhere\\*/"):
        composed("library_page", nowhere="library_candidates")
