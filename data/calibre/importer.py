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
    CalibreBook,
    CalibreLibrary,
    CalibreLibraryError,
    read_library,
)
from shelver.data.calibre.report import (
    BookResult,
    CalibreImportReport,
    NotKept,
    Outcome,
    Problem,
)
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing.covers import save_cover
from shelver.data.importing.names import printable_name
from shelver.data.models import BookFields
from shelver.data.move_journal import with_counter
from shelver.data.organize import (
    OrganizeError,
    check_template,
    inside,
    library_root,
    relative_path,
)
from shelver.data.pg import Connection
from shelver.data.queries import query
from shelver.data.settings import Settings

Progress = Callable[[int, int, str], None]
WORKERS = 2
WINDOW = 32  # books prepared ahead of the one being recorded
BATCH = 32  # books written per transaction, at most (only those already prepared)


@dataclass
class _Run:
    conn: Connection  # one connection for the whole run: no pool round trips per book
    home: Home
    settings: Settings
    library: CalibreLibrary
    placement: Placement
    dry_run: bool
    root: Path
    report: CalibreImportReport
    known_books: dict[str, UUID] = field(default_factory=dict)
    # Each book's fields, mapped by the worker that prepared its files (CPU off the loop).
    mapped: dict[int, MappedBook] = field(default_factory=dict)
    # Checksums given to a book by this run but not yet committed (a batch, or a dry run).
    pending: dict[str, UUID] = field(default_factory=dict)


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
    key = library.library_id or str(folder_path)
    async with database.pool.acquire() as conn:
        if not await conn.fetchval(query("calibre_try_lock_library"), key):
            raise CalibreLibraryError(
                f"{folder_path}: another import of this Calibre library is running; "
                "wait for it to finish"
            )
        try:
            run = _Run(conn, home, settings, library, placement, dry_run, root, report)
            await _import_books(run, folder_path, progress, workers)
        finally:
            await conn.execute(query("calibre_unlock_library"), key)
    report.totals.seconds = time.perf_counter() - started
    return report


async def _import_books(
    run: _Run, folder_path: Path, progress: Progress | None, workers: int
) -> None:
    library = run.library
    staging = await asyncio.to_thread(_prepare_folders, run)
    rows = await run.conn.fetch(query("calibre_known_books"), [b.uuid for b in library.books])
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
                pending.append(executor.submit(_prepare, run, folder_path, book, staging))

        top_up()
        done = 0
        try:
            while pending:
                batch = [await asyncio.wrap_future(pending.popleft())]
                while pending and pending[0].done() and len(batch) < BATCH:
                    batch.append(pending.popleft().result())
                top_up()
                try:
                    for prepared in batch:
                        run.report.skipped_files.extend(_problems(prepared))
                    await _settle_batch(run, batch)
                finally:
                    for prepared in batch:
                        prepared.discard_staged()
                done += len(batch)
                if progress:
                    progress(done, total, batch[-1].book.title)
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


def _prepare(run: _Run, folder: Path, book: CalibreBook, staging: Path | None) -> PreparedBook:
    """A worker's share of one book: its files found and hashed (or copied), its fields mapped."""
    prepared = prepare_book(folder, book, run.placement, staging)
    run.mapped[book.id] = map_book(book, run.library.custom_columns)
    return prepared


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


# --- books, a batch per transaction -----------------------------------------------------


@dataclass
class _Plan:
    """What one Calibre book needs, decided (and its files placed) before the write."""

    prepared: PreparedBook
    mapped: MappedBook
    book_id: UUID
    new_book: bool
    outcome: Outcome
    new_files: list[PreparedFile]
    duplicates: list[Problem]
    wanted: list[tuple[PreparedFile, Path]] = field(default_factory=list)
    placed: list[tuple[PreparedFile, Path, bool]] = field(default_factory=list)
    cover: str | None = None
    error: BaseException | None = None


_BOOK_ERRORS = (OSError, OrganizeError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError)


async def _settle_batch(run: _Run, batch: list[PreparedBook]) -> None:
    """Plan every book, then write them all in one transaction (one commit, one fsync).

    When the transaction fails, everything it placed is taken back and the books are retried
    one by one, so one bad book fails alone and the others still come over.
    """
    plans: list[_Plan] = []
    checksums = [f.digest.checksum for prepared in batch for f in prepared.files]
    rows = await run.conn.fetch(query("calibre_known_checksums"), checksums)
    known = {r["checksum"]: r["book_id"] for r in rows}
    for prepared in batch:
        try:
            plans.append(await _plan(run, prepared, known))
        except _BOOK_ERRORS as exc:
            _fail(run, prepared, exc)
    if plans and not run.dry_run:
        await _place_batch(run, plans)
        for plan in [p for p in plans if p.error is not None]:
            _forget(run, plan)
            _fail(run, plan.prepared, plan.error)  # type: ignore[arg-type]
        plans = [p for p in plans if p.error is None]
    if plans and not run.dry_run:
        try:
            async with run.conn.transaction():
                await _write(run, plans)
        except BaseException as exc:
            for plan in plans:
                _forget(run, plan)
            if not isinstance(exc, _BOOK_ERRORS):
                raise
            if len(plans) == 1:
                _fail(run, plans[0].prepared, exc)
                return
            for plan in plans:
                await _settle_batch(run, [plan.prepared])
            return
    for plan in plans:
        _record(run, plan)


