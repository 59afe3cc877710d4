"""What every metadata provider offers: search a book, get back normalized matches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from shelver.data.models import BookFields
from shelver.data.providers import normalize
from shelver.data.providers.http import RequestStats


@dataclass(frozen=True)
class BookQuery:
    """What we know of a book when asking a provider about it."""

    isbn: str | None = None
    """An ISBN-13 (preferred) or ISBN-10, digits only."""
    title: str | None = None
    author: str | None = None
    """The first author, in natural order."""

    @classmethod
    def from_fields(cls, fields: BookFields) -> BookQuery:
        isbn = normalize.isbn_digits(fields.isbn_13) or normalize.isbn_digits(fields.isbn_10)
        return cls(
            isbn=isbn,
            title=normalize.text(fields.title),
            author=normalize.first_author(fields.author),
        )

    @property
    def isbns(self) -> set[str]:
        """The ISBN in both forms, to recognise it among a provider's identifiers."""
        if not self.isbn:
            return set()
        found = {self.isbn}
        if len(self.isbn) == 10 and (thirteen := normalize.isbn10_to_13(self.isbn)):
            found.add(thirteen)
        return found

    @property
    def searchable(self) -> bool:
        return bool(self.isbn or self.title)


@dataclass
class Match:
    """One answer of a provider: the raw object it came from and its normalized fields."""

    raw: Any
    fields: BookFields
    key: str
    """The provider's own id of the answer (to drop repeats across queries)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Provider ids worth keeping beside the fields (e.g. ``hardcover_book_id``)."""


class Provider(Protocol):
    """A metadata source. ``search`` raises ``ProviderError`` for anything but an answer."""

    name: str
    """The candidate ``source`` stem: ``google_books``, ``hardcover``."""
    label: str
    """How the user sees it named."""
    stats: RequestStats
    """Requests sent and 429s received so far."""

    async def search(self, query: BookQuery, limit: int) -> list[Match]: ...

    async def search_text(self, text: str, limit: int) -> list[Match]: ...


def dedupe(matches: list[Match], limit: int) -> list[Match]:
    """The first ``limit`` matches with distinct keys, in order."""
    seen: set[str] = set()
    kept: list[Match] = []
    for match in matches:
        if match.key in seen:
            continue
        seen.add(match.key)
        kept.append(match)
        if len(kept) >= limit:
            break
    return kept


T = TypeVar("T")


def tolerant(build: Callable[..., T], *args: Any) -> T | None:
    """``build(*args)``, or None when one answer item is too malformed to read.

    One odd item must not cost the whole answer: it is left out, the rest are kept.
    """
    try:
        return build(*args)
    except (ValidationError, TypeError, ValueError, AttributeError, KeyError):
        return None
