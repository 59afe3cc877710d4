"""Reading a Calibre library's ``metadata.db``: read-only, from a snapshot, base tables only.

The database is opened with a ``mode=ro`` URI and copied into memory with SQLite's backup API,
so shelver never writes to it (nor changes its journal mode) and holds its read lock only for
the moment of the copy, even while calibre is running. Only base tables are read: calibre's
triggers and views call SQL functions that only calibre registers. The per-book
``metadata.opf`` files are never read (they lag the database).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

METADATA_DB = "metadata.db"
LOCK_TIMEOUT = 10.0  # seconds to wait for calibre to finish a write before giving up
BACKUP_PAGES = 1024  # pages copied per step; between steps calibre may write
REQUIRED_TABLES = ("books", "authors", "books_authors_link", "data")


class CalibreLibraryError(Exception):
    """The library cannot be read; the message is one line a person can act on."""


@dataclass(frozen=True)
class CalibreFile:
    """A row of ``data``: one format of a book, at ``<book path>/<name>.<format lowercased>``."""

    format: str
    name: str
    size: int


@dataclass(frozen=True)
class CustomColumn:
    """A row of ``custom_columns``."""

    id: int
    label: str
    name: str
    datatype: str
    is_multiple: bool
    normalized: bool
    display: dict[str, Any]


@dataclass
class CalibreBook:
    """Everything metadata.db says about one book (values as calibre stores them)."""

    id: int
    uuid: str
    title: str
    path: str
    has_cover: bool
    timestamp: str | None = None
    pubdate: str | None = None
    series_index: float | None = None
    isbn_column: str | None = None
    authors: list[str] = field(default_factory=list)
    files: list[CalibreFile] = field(default_factory=list)
    identifiers: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    publisher: str | None = None
    series: str | None = None
    rating: int | None = None  # 0-10, as calibre stores it (a 3-star rating is 6)
    comments: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)  # column label -> value(s)


@dataclass
class CalibreLibrary:
    """A snapshot of a library: its books and the things shelver has no place for."""

    folder: Path
    library_id: str
    user_version: int
    books: list[CalibreBook]
    custom_columns: list[CustomColumn]
    # Calibre data shelver does not take over, as ``{what: how many}`` (annotations...).
    unread: dict[str, int] = field(default_factory=dict)


def find_metadata_db(folder: Path) -> Path | None:
    """``folder/metadata.db`` when ``folder`` looks like a Calibre library, else None."""
    candidate = folder / METADATA_DB
    return candidate if candidate.is_file() else None


def read_library(folder: Path, *, lock_timeout: float = LOCK_TIMEOUT) -> CalibreLibrary:
    """Read the whole library at ``folder`` (blocking; run it in a thread)."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise CalibreLibraryError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise CalibreLibraryError(f"{folder}: not a folder")
    path = find_metadata_db(folder)
    if path is None:
        raise CalibreLibraryError(f"{folder}: no metadata.db here, so not a Calibre library")
    snapshot = snapshot_database(path, lock_timeout=lock_timeout)
    try:
        return _read(folder, snapshot)
    except sqlite3.DatabaseError as exc:
        raise CalibreLibraryError(f"{path}: cannot read it ({_reason(exc)})") from None
    finally:
        snapshot.close()