def _fail(run: _Run, prepared: PreparedBook, exc: BaseException) -> None:
    book = prepared.book
    run.report.failed_books.append(
        Problem(calibre_id=book.id, title=book.title, reason=f"not imported: {_line(exc)}")
    )


async def _plan(run: _Run, prepared: PreparedBook, known: dict[str, UUID]) -> _Plan:
    """Decide what ``prepared`` needs; ``known`` holds the committed owners of its checksums."""
    book = prepared.book
    mapped = run.mapped.pop(book.id, None) or map_book(book, run.library.custom_columns)
    checksums = [f.digest.checksum for f in prepared.files]
    owners = {c: known[c] for c in checksums if c in known}
    owners.update({c: b for c, b in run.pending.items() if c in checksums})
    target = run.known_books.get(book.uuid) or next(
        (owners[c] for c in checksums if c in owners), None
    )
    new_files: list[PreparedFile] = []
    duplicates: list[Problem] = []
    for prepared_file in prepared.files:
        checksum = prepared_file.digest.checksum
        owner = owners.get(checksum)
        if owner is None and checksum not in {f.digest.checksum for f in new_files}:
            new_files.append(prepared_file)
        elif owner is not None and owner != target:
            duplicates.append(
                Problem(
                    calibre_id=book.id,
                    title=book.title,
                    path=str(prepared_file.source),
                    reason=f"the same bytes are already a file of another book ({owner})",
                )
            )
    outcome: Outcome
    if target is None:
        outcome = "imported"
    elif new_files:
        outcome = "files_added"
    else:
        outcome = "unchanged" if book.uuid in run.known_books else "matched"
    plan = _Plan(
        prepared=prepared,
        mapped=mapped,
        book_id=target or uuid.uuid4(),
        new_book=target is None,
        outcome=outcome,
        new_files=new_files,
        duplicates=duplicates,
    )
    for prepared_file in new_files:
        run.pending[prepared_file.digest.checksum] = plan.book_id
    if run.dry_run:
        return plan
    if run.placement is Placement.IN_PLACE:
        plan.placed = [(f, f.source, False) for f in new_files]
        return plan
    try:
        fields = mapped.fields
        if target is not None:
            existing = await books.get(run.conn, target)
            fields = BookFields.model_validate(existing.model_dump()) if existing else fields
        plan.wanted = [(f, _wanted_path(run, fields, f)) for f in new_files]
    except BaseException:
        _forget(run, plan)
        raise
    return plan


def _wanted_path(run: _Run, fields: BookFields, prepared_file: PreparedFile) -> Path:
    wanted = run.root / relative_path(
        run.settings.library_template, fields, prepared_file.original_name, prepared_file.format
    )
    if not inside(run.root, wanted):  # defence in depth; sanitising already prevents it
        raise OrganizeError(f"{wanted} would leave the library folder")
    return wanted


async def _place_batch(run: _Run, plans: list[_Plan]) -> None:
    """Place every planned file and save the covers: one query and one thread hop for the
    usual case (the templated name is free); names already taken go the careful way."""
    wanted = [str(path) for plan in plans for _, path in plan.wanted]
    rows = await run.conn.fetch(query("calibre_paths_claimed"), wanted) if wanted else []
    claimed = {r["path"] for r in rows}
    later = await asyncio.to_thread(_place_free, run, plans, claimed)
    for plan, prepared_file, path in later:
        if plan.error is not None:
            continue
        try:
            plan.placed.append(await _claim(run, prepared_file, path))
        except _BOOK_ERRORS as exc:
            plan.error = exc


def _place_free(
    run: _Run, plans: list[_Plan], claimed: set[str]
) -> list[tuple[_Plan, PreparedFile, Path]]:
    """File work of a batch (in a thread): link each file at its free name, adopt a same-bytes
    orphan there, save covers; what needs another name is returned for `_claim`."""
    later = []
    for plan in plans:
        try:
            for prepared_file, path in plan.wanted:
                if str(path) in claimed:
                    later.append((plan, prepared_file, path))
                elif os.path.lexists(path):
                    if holds_same_bytes(path, prepared_file.digest):
                        plan.placed.append((prepared_file, path, False))  # a killed run's copy
                    else:
                        later.append((plan, prepared_file, path))
                else:
                    try:
                        link_into_place(prepared_file.staged or prepared_file.source, path)
                    except FileExistsError:
                        later.append((plan, prepared_file, path))
                        continue
                    plan.placed.append((prepared_file, path, True))
            if plan.new_book:
                plan.cover = _save_cover(run.home, plan.prepared.cover)
        except OSError as exc:
            plan.error = exc
    return later


