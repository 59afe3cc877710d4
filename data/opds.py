"""The OPDS catalogue's data: keyset pages of books per group, their entries, groups, files.

A page is asked for by a :class:`Cursor` (the sort keys of the row it starts after, or before
when going back); the first page starts after a key below every real one, so every page is an
index range scan, as fast on page 2,000 as on page 1. Search pages come from the Library's own
search (``data.library.page``), typos included; this module does not search by itself.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from shelver.data.books import Executor
from shelver.data.queries import composed, query
from shelver.data.series import parse_series_tag, series_of

PAGE_SIZE = 50
MAX_FILTER_CHARS = 500
_LOWEST_ID = UUID(int=0)
_HIGHEST_ID = UUID(int=2**128 - 1)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class Group(StrEnum):
    """The lists the catalogue offers; all but ``new`` and ``series`` are in title order."""

    ALL = "all"
    NEW = "new"
    AUTHOR = "author"
    SERIES = "series"
    GENRE = "genre"
    LANGUAGE = "language"
    FORMAT = "format"
    READING = "reading"

    @property
    def needs_value(self) -> bool:
        return self in (Group.AUTHOR, Group.SERIES, Group.GENRE, Group.LANGUAGE, Group.FORMAT)


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (``forward``) or before the row with these keys."""

    keys: tuple[Any, ...]
    id: UUID
    forward: bool = True

    def encode(self) -> str:
        """A compact text for a URL (the caller URL-encodes it)."""
        keys = [k.isoformat() if isinstance(k, datetime) else k for k in self.keys]
        keys = ["inf" if isinstance(k, float) and math.isinf(k) else k for k in keys]
        return json.dumps([keys, str(self.id)], ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def decode(cls, group: Group, text: str, *, forward: bool) -> Cursor:
        """The cursor in ``text``; ValueError when it is not one of ``group``'s."""
        try:
            keys, ident = json.loads(text)
            ident = UUID(ident)
        except (ValueError, TypeError) as exc:
            raise ValueError("not a page cursor") from exc
        if not isinstance(keys, list):
            raise ValueError("not a page cursor")
        if group is Group.NEW:
            if len(keys) != 1 or not isinstance(keys[0], str):
                raise ValueError("not a page cursor")
            return cls((datetime.fromisoformat(keys[0]),), ident, forward)
        if group is Group.SERIES:
            if len(keys) != 2 or not isinstance(keys[1], str):
                raise ValueError("not a page cursor")
            index = math.inf if keys[0] == "inf" else float(keys[0])
            return cls((index, keys[1]), ident, forward)
        if len(keys) != 1 or not isinstance(keys[0], str) or len(keys[0]) > 1000:
            raise ValueError("not a page cursor")
        return cls((keys[0],), ident, forward)


def first_cursor(group: Group) -> Cursor:
    if group is Group.NEW:
        return Cursor((_FAR_FUTURE,), _HIGHEST_ID)
    if group is Group.SERIES:
        return Cursor((-math.inf, ""), _LOWEST_ID)
    return Cursor(("",), _LOWEST_ID)


class EntryFile(BaseModel):
    id: UUID
    format: str
    size: int
    name: str


class Entry(BaseModel):
    """One book as a feed shows it."""

    id: UUID
    title: str | None = None
    author: str | None = None
    authors: list[str] = Field(default_factory=list)
    description: str | None = None
    language: str | None = None
    publisher: str | None = None
    isbn_13: str | None = None
    isbn_10: str | None = None
    published_year: int | None = None
    genres: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    series: str | None = None
    series_index: float | None = None
    cover_path: str | None = None
    created_at: datetime
    updated_at: datetime
    files: list[EntryFile] = Field(default_factory=list)

    @classmethod
    def from_record(cls, record: Any) -> Entry:
        values = dict(record)
        files = values.pop("files")
        if isinstance(files, str):
            files = json.loads(files)
        series = series_of(values.get("tags") or [])
        if series is not None:
            values["series"] = series.name
            values["series_index"] = float(series.index) if series.index is not None else None
        return cls(**values, files=[EntryFile(**f) for f in files])

    @property
    def categories(self) -> list[str]:
        """Genres, then tags other than the series tag (the series is said on its own)."""
        return [*self.genres, *(t for t in self.tags if parse_series_tag(t) is None)]


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next: Cursor | None
    """Where the page after this one starts (None: this is the last)."""
    previous: Cursor | None
    """Where the page before this one ends (None: this is the first)."""


@functools.cache
def _page_statement(group: Group) -> str:
    """The page query of ``group``: the shared shape with the group's own condition."""
    if group in (Group.NEW, Group.SERIES):
        return query(f"opds_page_{group.value}")
    return composed(
        "opds_page_by_title",
        filter=f"opds_filter_{group.value}",
        prefix="opds_with_reading" if group is Group.READING else None,
    )


async def entries(db: Executor, ids: list[UUID]) -> list[Entry]:
    """Entries of the organized books among ``ids``, in that order."""
    if not ids:
        return []
    return [Entry.from_record(r) for r in await db.fetch(query("opds_entries"), ids)]


def _query_args(
    group: Group, cursor: Cursor, limit: int, value: str | None, readers: list[str] | None
) -> list[Any]:
    args: list[Any] = [cursor.forward, cursor.keys[0], cursor.id, limit]
    if group.needs_value:
        args.append(value)
    if group is Group.READING:
        args.append(readers)
    if group is Group.SERIES:
        args.append(cursor.keys[1])
    return args


def _row_cursor(group: Group, record: Any, forward: bool) -> Cursor:
    if group is Group.SERIES:
        return Cursor((record["series_index"], record["title_key"]), record["id"], forward)
    if group is Group.NEW:
        return Cursor((record["created_at"],), record["id"], forward)
    return Cursor((record["title_key"],), record["id"], forward)


async def page(
    db: Executor,
    group: Group,
    value: str | None = None,
    cursor: Cursor | None = None,
    *,
    limit: int = PAGE_SIZE,
    readers: list[str] | None = None,
) -> Page:
    """One page of ``group`` (of the author, series... ``value``), from ``cursor``.
    ``readers``: whose KoSync positions make the "reading now" list (None: anyone's)."""
    if group.needs_value and not value:
        raise ValueError(f"the {group.value} list needs a value")
    at_start = cursor is None
    cursor = cursor or first_cursor(group)
    # One row more than shown says whether there is a page beyond this one.
    records = await db.fetch(
        _page_statement(group), *_query_args(group, cursor, limit + 1, value, readers)
    )
    more = len(records) > limit
    records = records[:limit]
    if not cursor.forward:
        records = records[::-1]
    rows = await entries(db, [r["id"] for r in records])
    if not records:
        return Page(rows, None, None)
    first, last = records[0], records[-1]
    if cursor.forward:
        has_next, has_previous = more, not at_start
    else:
        has_next, has_previous = True, more
    return Page(
        rows,
        _row_cursor(group, last, True) if has_next else None,
        _row_cursor(group, first, False) if has_previous else None,
    )


class Facet(BaseModel):
    """One author, series, genre, language or format, with how many books it has."""

    name: str
    books: int


async def facets(db: Executor, group: Group, after: str = "", *, limit: int = 100) -> list[Facet]:
    """The values of ``group`` after ``after`` in name order (a keyset page)."""
    names = {
        Group.AUTHOR: "opds_nav_authors",
        Group.SERIES: "opds_nav_series",
        Group.GENRE: "opds_nav_genres",
        Group.LANGUAGE: "opds_nav_languages",
        Group.FORMAT: "opds_nav_formats",
    }
    records = await db.fetch(query(names[group]), after, limit)
    return [Facet(name=r["name"], books=r["books"]) for r in records]


class StoredFile(BaseModel):
    id: UUID
    book_id: UUID
    format: str
    original_name: str
    storage_path: str
    file_size: int
    checksum: str | None = None
    updated_at: datetime
    title: str | None = None
    author: str | None = None


async def stored_file(db: Executor, file_id: UUID) -> StoredFile | None:
    record = await db.fetchrow(query("opds_file"), file_id)
    return StoredFile(**dict(record)) if record else None


async def cover(db: Executor, book_id: UUID) -> tuple[str | None, datetime] | None:
    """(cover path, stamp) of an organized book; None when there is no such book."""
    record = await db.fetchrow(query("opds_cover"), book_id)
    return (record["cover_path"], record["updated_at"]) if record else None