def snapshot_database(path: Path, *, lock_timeout: float = LOCK_TIMEOUT) -> sqlite3.Connection:
    """An in-memory copy of the SQLite database at ``path``, checked for corruption."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        source = sqlite3.connect(uri, uri=True, timeout=min(lock_timeout, 1.0))
    except sqlite3.Error as exc:
        raise CalibreLibraryError(f"{path}: cannot open it ({_reason(exc)})") from None
    copy = sqlite3.connect(":memory:")
    deadline = time.monotonic() + lock_timeout

    def waited(status: int, remaining: int, total: int) -> None:
        # Python's backup loop retries a locked source forever: give up at the deadline.
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise TimeoutError

    try:
        source.backup(copy, pages=BACKUP_PAGES, progress=waited, sleep=0.05)
    except TimeoutError:
        copy.close()
        raise CalibreLibraryError(
            f"{path}: the database is locked (calibre is writing to it?); "
            "wait for calibre to finish or close it, then run the import again"
        ) from None
    except sqlite3.Error as exc:
        copy.close()
        raise CalibreLibraryError(_open_error(path, exc)) from None
    finally:
        source.close()
    try:
        verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        copy.close()
        raise CalibreLibraryError(_open_error(path, exc)) from None
    if verdict != "ok":
        copy.close()
        raise CalibreLibraryError(f"{path}: the database is damaged ({verdict[:120]})")
    return copy


def _open_error(path: Path, exc: sqlite3.Error) -> str:
    reason = _reason(exc)
    if "locked" in reason or "busy" in reason:
        return (
            f"{path}: the database is locked (calibre is writing to it?); "
            "wait for calibre to finish or close it, then run the import again"
        )
    if "not a database" in reason or "malformed" in reason:
        return f"{path}: not a readable SQLite database ({reason}); is the file damaged?"
    return f"{path}: cannot read it ({reason})"


def _reason(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _read(folder: Path, db: sqlite3.Connection) -> CalibreLibrary:
    tables = _tables(db)
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise CalibreLibraryError(
            f"{folder / METADATA_DB}: not a Calibre database (no table {', '.join(missing)})"
        )
    books: dict[int, CalibreBook] = {}
    for row in db.execute(
        "SELECT id, uuid, title, path, has_cover, timestamp, pubdate, series_index, "
        "isbn FROM books ORDER BY id"
    ):
        books[row[0]] = CalibreBook(
            id=row[0],
            uuid=str(row[1] or f"calibre-{row[0]}"),
            title=str(row[2] or ""),
            path=str(row[3] or ""),
            has_cover=bool(row[4]),
            timestamp=_text(row[5]),
            pubdate=_text(row[6]),
            series_index=_number(row[7]),
            isbn_column=_text(row[8]),
        )

    def rows(sql: str, *needed: str) -> list[tuple[Any, ...]]:
        if any(name not in tables for name in needed):
            return []
        return [row for row in db.execute(sql) if row[0] in books]

    for book_id, fmt, name, size in rows(
        "SELECT book, format, name, uncompressed_size FROM data ORDER BY book, id", "data"
    ):
        books[book_id].files.append(CalibreFile(str(fmt), str(name), int(size or 0)))
    for book_id, kind, value in rows(
        "SELECT book, type, val FROM identifiers ORDER BY book, id", "identifiers"
    ):
        books[book_id].identifiers[str(kind)] = str(value)
    # Many-to-many fields (a list, in calibre's order) and one-per-book fields (the first link).
    for attribute, (link, table, key, value, order) in _LINKED.items():
        for book_id, found in rows(
            f"SELECT l.book, v.{value} FROM {link} l JOIN {table} v ON v.id = l.{key} "
            f"ORDER BY l.book, {order}",
            link,
            table,
        ):
            book = books[book_id]
            if isinstance(getattr(book, attribute), list):
                getattr(book, attribute).append(str(found))
            elif getattr(book, attribute) is None and found is not None:
                setattr(book, attribute, int(found) if attribute == "rating" else str(found))
    for book_id, text in rows("SELECT book, text FROM comments", "comments"):
        books[book_id].comments = _text(text)
    columns = _custom_columns(db, tables)
    for column in columns:
        for book_id, value in _custom_values(db, tables, column):
            if book_id in books:
                _add_custom(books[book_id], column, value)
    return CalibreLibrary(
        folder=folder,
        library_id=_library_id(db, tables),
        user_version=int(db.execute("PRAGMA user_version").fetchone()[0]),
        books=list(books.values()),
        custom_columns=columns,
        unread=_unread(db, tables),
    )


# attribute of CalibreBook: (link table, value table, link column, value column, link order).
# Names are constants, never data, so building the statements from them is safe.
_LINKED = {
    "authors": ("books_authors_link", "authors", "author", "name", "l.id"),
    "tags": ("books_tags_link", "tags", "tag", "name", "l.id"),
    "languages": (
        "books_languages_link",
        "languages",
        "lang_code",
        "lang_code",
        "l.item_order, l.id",
    ),
    "publisher": ("books_publishers_link", "publishers", "publisher", "name", "l.id"),
    "series": ("books_series_link", "series", "series", "name", "l.id"),
    "rating": ("books_ratings_link", "ratings", "rating", "rating", "l.id"),
}


def _custom_columns(db: sqlite3.Connection, tables: set[str]) -> list[CustomColumn]:
    if "custom_columns" not in tables:
        return []
    found = []
    for row in db.execute(
        "SELECT id, label, name, datatype, is_multiple, normalized, display "
        "FROM custom_columns WHERE NOT mark_for_delete ORDER BY id"
    ):
        try:
            display = json.loads(row[6] or "{}")
        except ValueError:
            display = {}
        found.append(
            CustomColumn(
                id=int(row[0]),
                label=str(row[1]),
                name=str(row[2]),
                datatype=str(row[3]),
                is_multiple=bool(row[4]),
                normalized=bool(row[5]),
                display=display if isinstance(display, dict) else {},
            )
        )
    return found


def _custom_values(
    db: sqlite3.Connection, tables: set[str], column: CustomColumn
) -> list[tuple[int, Any]]:
    values_table = f"custom_column_{column.id}"  # built from an integer: no injection
    link_table = f"books_custom_column_{column.id}_link"
    if column.datatype == "composite" or values_table not in tables:
        return []  # composite columns are computed by calibre's templates, never stored
    if column.normalized and link_table in tables:
        link_columns = {row[1] for row in db.execute(f"PRAGMA table_info({link_table})")}
        extra = ", l.extra" if "extra" in link_columns else ""
        return [
            (row[0], (row[1], row[2]) if extra else row[1])
            for row in db.execute(
                f"SELECT l.book, c.value{extra} FROM {link_table} l "
                f"JOIN {values_table} c ON c.id = l.value ORDER BY l.book, l.id"
            )
        ]
    return list(db.execute(f"SELECT book, value FROM {values_table} ORDER BY book, id"))


def _add_custom(book: CalibreBook, column: CustomColumn, value: Any) -> None:
    if column.datatype == "series" and isinstance(value, tuple):
        book.custom[column.label] = {"name": value[0], "index": _number(value[1])}
    elif column.is_multiple:
        book.custom.setdefault(column.label, []).append(value)
    else:
        book.custom[column.label] = value[0] if isinstance(value, tuple) else value


def _library_id(db: sqlite3.Connection, tables: set[str]) -> str:
    if "library_id" in tables:
        row = db.execute("SELECT uuid FROM library_id LIMIT 1").fetchone()
        if row and row[0]:
            return str(row[0])
    return ""


# Calibre tables whose rows shelver has no place for, with what to call them in a report.
_UNREAD_TABLES = {
    "annotations": "annotations and highlights made in calibre's viewer",
    "last_read_positions": "reading positions in calibre's viewer",
    "conversion_options": "per-book conversion settings",
    "books_plugin_data": "data stored by calibre plugins",
}


def _unread(db: sqlite3.Connection, tables: set[str]) -> dict[str, int]:
    found = {}
    for table, what in _UNREAD_TABLES.items():
        if table in tables:
            count = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            if count:
                found[what] = count
    return found


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
