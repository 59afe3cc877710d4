"""A book's series, kept as one tag ``series:Name #n`` in ``books.tags``: the one place in
Python that writes and reads that form (the Calibre import writes it; Library search finds it
through the tags in ``search_vector``). SQL reads it with ``shelver_series_name`` and
``shelver_series_index`` (sql/migrations/0011_opds.sql, used by OPDS): keep the two in step."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

SERIES_TAG_PREFIX = "series:"
_TAG = re.compile(
    r"^series:(?P<name>.*?)(?:\s+#\s*(?P<index>\d+(?:\.\d+)?)\s*)?$", re.DOTALL | re.IGNORECASE
)


@dataclass(frozen=True)
class Series:
    """A series name and the book's place in it (``None``: no number)."""

    name: str
    index: Decimal | None = None


def format_index(index: float | Decimal | None) -> str | None:
    """``2`` for 2.0, ``2.5`` for 2.5; None for no (or a negative) number."""
    if index is None:
        return None
    try:
        value = Decimal(str(index))
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def series_tag(name: str, index: float | Decimal | None = None) -> str:
    """``series:The Expanse #2.5`` (``series:Name`` without a number)."""
    number = format_index(index)
    return f"{SERIES_TAG_PREFIX}{name}" + (f" #{number}" if number is not None else "")


def parse_series_tag(tag: str) -> Series | None:
    """The series a tag names, or None when the tag is not a series tag."""
    if tag[: len(SERIES_TAG_PREFIX)].lower() != SERIES_TAG_PREFIX:
        return None
    match = _TAG.match(tag)
    if match is None or not match["name"].strip():
        return None
    index = Decimal(match["index"]) if match["index"] else None
    return Series(match["name"].strip(), index)


def series_of(tags: list[str]) -> Series | None:
    """The first series among a book's tags."""
    for tag in tags:
        found = parse_series_tag(tag)
        if found is not None:
            return found
    return None
