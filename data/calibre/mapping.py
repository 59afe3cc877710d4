"""What a Calibre book becomes in shelver: the book's fields, its rating and its extra fields.

Every value is an outside value, so it goes through the same cleaning as a file's metadata.
Whatever has no column of its own (custom columns, other identifiers, further languages) is kept
in ``book_extra_fields``; what cannot be kept is returned as a note for the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shelver.data.calibre.reader import CalibreBook, CustomColumn
from shelver.data.importing.dates import latest_year
from shelver.data.importing.isbn import normalize_isbn
from shelver.data.importing.languages import normalize_language
from shelver.data.importing.text import (
    SHORT_MAX,
    TITLE_MAX,
    clean_line,
    clean_list,
    join_authors,
    strip_html,
)
from shelver.data.models import BookFields
from shelver.data.series import series_tag

SOURCE = "calibre"
CALIBRE_UNKNOWN_YEAR = 101  # calibre stores "no publication date" as 0101-01-01
TAGS_MAX = 500
EXTRA_TEXT_MAX = 100_000
_YEAR = re.compile(r"^\s*(-?\d{1,4})-")
HARDCOVER_BOOK_KEYS = ("hardcover-id", "hardcover")
HARDCOVER_EDITION_KEYS = ("hardcover-edition",)
TAKEN_IDENTIFIERS = {"isbn"}


@dataclass(frozen=True)
class ExtraField:
    """A value shelver has no column for, kept in ``book_extra_fields``."""

    name: str  # "#mood", "identifier:goodreads", "languages"
    label: str  # what calibre shows: "Mood"
    datatype: str
    value: Any  # JSON-able


@dataclass
class MappedBook:
    """A Calibre book in shelver's terms."""

    fields: BookFields
    created_at: datetime | None
    hardcover_book_id: int | None = None
    hardcover_edition_id: int | None = None
    rating: Decimal | None = None  # 0.5-5 in halves, the scale of hardcover_sync_log
    extras: list[ExtraField] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not kept, and why


def map_book(book: CalibreBook, columns: list[CustomColumn]) -> MappedBook:
    """The shelver view of ``book``."""
    notes: list[str] = []
    extras: list[ExtraField] = []
    isbn_10, isbn_13 = _isbn(book, extras, notes)
    language = _language(book, extras, notes)
    tags = clean_list(book.tags, SHORT_MAX, TAGS_MAX)
    if len(tags) < len({t.casefold() for t in book.tags if t.strip()}):
        notes.append(f"tags beyond the first {TAGS_MAX} were not kept")
    if book.series and (name := clean_line(book.series, SHORT_MAX - 20)):
        tags.append(series_tag(name, book.series_index))
    fields = BookFields(
        title=clean_line(book.title, TITLE_MAX),
        author=join_authors(list(book.authors)),
        isbn_10=isbn_10,
        isbn_13=isbn_13,
        publisher=clean_line(book.publisher, SHORT_MAX),
        published_year=publication_year(book.pubdate),
        language=language,
        description=strip_html(book.comments),
        tags=tags,
    )
    mapped = MappedBook(
        fields=fields,
        created_at=_timestamp(book.timestamp),
        rating=rating_from_calibre(book.rating),
        extras=extras,
        notes=notes,
    )
    _hardcover(book, mapped)
    _identifiers(book, mapped)
    _custom(book, columns, mapped)
    return mapped


def publication_year(pubdate: str | None) -> int | None:
    """The year of calibre's pubdate; None for its "unknown" year 101 and for nonsense."""
    match = _YEAR.match(pubdate or "")
    if not match:
        return None
    year = int(match.group(1))
    if year == CALIBRE_UNKNOWN_YEAR or year <= 0 or year > latest_year():
        return None
    return year


