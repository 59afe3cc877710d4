"""Filing approved books into the library: path templates, safe names, crash-safe moves.

**Paths.** ``Settings.library_template`` (default ``{author}/{title}/{original_name}``) is split
on ``/`` *before* values are put in, so metadata can never add a level. Each part is sanitised:
control characters and ``<>:"/\\|?*`` replaced, Windows reserved names (``CON``, ``COM1``...)
prefixed with ``_``, leading/trailing dots and spaces dropped (so ``..`` cannot survive), and cut
to ``MAX_PART_BYTES`` bytes of UTF-8 at a character boundary, keeping the file's extension.
A name already taken (on disk or by a pending move) gets `` (2)``, `` (3)``...

**Moves.** A move is journaled in ``organize_moves`` and committed before the file is touched:

1. ``intent_recorded``: the journal row exists; nothing moved yet.
2. Same filesystem: a hard link at the target (never overwrites), then ``placed``.
   Across filesystems (or where links are refused): the bytes are copied to a hidden temporary
   file next to the target (``copying``), fsynced and their SHA-256 checked (``temp_written``),
   then renamed to the target (``placed``).
3. The source name is unlinked (``source_removed``).
4. ``book_files`` points at the target, ``inbox_path`` is cleared and the journal row deleted,
   in one transaction (``recorded``).

``recover_interrupted_moves`` (run at start-up) looks at every journal row left behind: if the
target holds the right bytes it finishes the move, otherwise it undoes it (the source was never
removed before the target was verified). A running move holds a PostgreSQL session advisory
lock on its row, so recovery in another live process skips it; a killed process's lock ends
with its session. The book's bytes are never rewritten.

Test hook: with ``SHELVER_ORGANIZE_PAUSE_AT=<step>`` the process writes the file named by
``SHELVER_ORGANIZE_PAUSE_FILE`` and freezes at that step (to be killed by a test);
``SHELVER_ORGANIZE_FORCE_COPY=1`` takes the cross-filesystem path.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
import string
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from shelver.data.books import Executor
from shelver.data.home import Home
from shelver.data.models import BookFields, BookFile
from shelver.data.queries import query
from shelver.data.settings import Settings

MAX_PART_BYTES = 200
PAUSE_AT_ENV = "SHELVER_ORGANIZE_PAUSE_AT"
PAUSE_FILE_ENV = "SHELVER_ORGANIZE_PAUSE_FILE"
FORCE_COPY_ENV = "SHELVER_ORGANIZE_FORCE_COPY"
STEPS = ("intent_recorded", "copying", "temp_written", "placed", "source_removed", "recorded")
PLACEHOLDERS = {
    "author", "title", "original_name", "year", "language", "publisher", "isbn", "format",
}  # fmt: skip
FALLBACKS = {"author": "Unknown Author", "title": "Untitled", "year": "Unknown Year"}
RESERVED_CHARACTERS = re.compile(r'[<>:"/\\|?*]')
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)
}
CHUNK = 1 << 20


class OrganizeError(Exception):
    """A book could not be filed; the message is one readable line and nothing was lost."""


# --- names --------------------------------------------------------------------------------


def cut_utf8(value: str, max_bytes: int) -> str:
    """``value`` cut to at most ``max_bytes`` bytes of UTF-8, never inside a character."""
    encoded = value.encode("utf-8")
    if len(encoded) <= max_bytes:
        return value
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def sanitize_part(value: str, *, fallback: str = "_", max_bytes: int = MAX_PART_BYTES) -> str:
    """One safe path component (no separators, no traversal, no reserved name or character)."""
    cleaned = unicodedata.normalize("NFC", value)
    cleaned = CONTROL.sub(" ", cleaned)
    cleaned = RESERVED_CHARACTERS.sub("_", cleaned)
    cleaned = " ".join(cleaned.split())
    cleaned = cleaned.strip(" .")
    stem, extension = _split_extension(cleaned)
    if stem.split(".")[0].strip().upper() in WINDOWS_RESERVED:
        cleaned = "_" + cleaned
        stem = "_" + stem
    if len(cleaned.encode("utf-8")) > max_bytes:
        room = max(1, max_bytes - len(extension.encode("utf-8")))
        cleaned = cut_utf8(stem, room).rstrip(" .") + extension
        cleaned = cut_utf8(cleaned, max_bytes).strip(" .")
    cleaned = cleaned.strip(" .")
    return cleaned or fallback


def sanitize_filename(name: str, *, max_bytes: int = MAX_PART_BYTES) -> str:
    """A safe file name that keeps its extension even when the rest of the name is junk."""
    stem, dot, extension = name.strip().rpartition(".")
    if dot and 0 < len(extension) <= 8 and extension.isalnum():
        extension = "." + extension
    else:  # no extension worth keeping
        stem, extension = name, ""
    stem = sanitize_part(stem, max_bytes=max_bytes - len(extension.encode("utf-8")))
    return stem + extension


def _split_extension(name: str) -> tuple[str, str]:
    """("stem", ".ext") when the name ends in a short extension, else (name, "")."""
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= 8 and extension.isalnum():
        return stem, "." + extension
    return name, ""


def template_values(fields: BookFields, original_name: str, file_format: str) -> dict[str, str]:
    """What each placeholder of a template stands for (sanitised later, part by part)."""
    return {
        "author": fields.author or FALLBACKS["author"],
        "title": fields.title or FALLBACKS["title"],
        "original_name": original_name,
        "year": str(fields.published_year) if fields.published_year else FALLBACKS["year"],
        "language": fields.language or "und",
        "publisher": fields.publisher or "Unknown Publisher",
        "isbn": fields.isbn_13 or fields.isbn_10 or "no-isbn",
        "format": file_format or "file",
    }


def check_template(template: str) -> None:
    """Raise ``OrganizeError`` for a template shelver cannot fill."""
    if not template.strip() or template.startswith("/"):
        raise OrganizeError("library_template must be a relative path such as {author}/{title}")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise OrganizeError(f"library_template is malformed: {exc}") from None
    unknown = names - PLACEHOLDERS
    if unknown or "" in names:
        raise OrganizeError(
            f"library_template uses unknown placeholder(s) {sorted(unknown) or ['{}']}; "
            f"known: {', '.join(sorted(PLACEHOLDERS))}"
        )


def relative_path(
    template: str, fields: BookFields, original_name: str, file_format: str = ""
) -> Path:
    """The file's place inside the library, every part sanitised; keeps the file's extension."""
    check_template(template)
    values = template_values(fields, original_name, file_format)
    raw_parts = [p for p in template.split("/") if p.strip()]
    parts: list[str] = []
    for index, raw in enumerate(raw_parts):
        filled = raw.format_map(values)
        is_name = index == len(raw_parts) - 1
        parts.append(
            sanitize_filename(filled) if is_name else sanitize_part(filled, fallback="Unknown")
        )
    _, extension = _split_extension(sanitize_filename(original_name))
    if extension and not parts[-1].lower().endswith(extension.lower()):
        stem = cut_utf8(parts[-1], MAX_PART_BYTES - len(extension.encode())).rstrip(" .")
        parts[-1] = (stem or "_") + extension
    return Path(*parts)


def inside(root: Path, candidate: Path) -> bool:
    """Is ``candidate`` (absolute, not resolved) within ``root``?"""
    root_text = os.path.normpath(os.path.abspath(root))
    path_text = os.path.normpath(os.path.abspath(candidate))
    return os.path.commonpath([root_text, path_text]) == root_text and path_text != root_text


def with_counter(name: str, counter: int) -> str:
    """``name (2).ext``, still within the byte limit."""
    stem, extension = _split_extension(name)
    suffix = f" ({counter}){extension}"
    return cut_utf8(stem, MAX_PART_BYTES - len(suffix.encode())).rstrip(" .") + suffix


async def free_target(db: Executor, wanted: Path, source: Path | None = None) -> Path:
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
    raise OrganizeError(f"no free name for {wanted.name} in {wanted.parent}")


# --- the move -----------------------------------------------------------------------------


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


def _fsync_dir(path: Path) -> None:
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
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
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


def _place(source: Path, target: Path, temp: Path, sha256: str) -> None:
    """Steps 2 and 3 of a move (blocking file work; run in a thread)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    linked = False
    if not os.environ.get(FORCE_COPY_ENV):
        try:
            os.link(source, target)
            linked = True
        except FileExistsError:
            raise OrganizeError(f"{target} appeared while filing; nothing was moved") from None
        except OSError as exc:
            if exc.errno not in (
                errno.EXDEV,
                errno.EPERM,
                errno.ENOTSUP,
                errno.EMLINK,
                errno.EACCES,
            ):
                raise
    if not linked:
        copied = _copy_to_temp(source, temp)
        if copied != sha256 or sha256_of(temp) != sha256:
            temp.unlink(missing_ok=True)
            raise OrganizeError(
                f"{source.name}: the copy does not match the file's SHA-256; nothing was moved"
            )
        checkpoint("temp_written")
        if os.path.lexists(target):
            temp.unlink(missing_ok=True)
            raise OrganizeError(f"{target} appeared while filing; nothing was moved")
        os.rename(temp, target)
    _fsync_dir(target.parent)
    checkpoint("placed")
    os.unlink(source)
    _fsync_dir(source.parent)
    checkpoint("source_removed")


