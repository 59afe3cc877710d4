"""Reading a KOReader ``statistics.sqlite3`` (its statistics plugin's database), read-only.

The file is copied into a private temporary folder first (with its ``-wal`` when one lies
beside it) and opened there with ``mode=ro``: nothing is ever written next to the original,
a file replaced while it is read cannot change under us, and a WAL-mode copy still opens.

Facts about the schema are in ../shared/docs/protocols.md ("KOReader reading statistics"):
tables ``book`` and ``page_stat_data``, ``PRAGMA user_version`` 20221111 today; page visits
exist since 20201010. The schema and the books are read at once; the page visits in chunks
(the import sends one while the next is read), so a file found corrupt halfway raises
:class:`NotStatistics` then and the import rolls back whole.
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
    """Everything taken from one file at once (tests, tools): books by document, visits."""

    schema_version: int
    sha256: str
    size: int
    books: dict[str, StatBook] = field(default_factory=dict)
    visits: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    """``(document, start_time, page, duration, total_pages)``; Unix seconds."""
    skipped_books: int = 0
    skipped_visits: int = 0


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


# The visits of the books mapped by StatisticsReader.map_books (fresh ones or the others, $1)
# with a positive start and sane numbers, by shelver's book number, in the file's order; the
# rest is counted as skipped. (SQLite orders numbers before text and blobs, so the ranges also
# keep those out; the casts make whole numbers of the odd real. Cheaper than typeof().)
_VISITS = """
SELECT m.stat_book, CAST(p.start_time AS INTEGER), CAST(p.page AS INTEGER),
       CAST(p.duration AS INTEGER), CAST(p.total_pages AS INTEGER)
FROM page_stat_data p JOIN temp.shelver_books m ON m.id_book = p.id_book
WHERE m.fresh = ?
  AND p.start_time BETWEEN 1 AND 253402300799
  AND p.page BETWEEN 0 AND 2147483647
  AND p.duration BETWEEN 0 AND 2147483647
  AND p.total_pages BETWEEN 0 AND 2147483647
