"""The per-file work of an import, run in a worker process: copy + hash, detect, read, cover.

Everything here is picklable in and out and touches no database, so it runs in a process pool.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shelver.data.importing.covers import save_cover
from shelver.data.importing.errors import Refused
from shelver.data.importing.formats import detect_format
from shelver.data.importing.hashing import FileDigest, digest_stream
from shelver.data.importing.raw import RawMetadata
from shelver.data.models import BookFields

STILL_WRITTEN = (
    "still being written (its size or modification time changed while shelver read it); "
    "import it again once it is complete"
)
STILL_OPEN = (
    "still being written (another program has it open for writing); "
    "import it again once it is complete"
)


@dataclass(frozen=True)
class ExamineTask:
    """One file to examine; ``staging`` is where to copy its bytes (None: read in place)."""

    source: str
    staging: str | None
    covers_dir: str


@dataclass
class Examined:
    """A readable book file, its bytes now at ``data_path``."""

    source: str
    data_path: str
    digest: FileDigest
    format: str
    fields: BookFields
    raw: dict[str, Any]
    cover_path: str | None
    hash_seconds: float = 0.0
    parse_seconds: float = 0.0
    source_signature: tuple[int, int] = (0, 0)
    """(size, mtime in ns) of the source as it was read: ``--move`` removes it only if it is
    still exactly that."""


@dataclass
class Unreadable:
    """A refused file; its copy (if any) is already removed."""

    source: str
    reason: str
    drm: bool = False
    hash_seconds: float = 0.0
    parse_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _readers() -> dict[str, Callable[[Path], RawMetadata]]:
    from shelver.data.importing.cbz import read_cbz
    from shelver.data.importing.epub import read_epub
    from shelver.data.importing.fb2 import read_fb2
    from shelver.data.importing.mobi import read_mobi
    from shelver.data.importing.pdf import read_pdf

    return {
        "epub": read_epub,
        "pdf": read_pdf,
        "fb2": read_fb2,
        "cbz": read_cbz,
        "mobi": read_mobi,
        "azw3": read_mobi,
    }


def _hash(task: ExamineTask) -> tuple[FileDigest, tuple[int, int]]:
    """Hash the source, copying it to the staging path in the same pass when asked."""
    try:
        info = os.lstat(task.source)
    except FileNotFoundError:
        raise Refused("no such file") from None
    except OSError as exc:
        raise Refused(f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        raise Refused("symbolic link: not followed (import the file it points to instead)")
    if not stat.S_ISREG(info.st_mode):
        raise Refused("not a regular file")
    if info.st_size == 0:
        raise Refused("empty file (0 bytes)")
    try:
        # O_NOFOLLOW: a file swapped for a link after the check above is still refused.
        descriptor = os.open(task.source, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise Refused(f"cannot read: {exc.strerror or exc}") from None
    with os.fdopen(descriptor, "rb") as source:
        before = os.fstat(descriptor)
        if task.staging is None:
            digest = digest_stream(source)
        else:
            try:
                with open(task.staging, "xb") as sink:
                    digest = digest_stream(source, sink)
            except OSError as exc:
                Path(task.staging).unlink(missing_ok=True)
                raise Refused(f"cannot read or copy: {exc.strerror or exc}") from None
        after = os.fstat(descriptor)
    read = (before.st_size, before.st_mtime_ns)
    if read != (after.st_size, after.st_mtime_ns) or digest.size != after.st_size:
        if task.staging:
            Path(task.staging).unlink(missing_ok=True)
        raise Refused(STILL_WRITTEN)
    return digest, read


def examine(task: ExamineTask) -> Examined | Unreadable:
    """Examine one file; never raises for a bad file, only reports it."""
    from shelver.data.importing.normalize import normalize, raw_document

    started = time.perf_counter()
    hashed = started
    try:
        digest, source_signature = _hash(task)
        hashed = time.perf_counter()
        data_path = Path(task.staging or task.source)
        fmt = detect_format(data_path)
        try:
            raw = _readers()[fmt](data_path)
        except Refused:
            raise
        except (MemoryError, RecursionError) as exc:
            raise Refused(f"unreadable {fmt.upper()}: {type(exc).__name__}") from None
        except Exception as exc:
            message = str(exc).splitlines()[0][:200] if str(exc) else ""
            reason = f"unreadable {fmt.upper()}: {type(exc).__name__} {message}".strip()
            raise Refused(reason) from None
        fields = normalize(raw)
        cover = save_cover(Path(task.covers_dir), digest.checksum, raw.cover)
        return Examined(
            source=task.source,
            data_path=str(data_path),
            digest=digest,
            format=fmt,
            fields=fields,
            raw=raw_document(raw),
            cover_path=str(cover) if cover else None,
            hash_seconds=hashed - started,
            parse_seconds=time.perf_counter() - hashed,
            source_signature=source_signature,
        )
    except Refused as refusal:
        if task.staging:
            Path(task.staging).unlink(missing_ok=True)
        return Unreadable(
            source=task.source,
            reason=refusal.reason,
            drm=refusal.drm,
            hash_seconds=hashed - started,
            parse_seconds=time.perf_counter() - hashed,
        )
    except Exception as exc:  # a bug must not stop the batch either
        if task.staging:
            Path(task.staging).unlink(missing_ok=True)
        return Unreadable(source=task.source, reason=f"unexpected error: {type(exc).__name__}")
