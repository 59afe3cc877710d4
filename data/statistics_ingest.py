"""Taking a KOReader statistics file into shelver's own tables, whole or not at all.

The file is opened and checked and its books read (``statistics_file.open_statistics``); then
one transaction upserts the books and streams the page visits with COPY into a temporary
staging table, each chunk read from SQLite in a worker thread while the previous one is sent.
One ``INSERT`` then adds the visits not stored yet and adds them to the per-document totals
and the quarter-hour sums (sql/queries/statistics.sql). Importing the same file twice changes
nothing; a newer file adds only what is new; a file found broken halfway is rolled back whole.
Visits are never deleted here: a book removed from a device's statistics keeps its history.

Every file taken in or refused is recorded in ``reading_stat_imports`` by its SHA-256, so a
refused file is reported once (not on every sync) and an identical file is not read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from pathlib import Path

import asyncpg
from pydantic import BaseModel

from shelver.data.books import Executor
from shelver.data.pg import Connection
from shelver.data.queries import query
from shelver.data.reading import PROGRESS_CHANNEL
from shelver.data.statistics_file import (
    NotStatistics,
    StatisticsReader,
    file_digest,
    open_statistics,
)

log = logging.getLogger("shelver.statistics")

VISIT_COLUMNS = ("stat_book", "start_time", "page", "duration", "total_pages")


class ImportResult(BaseModel):
    """What one statistics file did to the database."""

    outcome: str
    """``imported``, ``unchanged`` (this exact file was taken in before) or ``refused``."""
    detail: str | None = None
    books: int = 0
    visits_in_file: int = 0
    visits_added: int = 0
    skipped_books: int = 0
    skipped_visits: int = 0
    sha256: str | None = None
    already_reported: bool = False
    """A refused file that was refused before: not worth telling the person again."""


class LastImport(BaseModel):
    source: str
    login: str | None
    outcome: str
    detail: str | None
    books: int
    visits_added: int
    imported_at: datetime


async def _apply(conn: Connection, reader: StatisticsReader) -> int:
    """Upsert the file inside the caller's transaction; the number of visits added."""
    await conn.execute(query("stats_import_lock"))
    books = list(reader.books.values())
    await conn.execute(
        query("stats_upsert_books"),
        [b.document for b in books],
        [b.title for b in books],
        [b.authors for b in books],
        [b.series for b in books],
        [b.language for b in books],
        [b.pages for b in books],
        [b.last_open for b in books],
        [b.highlights for b in books],
        [b.notes for b in books],
    )
    targets = await conn.fetch(
        query("stats_stage_books"),
        list(reader.book_documents),
        list(reader.book_documents.values()),
    )
    await asyncio.to_thread(reader.map_books, [tuple(t) for t in targets])
    changed: set[int] = set()
    added = 0
    # Books without visits yet: everything is new, copied straight into the visits.
    fresh = {t["stat_book"] for t in targets if t["fresh"]}
    careful = any(not t["fresh"] for t in targets)
    if fresh:
        try:
            async with conn.transaction():  # a savepoint
                added += await _copy_visits(conn, reader, fresh=True, table="reading_page_visits")
            changed |= fresh
        except asyncpg.UniqueViolationError:
            # The file repeats a visit (KOReader's own files cannot; an edited one can): read
            # every book again the careful way, which keeps one of each.
            await asyncio.to_thread(reader.map_books, [(t[0], t[1], False) for t in targets])
            careful = True
    # The others: through staging, keeping only what is not stored yet.
    if careful:
        await conn.execute(query("stats_create_staging"))
        await _copy_visits(conn, reader, fresh=False, table="reading_stat_staging")
        (record,) = await conn.fetch(query("stats_insert_visits"))  # (an aggregate: one row)
        added += record["added"]
        changed.update(record["books"])
    if changed:
        await conn.execute(query("stats_refresh_totals"), sorted(changed))
    return added


async def _copy_visits(
    conn: Connection, reader: StatisticsReader, *, fresh: bool, table: str
) -> int:
    """COPY the visits of the fresh books (or the others) into ``table``, reading the next
    chunk from the file while one is sent; how many."""

    def read() -> list[tuple[int, int, int, int, int]]:
        return reader.next_visits(fresh)

    copied = 0
    pending = asyncio.ensure_future(asyncio.to_thread(read))
    try:
        while chunk := await pending:
            pending = asyncio.ensure_future(asyncio.to_thread(read))
            await conn.copy_records_to_table(table, records=chunk, columns=VISIT_COLUMNS)
            copied += len(chunk)
    finally:
        # The reader is closed after this: let a read still running in its thread finish
        # (its own failure, if any, is the file's and was or will be reported by the caller).
        with contextlib.suppress(Exception):
            await asyncio.shield(pending)
    return copied


