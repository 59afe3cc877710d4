"""What a format reader found in a file, before any normalisation."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RawMetadata:
    """Values as the file states them; lists keep the file's order."""

    titles: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    publishers: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    page_count: int | None = None
    cover: bytes | None = None
    notes: list[str] = field(default_factory=list)  # e.g. "ebooklib failed: ...; fallback used"