def rating_from_calibre(value: int | None) -> Decimal | None:
    """Calibre's 0-10 (two per star) on shelver's 0.5-5 scale; 0 and nonsense are no rating."""
    if value is None or not 0 < value <= 10:
        return None
    return Decimal(value) / 2


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _isbn(
    book: CalibreBook, extras: list[ExtraField], notes: list[str]
) -> tuple[str | None, str | None]:
    given = [v for v in (book.identifiers.get("isbn"), book.isbn_column) if v and v.strip()]
    for value in given:
        isbn_10, isbn_13 = normalize_isbn(value)
        if isbn_13:
            return isbn_10, isbn_13
    if given:
        raw = clean_line(given[0], SHORT_MAX) or ""
        extras.append(ExtraField("identifier:isbn", "ISBN (not valid)", "identifier", raw))
        notes.append(f"ISBN {raw!r} is not a valid ISBN-10/13: kept as an extra field")
    return None, None


def _language(book: CalibreBook, extras: list[ExtraField], notes: list[str]) -> str | None:
    codes = [normalize_language(code) for code in book.languages]
    first = next((code for code in codes if code), None)
    if len(book.languages) > 1 or (book.languages and first is None):
        raw = clean_list(book.languages, 20, 50)
        extras.append(ExtraField("languages", "Languages", "text", raw))
        unknown = [r for r, c in zip(book.languages, codes, strict=True) if c is None]
        if unknown:
            notes.append(
                f"language {', '.join(unknown)} has no ISO 639-1 code: kept as an extra field"
            )
    return first


def _integer(value: str | None) -> int | None:
    text = (value or "").strip()
    if text.isascii() and text.isdigit() and 0 < int(text) < 2**31:
        return int(text)
    return None


def _hardcover(book: CalibreBook, mapped: MappedBook) -> None:
    for key in HARDCOVER_BOOK_KEYS:
        if (found := _integer(book.identifiers.get(key))) is not None:
            mapped.hardcover_book_id = found
            break
    for key in HARDCOVER_EDITION_KEYS:
        if (found := _integer(book.identifiers.get(key))) is not None:
            mapped.hardcover_edition_id = found
            break


def _identifiers(book: CalibreBook, mapped: MappedBook) -> None:
    """Every identifier without a column of its own (goodreads, amazon, a Hardcover slug...)."""
    used = set(TAKEN_IDENTIFIERS)
    for key in HARDCOVER_BOOK_KEYS + HARDCOVER_EDITION_KEYS:
        if _integer(book.identifiers.get(key)) is not None:
            used.add(key)
    for key, value in book.identifiers.items():
        if key in used:
            continue
        cleaned = clean_line(value, SHORT_MAX)
        if cleaned:
            mapped.extras.append(
                ExtraField(f"identifier:{clean_line(key, 60)}", key, "identifier", cleaned)
            )


def _custom(book: CalibreBook, columns: list[CustomColumn], mapped: MappedBook) -> None:
    for column in columns:
        if column.label not in book.custom:
            continue
        value = custom_value(column, book.custom[column.label])
        if value is None:
            continue
        label = clean_line(column.name, SHORT_MAX) or column.label
        mapped.extras.append(ExtraField(f"#{column.label}", label, column.datatype, value))


def custom_value(column: CustomColumn, value: Any) -> Any:
    """A custom column's value as JSON shelver keeps (text cleaned; comments as plain text)."""
    if value is None:
        return None
    kind = column.datatype
    if isinstance(value, list):
        cleaned = [custom_value(CustomColumn(**{**column.__dict__, "is_multiple": False}), v)
                   for v in value]  # fmt: skip
        kept = [v for v in cleaned if v is not None]
        return kept or None
    if kind == "comments":
        return strip_html(value, EXTRA_TEXT_MAX)
    if kind == "series" and isinstance(value, dict):
        name = clean_line(value.get("name"), SHORT_MAX)
        return {"name": name, "index": value.get("index")} if name else None
    if kind == "bool":
        return bool(value)
    if kind == "rating":
        rating = rating_from_calibre(int(value)) if isinstance(value, int | float) else None
        return float(rating) if rating is not None else None
    if kind in ("int", "float"):
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return clean_line(value, EXTRA_TEXT_MAX)
