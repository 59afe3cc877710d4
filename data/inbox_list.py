"""The Inbox screen's rows: inbox books newest first, with duplicate and fetch status.

A read-only lookup (the import pipeline and the fetcher write); the filter is a parameter of a
static query, never part of the SQL text.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from shelver.data.books import Executor
from shelver.data.models import Row
from shelver.data.queries import query

SOURCE_LABELS = {"google_books": "Google Books", "hardcover": "Hardcover"}


class InboxRow(Row):
    """One inbox book as the Inbox list shows it."""

    id: UUID
    title: str | None = None
    author: str | None = None
    created_at: datetime
    formats: list[str] = Field(default_factory=list)
    file_size: int = 0
    possible_duplicate_of: UUID | None = None
    duplicate_title: str | None = None
    duplicate_author: str | None = None
    fetch_states: list[str] = Field(default_factory=list)
    """The last fetch outcome of each provider (ok / empty / failed / skipped), by source."""
    fetch_sources: list[str] = Field(default_factory=list)
    """The providers of ``fetch_states``, in the same order."""
    fetch_messages: list[str] = Field(default_factory=list)
    """What each provider said ("" for a plain success), in the same order."""
    fetched_candidates: int = 0

    @property
    def fetch_notes(self) -> list[str]:
        """``"Google Books: no match found"``... for every provider that said something."""
        notes = []
        for source, message in zip(self.fetch_sources, self.fetch_messages, strict=False):
            if message:
                label = SOURCE_LABELS.get(source, source)
                notes.append(message if label in message else f"{label}: {message}")
        return notes

    @property
    def candidate_status(self) -> str:
        """``none``, ``fetched N``, ``failed``, ``no match`` or ``skipped``."""
        states = set(self.fetch_states)
        if not states:
            return "none"
        if "failed" in states:
            return "failed"
        if "ok" in states:
            return f"fetched {self.fetched_candidates}"
        if "empty" in states:
            return "no match"
        return "skipped"


class InboxPage(Row):
    """A page of the Inbox and how many books match in all."""

    rows: list[InboxRow]
    matching: int


def _needle(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text or None


async def inbox_page(db: Executor, *, text: str | None = None, limit: int = 200) -> InboxPage:
    """The newest ``limit`` inbox books whose title or author contains ``text``."""
    needle = _needle(text)
    records = await db.fetch(query("inbox_page"), needle, limit)
    matching = await db.fetchval(query("inbox_count_matching"), needle)
    return InboxPage(rows=[InboxRow.from_record(r) for r in records], matching=matching or 0)
