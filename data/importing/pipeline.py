"""The import pipeline: files in, inbox books out, nothing lost on the way.

Workers (a process pool) copy and hash each file in one pass, detect its format and read its
metadata; the event loop writes the results to the database in batches and reports progress.
A file is only ever removed from where it was after its copy is committed (``move=True``);
refused files stay where they were, except files already in the inbox folder, which move to
``rejected/`` with a ``.reason.txt`` beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from shelver.data.db import Database
from shelver.data.file_locks import lock_is_free
from shelver.data.home import Home
from shelver.data.importing.completeness import open_for_writing, signature, wait_until_stable
from shelver.data.importing.duplicates import DuplicateIndex, DuplicateKey, first_match
from shelver.data.importing.examine import (
    STILL_OPEN,
    STILL_WRITTEN,
    Examined,
    ExamineTask,
    Unreadable,
    examine,
)
from shelver.data.importing.hashing import digest_file
from shelver.data.importing.names import (
    move_unique,
    place_unique,
    printable,
    printable_name,
    raw_name,
    safe_name,
)
from shelver.data.importing.process_pools import end_with_parent, pool_context
from shelver.data.pg import Connection
from shelver.data.queries import query

Progress = Callable[[int, int, str], None]
BATCH_SIZE = 100
IN_FLIGHT_WINDOW = 256  # files handed to the workers at once
STAGING_FOLDER = ".importing"
STALE_COPY_SECONDS = 24 * 3600
# Below this many files a process pool costs more to start than it saves.
POOL_THRESHOLD = 3
# Paths this process is placing into the inbox right now; the watcher leaves them alone.
IN_FLIGHT: set[str] = set()


class _Item(BaseModel):
    """Paths in a report are printable text (odd bytes of a name shown as ``\\xNN``)."""

    @field_validator("path", "moved_to", "inbox_path", check_fields=False)
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return printable(value) if value is not None else None


class ImportedItem(_Item):
    path: str
    book_id: UUID
    title: str | None = None
    author: str | None = None
    format: str
    inbox_path: str
    possible_duplicate_of: UUID | None = None
    possible_duplicate_title: str | None = None
    """The title of that book, for people (the id is for scripts)."""
    note: str | None = None
    """Anything the person should know (e.g. why ``--move`` kept the original)."""


class SkippedItem(_Item):
    path: str
    duplicate_of: UUID | None = None
    reason: str
    moved_to: str | None = None


class RefusedItem(_Item):
    path: str
    reason: str
    drm: bool = False
    moved_to: str | None = None


class ImportTimings(BaseModel):
    """Seconds: hashing and parsing are summed over workers, database and total are wall time."""

    hashing: float = 0.0
    parsing: float = 0.0
    database: float = 0.0
    total: float = 0.0


class ImportReport(BaseModel):
    """What happened to every input; ``model_dump(mode="json")`` is the ``--json`` document."""

    imported: list[ImportedItem] = Field(default_factory=list)
    skipped: list[SkippedItem] = Field(default_factory=list)
    refused: list[RefusedItem] = Field(default_factory=list)
    timings: ImportTimings = Field(default_factory=ImportTimings)

    @property
    def ok(self) -> bool:
        return not self.refused

    def summary(self) -> str:
        others = sum(1 for item in self.skipped if not item.reason.startswith("exact duplicate"))
        skipped = f"skipped {len(self.skipped) - others} duplicate(s)"
        if others:
            skipped += f" and {others} other file(s)"
        return f"imported {len(self.imported)}, {skipped}, refused {len(self.refused)}"


@dataclass
class _Input:
    """One file to import and where it came from."""

    source: Path
    in_inbox: bool  # already in the inbox folder: no copy, rejections go to rejected/
    position: int = 0
    """Its place among the run's inputs: a batch is recorded in this order, not in the order
    the parsing pool finished the files (which differs from run to run)."""


@dataclass
class _Run:
    """State of one import run."""

    database: Database
    home: Home
    move: bool
    inbox: Path
    report: ImportReport = field(default_factory=ImportReport)
    seen_checksums: dict[str, UUID] = field(default_factory=dict)
    index: DuplicateIndex = field(default_factory=DuplicateIndex)
    inputs: dict[str, _Input] = field(default_factory=dict)


async def import_paths(
    database: Database,
    home: Home,
    paths: Sequence[str | os.PathLike[str]],
    *,
    move: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    inbox_dir: Path | None = None,
) -> ImportReport:
    """Import files and folders (recursively) into the inbox and say what happened to each.

    ``progress(done, total, current_name)`` is called on the event loop after each file.
    ``inbox_dir`` is the configured inbox folder (settings' ``inbox_dir``), by default the
    home's; ``workers`` the size of the process pool (0: one thread, for tests).
    """
    started = time.perf_counter()
    home.ensure()
    inbox = Path(inbox_dir).expanduser() if inbox_dir is not None else home.inbox_dir
    inbox.mkdir(parents=True, exist_ok=True)
    run = _Run(database, home, move, inbox)
    # Walking a big folder tree is blocking file-system work: keep it off the event loop.
    inputs = await asyncio.to_thread(_collect, paths, inbox, run.report)
    inputs = await _drop_registered(run, inputs)
    inputs = await _only_complete(run, inputs)
    total = len(inputs) + len(run.report.refused)
    done = len(run.report.refused)
    if progress and done:
        progress(done, total, "")
    staging = inbox / STAGING_FOLDER
    staging.mkdir(parents=True, exist_ok=True)
    with _staging_claim(staging) as run_id:
        await _examine_all(run, inputs, staging, run_id, progress, workers, done, total)
    run.report.timings.total = time.perf_counter() - started
    return run.report


async def _examine_all(
    run: _Run,
    inputs: list[_Input],
    staging: Path,
    run_id: str,
    progress: Progress | None,
    workers: int | None,
    done: int,
    total: int,
) -> None:
    """Examine every input in the pool and record the results batch by batch."""
    tasks = []
    for item in inputs:
        run.inputs[str(item.source)] = item
        target = None if item.in_inbox else str(staging / f"{run_id}-{uuid.uuid4().hex}.part")
        tasks.append(ExamineTask(str(item.source), target, str(run.home.covers_dir)))
    if tasks:
        with _executor(len(tasks), workers) as executor:
            loop = asyncio.get_running_loop()
            queue = iter(tasks)
            running: set[asyncio.Future[Examined | Unreadable]] = set()
            pending: list[Examined | Unreadable] = []

            def top_up() -> None:
                # A bounded window: 100,000 files never become 100,000 queued futures.
                for task in itertools.islice(queue, max(0, IN_FLIGHT_WINDOW - len(running))):
                    running.add(asyncio.ensure_future(_examine_in(loop, executor, task)))

            top_up()
            try:
                while running:
                    finished, running = await asyncio.wait(
                        running, return_when=asyncio.FIRST_COMPLETED
                    )
                    top_up()
                    for job in finished:
                        result = job.result()
                        pending.append(result)
                        done += 1
                        if progress:
                            progress(done, total, Path(result.source).name)
                    if len(pending) >= BATCH_SIZE:
                        await _settle(run, pending)
                        pending = []
                if pending:
                    await _settle(run, pending)
            except BaseException:
                for job in running:
                    job.cancel()
                raise


async def _examine_in(
    loop: asyncio.AbstractEventLoop, executor: Executor, task: ExamineTask
) -> Examined | Unreadable:
    """Run `examine` in the pool; a crashed worker refuses its files instead of the batch."""
    try:
        return await loop.run_in_executor(executor, examine, task)
    except (BrokenExecutor, OSError, MemoryError) as exc:
        if task.staging:
            Path(task.staging).unlink(missing_ok=True)
        return Unreadable(
            source=task.source,
            reason=f"the reader crashed on this file or a neighbour ({type(exc).__name__})",
        )


CLAIMING_SUFFIX = ".lock.claiming"
"""A run's lock file while it is being claimed (hidden, then renamed to ``<run>.lock``)."""


@contextlib.contextmanager
def _staging_claim(staging: Path) -> Iterator[str]:
    """This run's id, claimed by a lock file held for the whole run; copies are named after it.

    What runs whose lock nobody holds any more (the import was killed) left is removed first.
    """
    _remove_dead_copies(staging)
    run_id = uuid.uuid4().hex[:12]
    lock_path = staging / f"{run_id}.lock"
    # The lock file appears under its name already locked (locked under a hidden name, then
    # renamed), so another run's clean-up never finds it free while this run lives.
    claiming = staging / f".{run_id}{CLAIMING_SUFFIX}"
    fd = os.open(claiming, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(claiming, lock_path)
        yield run_id
    finally:
        claiming.unlink(missing_ok=True)
        lock_path.unlink(missing_ok=True)
        os.close(fd)


def _remove_dead_copies(staging: Path) -> None:
    """Staging copies and locks of imports that died (their run's lock is free), and any copy
    a day old."""
    cutoff = time.time() - STALE_COPY_SECONDS
    dead = {
        lock.name.removesuffix(".lock"): lock
        for lock in staging.glob("*.lock")
        if lock_is_free(lock)
    }
    for entry in staging.glob("*.part"):
        run_id = entry.name.split("-", 1)[0] if "-" in entry.name else ""
        with contextlib.suppress(OSError):
            orphan = run_id and not (staging / f"{run_id}.lock").exists()
            if run_id in dead or orphan or entry.stat().st_mtime < cutoff:
                entry.unlink()
    for lock in dead.values():
        lock.unlink(missing_ok=True)
    # A run killed between creating its lock and naming it left the hidden claim behind.
    for claim in staging.glob(f".*{CLAIMING_SUFFIX}"):
        with contextlib.suppress(OSError):
            if claim.stat().st_mtime < time.time() - 60 and lock_is_free(claim):
                claim.unlink()


def _executor(count: int, workers: int | None) -> Executor:
    if count < POOL_THRESHOLD or workers == 0:
        return ThreadPoolExecutor(max_workers=1)
    size = workers or max(1, min(os.cpu_count() or 1, 4))
    # end_with_parent: a killed import leaves no worker behind.
    return ProcessPoolExecutor(
        max_workers=size,
        mp_context=pool_context(),
        initializer=end_with_parent,
        initargs=(os.getpid(),),
    )


def not_a_book_reason(name: str) -> str | None:
    """Why a file met in a folder is left alone (hidden files, shelver's own notes), or None."""
    if name.endswith(".reason.txt"):
        return "a shelver note (*.reason.txt) that explains a rejection, not a book"
    if name.startswith("."):
        return "hidden file (its name starts with a dot); import it by name to take it"
    return None


def _collect(
    paths: Iterable[str | os.PathLike[str]], inbox_dir: Path, report: ImportReport
) -> list[_Input]:
    """Expand folders (recursively, not following links) into files; refuse what isn't one."""
    inbox = inbox_dir.resolve()
    staging = inbox / STAGING_FOLDER
    found: list[_Input] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        absolute = Path(os.path.abspath(path))
        if absolute in seen:
            return
        seen.add(absolute)
        parent = absolute.parent.resolve()
        if parent == staging or staging in parent.parents:
            return
        in_inbox = parent == inbox or inbox in parent.parents
        found.append(_Input(absolute, in_inbox, len(found)))

    for given in paths:
        path = Path(given)
        if path.is_symlink():
            add(path)  # the worker refuses it with a reason
        elif path.is_dir():
            for folder, subfolders, files in os.walk(path, followlinks=False):
                subfolders[:] = sorted(d for d in subfolders if d != STAGING_FOLDER)
                for name in sorted(files):
                    reason = not_a_book_reason(name)
                    if reason:
                        report.skipped.append(
                            SkippedItem(path=os.path.join(folder, name), reason=reason)
                        )
                        continue
                    add(Path(folder) / name)
        elif path.exists():
            add(path)
        else:
            report.refused.append(RefusedItem(path=str(path), reason="no such file or folder"))
    return found


async def _only_complete(run: _Run, inputs: list[_Input]) -> list[_Input]:
    """Wait briefly for files still changing; refuse (and keep) those that never settle, and
    those a writer still holds open (a paused download keeps its size and time)."""
    unsettled = await asyncio.to_thread(wait_until_stable, [i.source for i in inputs])
    settled = [i.source for i in inputs if i.source not in unsettled]
    held_open = await asyncio.to_thread(open_for_writing, settled) if settled else set()
    for item in inputs:
        if item.source in unsettled or item.source in held_open:
            reason = STILL_WRITTEN if item.source in unsettled else STILL_OPEN
            run.report.refused.append(RefusedItem(path=str(item.source), reason=reason))
    return [i for i in inputs if i.source not in unsettled and i.source not in held_open]


async def _drop_registered(run: _Run, inputs: list[_Input]) -> list[_Input]:
    """Inbox-folder files that already belong to a book are not new arrivals."""
    # A path that is not valid UTF-8 cannot be in the database (names are stored safe).
    in_inbox = [str(i.source) for i in inputs if i.in_inbox and raw_name(str(i.source)) is None]
    if not in_inbox:
        return inputs
    rows = await run.database.pool.fetch(query("importing_known_inbox_paths"), in_inbox)
    known = {r["inbox_path"] for r in rows} | IN_FLIGHT
    return [i for i in inputs if not (i.in_inbox and str(i.source) in known)]


async def _settle(run: _Run, results: list[Examined | Unreadable]) -> None:
    """Record one batch: refusals, exact duplicates, and new books written in one transaction.

    In input order: which of two copies is "the duplicate" (skipped, or flagged as possibly
    the same book) must not depend on which one the pool happened to finish first."""
    timings = run.report.timings
    readable: list[Examined] = []
    for result in sorted(results, key=lambda r: run.inputs[r.source].position):
        timings.hashing += result.hash_seconds
        timings.parsing += result.parse_seconds
        if isinstance(result, Unreadable):
            _refuse(run, result.source, result.reason, drm=result.drm)
        else:
            readable.append(result)
    if not readable:
        return
    started = time.perf_counter()
    try:
        await _write(run, readable)
    except Exception as exc:  # the database went away, or a value it would not take
        failed = set()
        recorded = {i.path for i in run.report.skipped} | {i.path for i in run.report.imported}
        for result in readable:
            if printable(result.source) in recorded:
                continue
            failed.add(run.seen_checksums.pop(result.digest.checksum, None))
            _discard_copy(run, result)
            message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            _refuse(run, result.source, f"not saved: database error: {message}", keep_in_place=True)
        # Later batches must neither skip nor point at books that were never written.
        run.index.discard(failed)
    finally:
        timings.database += time.perf_counter() - started


async def _write(run: _Run, results: list[Examined]) -> None:
    pool = run.database.pool
    rows = await pool.fetch(
        query("importing_known_checksums"), [r.digest.checksum for r in results]
    )
    known = {r["checksum"]: r["book_id"] for r in rows}
    fresh: list[tuple[Examined, UUID]] = []
    for result in results:
        checksum = result.digest.checksum
        existing = known.get(checksum) or run.seen_checksums.get(checksum)
        if existing is not None:
            _skip(run, result, existing)
            continue
        book_id = uuid.uuid4()
        run.seen_checksums[checksum] = book_id
        fresh.append((result, book_id))
    if not fresh:
        return
    duplicates = await _near_duplicates(run, fresh)
    placed = _place(run, fresh)
    try:
        async with pool.acquire() as conn, conn.transaction():
            stored = await _insert(conn, placed, duplicates)
            lost = [book_id for _, book_id, _ in placed if book_id not in stored]
            if lost:  # another import committed the same bytes meanwhile
                await conn.execute(query("importing_delete_books"), lost)
    except BaseException:
        for result, _, inbox_path in placed:
            _unplace(run, result, inbox_path)
        raise
    finally:
        for _, _, inbox_path in placed:
            IN_FLIGHT.discard(str(inbox_path))
    recorded = []
    for result, book_id, inbox_path in placed:
        if book_id not in stored:
            _unplace(run, result, inbox_path)
            _skip(run, result, None)
            continue
        recorded.append((result, book_id, inbox_path))
    notes = {}
    if run.move:
        moved = [r for r, _, _ in recorded if not run.inputs[r.source].in_inbox]
        notes = await asyncio.to_thread(_remove_originals, run, moved)
    for result, book_id, inbox_path in recorded:
        _record_import(
            run, result, book_id, inbox_path, duplicates.get(book_id), notes.get(result.source)
        )


def _remove_originals(run: _Run, results: list[Examined]) -> dict[str, str]:
    """``--move``: unlink each original whose bytes are still exactly what was imported (size,
    modification time and SHA-256 read again); the notes for the ones kept."""
    notes = {}
    for result in results:
        source = run.inputs[result.source].source
        try:
            same = signature(source) == tuple(result.source_signature) and (
                digest_file(source).checksum == result.digest.checksum
            )
        except OSError:
            same = False
        if not same:
            notes[result.source] = (
                "the original changed after it was copied (still being written?); it was kept"
            )
            continue
        # If this fails the copy is still safe in the inbox; the original simply stays.
        with contextlib.suppress(OSError):
            source.unlink()
    return notes


def _record_import(
    run: _Run,
    result: Examined,
    book_id: UUID,
    inbox_path: Path,
    duplicate: UUID | None,
    note: str | None = None,
) -> None:
    run.report.imported.append(
        ImportedItem(
            path=result.source,
            book_id=book_id,
            title=result.fields.title,
            author=result.fields.author,
            format=result.format,
            inbox_path=str(inbox_path),
            possible_duplicate_of=duplicate,
            note=note,
        )
    )


async def _near_duplicates(run: _Run, fresh: list[tuple[Examined, UUID]]) -> dict[UUID, UUID]:
    """``{new book: the existing book it probably duplicates}`` for this batch."""
    keys = [
        DuplicateKey.of(book_id, r.fields.title, r.fields.author, r.fields.isbn_13)
        for r, book_id in fresh
    ]
    rows = await run.database.pool.fetch(
        query("importing_duplicate_candidates"),
        list(range(len(fresh))),
        [r.fields.isbn_13 for r, _ in fresh],
        [r.fields.title for r, _ in fresh],
    )
    found: dict[int, list[DuplicateKey]] = {}
    for row in rows:
        found.setdefault(row["n"], []).append(
            DuplicateKey.of(row["id"], row["title"], row["author"], row["isbn_13"])
        )
    matches: dict[UUID, UUID] = {}
    for position, key in enumerate(keys):
        match = first_match(key, found.get(position, [])) or run.index.find(key)
        if match is not None:
            matches[key.book_id] = match
        run.index.add(key)
    return matches


def _place(run: _Run, fresh: list[tuple[Examined, UUID]]) -> list[tuple[Examined, UUID, Path]]:
    """Give each new file its final, safe, unique name in the inbox."""
    placed = []
    for result, book_id in fresh:
        item = run.inputs[result.source]
        name = safe_name(item.source.name, result.format)
        data = Path(result.data_path)
        try:
            if item.in_inbox:
                target = data if data.name == name else place_unique(data, data.parent, name)
            else:
                target = place_unique(data, run.inbox, name)
        except OSError as exc:
            _discard_copy(run, result)
            _refuse(run, result.source, f"cannot place in the inbox: {exc}", keep_in_place=True)
            continue
        IN_FLIGHT.add(str(target))
        result.data_path = str(target)
        placed.append((result, book_id, target))
    return placed


def _unplace(run: _Run, result: Examined, inbox_path: Path) -> None:
    """Undo `_place` for a file that was not recorded: remove our copy, never an original."""
    if not run.inputs[result.source].in_inbox:
        inbox_path.unlink(missing_ok=True)


def _discard_copy(run: _Run, result: Examined) -> None:
    if not run.inputs[result.source].in_inbox:
        Path(result.data_path).unlink(missing_ok=True)


async def _insert(
    conn: Connection,
    placed: list[tuple[Examined, UUID, Path]],
    duplicates: dict[UUID, UUID],
) -> set[UUID]:
    fields = [r.fields for r, _, _ in placed]
    ids = [book_id for _, book_id, _ in placed]
    await conn.execute(
        query("importing_insert_books"),
        ids,
        [f.title for f in fields],
        [f.author for f in fields],
        [f.isbn_10 for f in fields],
        [f.isbn_13 for f in fields],
        [f.publisher for f in fields],
        [f.published_year for f in fields],
        [f.language for f in fields],
        [f.description for f in fields],
        [r.cover_path for r, _, _ in placed],
        [f.page_count for f in fields],
        [json.dumps(f.genres) for f in fields],
        [duplicates.get(book_id) for book_id in ids],
    )
    rows = await conn.fetch(
        query("importing_insert_files"),
        ids,
        [r.format for r, _, _ in placed],
        [_original_name(r.source) for r, _, _ in placed],
        [str(path) for _, _, path in placed],
        [r.digest.size for r, _, _ in placed],
        [r.digest.checksum for r, _, _ in placed],
        [r.digest.content_hash for r, _, _ in placed],
    )
    stored = {row["book_id"] for row in rows}
    kept = [(r, book_id) for r, book_id, _ in placed if book_id in stored]
    odd_names = [(book_id, raw_name(r.source)) for r, book_id in kept if raw_name(r.source)]
    if odd_names:
        await conn.execute(
            query("importing_insert_original_names"),
            [book_id for book_id, _ in odd_names],
            [name for _, name in odd_names],
        )
    await conn.execute(
        query("importing_insert_file_candidates"),
        [book_id for _, book_id in kept],
        [json.dumps(r.raw, ensure_ascii=False) for r, _ in kept],
        [r.fields.model_dump_json() for r, _ in kept],
    )
    return stored


def _original_name(source: str) -> str:
    # The name as the person had it (surrogates from undecodable bytes made printable).
    return printable_name(Path(source).name)


def _skip(run: _Run, result: Examined, duplicate_of: UUID | None) -> None:
    item = run.inputs[result.source]
    reason = "exact duplicate (same SHA-256) of a book already in shelver"
    moved_to = None
    if item.in_inbox:
        moved_to = _reject_file(run.home, item.source, reason)
    else:
        Path(result.data_path).unlink(missing_ok=True)  # our copy; the original stays put
    run.report.skipped.append(
        SkippedItem(
            path=result.source,
            duplicate_of=duplicate_of,
            reason=reason,
            moved_to=str(moved_to) if moved_to else None,
        )
    )


def _refuse(
    run: _Run, source: str, reason: str, *, drm: bool = False, keep_in_place: bool = False
) -> None:
    item = run.inputs.get(source)
    moved_to = None
    if item is not None and item.in_inbox and not keep_in_place:
        moved_to = _reject_file(run.home, item.source, reason)
    run.report.refused.append(
        RefusedItem(
            path=source, reason=reason, drm=drm, moved_to=str(moved_to) if moved_to else None
        )
    )


def _reject_file(home: Home, path: Path, reason: str) -> Path | None:
    """Move an inbox-folder file to ``rejected/`` and write why beside it."""
    try:
        if not path.exists() and not path.is_symlink():
            return None
        home.rejected_dir.mkdir(parents=True, exist_ok=True)
        target = move_unique(path, home.rejected_dir, safe_name(path.name))
        note = target.with_name(target.name + ".reason.txt")
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        note.write_text(f"{_original_name(str(path))}\n{stamp}: {reason}\n", encoding="utf-8")
        return target
    except OSError:
        return None  # it stays in the inbox; the report still names it and its reason


@dataclass
class RejectResult:
    """What `reject_inbox_book` did."""

    book_id: UUID
    moved: list[Path]


async def reject_inbox_book(database: Database, home: Home, book_id: UUID) -> RejectResult:
    """The Inbox's delete action: move the book's files to ``rejected/``, then drop its row.

    Files are never deleted. Raises LookupError for an unknown book and ValueError for one
    that has left the inbox.
    """
    home.ensure()
    async with database.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(query("importing_book_for_rejection"), book_id)
        if not rows:
            raise LookupError(f"no book {book_id}")
        if rows[0]["status"] != "inbox":
            raise ValueError(f"book {book_id} is not in the inbox (it is {rows[0]['status']})")
        moved: list[Path] = []
        title = rows[0]["title"] or "untitled"
        for row in rows:
            for column in ("inbox_path", "storage_path"):
                location = row[column]
                if location and Path(location).exists():
                    # Raises on failure: the row then stays and nothing is half-deleted.
                    target = move_unique(Path(location), home.rejected_dir, Path(location).name)
                    stamp = datetime.now(UTC).isoformat(timespec="seconds")
                    target.with_name(target.name + ".reason.txt").write_text(
                        f"{row['original_name']}\n{stamp}: deleted from the Inbox "
                        f"(book {book_id}: {title})\n",
                        encoding="utf-8",
                    )
                    moved.append(target)
        await conn.execute(query("importing_delete_inbox_book"), book_id)
    return RejectResult(book_id=book_id, moved=moved)