@dataclass(frozen=True)
class PendingMove:
    """A row of ``organize_moves``."""

    id: UUID
    book_file_id: UUID
    source_path: str
    target_path: str
    temp_path: str
    sha256: str
    file_size: int

    @classmethod
    def from_record(cls, record: Any) -> PendingMove:
        return cls(**{k: record[k] for k in cls.__dataclass_fields__})


async def move_file(pool: Any, book_file: BookFile, wanted: Path) -> Path:
    """Move one file to ``wanted`` (or a free variant of it), crash-safely; the final path.

    The file is looked for at ``inbox_path``, else ``storage_path``. Raises ``OrganizeError``
    (with the file untouched where it was) when it cannot be moved.
    """
    current = book_file.inbox_path or book_file.storage_path
    if not current:
        raise OrganizeError(f"{book_file.original_name}: the file has no known location")
    source = Path(current)
    if not source.is_file():
        raise OrganizeError(f"{book_file.original_name}: not found at {source}")
    target = await free_target(pool, wanted, source)
    if target == source:
        if book_file.inbox_path:
            await pool.execute(query("organize_point_file_at"), book_file.id, str(target))
        return target
    checksum = book_file.checksum or ""
    if not re.fullmatch(r"[0-9a-f]{64}", checksum):
        checksum = await asyncio.to_thread(sha256_of, source)
    temp = target.parent / f".shelver-{uuid.uuid4().hex[:16]}.part"
    move_id = uuid.uuid4()
    async with pool.acquire() as conn:
        # The lock comes before the journal row, so no recovery can see the row unlocked.
        await conn.execute(query("organize_lock_move"), move_id)
        try:
            record = await conn.fetchrow(
                query("organize_record_move"),
                book_file.id,
                str(source),
                str(target),
                str(temp),
                checksum,
                book_file.file_size,
                move_id,
            )
            move = PendingMove.from_record(record)
            checkpoint("intent_recorded")
            return await _carry_out(conn, move, book_file, source, target, temp)
        finally:
            await conn.execute(query("organize_unlock_move"), move_id)


