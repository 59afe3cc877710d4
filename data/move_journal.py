"""The move journal: file moves and the database writes they imply, done as one transaction.

One entry point, ``apply``: it takes a list of ``PlannedMove`` (a book file and where it should
end up) and, optionally, a *finisher*: a function that writes the database once the files are in
place, called with a JSON ``payload`` stored in the journal up front. Reject, undo, approve and
"move on edit" are all one call::

    await move_journal.apply(pool, [PlannedMove(file, target)], finisher=finish_x, payload={...})

where ``finish_x`` is ``async def finish_x(conn, payload) -> None`` decorated with
``@move_journal.finisher``. It must read its input from ``payload`` only, because start-up
recovery may call it in another process after a crash.

**Steps** (each a crash point that ``recover`` handles; names used by the test hook):

1. ``intent_recorded``: one transaction stores the operation (finisher, payload) and a row per
   file (source, target, temporary name, SHA-256, size). Nothing on disk has changed.
2. Each file is placed at its target without touching the source: a hard link where possible,
   else a copy to a hidden temporary file (``copying``), fsynced and checked against the SHA-256
   (``temp_written``), renamed onto the free target (``placed``). A ``sidecar_text`` (e.g. a
   rejection reason) is written beside the target as ``<name>.reason.txt``.
3. ``committed``: the operation is marked committed. From here on it only goes forward.
4. The sources are unlinked (``source_removed``).
5. One transaction points ``book_files`` at the targets, runs the finisher and deletes the
   journal rows (``recorded``).

**Recovery** (``recover``, run at every start): an operation not yet committed, whose sources
all still hold their bytes, is rolled back (placed copies, temporaries and sidecars removed, rows
deleted; the database was never changed). Otherwise it is rolled forward: every file is brought
to its target (from the target, the verified temporary or the source), sources are removed and
step 5 runs. A live operation holds a session advisory lock, so recovery in another process
leaves it alone. The book's bytes are never rewritten or lost; an operation whose bytes are found
nowhere stays in the journal and is reported as stuck.

Test hooks: ``SHELVER_ORGANIZE_PAUSE_AT=<step>`` freezes the process at that step after writing
the file named by ``SHELVER_ORGANIZE_PAUSE_FILE`` (a test then kills it with SIGKILL);
``SHELVER_ORGANIZE_FORCE_COPY=1`` takes the copy path even on one filesystem.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import importlib
import json
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from shelver.data.models import BookFile
from shelver.data.queries import query

PAUSE_AT_ENV = "SHELVER_ORGANIZE_PAUSE_AT"
PAUSE_FILE_ENV = "SHELVER_ORGANIZE_PAUSE_FILE"
FORCE_COPY_ENV = "SHELVER_ORGANIZE_FORCE_COPY"
STEPS = (
    "intent_recorded",
    "copying",
    "temp_written",
    "placed",
    "committed",
    "source_removed",
    "recorded",
)
SIDECAR_SUFFIX = ".reason.txt"
CHUNK = 1 << 20
TEMP_PREFIX = ".shelver-"
TEMP_SUFFIX = ".part"

Finisher = Callable[[Any, dict[str, Any]], Awaitable[None]]
_FINISHERS: dict[str, Finisher] = {}


class MoveError(Exception):
    """A move could not be done; one readable line, and every file is where it was."""


def finisher(function: Finisher) -> Finisher:
    """Register ``function`` so recovery in a later process can find it by name."""
    _FINISHERS[_finisher_name(function)] = function
    return function


def _finisher_name(function: Finisher) -> str:
    return f"{function.__module__}:{function.__qualname__}"


def _find_finisher(name: str) -> Finisher | None:
    if name not in _FINISHERS:
        module = name.partition(":")[0]
        if module.startswith("shelver.data."):  # only our own data layer, never a stored path
            try:
                importlib.import_module(module)
            except ImportError:
                return None
    return _FINISHERS.get(name)


# --- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedMove:
    """One file and where it should be once the operation is done.

    ``lands_in`` says which column points at it afterwards: ``storage`` (library, rejected)
    sets ``storage_path`` and clears ``inbox_path``; ``inbox`` the other way round. The target
    is wanted, not final: a taken name gets `` (2)``, `` (3)``... ``sidecar_text`` is written
    beside the target as ``<name>.reason.txt``.
    """

    book_file: BookFile
    target: Path
    lands_in: Literal["storage", "inbox"] = "storage"
    sidecar_text: str | None = None


@dataclass(frozen=True)
class JournaledMove:
    """A row of ``organize_moves``."""

    id: UUID
    operation_id: UUID
    book_file_id: UUID
    source_path: str
    target_path: str
    temp_path: str
    sha256: str
    file_size: int
    lands_in: str
    sidecar_text: str | None

    @classmethod
    def from_record(cls, record: Any) -> JournaledMove:
        return cls(**{k: record[k] for k in cls.__dataclass_fields__})

    @property
    def source(self) -> Path:
        return Path(self.source_path)

    @property
    def target(self) -> Path:
        return Path(self.target_path)

    @property
    def temp(self) -> Path:
        return Path(self.temp_path)

    @property
    def sidecar(self) -> Path:
        return self.target.with_name(self.target.name + SIDECAR_SUFFIX)

    @property
    def in_place(self) -> bool:
        """The file already is at its target (only the database changes)."""
        return self.source_path == self.target_path


def with_counter(name: str, counter: int, max_bytes: int = 200) -> str:
    """``name (2).ext``, still within ``max_bytes`` bytes of UTF-8."""
    stem, dot, extension = name.rpartition(".")
    if not (dot and stem and 0 < len(extension) <= 8 and extension.isalnum()):
        stem, extension = name, ""
    else:
        extension = "." + extension
    suffix = f" ({counter}){extension}"
    room = max_bytes - len(suffix.encode())
    cut = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return cut.rstrip(" .") + suffix


async def free_target(db: Any, wanted: Path, source: Path | None = None) -> Path:
    """``wanted``, or ``wanted (2)``... when the name is taken on disk or by a pending move."""
    for counter in range(1, 10_000):
        candidate = wanted if counter == 1 else wanted.with_name(with_counter(wanted.name, counter))
        if source is not None and candidate == source:
            return candidate
        taken = os.path.lexists(candidate) or await db.fetchval(
            query("organize_path_claimed"), str(candidate)
        )
        if not taken:
            return candidate
    raise MoveError(f"no free name for {wanted.name} in {wanted.parent}")


def check_storable(value: Any, where: str = "value") -> None:
    """Raise ``MoveError`` when ``value`` holds text PostgreSQL cannot store (NUL, surrogates)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise MoveError(f"{where} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MoveError(f"{where} contains text that is not valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(str(key), where)
            check_storable(item, f"{where}.{key}" if where != "value" else str(key))
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_storable(item, where)


# --- the operation ------------------------------------------------------------------------


async def apply(
    pool: Any,
    moves: list[PlannedMove],
    *,
    finisher: Finisher | None = None,
    payload: dict[str, Any] | None = None,
) -> list[Path]:
    """Move the files and run ``finisher(conn, payload)`` as one crash-safe transaction.

    Returns the final path of each file, in order. Raises ``MoveError`` (one line) when it
    cannot be done; then nothing changed, on disk or in the database.
    """
    payload = payload or {}
    check_storable(payload)
    if finisher is not None and _finisher_name(finisher) not in _FINISHERS:
        raise MoveError(f"{_finisher_name(finisher)} is not registered with @finisher")
    try:
        encoded_payload = json.dumps(payload, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise MoveError(f"the payload cannot be stored: {exc}") from None
    operation_id = uuid.uuid4()
    async with pool.acquire() as conn:
        # The lock comes before the journal rows, so no recovery can see them unlocked.
        await conn.execute(query("organize_lock_move"), operation_id)
        try:
            rows = await _record_intent(conn, operation_id, moves, finisher, encoded_payload)
            checkpoint("intent_recorded")
            await _place_all(conn, operation_id, rows)
            await conn.execute(query("organize_commit_operation"), operation_id)
            checkpoint("committed")
            await asyncio.to_thread(_remove_sources, rows)
            await _finish(conn, operation_id, rows, finisher, payload)
            checkpoint("recorded")
        finally:
            await conn.execute(query("organize_unlock_move"), operation_id)
    return [row.target for row in rows]


async def _record_intent(
    conn: Any,
    operation_id: UUID,
    moves: list[PlannedMove],
    finisher: Finisher | None,
    encoded_payload: str,
) -> list[JournaledMove]:
    planned: list[tuple[PlannedMove, Path, Path, str]] = []
    claimed: set[Path] = set()
    for move in moves:
        book_file = move.book_file
        current = book_file.inbox_path or book_file.storage_path
        if not current:
            raise MoveError(f"{book_file.original_name}: the file has no known location")
        source = Path(current)
        if not source.is_file():
            raise MoveError(f"{book_file.original_name}: not found at {source}")
        target = await free_target(conn, move.target, source)
        while target in claimed and target != source:  # two files of one plan, one name
            target = await free_target(
                conn, target.with_name(with_counter(target.name, len(claimed) + 1)), source
            )
        claimed.add(target)
        checksum = book_file.checksum or ""
        if not re.fullmatch(r"[0-9a-f]{64}", checksum):
            checksum = await asyncio.to_thread(sha256_of, source)
        planned.append((move, source, target, checksum))
    rows = []
    async with conn.transaction():
        await conn.execute(
            query("organize_record_operation"),
            operation_id,
            _finisher_name(finisher) if finisher else None,
            encoded_payload,
        )
        for move, source, target, checksum in planned:
            temp = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex[:16]}{TEMP_SUFFIX}"
            record = await conn.fetchrow(
                query("organize_record_move"),
                move.book_file.id,
                str(source),
                str(target),
                str(temp),
                checksum,
                move.book_file.file_size,
                uuid.uuid4(),
                operation_id,
                move.lands_in,
                move.sidecar_text,
            )
            rows.append(JournaledMove.from_record(record))
    return rows


async def _place_all(conn: Any, operation_id: UUID, rows: list[JournaledMove]) -> None:
    """Step 2 for every file; on failure everything placed so far is rolled back."""
    try:
        for row in rows:
            await asyncio.to_thread(_place, row)
    except (MoveError, OSError) as exc:
        await asyncio.to_thread(_roll_back_on_disk, rows)
        await conn.execute(query("organize_forget_operation"), operation_id)
        if isinstance(exc, MoveError):
            raise
        raise MoveError(f"cannot move {row.source.name}: {exc.strerror or exc}") from None


async def _finish(
    conn: Any,
    operation_id: UUID,
    rows: list[JournaledMove],
    finisher: Finisher | None,
    payload: dict[str, Any],
) -> None:
    async with conn.transaction():
        for row in rows:
            name = "organize_point_file_at" if row.lands_in == "storage" else "organize_point_inbox"
            await conn.execute(query(name), row.book_file_id, row.target_path)
        if finisher is not None:
            await finisher(conn, payload)
        await conn.execute(query("organize_forget_operation"), operation_id)


# --- disk work (blocking; run in a thread) --------------------------------------------------


def checkpoint(step: str) -> None:
    """Test hook: freeze here when ``SHELVER_ORGANIZE_PAUSE_AT`` names this step."""
    if os.environ.get(PAUSE_AT_ENV) != step:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(step, encoding="utf-8")
    while True:  # the test kills us (SIGKILL) here
        time.sleep(3600)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the file itself was synced
    finally:
        os.close(fd)


def _copy_to_temp(source: Path, temp: Path) -> str:
    """Copy ``source`` to a new ``temp``, fsync it; the SHA-256 of the bytes read."""
    digest = hashlib.sha256()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with open(source, "rb") as reader, os.fdopen(fd, "wb", closefd=False) as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                writer.flush()
                checkpoint("copying")  # a kill here leaves a partial temporary file
            writer.flush()
            os.fsync(fd)
    finally:
        os.close(fd)
    return digest.hexdigest()


LINK_REFUSED = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EACCES)


