"""Near duplicates: another file of a book that is already there.

Two books match when they share an ISBN-13, or when their normalised titles and authors are
near-identical and every number in the titles agrees (so "Vol. 2" never matches "Vol. 3").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from uuid import UUID

from rapidfuzz import fuzz, process

TITLE_THRESHOLD = 92.0
AUTHOR_THRESHOLD = 85.0
_ARTICLES = frozenset({"the", "a", "an", "der", "die", "das", "le", "la", "les", "el", "il", "lo"})
_ROMAN = re.compile(
    r"\b(?:vol(?:ume)?|book|part|tome|band|tomo|teil|livre|no)\.?\s+([ivxlc]+)\b", re.IGNORECASE
)
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_TRAILING_ARTICLE = re.compile(r",\s*(?:the|a|an|der|die|das|le|la|les|el|il)\s*$", re.I)
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower case, accents and punctuation gone, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORD.findall(plain))


def normalize_title(title: str) -> str:
    """Folded, without a leading article or a library-style trailing one ("Hobbit, The")."""
    title = _TRAILING_ARTICLE.sub("", title)
    words = fold(title).split()
    if len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(words)


def _roman(value: str) -> int:
    total = 0
    digits = [_ROMAN_VALUES[c] for c in value.lower()]
    for index, digit in enumerate(digits):
        following = digits[index + 1] if index + 1 < len(digits) else 0
        total += -digit if digit < following else digit
    return total


def title_numbers(title: str) -> tuple[int, ...]:
    """Every number in a title, volume numbers in Roman numerals included, in order."""
    numbers = [int(n) for n in _NUMBER.findall(title)]
    numbers += [_roman(m.group(1)) for m in _ROMAN.finditer(title)]
    return tuple(sorted(numbers))


@dataclass(frozen=True)
class DuplicateKey:
    """What duplicate detection compares of one book."""

    book_id: UUID
    title: str  # normalised
    author: str  # normalised, authors sorted
    numbers: tuple[int, ...]
    isbn_13: str | None

    @classmethod
    def of(
        cls, book_id: UUID, title: str | None, author: str | None, isbn_13: str | None
    ) -> DuplicateKey:
        return cls(
            book_id=book_id,
            title=normalize_title(title or ""),
            author=" ".join(sorted(fold(author or "").split())),
            numbers=title_numbers(title or ""),
            isbn_13=isbn_13,
        )


def is_near_duplicate(new: DuplicateKey, old: DuplicateKey) -> bool:
    if new.isbn_13 and new.isbn_13 == old.isbn_13:
        return True
    if not new.title or not old.title or new.numbers != old.numbers:
        return False
    if fuzz.ratio(new.title, old.title) < TITLE_THRESHOLD:
        return False
    if new.author and old.author:
        return fuzz.token_sort_ratio(new.author, old.author) >= AUTHOR_THRESHOLD
    # Without authors only an identical, reasonably specific title counts.
    return not new.author and not old.author and new.title == old.title and len(new.title) >= 8


@dataclass
class DuplicateIndex:
    """The books seen so far in one import run, for matches within the run."""

    keys: list[DuplicateKey] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)  # keys' titles, kept for rapidfuzz
    by_isbn: dict[str, UUID] = field(default_factory=dict)

    def add(self, key: DuplicateKey) -> None:
        self.keys.append(key)
        self.titles.append(key.title)
        if key.isbn_13:
            self.by_isbn.setdefault(key.isbn_13, key.book_id)

    def discard(self, book_ids: set[UUID | None]) -> None:
        """Forget books that were not stored after all."""
        self.keys = [k for k in self.keys if k.book_id not in book_ids]
        self.titles = [k.title for k in self.keys]
        self.by_isbn = {i: b for i, b in self.by_isbn.items() if b not in book_ids}

    def find(self, key: DuplicateKey) -> UUID | None:
        if key.isbn_13 and key.isbn_13 in self.by_isbn:
            return self.by_isbn[key.isbn_13]
        if not key.title:
            return None
        matches = process.extract(
            key.title,
            self.titles,
            scorer=fuzz.ratio,
            score_cutoff=TITLE_THRESHOLD,
            limit=20,
        )
        for _, _, index in matches:
            if is_near_duplicate(key, self.keys[index]):
                return self.keys[index].book_id
        return None


def first_match(key: DuplicateKey, others: list[DuplicateKey]) -> UUID | None:
    """The first of ``others`` (as the database ranked them) that ``key`` duplicates."""
    return next((o.book_id for o in others if is_near_duplicate(key, o)), None)