async def _carry_out(
    conn: Any, move: PendingMove, book_file: BookFile, source: Path, target: Path, temp: Path
) -> Path:
    try:
        await asyncio.to_thread(_place, source, target, temp, move.sha256)
    except OrganizeError:
        # Refused before anything was placed (the source is untouched): forget the intent.
        await conn.execute(query("organize_forget_move"), move.id)
        raise
    except OSError as exc:
        # Failed half-way: finish or undo exactly as start-up recovery would.
        if await _settle(conn, move) == "finished":
            return target
        raise OrganizeError(
            f"{book_file.original_name}: cannot move it ({exc.strerror or exc})"
        ) from None
    await _finish(conn, move)
    checkpoint("recorded")
    return target


async def _finish(conn: Any, move: PendingMove) -> None:
    async with conn.transaction():
        await conn.execute(query("organize_point_file_at"), move.book_file_id, move.target_path)
        await conn.execute(query("organize_forget_move"), move.id)


def _has_bytes(path: Path, move: PendingMove) -> bool:
    try:
        if not path.is_file():
            return False
        if move.file_size and path.stat().st_size != move.file_size:
            return False
        return sha256_of(path) == move.sha256
    except OSError:
        return False


def _resolve_on_disk(move: PendingMove) -> str:
    """Finish or undo one move on disk: "finished", "undone" or "stuck" (nothing touched)."""
    source, target, temp = Path(move.source_path), Path(move.target_path), Path(move.temp_path)
    if _has_bytes(target, move):
        if os.path.lexists(source) and _has_bytes(source, move):
            os.unlink(source)
            _fsync_dir(source.parent)
        if temp.exists():
            temp.unlink()
        return "finished"
    if os.path.lexists(source) and _has_bytes(source, move):
        if temp.exists():
            temp.unlink()  # a partial or unverified copy; the source is intact
        return "undone"
    if _has_bytes(temp, move) and not os.path.lexists(target):
        os.rename(temp, target)
        _fsync_dir(target.parent)
        return "finished"
    return "stuck"