def _place(row: JournaledMove) -> None:
    """Put the file at its target without touching the source."""
    if row.in_place:
        return
    source, target, temp = row.source, row.target, row.temp
    target.parent.mkdir(parents=True, exist_ok=True)
    linked = False
    if not os.environ.get(FORCE_COPY_ENV):
        try:
            os.link(source, target)
            linked = True
        except FileExistsError:
            raise MoveError(f"{target} appeared while filing; nothing was moved") from None
        except OSError as exc:
            if exc.errno not in LINK_REFUSED:
                raise
    if not linked:
        copied = _copy_to_temp(source, temp)
        if copied != row.sha256 or sha256_of(temp) != row.sha256:
            temp.unlink(missing_ok=True)
            raise MoveError(
                f"{source.name}: the copy does not match the file's SHA-256; nothing was moved"
            )
        checkpoint("temp_written")
        _rename_without_replacing(temp, target)
    fsync_dir(target.parent)
    _write_sidecar(row)
    checkpoint("placed")


def _rename_without_replacing(temp: Path, target: Path) -> None:
    try:
        os.link(temp, target)  # fails if the target exists, unlike rename
    except FileExistsError:
        temp.unlink(missing_ok=True)
        raise MoveError(f"{target} appeared while filing; nothing was moved") from None
    except OSError as exc:
        if exc.errno not in LINK_REFUSED:
            raise
        if os.path.lexists(target):
            temp.unlink(missing_ok=True)
            raise MoveError(f"{target} appeared while filing; nothing was moved") from None
        os.rename(temp, target)
        return
    os.unlink(temp)


