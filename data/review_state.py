"""What the Review screen holds for one book: its sources side by side and the value chosen for
each field. Pure Python (no widgets), so the choice logic is tested without a terminal.

``ReviewState.decision()`` is what an approval carries: the id and version of the book shown,
its title as approved, and exactly the values on screen.

Sources are numbered from 1 in display order: the book's current values, then each candidate
(the file's own first, then by confidence), then "Yours" once a field has been edited by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from shelver.data.confidence import Strength
from shelver.data.fetching import MANUAL_PREFIX
from shelver.data.models import Candidate
from shelver.data.review import ISBN_FIELDS, ReviewItem, preselect
from shelver.data.validation import (
    EARLIEST_YEAR,
    check_isbn10,
    check_isbn13,
    check_language,
    check_year,
    clean_terms,
)

# (field of BookFields, label), in the order the review grid lists them.
REVIEW_FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "Title"),
    ("author", "Author"),
    ("isbn_13", "ISBN-13"),
    ("isbn_10", "ISBN-10"),
    ("publisher", "Publisher"),
    ("published_year", "Year"),
    ("language", "Language"),
    ("description", "Descr."),
    ("page_count", "Pages"),
    ("genres", "Genres"),
    ("tags", "Tags"),
    ("cover_url", "Cover"),
)
FIELD_NAMES = tuple(name for name, _ in REVIEW_FIELDS)
FIELD_LABELS = dict(REVIEW_FIELDS)
PROVIDER_NAMES = {"file": "File", "google_books": "Google", "hardcover": "Hardcover"}
PROVIDER_LONG_NAMES = {"file": "the file", "google_books": "Google Books", "hardcover": "Hardcover"}
CURRENT = "current"
EDITED = "edited"


def has_value(value: Any) -> bool:
    return value not in (None, "", [], {})


def cell_text(value: Any) -> str | None:
    """A field's value as one line of text (lists joined), or None when absent."""
    if not has_value(value):
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return " ".join(str(value).split())


def source_names(source: str) -> tuple[str, str]:
    """(short, long) names of a candidate source: ``google_books#2`` -> ("Google 2", ...);
    a manual search's answers start with ``/`` (the search key)."""
    manual = source.startswith(MANUAL_PREFIX)
    stem, _, rank = source.removeprefix(MANUAL_PREFIX).partition("#")
    short = PROVIDER_NAMES.get(stem, stem)
    long = PROVIDER_LONG_NAMES.get(stem, stem)
    if rank:
        short, long = f"{short} {rank}", f"{long}, answer {rank}"
    if manual:
        short, long = f"/{short}", f"{long} (your search)"
    return short, long


@dataclass
class Source:
    """One column of the comparison."""

    key: str
    """``current``, ``edited`` or the candidate's id."""
    short: str
    long: str
    values: dict[str, Any]
    candidate: Candidate | None = None
    strength: Strength | None = None

    @property
    def confidence(self) -> float | None:
        if self.candidate is None or self.candidate.source == "file":
            return None
        return float(self.candidate.confidence)


@dataclass(frozen=True)
class Decision:
    """An approval as the person made it: the book shown, its version, the values shown."""

    book_id: UUID
    version: datetime
    """``updated_at`` of the book as shown: the data layer refuses if it changed since."""
    title: str
    """The title as approved (after any edit), for messages."""
    values: dict[str, Any]
    used: dict[UUID, list[str]]
    link: UUID | None
    """A candidate linked explicitly (its Hardcover work and edition), if any."""