async def _write(run: _Run, plans: list[_Plan]) -> None:
    """Record a batch of planned books: a handful of statements, whatever its size."""
    conn = run.conn
    fresh = [plan for plan in plans if plan.new_book]
    if fresh:
        await conn.executemany(
            query("calibre_insert_book"),
            [
                (
                    plan.book_id,
                    *plan.mapped.fields.sql_values(),
                    plan.cover,
                    plan.mapped.hardcover_book_id,
                    plan.mapped.hardcover_edition_id,
                    plan.mapped.created_at,
                )
                for plan in fresh
            ],
        )
    extras = [(plan.book_id, e) for plan in fresh for e in plan.mapped.extras]
    if extras:
        await conn.execute(
            query("calibre_insert_extras"),
            SOURCE,
            [book_id for book_id, _ in extras],
            [e.name for _, e in extras],
            [e.label for _, e in extras],
            [e.datatype for _, e in extras],
            [json.dumps(e.value, ensure_ascii=False) for _, e in extras],
        )
    rated = [(p.book_id, p.mapped.rating, SOURCE) for p in fresh if p.mapped.rating is not None]
    if rated:
        await conn.executemany(query("calibre_insert_rating"), rated)
    files = [(plan.book_id, f, path) for plan in plans for f, path, _ in plan.placed]
    if files:
        in_place = run.placement is Placement.IN_PLACE
        await conn.execute(
            query("calibre_insert_files"),
            [book_id for book_id, _, _ in files],
            [f.format for _, f, _ in files],
            [printable_name(f.original_name) for _, f, _ in files],
            [str(path) for _, _, path in files],
            [f.digest.size for _, f, _ in files],
            [f.digest.checksum for _, f, _ in files],
            [f.digest.content_hash for _, f, _ in files],
            f"calibre:{run.library.library_id or run.library.folder}" if in_place else None,
        )
    await conn.executemany(
        query("calibre_record_book"),
        [
            (p.prepared.book.uuid, run.library.library_id, p.prepared.book.id, p.book_id)
            for p in plans
        ],
    )


def _forget(run: _Run, plan: _Plan) -> None:
    """Undo a plan that was not written: the names it placed and the checksums it claimed."""
    _unplace(run, plan.placed)
    plan.placed = []
    for prepared_file in plan.new_files:
        if run.pending.get(prepared_file.digest.checksum) == plan.book_id:
            del run.pending[prepared_file.digest.checksum]


def _record(run: _Run, plan: _Plan) -> None:
    prepared = plan.prepared
    book = prepared.book
    run.report.skipped_files.extend(plan.duplicates)
    if run.dry_run:
        added = plan.new_files
        files = [str(f.source) for f in added]
        book_id = None if plan.new_book else plan.book_id
    else:
        run.known_books[book.uuid] = plan.book_id
        added = [f for f, _, _ in plan.placed]
        files = [str(path) for _, path, _ in plan.placed]
        book_id = plan.book_id
    _count(run, added)
    notes = prepared.notes + [f.note for f in prepared.files if f.note] + plan.mapped.notes
    run.report.books.append(
        BookResult(
            calibre_id=book.id,
            title=book.title,
            outcome=plan.outcome,
            book_id=book_id,
            files=files,
            notes=notes,
        )
    )


def _problems(prepared: PreparedBook) -> list[Problem]:
    book = prepared.book
    return [
        Problem(calibre_id=book.id, title=book.title, path=p.path, reason=p.reason)
        for p in prepared.problems
    ]


def _count(run: _Run, added: list[PreparedFile]) -> None:
    run.report.totals.files_added += len(added)
    run.report.totals.bytes_added += sum(f.digest.size for f in added)


async def _claim(
    run: _Run, prepared_file: PreparedFile, wanted: Path
) -> tuple[PreparedFile, Path, bool]:
    """Link the file at ``wanted`` or ``wanted (2)``...; adopt a same-bytes orphan there.

    One query per name tried: for the few files whose templated name is already taken."""
    source = prepared_file.staged or prepared_file.source
    for counter in range(1, 10_000):
        candidate = wanted if counter == 1 else wanted.with_name(with_counter(wanted.name, counter))
        if await run.conn.fetchval(query("organize_path_claimed"), str(candidate)):
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


def _line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200] or type(exc).__name__
