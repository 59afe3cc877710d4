"""Building ``statistics.sqlite3`` files shaped exactly like KOReader's statistics plugin makes
them (schema 20221111: tables ``book``, ``page_stat_data``, ``numbers``, the ``page_stat``
view, the unique index on ``(title, authors, md5)`` and ``PRAGMA user_version``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS book (
    id integer PRIMARY KEY autoincrement,
    title text, authors text, notes integer, last_open integer, highlights integer,
    pages integer, series text, language text, md5 text,
    total_read_time integer, total_read_pages integer
);
CREATE UNIQUE INDEX IF NOT EXISTS book_title_authors_md5 ON book(title, authors, md5);
CREATE TABLE IF NOT EXISTS page_stat_data (
    id_book integer,
    page integer NOT NULL DEFAULT 0,
    start_time integer NOT NULL DEFAULT 0,
    duration integer NOT NULL DEFAULT 0,
    total_pages integer NOT NULL DEFAULT 0,
    UNIQUE (id_book, page, start_time),
    FOREIGN KEY(id_book) REFERENCES book(id)
);
CREATE INDEX IF NOT EXISTS page_stat_data_start_time ON page_stat_data(start_time);
CREATE TABLE IF NOT EXISTS numbers (number INTEGER PRIMARY KEY);
WITH RECURSIVE counter AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM counter WHERE n < 1000)
INSERT OR IGNORE INTO numbers SELECT n FROM counter;
CREATE VIEW IF NOT EXISTS page_stat AS
    SELECT id_book, first_page + idx - 1 AS page, start_time,
           duration / (last_page - first_page + 1) AS duration
    FROM (
        SELECT id_book, page, total_pages, pages, start_time, duration,
               ((page - 1) * pages) / total_pages + 1 AS first_page,
               max(((page - 1) * pages) / total_pages + 1, (page * pages) / total_pages)
                   AS last_page,
               idx
        FROM page_stat_data
        JOIN book ON book.id = id_book
        JOIN (SELECT number AS idx FROM numbers) AS n ON idx <= (last_page - first_page + 1)
    );
PRAGMA user_version = 20221111;
"""


@dataclass
class StatBookSpec:
    title: str
    authors: str
    md5: str
    pages: int
    visits: list[tuple[int, int, int]] = field(default_factory=list)
    """(page, start_time, duration)"""
    series: str | None = None
    language: str | None = "en"


def write_statistics(path: Path, books: list[StatBookSpec], *, wal: bool = False) -> Path:
    """A statistics database holding ``books`` and their visits, as KOReader writes it."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        if wal:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        for book in books:
            last_open = max((v[1] for v in book.visits), default=0)
            total_time = sum(v[2] for v in book.visits)
            cursor = conn.execute(
                "INSERT INTO book VALUES (NULL, ?, ?, 0, ?, 0, ?, ?, ?, ?, ?, ?)",
                (
                    book.title,
                    book.authors,
                    last_open,
                    book.pages,
                    book.series,
                    book.language,
                    book.md5,
                    total_time,
                    len({v[0] for v in book.visits}),
                ),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO page_stat_data VALUES (?, ?, ?, ?, ?)",
                [(cursor.lastrowid, p, s, d, book.pages) for p, s, d in book.visits],
            )
        conn.commit()
    finally:
        conn.close()
    return path


def reading_days(
    start: int, days: int, *, pages_per_day: int, first_page: int = 1, seconds: int = 45
) -> list[tuple[int, int, int]]:
    """Visits of consecutive pages, one sitting a day at ``start`` + n days (no gaps inside)."""
    visits = []
    page = first_page
    for day in range(days):
        moment = start + day * 86400
        for _ in range(pages_per_day):
            visits.append((page, moment, seconds))
            moment += seconds
            page += 1
    return visits
