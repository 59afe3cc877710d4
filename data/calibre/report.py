"""What a Calibre import did; ``model_dump(mode="json")`` is the ``--json`` document."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

Outcome = Literal["imported", "files_added", "matched", "unchanged"]


class BookResult(BaseModel):
    """One Calibre book and what became of it.

    ``imported``: a new organized book. ``files_added``: already in shelver, new formats added.
    ``matched``: an existing shelver book holds the same file bytes; linked to it, nothing
    duplicated. ``unchanged``: brought over before, nothing new.
    """

    calibre_id: int
    title: str
    outcome: Outcome
    book_id: UUID | None = None
    files: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Problem(BaseModel):
    """A book or file that was not brought over, and why."""

    calibre_id: int | None = None
    title: str | None = None
    path: str | None = None
    reason: str


class NotKept(BaseModel):
    """Calibre data shelver has no place for (listed, never dropped silently)."""

    what: str
    count: int
    reason: str


class Totals(BaseModel):
    books: int = 0
    files_added: int = 0
    bytes_added: int = 0
    seconds: float = 0.0


class CalibreImportReport(BaseModel):
    library: str
    placement: str
    dry_run: bool = False
    books: list[BookResult] = Field(default_factory=list)
    skipped_files: list[Problem] = Field(default_factory=list)
    failed_books: list[Problem] = Field(default_factory=list)
    not_kept: list[NotKept] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)

    @property
    def ok(self) -> bool:
        return not self.skipped_files and not self.failed_books

    def count(self, outcome: Outcome) -> int:
        return sum(1 for book in self.books if book.outcome == outcome)

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        return (
            f"{verb} {self.count('imported')} book(s), added files to "
            f"{self.count('files_added')}, matched {self.count('matched')} already in shelver, "
            f"{self.count('unchanged')} unchanged; {self.totals.files_added} file(s) "
            f"({self.totals.bytes_added / 1e6:.1f} MB); skipped {len(self.skipped_files)} "
            f"file(s), {len(self.failed_books)} book(s) failed"
        )
