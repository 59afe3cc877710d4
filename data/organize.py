"""Filing approved books into the library: path templates, safe names, crash-safe moves.

**Paths.** ``Settings.library_template`` (default ``{author}/{title}/{original_name}``) is split
on ``/`` *before* values are put in, so metadata can never add a level. Each part is sanitised:
control characters and ``<>:"/\\|?*`` replaced, Windows reserved names (``CON``, ``COM1``...)
prefixed with ``_``, leading/trailing dots and spaces dropped (so ``..`` cannot survive), and cut
to ``MAX_PART_BYTES`` bytes of UTF-8 at a character boundary, keeping the file's extension.
A name already taken (on disk or by a pending move) gets `` (2)``, `` (3)``...

**Moves** go through the move journal (``data.move_journal``): a book's files and the
database writes that go with them are one crash-safe operation, finished or undone at start-up.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from shelver.data import move_journal
from shelver.data.authors import clean_author
from shelver.data.clean_text import strip_unsafe
from shelver.data.home import Home
from shelver.data.models import BookFields, BookFile
from shelver.data.move_journal import MoveError, PlannedMove, RecoveryReport
from shelver.data.queries import query
from shelver.data.settings import Settings, template_problem

MAX_PART_BYTES = 200
FALLBACKS = {"author": "Unknown Author", "title": "Untitled", "year": "Unknown Year"}
RESERVED_CHARACTERS = re.compile(r'[<>:"/\\|?*]')
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)
}

OrganizeError = MoveError
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
    cleaned = strip_unsafe(cleaned)
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
        "author": clean_author(fields.author) or FALLBACKS["author"],
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
    try:
        template_problem(template)
    except ValueError as exc:
        raise OrganizeError(str(exc)) from None


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


# --- whole books --------------------------------------------------------------------------


def library_root(home: Home, settings: Settings) -> Path:
    return Path(settings.library_dir or home.library_dir)


def rejected_root(home: Home) -> Path:
    return home.rejected_dir


async def move_file(pool: Any, book_file: BookFile, wanted: Path) -> Path:
    """Move one file to ``wanted`` (or a free variant of it), crash-safely; the final path."""
    (placed,) = await move_journal.apply(pool, [PlannedMove(book_file, wanted)])
    return placed


async def movable_files(pool: Any, book_id: UUID) -> list[BookFile]:
    """A book's files that shelver may move: never those used in place (a Calibre library
    brought over with ``import-calibre --in-place``), whatever happens to their book."""
    from shelver.data import books

    pinned = {r["book_file_id"] for r in await pool.fetch(query("in_place_file_ids"), book_id)}
    return [f for f in await books.files_of(pool, book_id) if f.id not in pinned]


async def library_plan(
    pool: Any, home: Home, settings: Settings, book_id: UUID, fields: BookFields
) -> list[PlannedMove]:
    """Where each file of a book goes in the library, filed under ``fields``."""
    root = library_root(home, settings)
    plan = []
    for book_file in await movable_files(pool, book_id):
        relative = relative_path(
            settings.library_template, fields, book_file.original_name, book_file.format
        )
        wanted = root / relative
        if not inside(root, wanted):  # defence in depth; sanitising already prevents it
            raise OrganizeError(f"{relative} would leave the library folder")
        plan.append(PlannedMove(book_file, wanted))
    return plan


async def rejection_plan(pool: Any, home: Home, book_id: UUID, reason: str) -> list[PlannedMove]:
    """Each file of a book to ``rejected/``, with a ``.reason.txt`` beside it."""
    root = rejected_root(home)
    return [
        PlannedMove(f, root / sanitize_filename(f.original_name), sidecar_text=reason)
        for f in await movable_files(pool, book_id)
    ]


async def organize_book(
    pool: Any, home: Home, settings: Settings, book_id: UUID, fields: BookFields
) -> list[Path]:
    """Move every file of a book to its templated place in the library; the new paths."""
    plan = await library_plan(pool, home, settings, book_id, fields)
    return await move_journal.apply(pool, plan)


async def reject_book_files(pool: Any, home: Home, book_id: UUID, reason: str) -> list[Path]:
    """Move every file of a book to ``rejected/`` with a ``.reason.txt`` beside it."""
    plan = await rejection_plan(pool, home, book_id, reason)
    return await move_journal.apply(pool, plan)


async def recover_interrupted_moves(database: Any) -> RecoveryReport:
    """Finish or undo every operation a crash interrupted (see ``data.move_journal``)."""
    return await move_journal.recover(database)


# --- previews (the Settings screen) -------------------------------------------------------

# Shown when the library has fewer books than a preview wants: one of them hostile on purpose.
EXAMPLE_FILES = (
    (BookFields(title="The Left Hand of Darkness", author="Ursula K. Le Guin"), "left-hand.epub"),
    (BookFields(title="../../etc/passwd: CON <aux>?*", author="Mallory / Root"), "../x.pdf"),
    (BookFields(title="Война и мир", author="Лев Толстой", published_year=1869), "voina.fb2"),
)


@dataclass(frozen=True)
class SampleFile:
    fields: BookFields
    original_name: str
    format: str


async def sample_files(db: Any, count: int = 3) -> list[SampleFile]:
    """``count`` files from the library (newest books first), topped up with examples."""
    records = await db.fetch(query("organize_sample_files"), count)
    samples = [
        SampleFile(
            BookFields(
                title=r["title"],
                author=r["author"],
                published_year=r["published_year"],
                language=r["language"],
                publisher=r["publisher"],
                isbn_13=r["isbn_13"],
                isbn_10=r["isbn_10"],
            ),
            r["original_name"],
            r["format"],
        )
        for r in records
    ]
    for fields, name in EXAMPLE_FILES[: max(0, count - len(samples))]:
        samples.append(SampleFile(fields, name, name.rsplit(".", 1)[-1]))
    return samples
