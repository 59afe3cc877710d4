"""Safe, unique file names in the inbox and rejected folders."""

from __future__ import annotations

import errno
import os
import re
import unicodedata
from pathlib import Path, PurePosixPath

from shelver.data.importing.formats import EXTENSIONS, fits_extension
from shelver.data.importing.text import strip_unsafe

NAME_MAX_BYTES = 200  # well under the usual 255-byte limit, leaving room for " (12)"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def printable_name(name: str) -> str:
    """A file name as text PostgreSQL can hold (undecodable bytes made printable)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def safe_name(original: str, fmt: str | None = None) -> str:
    """A name that is harmless in a shell and on any file system: no control characters or
    newlines, no leading dash or dot, bounded length, and an extension matching ``fmt``."""
    # Bytes that were not UTF-8 (surrogate escapes from the file system) become "_".
    name = printable_name(original).replace("\ufffd", "_")
    name = unicodedata.normalize("NFC", strip_unsafe(name, "_"))
    name = _UNSAFE.sub("_", name).strip()
    name = name.lstrip("-. ") or "book"
    stem, suffix = _split(name)
    if fmt is not None and not fits_extension(fmt, name):
        suffix = "." + EXTENSIONS[fmt][0]
    stem = _truncate(stem or "book", NAME_MAX_BYTES - len(suffix.encode()))
    return stem + suffix


def printable(path: str) -> str:
    """A path as text that can be printed and stored: bytes that are not UTF-8 (surrogate
    escapes) are shown as ``\\xNN``. ``raw_name`` gets the bytes back."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def raw_name(path: str) -> bytes | None:
    """The exact bytes of the last part of ``path`` when they are not valid UTF-8, else None."""
    name = os.path.basename(path)
    try:
        name.encode("utf-8")
        return None
    except UnicodeEncodeError:
        return os.fsencode(name)


def _split(name: str) -> tuple[str, str]:
    suffix = PurePosixPath(name).suffix
    if not suffix or len(suffix) > 8 or " " in suffix:
        return name, ""
    return name[: -len(suffix)], suffix


def _truncate(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore").rstrip() or "book"


def place_unique(source: Path, folder: Path, name: str) -> Path:
    """Hard-link ``source`` into ``folder`` under ``name`` (or ``name (2)``...) and unlink
    ``source``. Linking fails instead of overwriting, so two imports never take one name."""
    stem, suffix = _split(name)
    for attempt in range(1, 10_000):
        candidate = folder / (name if attempt == 1 else f"{stem} ({attempt}){suffix}")
        try:
            # follow_symlinks=False: a symbolic link moves as itself, its target stays put.
            os.link(source, candidate, follow_symlinks=False)
        except FileExistsError:
            continue
        source.unlink()
        return candidate
    raise OSError(errno.EEXIST, f"no free name for {name!r} in {folder}")


def move_unique(source: Path, folder: Path, name: str) -> Path:
    """Move ``source`` into ``folder`` under a unique ``name``; copies across file systems."""
    try:
        return place_unique(source, folder, name)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
    import shutil

    stem, suffix = _split(name)
    for attempt in range(1, 10_000):
        candidate = folder / (name if attempt == 1 else f"{stem} ({attempt}){suffix}")
        try:
            with candidate.open("xb") as out, source.open("rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 20)
        except FileExistsError:
            continue
        except BaseException:
            candidate.unlink(missing_ok=True)  # a half copy; the source is untouched
            raise
        source.unlink()
        return candidate
    raise OSError(errno.EEXIST, f"no free name for {name!r} in {folder}")