@dataclass
class ReviewState:
    """One book under review: its sources and, per field, the chosen source."""

    item: ReviewItem
    sources: list[Source]
    chosen: dict[str, str] = field(default_factory=dict)
    """field -> key of the source whose value is taken (``current`` when absent)."""
    edits: dict[str, Any] = field(default_factory=dict)
    """field -> value typed by hand (shown in the ``edited`` column)."""
    duplicate_decided: bool = False
    linked: str | None = None
    """Key of a candidate linked explicitly (``L``): the book becomes that Hardcover edition."""

    @classmethod
    def from_item(cls, item: ReviewItem, previous: ReviewState | None = None) -> ReviewState:
        """A fresh state; strong candidates pre-select. ``previous`` (the same book before a
        fetch or search) keeps the reviewer's edits and picks whose source still exists."""
        book_values = item.book.model_dump(include=set(FIELD_NAMES))
        sources = [Source(CURRENT, "Current", "the book's current values", book_values)]
        for scored in item.candidates:
            short, long = source_names(scored.candidate.source)
            sources.append(
                Source(
                    str(scored.candidate.id),
                    short,
                    long,
                    dict(scored.candidate.normalized),
                    scored.candidate,
                    scored.strength,
                )
            )
        state = cls(item, sources)
        state.chosen = {
            name: str(candidate_id)
            for name, candidate_id in preselect([c.candidate for c in item.candidates]).items()
            if name in FIELD_NAMES
        }
        if previous is not None and previous.item.book.id == item.book.id:
            # The reviewer's choices are never overridden: a field left on the current value
            # stays there; only a choice whose candidate was replaced (a new fetch) falls back
            # to what pre-selection says.
            preselected = dict(state.chosen)
            for name, value in previous.edits.items():
                state.edit(name, value)
            keys = {s.key for s in state.sources}
            state.chosen = {}
            for name in FIELD_NAMES:
                old = previous.chosen_key(name)
                if old in keys and old != CURRENT:
                    state.chosen[name] = old
                elif old not in keys and name in preselected:
                    state.chosen[name] = preselected[name]
            state.duplicate_decided = previous.duplicate_decided
            state.linked = previous.linked if previous.linked in keys else None
        return state

    # Reading ------------------------------------------------------------------------------

    def source(self, index: int) -> Source | None:
        """The source numbered ``index`` (from 0), or None."""
        return self.sources[index] if 0 <= index < len(self.sources) else None

    def chosen_key(self, name: str) -> str:
        return self.chosen.get(name, CURRENT)

    def chosen_value(self, name: str) -> Any:
        key = self.chosen_key(name)
        source = next((s for s in self.sources if s.key == key), self.sources[0])
        return source.values.get(name)

    def differs(self, name: str, source: Source) -> bool:
        """Whether ``source`` says something else than the book currently does."""
        value = source.values.get(name)
        current = self.sources[0].values.get(name)
        return has_value(value) and cell_text(value) != cell_text(current)

    # Choosing -----------------------------------------------------------------------------

    def pick(self, name: str, index: int) -> str | None:
        """Take source ``index``'s value for field ``name``; a reason when it cannot."""
        source = self.source(index)
        if source is None:
            return f"there is no source {index + 1}"
        if source.key != CURRENT and not has_value(source.values.get(name)):
            return f"{source.short} has no {FIELD_LABELS[name].lower()}"
        if source.key == CURRENT:
            self.chosen.pop(name, None)
        else:
            self.chosen[name] = source.key
        if name in ISBN_FIELDS:
            self._pair_isbns(name, source)
        return None

    def _pair_isbns(self, name: str, source: Source) -> None:
        """ISBN-13 and ISBN-10 come from one source (one edition): taking one takes the other
        from the same source, or drops another source's."""
        other = next(n for n in ISBN_FIELDS if n != name)
        if source.key != CURRENT and has_value(source.values.get(other)):
            self.chosen[other] = source.key
        elif self.chosen_key(other) not in (CURRENT, source.key):
            self.chosen.pop(other, None)

    def pick_all(self, index: int) -> int:
        """Take source ``index``'s value for every field it has one for; how many fields."""
        source = self.source(index)
        if source is None:
            return 0
        taken = 0
        for name in FIELD_NAMES:
            if self.pick(name, index) is None:
                taken += 1
        return taken

    def link(self, index: int) -> str | None:
        """Link the book to source ``index``'s identity (a Hardcover candidate), or unlink it
        when it is linked already; a reason when it cannot."""
        source = self.source(index)
        if source is None or source.candidate is None:
            return "only a provider's candidate can be linked"
        if source.candidate.normalized.get("hardcover_book_id") is None:
            return f"{source.short} is not a Hardcover work"
        self.linked = None if self.linked == source.key else source.key
        return None

    def edit(self, name: str, value: Any) -> None:
        """A value typed by hand: it goes into the ``Yours`` column and is chosen."""
        self.edits[name] = value
        edited = next((s for s in self.sources if s.key == EDITED), None)
        if edited is None:
            edited = Source(EDITED, "Yours", "your own values", {})
            self.sources.append(edited)
        edited.values[name] = value
        self.chosen[name] = EDITED

    # Approving ----------------------------------------------------------------------------

    def approval(self) -> tuple[dict[str, Any], dict[UUID, list[str]]]:
        """What ``data.review.approve`` takes: field -> value, candidate id -> fields used."""
        values: dict[str, Any] = {}
        used: dict[UUID, list[str]] = {}
        by_key = {s.key: s for s in self.sources}
        for name in FIELD_NAMES:
            key = self.chosen_key(name)
            if key == CURRENT or key not in by_key:
                continue
            source = by_key[key]
            values[name] = source.values.get(name)
            if source.candidate is not None:
                used.setdefault(source.candidate.id, []).append(name)
        return values, used

    def decision(self) -> Decision:
        """The approval of exactly what is shown."""
        values, used = self.approval()
        book = self.item.book
        linked = next((s for s in self.sources if s.key == self.linked), None)
        return Decision(
            book_id=book.id,
            version=book.updated_at,
            title=values.get("title") or book.title or "untitled",
            values=values,
            used=used,
            link=linked.candidate.id if linked is not None and linked.candidate else None,
        )


# Hand edits ---------------------------------------------------------------------------------

LIST_FIELDS = {"genres", "tags"}
HINTS = {
    "isbn_13": "13 digits starting 978 or 979; hyphens and spaces are fine",
    "isbn_10": "10 characters, the last may be X; hyphens and spaces are fine",
    "published_year": f"a year, {EARLIEST_YEAR} to next year",
    "language": "a two-letter ISO 639-1 code (en, fr, pt…) or its English name",
    "page_count": "a whole number of pages",
    "genres": "separated by commas",
    "tags": "separated by commas",
    "cover_url": "an http(s) address",
}


def format_for_edit(value: Any) -> str:
    """A value as the editor's input shows it."""
    if not has_value(value):
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def parse_field(name: str, text: str) -> Any:
    """The typed text as the field's value (empty clears it); ValueError with a readable
    reason when it is not valid (ISBN check digits, year range, language code...)."""
    text = text.strip()
    if name in LIST_FIELDS:
        return clean_terms(text.split(","))
    if not text:
        return None
    if name == "isbn_13":
        return check_isbn13(text)
    if name == "isbn_10":
        return check_isbn10(text)
    if name == "language":
        return check_language(text)
    if name in {"published_year", "page_count"}:
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"“{text}” is not a whole number") from None
        if name == "published_year":
            return check_year(number)
        if not 0 < number < 100_000:
            raise ValueError("the page count must be between 1 and 99999")
        return number
    if name == "cover_url" and not text.lower().startswith(("http://", "https://")):
        raise ValueError("a cover address starts with http:// or https://")
    return " ".join(text.split()) if name != "description" else text