def _write_sidecar(row: JournaledMove) -> None:
    if row.sidecar_text is None:
        return
    sidecar = row.sidecar
    sidecar.write_text(row.sidecar_text.rstrip("\n") + "\n", encoding="utf-8")


def _remove_sources(rows: list[JournaledMove]) -> None:
    for row in rows:
        if row.in_place:
            continue
        row.source.unlink(missing_ok=True)
        fsync_dir(row.source.parent)
    checkpoint("source_removed")


def _has_bytes(path: Path, row: JournaledMove) -> bool:
    try:
        if path.is_symlink() or not path.is_file():
            return False
        if row.file_size and path.stat().st_size != row.file_size:
            return False
        return sha256_of(path) == row.sha256
    except OSError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _roll_back_on_disk(rows: list[JournaledMove]) -> None:
    """Remove what an uncommitted operation placed; every source is intact."""
    for row in rows:
        if row.in_place:
            continue
        row.temp.unlink(missing_ok=True)
        if _same_file(row.source, row.target) or _has_bytes(row.target, row):
            row.target.unlink(missing_ok=True)
            row.sidecar.unlink(missing_ok=True)


def _roll_forward_on_disk(row: JournaledMove) -> bool:
    """Bring one file to its target; False when its bytes are found nowhere."""
    if row.in_place:
        return _has_bytes(row.target, row)
    if not _has_bytes(row.target, row):
        if os.path.lexists(row.target):
            return False  # something else sits at the target: leave it to a person
        if _has_bytes(row.temp, row):
            os.rename(row.temp, row.target)
        elif _has_bytes(row.source, row):
            row.temp.unlink(missing_ok=True)
            _place(row)
        else:
            return False
        fsync_dir(row.target.parent)
    row.temp.unlink(missing_ok=True)
    if not row.sidecar.exists():
        _write_sidecar(row)
    # The source goes when it is the other name of our hard link or an intact copy; a
    # different file that appeared there since is left alone.
    if os.path.lexists(row.source) and (
        _same_file(row.source, row.target) or _has_bytes(row.source, row)
    ):
        os.unlink(row.source)
        fsync_dir(row.source.parent)
    return True


