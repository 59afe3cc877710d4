"""``shelver import-calibre``: a whole Calibre library in, every book organized, nothing lost.

For each Calibre book (in order, a few at a time): worker threads find its files (paths drift),
hash them and, when copying, copy them to a staging file on the library's file system in the
same pass. The event loop then decides what is new, places the files under their templated
names (never overwriting) and records the book, its files, extra fields, rating and the
Calibre-to-shelver link in one transaction. A failure removes what this run placed for that
book; a run killed between placing and recording leaves a file that the next run adopts
(same name, same bytes, no owner), so a rerun completes the work instead of duplicating it.

Idempotent: a Calibre book already brought over (by calibre's uuid) or whose file bytes are
already in shelver (by SHA-256) is matched, never duplicated; only formats that are new get
added.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import asyncpg

from shelver.data import books
from shelver.data.calibre.files import (
    STAGING_FOLDER,
    Placement,
    PreparedBook,
    PreparedFile,
    holds_same_bytes,
    link_into_place,
    prepare_book,
    remove_stale_staging,
    same_file_system,
)
from shelver.data.calibre.mapping import SOURCE, MappedBook, map_book
from shelver.data.calibre.reader import (
    LOCK_TIMEOUT,
    CalibreLibrary,
    CalibreLibraryError,
    read_library,
)
from shelver.data.calibre.report import BookResult, CalibreImportReport, NotKept, Problem
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing.covers import save_cover
from shelver.data.models import BookFields
from shelver.data.move_journal import with_counter
from shelver.data.organize import (
    OrganizeError,
    check_template,
    inside,
    library_root,
    relative_path,
)
from shelver.data.queries import query
from shelver.data.settings import Settings

Progress = Callable[[int, int, str], None]
WORKERS = 2
WINDOW = 8  # books prepared ahead of the one being recorded


@dataclass
class _Run:
    database: Database
    home: Home
    settings: Settings
    library: CalibreLibrary
    placement: Placement
    dry_run: bool
    root: Path
    report: CalibreImportReport
    known_books: dict[str, UUID] = field(default_factory=dict)
    # Checksums a dry run has "taken" (nothing is committed, so the database cannot say).
    dry_checksums: dict[str, UUID] = field(default_factory=dict)


async def import_calibre(
    database: Database,
    home: Home,
    settings: Settings,
    folder: str | os.PathLike[str],
    *,
    placement: Placement = Placement.COPY,
    dry_run: bool = False,
    progress: Progress | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
    workers: int = WORKERS,
) -> CalibreImportReport:
    """Bring the Calibre library at ``folder`` over; the report says what became of each book.

    Raises `CalibreLibraryError` (one line) when the library cannot be read at all or the
    files cannot go where they should; then nothing was written.
    """
    started = time.perf_counter()
    folder_path = Path(os.path.abspath(Path(folder).expanduser()))
    library = await asyncio.to_thread(read_library, folder_path, lock_timeout=lock_timeout)
    root = library_root(home, settings).expanduser().absolute()
    try:
        check_template(settings.library_template)
    except OrganizeError as exc:
        raise CalibreLibraryError(str(exc)) from None
    report = CalibreImportReport(
        library=str(folder_path), placement=placement.value, dry_run=dry_run
    )
    report.not_kept = not_kept(library)
    report.totals.books = len(library.books)
    run = _Run(database, home, settings, library, placement, dry_run, root, report)
    staging = await asyncio.to_thread(_prepare_folders, run)
    rows = await database.pool.fetch(query("calibre_known_books"), [b.uuid for b in library.books])
    run.known_books = {r["calibre_uuid"]: r["book_id"] for r in rows}
    total = len(library.books)
    if progress:
        progress(0, total, "")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
        pending: deque[Future[PreparedBook]] = deque()
        queue = iter(library.books)

        def top_up() -> None:
            while len(pending) < WINDOW:
                book = next(queue, None)
                if book is None:
                    return
                pending.append(executor.submit(prepare_book, folder_path, book, placement, staging))

        top_up()
        done = 0
        try:
            while pending:
                prepared = await asyncio.wrap_future(pending.popleft())
                top_up()
                try:
                    await _settle(run, prepared)
                finally:
                    prepared.discard_staged()
                done += 1
                if progress:
                    progress(done, total, prepared.book.title)
        finally:
            for job in pending:
                job.cancel()
                if job.done() and not job.cancelled() and job.exception() is None:
                    job.result().discard_staged()
            # Jobs already running finish in the pool's shutdown; drop what they staged.
            executor.shutdown(wait=True)
            for job in pending:
                if job.done() and not job.cancelled() and job.exception() is None:
                    job.result().discard_staged()
    if staging is not None:
        with contextlib.suppress(OSError):
            staging.rmdir()  # only when empty: another run may be using it
    report.totals.seconds = time.perf_counter() - started
    return report


def not_kept(library: CalibreLibrary) -> list[NotKept]:
    """Library-wide Calibre data that shelver does not take over."""
    found = [
        NotKept(
            what="title sort and author sort",
            count=len(library.books),
            reason="shelver sorts by its own accent- and case-folded keys",
        )
    ]
    for column in library.custom_columns:
        if column.datatype == "composite":
            found.append(
                NotKept(
                    what=f"custom column #{column.label} ({column.name})",
                    count=len(library.books),
                    reason="a composite column is computed by calibre templates, never stored",
                )
            )
    for what, count in library.unread.items():
        found.append(NotKept(what=what, count=count, reason="shelver has no place for them"))
    return found


def _prepare_folders(run: _Run) -> Path | None:
    """Check the target folders before any work; the staging folder when copying."""
    if run.placement is Placement.IN_PLACE:
        return None
    if inside(run.library.folder, run.root) or run.root == run.library.folder:
        raise CalibreLibraryError(
            f"shelver's library folder {run.root} is inside the Calibre library; "
            "choose another library_dir or use --in-place"
        )
    if run.dry_run:
        return None
    try:
        run.root.mkdir(parents=True, exist_ok=True)
        if not os.access(run.root, os.W_OK):
            raise PermissionError(f"{run.root} is not writable")
    except OSError as exc:
        raise CalibreLibraryError(f"cannot write to the library folder {run.root}: {exc}") from None
    if run.placement is Placement.LINK and not same_file_system(run.root, run.library.folder):
        raise CalibreLibraryError(
            f"--link needs {run.root} and {run.library.folder} on one file system; "
            "use --copy or --in-place"
        )
    if run.placement is not Placement.COPY:
        return None
    staging = run.root / STAGING_FOLDER
    staging.mkdir(exist_ok=True)
    remove_stale_staging(staging)
    return staging


# --- one book -----------------------------------------------------------------------------


async def _settle(run: _Run, prepared: PreparedBook) -> None:
    book = prepared.book
    for problem in prepared.problems:
        run.report.skipped_files.append(
            Problem(calibre_id=book.id, title=book.title, path=problem.path, reason=problem.reason)
        )
    try:
        mapped = map_book(book, run.library.custom_columns)
        result = await _bring_over(run, prepared, mapped)
    except (OSError, OrganizeError, asyncpg.PostgresError, ValueError) as exc:
        run.report.failed_books.append(
            Problem(calibre_id=book.id, title=book.title, reason=f"not imported: {_line(exc)}")
        )
        return
    result.notes = prepared.notes + [f.note for f in prepared.files if f.note] + mapped.notes
    run.report.books.append(result)


async def _bring_over(run: _Run, prepared: PreparedBook, mapped: MappedBook) -> BookResult:
    book = prepared.book
    pool = run.database.pool
    checksums = [f.digest.checksum for f in prepared.files]
    rows = await pool.fetch(query("calibre_known_checksums"), checksums)
    owners: dict[str, UUID] = {r["checksum"]: r["book_id"] for r in rows}
    owners.update({c: b for c, b in run.dry_checksums.items() if c in checksums})
    target = run.known_books.get(book.uuid) or next(
        (owners[c] for c in checksums if c in owners), None
    )
    new_files: list[PreparedFile] = []
    for prepared_file in prepared.files:
        checksum = prepared_file.digest.checksum
        owner = owners.get(checksum)
        if owner is None and checksum not in {f.digest.checksum for f in new_files}:
            new_files.append(prepared_file)
        elif owner is not None and owner != target:
            run.report.skipped_files.append(
                Problem(
                    calibre_id=book.id,
                    title=book.title,
                    path=str(prepared_file.source),
                    reason=f"the same bytes are already a file of another book ({owner})",
                )
            )
    if target is None:
        outcome = "imported"
    elif new_files:
        outcome = "files_added"
    else:
        outcome = "unchanged" if book.uuid in run.known_books else "matched"
    book_id = target or uuid.uuid4()
    if run.dry_run:
        for prepared_file in new_files:
            run.dry_checksums[prepared_file.digest.checksum] = book_id
        _count(run, new_files)
        return BookResult(
            calibre_id=book.id,
            title=book.title,
            outcome=outcome,
            book_id=target,
            files=[str(f.source) for f in new_files],
        )
    fields = mapped.fields
    if target is not None:
        existing = await books.get(pool, target)
        fields = BookFields.model_validate(existing.model_dump()) if existing else fields
    placed = await _place(run, fields, new_files)
    try:
        async with pool.acquire() as conn, conn.transaction():
            if target is None:
                cover = await asyncio.to_thread(_save_cover, run.home, prepared.cover)
                await _insert_book(conn, book_id, mapped, cover)
            await _insert_files(run, conn, book_id, placed)
            await conn.execute(
                query("calibre_record_book"), book.uuid, run.library.library_id, book.id, book_id
            )
    except BaseException:
        _unplace(run, placed)
        raise
    run.known_books[book.uuid] = book_id
    _count(run, [f for f, _, _ in placed])
    return BookResult(
        calibre_id=book.id,
        title=book.title,
        outcome=outcome,
        book_id=book_id,
        files=[str(path) for _, path, _ in placed],
    )


def _count(run: _Run, added: list[PreparedFile]) -> None:
    run.report.totals.files_added += len(added)
    run.report.totals.bytes_added += sum(f.digest.size for f in added)


async def _place(
    run: _Run, fields: BookFields, files: list[PreparedFile]
) -> list[tuple[PreparedFile, Path, bool]]:
    """Put each file at its place; ``(file, path, created by this call)`` for each."""
    placed: list[tuple[PreparedFile, Path, bool]] = []
    try:
        for prepared_file in files:
            if run.placement is Placement.IN_PLACE:
                placed.append((prepared_file, prepared_file.source, False))
                continue
            wanted = run.root / relative_path(
                run.settings.library_template,
                fields,
                prepared_file.original_name,
                prepared_file.format,
            )
            if not inside(run.root, wanted):
                raise OrganizeError(f"{wanted} would leave the library folder")
            placed.append(await _claim(run, prepared_file, wanted))
    except BaseException:
        _unplace(run, placed)
        raise
    return placed


async def _claim(
    run: _Run, prepared_file: PreparedFile, wanted: Path
) -> tuple[PreparedFile, Path, bool]:
    """Link the file at ``wanted`` or ``wanted (2)``...; adopt a same-bytes orphan there."""
    source = prepared_file.staged or prepared_file.source
    for counter in range(1, 10_000):
        candidate = wanted if counter == 1 else wanted.with_name(with_counter(wanted.name, counter))
        if await run.database.pool.fetchval(query("organize_path_claimed"), str(candidate)):
            continue
        if os.path.lexists(candidate):
            # A copy a killed run placed but never recorded: take it over instead of a twin.
            if await asyncio.to_thread(holds_same_bytes, candidate, prepared_file.digest):
                return prepared_file, candidate, False
            continue
        try:
            await asyncio.to_thread(link_into_place, source, candidate)
        except FileExistsError:
            continue
        return prepared_file, candidate, True
    raise OrganizeError(f"no free name for {wanted.name} in {wanted.parent}")


def _unplace(run: _Run, placed: list[tuple[PreparedFile, Path, bool]]) -> None:
    """Remove the names this run created (never a Calibre file: those are only linked)."""
    for _, path, created in placed:
        if created:
            with contextlib.suppress(OSError):
                path.unlink()


def _save_cover(home: Home, data: bytes | None) -> str | None:
    if not data:
        return None
    saved = save_cover(home.covers_dir, hashlib.sha256(data).hexdigest(), data)
    return str(saved) if saved else None


async def _insert_book(
    conn: asyncpg.Connection, book_id: UUID, mapped: MappedBook, cover: str | None
) -> None:
    await conn.execute(
        query("calibre_insert_book"),
        book_id,
        *mapped.fields.sql_values(),
        cover,
        mapped.hardcover_book_id,
        mapped.hardcover_edition_id,
        mapped.created_at,
    )
    if mapped.extras:
        await conn.execute(
            query("calibre_insert_extras"),
            book_id,
            SOURCE,
            [e.name for e in mapped.extras],
            [e.label for e in mapped.extras],
            [e.datatype for e in mapped.extras],
            [json.dumps(e.value, ensure_ascii=False) for e in mapped.extras],
        )
    if mapped.rating is not None:
        await conn.execute(query("calibre_insert_rating"), book_id, mapped.rating, SOURCE)


async def _insert_files(
    run: _Run,
    conn: asyncpg.Connection,
    book_id: UUID,
    placed: list[tuple[PreparedFile, Path, bool]],
) -> None:
    if not placed:
        return
    rows = await conn.fetch(
        query("calibre_insert_files"),
        book_id,
        [f.format for f, _, _ in placed],
        [_printable(f.original_name) for f, _, _ in placed],
        [str(path) for _, path, _ in placed],
        [f.digest.size for f, _, _ in placed],
        [f.digest.checksum for f, _, _ in placed],
        [f.digest.content_hash for f, _, _ in placed],
    )
    if run.placement is Placement.IN_PLACE:
        await conn.execute(
            query("calibre_mark_in_place"),
            [r["id"] for r in rows],
            f"calibre:{run.library.library_id or run.library.folder}",
        )


def _printable(name: str) -> str:
    # Names from undecodable bytes carry surrogates that PostgreSQL text cannot hold.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200] or type(exc).__name__
