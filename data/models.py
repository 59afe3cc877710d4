"""Pydantic models of shelver's rows: what the data layer hands to everyone else."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class BookStatus(StrEnum):
    """Where a book is in its life: arrived, awaiting review, filed in the library."""

    INBOX = "inbox"
    REVIEW = "review"
    ORGANIZED = "organized"


class Row(BaseModel):
    """Base for models built from asyncpg records."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    @classmethod
    def from_record(cls, record: Any) -> Any:
        return cls.model_validate(dict(record))


class BookFields(BaseModel):
    """The editable metadata of a book; also the shape of a candidate's ``normalized``."""

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
    genres: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    def sql_values(self) -> tuple[Any, ...]:
        """The fields as statement parameters, in declaration order (title … tags).

        Statements that write a whole book list these columns in this order, so callers pass
        ``*fields.sql_values()`` instead of spelling out twelve arguments.
        """
        return tuple(getattr(self, name) for name in BookFields.model_fields)


class Book(Row, BookFields):
    """A row of ``books`` (without the search vector, which only the database reads)."""

    id: UUID
    status: BookStatus
    cover_path: str | None = None
    hardcover_book_id: int | None = None
    hardcover_edition_id: int | None = None
    possible_duplicate_of: UUID | None = None
    approved_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class BookFile(Row):
    """A row of ``book_files``: one physical file of a book."""

    id: UUID
    book_id: UUID
    format: str
    original_name: str
    storage_path: str | None = None
    inbox_path: str | None = None
    file_size: int = 0
    checksum: str | None = None
    content_hash: str | None = None
    created_at: datetime
    updated_at: datetime


class Candidate(Row):
    """A row of ``book_metadata_candidates``."""

    id: UUID
    book_id: UUID
    source: str
    raw_response: Any = None
    normalized: dict[str, Any] = Field(default_factory=dict)
    confidence: Decimal = Decimal(0)
    selected_fields: list[str] = Field(default_factory=list)


class DevicePositionFields(Row):
    """Where one document stands on one device: the columns every view of a position shares."""

    document: str
    device: str
    device_id: str | None = None
    progress: str
    percentage: Decimal = Decimal(0)
    timestamp: int = 0
    updated_at: datetime


class ReadingProgress(DevicePositionFields):
    """A row of ``reading_progress``: the current position of one document on one device."""

    id: UUID
    raw_payload: Any = None


class ServiceCredential(Row):
    """A row of ``service_credentials`` without its secret."""

    id: UUID
    service: str
    username: str
    created_at: datetime
    updated_at: datetime | None = None


class StatusCounts(Row):
    """How many books are in each status."""

    inbox: int = 0
    review: int = 0
    organized: int = 0

    @property
    def total(self) -> int:
        return self.inbox + self.review + self.organized


class BookListRow(Row):
    """One line of a book list: the book's headline fields and its first file."""

    id: UUID
    status: BookStatus
    title: str | None = None
    author: str | None = None
    published_year: int | None = None
    language: str | None = None
    formats: list[str] = Field(default_factory=list)
    file_size: int = 0
    candidate_count: int = 0
    possible_duplicate_of: UUID | None = None
    created_at: datetime
