"""From what a file says (`RawMetadata`) to the fields a book row stores (`BookFields`)."""

from __future__ import annotations

from typing import Any

from shelver.data.importing.dates import normalize_year
from shelver.data.importing.isbn import find_isbns
from shelver.data.importing.languages import first_language
from shelver.data.importing.raw import RawMetadata
from shelver.data.importing.text import (
    SHORT_MAX,
    TITLE_MAX,
    clean_line,
    clean_list,
    join_authors,
    strip_html,
)
from shelver.data.models import BookFields

RAW_VALUE_MAX = 2_000  # per value kept in the candidate's raw_response
MAX_PAGES = 100_000


def normalize(raw: RawMetadata) -> BookFields:
    """Validated, cleaned and capped fields; anything bogus becomes None."""
    isbn_10, isbn_13 = find_isbns([clean_line(v, 200) or "" for v in raw.identifiers])
    year = next((y for y in map(normalize_year, raw.dates) if y is not None), None)
    description = next((d for d in map(strip_html, raw.descriptions) if d), None)
    page_count = raw.page_count if raw.page_count and 0 < raw.page_count <= MAX_PAGES else None
    return BookFields(
        title=next((t for t in (clean_line(v, TITLE_MAX) for v in raw.titles) if t), None),
        author=join_authors(list(raw.authors)),
        isbn_10=isbn_10,
        isbn_13=isbn_13,
        publisher=next((p for p in (clean_line(v, SHORT_MAX) for v in raw.publishers) if p), None),
        published_year=year,
        language=first_language([clean_line(v, 100) or "" for v in raw.languages]),
        description=description,
        page_count=page_count,
        genres=clean_list(list(raw.subjects)),
    )


def raw_document(raw: RawMetadata) -> dict[str, Any]:
    """The file's own values for the candidate's ``raw_response``: cleaned of control
    characters (jsonb refuses NUL) and capped, but otherwise as the file states them."""

    def values(items: list[str]) -> list[str]:
        return [v for v in (clean_line(i, RAW_VALUE_MAX) for i in items[:50]) if v]

    return {
        "titles": values(raw.titles),
        "authors": values(raw.authors),
        "identifiers": values(raw.identifiers),
        "publishers": values(raw.publishers),
        "dates": values(raw.dates),
        "languages": values(raw.languages),
        "subjects": values(raw.subjects),
        "page_count": raw.page_count,
        "has_cover": raw.cover is not None,
        "notes": values(raw.notes),
    }
