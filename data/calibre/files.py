"""A Calibre book's files on disk: finding them (paths drift), hashing them, and placing them.

A file is ``<library>/<book path>/<name>.<format lowercased>``. When that exact name is not
there (hand edits, sync tools that change case or Unicode normalisation) the book folder is
searched for a name that differs only in case or normalisation. Nothing outside the library
folder is ever read, whatever metadata.db says.

Files are placed without ever overwriting: a copy is written to a staging file on the
library's file system while it is hashed, then hard-linked into its final name; ``--link``
hard-links the Calibre file itself; ``--in-place`` leaves it where it is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from shelver.data.calibre.reader import CalibreBook, CalibreFile
from shelver.data.importing.covers import MAX_COVER_SIZE
from shelver.data.importing.hashing import FileDigest, digest_file, digest_stream
from shelver.data.move_journal import sha256_of
from shelver.data.organize import inside

STAGING_FOLDER = ".calibre-import"
STALE_STAGING_SECONDS = 24 * 3600
COVER_NAME = "cover.jpg"


class Placement(StrEnum):
    """How a Calibre file becomes a shelver file."""

    COPY = "copy"  # copied into shelver's library folder (the default)
    LINK = "link"  # hard-linked into shelver's library folder: no extra space
    IN_PLACE = "in-place"  # used where it is; shelver never moves or changes it


@dataclass
class PreparedFile:
    """A Calibre file found and hashed (and, for COPY, already copied to ``staged``)."""

    calibre: CalibreFile
    source: Path
    original_name: str
    format: str
    digest: FileDigest
    staged: Path | None = None
    note: str | None = None  # e.g. found under a name that differs in case


@dataclass
class FileProblem:
    """A Calibre file that cannot be brought over, and why."""

    path: str
    reason: str


@dataclass
class PreparedBook:
    """One Calibre book's files and cover, ready to be placed and recorded."""

    book: CalibreBook
    files: list[PreparedFile] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    cover: bytes | None = None
    notes: list[str] = field(default_factory=list)

    def discard_staged(self) -> None:
        for prepared in self.files:
            if prepared.staged is not None:
                prepared.staged.unlink(missing_ok=True)
                prepared.staged = None


def _folded(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _unsafe_part(part: str) -> bool:
    return not part or part in (".", "..") or "/" in part or "\\" in part or "\x00" in part


def book_folder(library: Path, relative: str) -> tuple[Path | None, str | None]:
    """The book's folder (searched part by part without regard to case); a note if it drifted."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p]
    if not parts or any(_unsafe_part(p) for p in parts):
        return None, None
    exact = library.joinpath(*parts)
    if exact.is_dir() and inside(library, exact):
        return exact, None
    current = library
    for part in parts:
        wanted = _folded(part)
        try:
            match = next(
                (e for e in os.scandir(current) if e.is_dir() and _folded(e.name) == wanted), None
            )
        except OSError:
            return None, None
        if match is None:
            return None, None
        current = current / match.name
    return current, f"book folder found as {current.relative_to(library)} (metadata.db: {relative})"


def find_file(folder: Path, name: str) -> tuple[Path | None, bool]:
    """``folder/name``, or the one file whose name differs only in case or normalisation.

    The flag says whether the name drifted.
    """
    exact = folder / name
    if exact.is_file():
        return exact, False
    wanted = _folded(name)
    try:
        matches = [e for e in os.scandir(folder) if _folded(e.name) == wanted and e.is_file()]
    except OSError:
        return None, False
    if len(matches) == 1:
        return folder / matches[0].name, True
    return None, False


def prepare_book(
    library: Path, book: CalibreBook, placement: Placement, staging: Path | None
) -> PreparedBook:
    """Find, hash (and for COPY, copy to ``staging``) every file of ``book``; read its cover.

    Blocking file work, run in a worker thread. Never raises for one bad file: each problem is
    recorded with its reason.
    """
    prepared = PreparedBook(book)
    folder, drift = book_folder(library, book.path)
    if drift:
        prepared.notes.append(drift)
    if folder is None:
        where = str(library / book.path) if book.path else "(no path)"
        for item in book.files:
            prepared.problems.append(
                FileProblem(
                    f"{where}/{item.name}.{item.format.lower()}",
                    "the book's folder is missing (or metadata.db names a folder outside the "
                    "library)",
                )
            )
        return prepared
    for item in book.files:
        _prepare_file(prepared, folder, item, placement, staging)
    if book.has_cover:
        cover, _ = find_file(folder, COVER_NAME)
        if cover is None:
            prepared.notes.append("calibre lists a cover, but cover.jpg is not in the folder")
        else:
            try:
                if cover.stat().st_size <= MAX_COVER_SIZE:
                    prepared.cover = cover.read_bytes()
                else:
                    prepared.notes.append("cover.jpg is larger than 16 MiB: not kept")
            except OSError as exc:
                prepared.notes.append(f"cover.jpg cannot be read ({exc.strerror or exc})")
    return prepared


def _prepare_file(
    prepared: PreparedBook,
    folder: Path,
    item: CalibreFile,
    placement: Placement,
    staging: Path | None,
) -> None:
    extension = item.format.lower()
    name = f"{item.name}.{extension}"
    if _unsafe_part(item.name) or not extension.replace("_", "").isalnum():
        prepared.problems.append(
            FileProblem(str(folder / name), "metadata.db gives an unsafe file name")
        )
        return
    source, drifted = find_file(folder, name)
    if source is None:
        prepared.problems.append(FileProblem(str(folder / name), "file not found on disk"))
        return
    note = f"{name} found as {source.name} (the name differs in case)" if drifted else None
    staged = None
    try:
        if placement is Placement.COPY and staging is not None:
            staged = staging / f"{uuid.uuid4().hex}.part"
            with source.open("rb") as reader, staged.open("xb") as writer:
                digest = digest_stream(reader, writer)
                writer.flush()
                os.fsync(writer.fileno())
        else:
            digest = digest_file(source)
    except OSError as exc:
        if staged is not None:
            staged.unlink(missing_ok=True)
        prepared.problems.append(
            FileProblem(str(source), f"cannot read it ({exc.strerror or exc})")
        )
        return
    prepared.files.append(
        PreparedFile(
            calibre=item,
            source=source,
            original_name=source.name,
            format=extension,
            digest=digest,
            staged=staged,
            note=note,
        )
    )


def remove_stale_staging(staging: Path) -> None:
    """Copies left behind by an import that was killed (a day old: no live run owns them)."""
    cutoff = time.time() - STALE_STAGING_SECONDS
    with contextlib.suppress(OSError):
        for entry in staging.glob("*.part"):
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()


def same_file_system(first: Path, second: Path) -> bool:
    return first.stat().st_dev == second.stat().st_dev


def holds_same_bytes(path: Path, digest: FileDigest) -> bool:
    """Is ``path`` a regular file with exactly these bytes (a copy a killed run placed)?"""
    try:
        return (
            path.is_file()
            and not path.is_symlink()
            and path.stat().st_size == digest.size
            and sha256_of(path) == digest.checksum
        )
    except OSError:
        return False


def link_into_place(source: Path, target: Path) -> None:
    """Hard-link ``source`` at ``target`` (FileExistsError when the name is taken)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise OSError(exc.errno, f"cannot hard-link here ({exc.strerror})") from None
        raise