async def _settle(conn: Any, move: PendingMove) -> str:
    """Bring one journaled move to an end, on disk and in the database."""
    outcome = await asyncio.to_thread(_resolve_on_disk, move)
    if outcome == "finished":
        await _finish(conn, move)
    elif outcome == "undone":
        await conn.execute(query("organize_forget_move"), move.id)
    return outcome


@dataclass
class RecoveryReport:
    """What start-up recovery did."""

    finished: int = 0
    undone: int = 0
    in_progress: int = 0
    """Moves another live process is carrying out (left alone)."""
    stuck: list[str] | None = None
    """Moves whose bytes were found nowhere (kept in the journal, reported)."""


async def recover_interrupted_moves(database: Any) -> RecoveryReport:
    """Finish or undo every move a crash interrupted. Safe to run any time, repeatedly."""
    pool = getattr(database, "pool", database)
    report = RecoveryReport(stuck=[])
    for record in await pool.fetch(query("organize_pending_moves")):
        move = PendingMove.from_record(record)
        async with pool.acquire() as conn:
            if not await conn.fetchval(query("organize_try_lock_move"), move.id):
                report.in_progress += 1  # another process is moving it right now
                continue
            try:
                outcome = await _settle(conn, move)
            finally:
                await conn.execute(query("organize_unlock_move"), move.id)
        if outcome == "finished":
            report.finished += 1
        elif outcome == "undone":
            report.undone += 1
        else:
            report.stuck.append(f"{move.source_path} -> {move.target_path}")
    return report


# --- whole books --------------------------------------------------------------------------


def library_root(home: Home, settings: Settings) -> Path:
    return Path(settings.library_dir or home.library_dir)


def rejected_root(home: Home) -> Path:
    return home.rejected_dir


async def organize_book(
    pool: Any, home: Home, settings: Settings, book_id: UUID, fields: BookFields
) -> list[Path]:
    """Move every file of a book to its templated place in the library; the new paths."""
    from shelver.data import books

    root = library_root(home, settings)
    placed = []
    for book_file in await books.files_of(pool, book_id):
        relative = relative_path(
            settings.library_template, fields, book_file.original_name, book_file.format
        )
        wanted = root / relative
        if not inside(root, wanted):  # defence in depth; sanitising already prevents it
            raise OrganizeError(f"{relative} would leave the library folder")
        placed.append(await move_file(pool, book_file, wanted))
    return placed


async def reject_book_files(pool: Any, home: Home, book_id: UUID, reason: str) -> list[Path]:
    """Move every file of a book to ``rejected/`` with a ``.reason.txt`` beside it."""
    from shelver.data import books

    root = rejected_root(home)
    moved = []
    for book_file in await books.files_of(pool, book_id):
        wanted = root / sanitize_filename(book_file.original_name)
        target = await move_file(pool, book_file, wanted)
        reason_file = target.with_name(target.name + ".reason.txt")
        await asyncio.to_thread(reason_file.write_text, reason + "\n", "utf-8")
        moved.append(target)
    return moved
