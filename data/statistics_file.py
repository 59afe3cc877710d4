"""Reading a KOReader ``statistics.sqlite3`` (its statistics plugin's database), read-only.

The file is copied into a private temporary folder first (with its ``-wal`` when one lies
beside it) and opened there with ``mode=ro``: nothing is ever written next to the original,
a file replaced while it is read cannot change under us, and a WAL-mode copy still opens.

Facts about the schema are in ../shared/docs/protocols.md ("KOReader reading statistics"):
tables ``book`` and ``page_stat_data``, ``PRAGMA user_version`` 20221111 today; page visits
exist since 20201010. Everything is read before anything is written elsewhere, so a corrupt
file fails here, whole.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shelver.data.kosync import valid_document

OLDEST_SCHEMA = 20201010
"""The first schema with ``page_stat_data`` (per-visit rows with ``total_pages``)."""
CURRENT_SCHEMA = 20221111
REQUIRED_COLUMNS = {
    "book": {"id", "title", "authors", "md5", "pages", "last_open"},
    "page_stat_data": {"id_book", "page", "start_time", "duration", "total_pages"},
}
STATISTICS_FILE_NAME = "statistics.sqlite3"


class NotStatistics(Exception):
    """The file is not a readable KOReader statistics database; one line says why."""


@dataclass(frozen=True)
class StatBook:
    document: str
    title: str
    authors: str
    series: str | None
    language: str | None
    pages: int | None
    last_open: datetime | None
    highlights: int | None
    notes: int | None


@dataclass
class StatisticsSnapshot:
    """Everything taken from one file: books by document, and visits as plain tuples."""

    schema_version: int
    sha256: str
    size: int
    books: dict[str, StatBook] = field(default_factory=dict)
    visits: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    """``(document, start_time, page, duration, total_pages)``; Unix seconds."""
    skipped_books: int = 0
    """Book rows without a usable document id (no partial MD5)."""
    skipped_visits: int = 0
    """Visit rows with missing or impossible values (kept out, counted)."""


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 hex and size of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _integer_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _text_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, int) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _check_schema(conn: sqlite3.Connection) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {
        name: {row[1] for row in conn.execute(f"PRAGMA table_info({name})")}
        for name in REQUIRED_COLUMNS
    }
    missing = [
        f"{table}.{column}"
        for table, columns in REQUIRED_COLUMNS.items()
        for column in sorted(columns - tables[table])
    ]
    absent = [name for name, columns in tables.items() if not columns]
    if absent:
        raise NotStatistics(
            "not a KOReader statistics database (no " + " or ".join(absent) + " table)"
        )
    if missing:
        raise NotStatistics(
            "not a KOReader statistics database (missing " + ", ".join(missing[:4]) + ")"
        )
    if version < OLDEST_SCHEMA:
        raise NotStatistics(
            f"KOReader statistics schema {version} is too old (needs {OLDEST_SCHEMA} or newer); "
            "open the statistics once in a current KOReader to upgrade it"
        )
    return version


# Visits with a valid book, a positive start and sane integers; the rest is counted as skipped.
_VISITS = """
SELECT lower(b.md5), p.start_time, p.page, p.duration, p.total_pages
FROM page_stat_data p JOIN book b ON b.id = p.id_book
WHERE typeof(p.start_time) = 'integer' AND p.start_time > 0 AND p.start_time < 253402300800
  AND typeof(p.page) = 'integer' AND p.page BETWEEN 0 AND 2147483647
  AND typeof(p.duration) = 'integer' AND p.duration BETWEEN 0 AND 2147483647
  AND typeof(p.total_pages) = 'integer' AND p.total_pages BETWEEN 0 AND 2147483647
  AND typeof(b.md5) = 'text'
"""


def _read(conn: sqlite3.Connection, snapshot: StatisticsSnapshot) -> None:
    rows = conn.execute(
        "SELECT md5, title, authors, series, language, pages, last_open, highlights, notes "
        "FROM book ORDER BY coalesce(last_open, 0), id"
    ).fetchall()
    for md5, title, authors, series, language, pages, last_open, highlights, notes in rows:
        document = md5.lower() if isinstance(md5, str) else None
        if document is None or not valid_document(document):
            snapshot.skipped_books += 1
            continue
        # Ordered by last_open: a document seen under two titles keeps the newest row.
        snapshot.books[document] = StatBook(
            document=document,
            title=title if isinstance(title, str) else "",
            authors=authors if isinstance(authors, str) else "",
            series=_text_or_none(series),
            language=_text_or_none(language),
            pages=_integer_or_none(pages),
            last_open=_timestamp(last_open),
            highlights=_integer_or_none(highlights),
            notes=_integer_or_none(notes),
        )
    total = conn.execute("SELECT count(*) FROM page_stat_data").fetchone()[0]
    # Rows straight from SQLite (no per-row Python work: half a million of them is common);
    # only when some book had no usable id are its visits taken out.
    visits = conn.execute(_VISITS).fetchall()
    if snapshot.skipped_books:
        books = snapshot.books
        visits = [visit for visit in visits if visit[0] in books]
    snapshot.visits = visits
    snapshot.skipped_visits = total - len(visits)


def read_statistics(path: Path, digest: tuple[str, int] | None = None) -> StatisticsSnapshot:
    """Read and check ``path``; :class:`NotStatistics` for anything that is not one whole,
    readable KOReader statistics database. ``digest``: its :func:`file_digest`, if known."""
    try:
        sha256, size = digest or file_digest(path)
    except OSError as exc:
        raise NotStatistics(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if size == 0:
        raise NotStatistics("the file is empty")
    with tempfile.TemporaryDirectory(prefix="shelver-stats-") as scratch:
        copy = Path(scratch) / STATISTICS_FILE_NAME
        try:
            shutil.copyfile(path, copy)
            wal = path.with_name(path.name + "-wal")
            if wal.is_file():
                shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        except OSError as exc:
            raise NotStatistics(f"cannot read {path.name}: {exc.strerror or exc}") from None
        try:
            conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise NotStatistics(f"not an SQLite database ({exc})") from None
        try:
            version = _check_schema(conn)
            snapshot = StatisticsSnapshot(schema_version=version, sha256=sha256, size=size)
            _read(conn, snapshot)
        except sqlite3.DatabaseError as exc:
            raise NotStatistics(f"not a readable SQLite database ({exc})") from None
        finally:
            conn.close()
    return snapshot