async def _record(
    conn: Executor,
    *,
    source: str,
    login: str | None,
    sha256: str,
    size: int,
    result: ImportResult,
) -> None:
    await conn.execute(
        query("stats_record_import"),
        source,
        login,
        sha256,
        size,
        "refused" if result.outcome == "refused" else "imported",
        result.detail,
        result.books,
        result.visits_added,
    )


async def import_statistics(
    pool: asyncpg.Pool,
    path: Path,
    *,
    source: str,
    login: str | None = None,
    force: bool = False,
) -> ImportResult:
    """Take ``path`` in. ``source`` says where it came from (``webdav``, ``cli``); ``force``
    reads a file again even when this exact file was imported before."""
    try:
        digest = await asyncio.to_thread(file_digest, path)
    except OSError as exc:
        reason = f"cannot read {path.name}: {exc.strerror or exc}"
        return await _refuse(pool, path, reason, source=source, login=login)
    # This exact file taken in before: nothing to read (a device syncing without reading).
    if not force and await pool.fetchval(query("stats_seen_file"), digest[0], "imported"):
        return ImportResult(outcome="unchanged", sha256=digest[0])
    try:
        reader = await asyncio.to_thread(open_statistics, path, digest)
    except NotStatistics as exc:
        return await _refuse(pool, path, str(exc), source=source, login=login)
    try:
        return await _import(pool, reader, source=source, login=login)
    except NotStatistics as exc:
        # Found broken while its visits were read: rolled back, nothing kept.
        return await _refuse(pool, path, str(exc), source=source, login=login)
    finally:
        await asyncio.to_thread(reader.close)


async def _import(
    pool: asyncpg.Pool, reader: StatisticsReader, *, source: str, login: str | None
) -> ImportResult:
    async with pool.acquire() as conn, conn.transaction():
        added = await _apply(conn, reader)
        result = ImportResult(
            outcome="imported",
            books=len(reader.books),
            visits_in_file=reader.visits_read,
            visits_added=added,
            skipped_books=reader.skipped_books,
            skipped_visits=reader.skipped_visits,
            sha256=reader.sha256,
        )
        await _record(
            conn,
            source=source,
            login=login,
            sha256=reader.sha256,
            size=reader.size,
            result=result,
        )
        await conn.execute("SELECT pg_notify($1, $2)", PROGRESS_CHANNEL, _NOTICE)
    return result


# Tells listening screens that statistics changed (parsed like any progress notice).
_NOTICE = '{"kind": "statistics", "document": ""}'


async def _refuse(
    pool: asyncpg.Pool, path: Path, reason: str, *, source: str, login: str | None
) -> ImportResult:
    try:
        sha256, size = await asyncio.to_thread(file_digest, path)
    except OSError:
        # Unreadable: nothing to fingerprint, so nothing is recorded; the caller reports it.
        return ImportResult(outcome="refused", detail=reason)
    reported = await pool.fetchval(query("stats_seen_file"), sha256, "refused")
    result = ImportResult(
        outcome="refused", detail=reason, sha256=sha256, already_reported=bool(reported)
    )
    if not reported:
        await _record(pool, source=source, login=login, sha256=sha256, size=size, result=result)
    return result


async def last_import(db: Executor) -> LastImport | None:
    """The newest statistics file taken in or refused; None before the first."""
    record = await db.fetchrow(query("stats_last_import"))
    return LastImport.model_validate(dict(record)) if record else None


def _log_result(login: str, result: ImportResult) -> None:
    if result.outcome == "imported":
        log.info(
            "statistics from %s: %d books, %d page visits (%d new)",
            login,
            result.books,
            result.visits_in_file,
            result.visits_added,
        )
    elif result.outcome == "refused" and not result.already_reported:
        log.warning("statistics file from %s refused: %s", login, result.detail)


class IngestQueue:
    """Imports the statistics files a server stores, one at a time, in the background.

    A file stored again while it waits is imported once; while it is being imported, once
    more afterwards. Failures are logged, never raised into the server.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._waiting: dict[Path, str] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.results: list[ImportResult] = []

    def submit(self, login: str, path: Path) -> None:
        self._waiting[path] = login
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="statistics-import")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                path, login = self._waiting.popitem()
                try:
                    result = await import_statistics(self._pool, path, source="webdav", login=login)
                    self.results = [*self.results[-99:], result]
                    _log_result(login, result)
                except (asyncpg.PostgresError, OSError) as exc:
                    log.error("statistics import of %s failed: %s", path.name, exc)
            self._idle.set()

    async def idle(self) -> None:
        """Wait until every file submitted so far was imported."""
        await self._idle.wait()

    async def close(self) -> None:
        """Finish the import in progress (files still waiting are imported on the next PUT)."""
        if self._task is None:
            return
        await self.idle()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
