"""Taking a KOReader statistics file into shelver's own tables, whole or not at all.

The file is read completely first (``statistics_file.read_statistics``); then one transaction
upserts its books and copies its page visits into a temporary staging table with COPY, from
which a single ``INSERT ... ON CONFLICT DO NOTHING`` adds the visits not stored yet. Importing
the same file twice changes nothing; a newer file adds only what is new. Visits are never
deleted here: a book removed from a device's statistics keeps its history in shelver.

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
    StatisticsSnapshot,
    file_digest,
    read_statistics,
)

log = logging.getLogger("shelver.statistics")

STAGING_COLUMNS = ("document", "start_time", "page", "duration", "total_pages")


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


async def _apply(conn: Connection, snapshot: StatisticsSnapshot) -> int:
    """Upsert the snapshot inside the caller's transaction; the number of visits added."""
    books = list(snapshot.books.values())
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
    await conn.execute(query("stats_import_lock"))
    await conn.execute(query("stats_create_staging"))
    await conn.copy_records_to_table(
        "reading_stat_staging", records=snapshot.visits, columns=STAGING_COLUMNS
    )
    added = await conn.fetchval(query("stats_insert_visits"))
    return int(added or 0)


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
        snapshot = await asyncio.to_thread(read_statistics, path, digest)
    except NotStatistics as exc:
        return await _refuse(pool, path, str(exc), source=source, login=login)
    result = ImportResult(
        outcome="imported",
        books=len(snapshot.books),
        visits_in_file=len(snapshot.visits),
        skipped_books=snapshot.skipped_books,
        skipped_visits=snapshot.skipped_visits,
        sha256=snapshot.sha256,
    )
    async with pool.acquire() as conn, conn.transaction():
        result.visits_added = await _apply(conn, snapshot)
        await _record(
            conn,
            source=source,
            login=login,
            sha256=snapshot.sha256,
            size=snapshot.size,
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