# --- recovery -----------------------------------------------------------------------------


@dataclass
class RecoveryReport:
    """What start-up recovery did."""

    finished: int = 0
    """Operations rolled forward."""
    undone: int = 0
    """Operations rolled back."""
    in_progress: int = 0
    """Operations another live process is carrying out (left alone)."""
    stuck: list[str] = field(default_factory=list)
    """Operations that could not be settled (kept in the journal, reported)."""


async def recover(database: Any) -> RecoveryReport:
    """Roll every operation a crash interrupted forward or back. Safe to run any time."""
    pool = getattr(database, "pool", database)
    report = RecoveryReport()
    for operation in await pool.fetch(query("organize_pending_operations")):
        operation_id = operation["id"]
        async with pool.acquire() as conn:
            if not await conn.fetchval(query("organize_try_lock_move"), operation_id):
                report.in_progress += 1  # another process is carrying it out right now
                continue
            try:
                outcome = await _settle(conn, operation)
            finally:
                await conn.execute(query("organize_unlock_move"), operation_id)
        if outcome == "finished":
            report.finished += 1
        elif outcome == "undone":
            report.undone += 1
        else:
            report.stuck.append(outcome)
    return report


async def _settle(conn: Any, operation: Any) -> str:
    operation_id = operation["id"]
    rows = [
        JournaledMove.from_record(r)
        for r in await conn.fetch(query("organize_moves_of_operation"), operation_id)
    ]
    sources_intact = await asyncio.to_thread(
        lambda: all(r.in_place or _has_bytes(r.source, r) for r in rows)
    )
    if not operation["committed"] and sources_intact:
        await asyncio.to_thread(_roll_back_on_disk, rows)
        await conn.execute(query("organize_forget_operation"), operation_id)
        return "undone"
    finisher_name = operation["finisher"]
    function = _find_finisher(finisher_name) if finisher_name else None
    if finisher_name and function is None:
        return f"operation {operation_id}: unknown finisher {finisher_name}"
    for row in rows:
        try:
            settled = await asyncio.to_thread(_roll_forward_on_disk, row)
        except (OSError, MoveError) as exc:
            return f"{row.source_path} -> {row.target_path}: {exc}"
        if not settled:
            return f"{row.source_path} -> {row.target_path}: the file's bytes were found nowhere"
    payload = operation["payload"]
    if isinstance(payload, str):
        payload = json.loads(payload)
    await _finish(conn, operation_id, rows, function, payload or {})
    return "finished"