"""

VISIT_CHUNK = 50_000
"""Page visits fetched at a time: large enough to keep COPY busy, small enough to overlap."""


class StatisticsReader:
    """One open, checked statistics file: its books read at once, its page visits in chunks.

    Made by :func:`open_statistics`. Not thread-safe, but usable from one thread after
    another (so each chunk can be read in a worker thread while the previous one is sent).
    :class:`NotStatistics` from any method means the file is unusable as a whole.
    """

    def __init__(
        self,
        scratch: tempfile.TemporaryDirectory[str],
        conn: sqlite3.Connection,
        *,
        schema_version: int,
        sha256: str,
        size: int,
    ) -> None:
        self._scratch = scratch
        self._conn = conn
        self._cursors: dict[bool, sqlite3.Cursor] = {}
        self.schema_version = schema_version
        self.sha256 = sha256
        self.size = size
        self.books: dict[str, StatBook] = {}
        """The newest book row of each document."""
        self.book_documents: dict[int, str] = {}
        """The file's book id of every row with a usable document id, and that document."""
        self.skipped_books = 0
        """Book rows without a usable document id (no partial MD5)."""
        self.total_visits = 0
        self.visits_read = 0
        """Usable visits (of mapped books) read so far."""

    @property
    def skipped_visits(self) -> int:
        """Visit rows with missing or impossible values, or of unusable books (once all read)."""
        return self.total_visits - self.visits_read

    def _read_books(self) -> None:
        rows = self._conn.execute(
            "SELECT id, md5, title, authors, series, language, pages, last_open, highlights, "
            "notes FROM book ORDER BY coalesce(last_open, 0), id"
        ).fetchall()
        for (
            book_id,
            md5,
            title,
            authors,
            series,
            language,
            pages,
            last_open,
            highlights,
            notes,
        ) in rows:
            document = md5.lower() if isinstance(md5, str) else None
            if document is None or not valid_document(document) or not isinstance(book_id, int):
                self.skipped_books += 1
                continue
            self.book_documents[book_id] = document
            # Ordered by last_open: a document seen under two titles keeps the newest row.
            self.books[document] = StatBook(
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
        self.total_visits = self._conn.execute("SELECT count(*) FROM page_stat_data").fetchone()[0]

    def map_books(self, books: list[tuple[int, int, bool]]) -> None:
        """Which of shelver's books each of the file's book ids is: ``(id_book, stat_book,
        fresh)``. Visits of book ids not mapped are skipped. Mapping again starts the reading
        of the visits over."""
        try:
            self._conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS shelver_books "
                "(id_book INTEGER PRIMARY KEY, stat_book INTEGER NOT NULL, fresh INTEGER NOT NULL)"
            )
            self._conn.execute("DELETE FROM temp.shelver_books")
            self._conn.executemany("INSERT INTO temp.shelver_books VALUES (?, ?, ?)", books)
        except sqlite3.DatabaseError as exc:
            raise NotStatistics(f"not a readable SQLite database ({exc})") from None
        # Mapped again: the visits are read again from the start.
        self._cursors.clear()
        self.visits_read = 0

    def next_visits(
        self, fresh: bool, size: int = VISIT_CHUNK
    ) -> list[tuple[int, int, int, int, int]]:
        """The next visits ``(stat_book, start_time, page, duration, total_pages)`` (Unix
        seconds) of the fresh books or of the others; an empty list at the end."""
        try:
            cursor = self._cursors.get(fresh)
            if cursor is None:
                cursor = self._cursors[fresh] = self._conn.execute(_VISITS, (int(fresh),))
            rows = cursor.fetchmany(size)
        except sqlite3.DatabaseError as exc:
            raise NotStatistics(f"not a readable SQLite database ({exc})") from None
        self.visits_read += len(rows)
        return rows

    def close(self) -> None:
        self._conn.close()
        self._scratch.cleanup()

    def __enter__(self) -> StatisticsReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_statistics(path: Path, digest: tuple[str, int] | None = None) -> StatisticsReader:
    """Copy, open and check ``path`` and read its books; :class:`NotStatistics` for anything
    that is not a readable KOReader statistics database. ``digest``: its
    :func:`file_digest`, if known. Close the reader when done."""
    try:
        sha256, size = digest or file_digest(path)
    except OSError as exc:
        raise NotStatistics(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if size == 0:
        raise NotStatistics("the file is empty")
    scratch = tempfile.TemporaryDirectory(prefix="shelver-stats-")
    try:
        copy = Path(scratch.name) / STATISTICS_FILE_NAME
        try:
            shutil.copyfile(path, copy)
            wal = path.with_name(path.name + "-wal")
            if wal.is_file():
                shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        except OSError as exc:
            raise NotStatistics(f"cannot read {path.name}: {exc.strerror or exc}") from None
        try:
            # Read in worker threads, one after another.
            conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise NotStatistics(f"not an SQLite database ({exc})") from None
    except BaseException:
        scratch.cleanup()
        raise
    try:
        version = _check_schema(conn)
        reader = StatisticsReader(scratch, conn, schema_version=version, sha256=sha256, size=size)
        reader._read_books()
    except sqlite3.DatabaseError as exc:
        conn.close()
        scratch.cleanup()
        raise NotStatistics(f"not a readable SQLite database ({exc})") from None
    except BaseException:
        conn.close()
        scratch.cleanup()
        raise
    return reader


def read_statistics(path: Path, digest: tuple[str, int] | None = None) -> StatisticsSnapshot:
    """The whole file at once (for tests and tools; the import streams with
    :func:`open_statistics`)."""
    with open_statistics(path, digest) as reader:
        snapshot = StatisticsSnapshot(
            schema_version=reader.schema_version,
            sha256=reader.sha256,
            size=reader.size,
            books=reader.books,
            skipped_books=reader.skipped_books,
        )
        # Numbered by the file's own book ids here.
        documents = reader.book_documents
        reader.map_books([(book, book, True) for book in documents])
        while chunk := reader.next_visits(fresh=True):
            snapshot.visits.extend(
                (documents[book], start, page, duration, total)
                for book, start, page, duration, total in chunk
            )
        snapshot.skipped_visits = reader.skipped_visits
    return snapshot
