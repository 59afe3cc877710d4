"""The basic book repository: what goes in comes back out, column for column."""

from __future__ import annotations

from shelver.data import books
from shelver.data.models import BookFields, BookStatus


async def test_insert_and_get_round_trip_every_field(database):
    fields = BookFields(
        title="Le Comte de Monte-Cristo",
        author="Alexandre Dumas",
        isbn_10="2253098055",
        isbn_13="9782253098058",
        publisher="Le Livre de Poche",
        published_year=1844,
        language="fr",
        description="Edmond Dantès…",
        cover_url="https://example.test/cover.jpg",
        page_count=1504,
        genres=["Adventure"],
        tags=["classic", "reread"],
    )
    made = await books.insert(
        database.pool, fields, status=BookStatus.REVIEW, cover_path="/covers/x.jpg"
    )
    fetched = await books.get(database.pool, made.id)
    assert fetched == made
    assert BookFields.model_validate(fetched.model_dump(include=set(BookFields.model_fields))) == (
        fields
    )
    assert (fetched.status, fetched.cover_path) == (BookStatus.REVIEW, "/covers/x.jpg")
    counts = await books.count_by_status(database.pool)
    assert (counts.inbox, counts.review, counts.organized) == (0, 1, 0)


async def test_pages_of_a_status_are_newest_first_and_never_overlap(database):
    for n in range(5):
        await books.insert(database.pool, BookFields(title=f"Book {n}"))
    first = await books.list_by_status(database.pool, BookStatus.INBOX, limit=3)
    last_row = first[-1]
    rest = await books.list_by_status(
        database.pool, BookStatus.INBOX, limit=3, after=(last_row.created_at, last_row.id)
    )
    titles = [r.title for r in first + rest]
    assert sorted(titles) == [f"Book {n}" for n in range(5)]
    assert len(set(titles)) == 5
    created = [r.created_at for r in first + rest]
    assert created == sorted(created, reverse=True)
