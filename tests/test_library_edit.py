"""Book detail, editing with validation, bulk tag edits, and the field checks themselves."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from pydantic import ValidationError

from shelver.data import library, validation
from shelver.data.library_models import BookEdit, LibraryQuery
from tests.library_support import add_book

# ---- field checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0-306-40615-2", "0306406152"), ("080442957X", "080442957X"), ("080442957x", "080442957X")],
)
def test_isbn10_valid(value, expected):
    assert validation.check_isbn10(value) == expected


@pytest.mark.parametrize("value", ["0-306-40615-3", "030640615", "abcdefghij", "0000000000"])
def test_isbn10_invalid(value):
    with pytest.raises(ValueError, match="ISBN-10"):
        validation.check_isbn10(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("978-0-306-40615-7", "9780306406157"), ("ISBN 979-10-90636-07-1", "9791090636071")],
)
def test_isbn13_valid(value, expected):
    assert validation.check_isbn13(value) == expected


@pytest.mark.parametrize("value", ["978-0-306-40615-8", "1234567890123", "97803064061", "978x"])
def test_isbn13_invalid(value):
    with pytest.raises(ValueError, match="ISBN-13"):
        validation.check_isbn13(value)


def test_empty_isbn_clears():
    assert validation.check_isbn13("  ") is None
    assert validation.check_isbn10(None) is None


def test_year_range():
    today = date(2026, 5, 1)
    assert validation.check_year(0, today) == 0
    assert validation.check_year(2027, today) == 2027
    for bad in (-1, 2028, 99999):
        with pytest.raises(ValueError, match="between 0 and 2027"):
            validation.check_year(bad, today)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "en"),
        ("FR", "fr"),
        ("pt-BR", "pt"),
        ("zh_TW", "zh"),
        ("English", "en"),
        ("ger", "de"),
        ("", None),
        (None, None),
    ],
)
def test_language_codes(value, expected):
    assert validation.check_language(value) == expected


@pytest.mark.parametrize("value", ["xx", "english language", "e", "123", "klingon"])
def test_language_invalid(value):
    with pytest.raises(ValueError, match="ISO 639-1"):
        validation.check_language(value)


def test_terms_are_cleaned():
    assert validation.clean_terms(["  Sci  Fi ", "sci fi", "", "Fantasy", "FANTASY"]) == [
        "Sci Fi",
        "Fantasy",
    ]


def test_edit_model_reports_every_bad_field():
    with pytest.raises(ValidationError) as caught:
        BookEdit(isbn_13="9780306406158", published_year=3000, language="xx", page_count=0)
    fields = {error["loc"][0] for error in caught.value.errors()}
    assert fields == {"isbn_13", "published_year", "language", "page_count"}


def test_edit_model_knows_which_fields_it_sets():
    edit = BookEdit(title="  New  ", description=None)
    assert edit.changed_fields() == ["title", "description"]
    assert edit.title == "New"
    with pytest.raises(ValidationError):
        BookEdit(status="inbox")  # not an editable field


# ---- detail -------------------------------------------------------------------------------


async def test_detail_has_files_positions_and_hardcover_state(database):
    db = database.pool
    book_id = await add_book(
        db,
        "Germinal",
        "Émile Zola",
        formats=("epub", "pdf"),
        progress={"Kobo": 0.25, "Kindle": 0.5},
        description="Mines.",
    )
    detail = await library.detail(db, book_id)
    assert detail.book.title == "Germinal"
    assert [f.format for f in detail.files] == ["epub", "pdf"]
    assert detail.total_size == 3000
    assert {p.device: float(p.percentage) for p in detail.positions} == {
        "Kobo": 0.25,
        "Kindle": 0.5,
    }
    assert detail.hardcover_sync is None
    assert not detail.hardcover_linked

    await db.execute("UPDATE books SET hardcover_edition_id = 42 WHERE id = $1", book_id)
    await db.execute(
        "INSERT INTO hardcover_sync_log (book_id, last_status, last_synced_at)"
        " VALUES ($1, 'reading', now())",
        book_id,
    )
    detail = await library.detail(db, book_id)
    assert detail.hardcover_linked
    assert detail.hardcover_sync.last_status == "reading"


async def test_detail_names_the_login_of_each_position(database):
    """Two logins whose readers are both called "Kobo": each position says whose it is, and
    each device by the name it sent (not the qualified name it is stored under)."""
    import json

    from shelver.data import kosync
    from shelver.data.kosync import ProgressUpdate
    from shelver.widgets.library_detail import describe_files

    db = database.pool
    book_id = await add_book(db, "Germinal", "Émile Zola", formats=("epub",))
    document = await db.fetchval("SELECT content_hash FROM book_files WHERE book_id = $1", book_id)
    for login, percentage in (("alice", 0.25), ("bob", 0.75)):
        body = json.dumps({"document": document})
        update = ProgressUpdate(document, "Kobo", None, "p", percentage, 1, body, login=login)
        await kosync.write_batch(db, [update])
    detail = await library.detail(db, book_id)
    assert {(p.login, p.device, float(p.percentage)) for p in detail.positions} == {
        ("alice", "Kobo", 0.25),
        ("bob", "Kobo", 0.75),
    }
    pane = describe_files(detail).plain
    assert "alice · Kobo" in pane and "bob · Kobo" in pane and "(bob)" not in pane


async def test_detail_of_a_missing_book(database):
    with pytest.raises(library.BookNotFound):
        await library.detail(database.pool, uuid.uuid4())


# ---- editing ------------------------------------------------------------------------------


async def test_update_writes_only_the_given_fields_and_search_follows(database):
    db = database.pool
    book_id = await add_book(db, "Old Title", "Some Author", publisher="Penguin", isbn_13=None)
    edit = BookEdit(
        title="Brand New Title",
        isbn_13="978-0-306-40615-7",
        language="French",
        genres=["Drama", "drama", " Poetry "],
        description=None,
    )
    book = await library.update_book(db, book_id, edit)
    assert book.title == "Brand New Title"
    assert book.isbn_13 == "9780306406157"
    assert book.language == "fr"
    assert book.genres == ["Drama", "Poetry"]
    assert book.publisher == "Penguin"  # untouched
    assert book.author == "Some Author"
    assert [r.id for r in await library.search(db, "brand new")] == [book_id]
    assert [r.id for r in await library.search(db, "poetry")] == [book_id]
    assert await library.page(db, LibraryQuery(text="old title"), limit=5, fuzzy=False) == (
        await library.page(db, LibraryQuery(text="zzzz"), limit=5, fuzzy=False)
    )


async def test_update_can_clear_a_field(database):
    db = database.pool
    book_id = await add_book(db, "Title", "Author", publisher="Penguin")
    book = await library.update_book(db, book_id, BookEdit(publisher=None, tags=[]))
    assert book.publisher is None
    assert book.tags == []


async def test_update_of_a_missing_book(database):
    with pytest.raises(library.BookNotFound):
        await library.update_book(database.pool, uuid.uuid4(), BookEdit(title="x"))


async def test_bulk_tag_edit(database):
    db = database.pool
    one = await add_book(db, "One", tags=["Signed", "gift"])
    two = await add_book(db, "Two", tags=["to-read"])
    three = await add_book(db, "Three", tags=["keep"])

    changed = await library.edit_tags(db, [one, two], add=["signed", "Book Club"], remove=["GIFT"])
    assert set(changed) == {one, two}
    assert (await library.detail(db, one)).book.tags == ["Signed", "Book Club"]
    assert (await library.detail(db, two)).book.tags == ["to-read", "signed", "Book Club"]
    assert (await library.detail(db, three)).book.tags == ["keep"]

    # nothing to change: no rows touched
    assert await library.edit_tags(db, [one], add=["book club"]) == []
    assert await library.edit_tags(db, [one], add=[" "]) == []
    assert await library.edit_tags(db, [], add=["x"]) == []
    changed = await library.edit_tags(db, [one, two, three], remove=["book club"])
    assert set(changed) == {one, two}
    assert [r.id for r in await library.search(db, "signed")] and (
        {r.id for r in await library.search(db, "signed")} == {one, two}
    )


def test_nul_characters_are_dropped_not_sent():
    edit = BookEdit(title="Ti\x00tle", tags=["a\x00b"])
    assert edit.title == "Title"
    assert edit.tags == ["ab"]
