"""What the Library's data layer takes and gives: queries, pages, rows, detail and edits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from shelver.data import validation
from shelver.data.models import Book, BookFile, DevicePositionFields, Row
from shelver.data.reading_insights import BookReading
from shelver.data.reading_state import ReadingState, book_state


def without_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL: a pasted one is dropped rather than failing the query."""
    return value.replace("\x00", "")


class LibrarySort(StrEnum):
    """Orders the Library can be listed in. Relevance needs a search; without one it is title."""

    RELEVANCE = "relevance"
    TITLE = "title"
    AUTHOR = "author"
    LANGUAGE = "language"
    YEAR = "year"
    READING = "reading"
    LAST_READ = "last_read"
    """When KOReader's statistics last saw the book read (never-read books first)."""
    TIME_READ = "time_read"
    """How long the statistics say the book was read."""


class ReadingFilter(StrEnum):
    """What the Library's reading filter takes: a reading state, or by KOReader's statistics:
    when they last saw the book read (in the last 7, 30 or 365 days), never (nor any device's
    position), or for how long (more than 1, 5 or 20 hours)."""

    UNREAD = "unread"
    READING = "reading"
    FINISHED = "finished"
    LAST_WEEK = "last-week"
    LAST_MONTH = "last-month"
    LAST_YEAR = "last-year"
    NEVER_READ = "never-read"
    OVER_1H = "over-1h"
    OVER_5H = "over-5h"
    OVER_20H = "over-20h"


class LibraryFilters(BaseModel):
    """Narrowing the Library; each filter is off when None, and all combine with search.

    ``author`` matches part of the author's name; the others match a whole value. All ignore
    case and accents, except ``language`` and ``format`` which ignore case only.
    """

    model_config = ConfigDict(frozen=True)

    author: str | None = None
    genre: str | None = None
    tag: str | None = None
    language: str | None = None
    format: str | None = None
    reading: ReadingFilter | None = None

    @field_validator("author", "genre", "tag", "language", "format", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = " ".join(without_nul(value).split())
            return value or None
        return value

    @property
    def active(self) -> bool:
        return any(v is not None for v in self.model_dump().values())


class LibraryQuery(BaseModel):
    """One view of the Library: search text, filters and order."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    filters: LibraryFilters = Field(default_factory=LibraryFilters)
    sort: LibrarySort = LibrarySort.RELEVANCE
    descending: bool = False

    @field_validator("text", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return without_nul(value) if isinstance(value, str) else value


class PageCursor(BaseModel):
    """The sort keys of the last row of a page: the next page starts after them.

    ``ordered_by`` is the order the rows really came in (a relevance search that matches too
    many books is listed by title), so later pages continue in the same order.
    """

    model_config = ConfigDict(frozen=True)

    ordered_by: LibrarySort
    descending: bool = False
    text_key: str | None = None
    title_key: str | None = None
    number_key: float | None = None
    id: UUID


class LibraryRow(Row):
    """One line of the Library list."""

    id: UUID
    title: str | None = None
    author: str | None = None
    published_year: int | None = None
    language: str | None = None
    formats: list[str] = Field(default_factory=list)
    reading_percentage: Decimal | None = None
    rank: float | None = None
    match: str = Field(
        default="browse", description="'browse', 'fulltext' or 'fuzzy' (a typo-tolerant match)"
    )
    cursor: PageCursor | None = Field(default=None, exclude=True)

    @property
    def reading_state(self) -> ReadingState:
        return book_state(self.reading_percentage)

    @field_serializer("reading_percentage")
    def _percentage_as_number(self, value: Decimal | None) -> float | None:
        return None if value is None else float(value)


class LibraryPage(BaseModel):
    """A page of rows and where the next one starts (None when this was the last)."""

    rows: list[LibraryRow]
    next_cursor: PageCursor | None = None
    fuzzy: bool = False
    total: int | None = None
    """How many books the query lists, when the page learned it on the way (a search counts
    its matches to choose its order); None otherwise."""


class DevicePosition(DevicePositionFields):
    """Where one device is in a book (through which of its files), and whose it is."""

    file_id: UUID
    login: str | None = None
    """The KoSync login that wrote it (None: a position of no login)."""


class HardcoverState(Row):
    """What shelver last told Hardcover about a book."""

    hardcover_user_book_id: int | None = None
    hardcover_read_id: int | None = None
    last_status: str | None = None
    last_progress: Decimal | None = None
    last_rating: Decimal | None = None
    last_synced_at: datetime


class ExtraField(BaseModel):
    """A value without a column of its own (a Calibre custom column, another identifier)."""

    source: str
    name: str
    label: str
    datatype: str
    value: Any = None


class BookDetail(BaseModel):
    """Everything the detail pane shows about one book."""

    book: Book
    files: list[BookFile]
    positions: list[DevicePosition]
    rating: Decimal | None = None
    """The person's rating, 0.5-5 in halves (book_ratings), None when unrated."""
    extras: list[ExtraField] = Field(default_factory=list)
    hardcover_sync: HardcoverState | None = None
    statistics: BookReading | None = None
    """What KOReader's reading statistics know about the book (None: nothing)."""

    @property
    def hardcover_linked(self) -> bool:
        return self.book.hardcover_edition_id is not None or self.book.hardcover_book_id is not None

    @property
    def total_size(self) -> int:
        return sum(f.file_size for f in self.files)


class BookEdit(BaseModel):
    """Changes to a book's metadata: only the fields given are written (None clears a field).

    Values are checked and normalised here, so a bad edit fails before it reaches the
    database, with one message per field.
    """

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    author: str | None = None
    isbn_10: str | None = None
    isbn_13: str | None = None
    publisher: str | None = None
    published_year: int | None = None
    language: str | None = None
    description: str | None = None
    cover_url: str | None = None
    page_count: int | None = None
    genres: list[str] | None = None
    tags: list[str] | None = None

    @field_validator("title", "author", "publisher", "description", "cover_url", mode="before")
    @classmethod
    def _trimmed(cls, value: Any) -> Any:
        if isinstance(value, str):
            return without_nul(value).strip() or None
        return value

    @field_validator("isbn_10")
    @classmethod
    def _isbn10(cls, value: str | None) -> str | None:
        return validation.check_isbn10(value)

    @field_validator("isbn_13")
    @classmethod
    def _isbn13(cls, value: str | None) -> str | None:
        return validation.check_isbn13(value)

    @field_validator("published_year")
    @classmethod
    def _year(cls, value: int | None) -> int | None:
        return validation.check_year(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return validation.check_language(value)

    @field_validator("page_count")
    @classmethod
    def _pages(cls, value: int | None) -> int | None:
        if value is not None and not 0 < value <= 100_000:
            raise ValueError(f"a page count is between 1 and 100000, not {value}")
        return value

    @field_validator("genres", "tags")
    @classmethod
    def _terms(cls, value: list[str] | None) -> list[str]:
        return validation.clean_terms(value)

    def changed_fields(self) -> list[str]:
        """The names of the fields this edit writes, in declaration order."""
        return [name for name in type(self).model_fields if name in self.model_fields_set]
