"""Saving a book's embedded cover under the home's covers folder."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

MAX_COVER_SIZE = 16 << 20
_made: set[Path] = set()  # folders this process already created (mkdir per cover is costly)


def image_extension(data: bytes) -> str | None:
    """The file extension of an image recognised by its magic bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    return None


def save_cover(covers_dir: Path, checksum: str, data: bytes | None) -> Path | None:
    """Write the cover as ``<covers>/<ab>/<checksum>.<ext>``; None when it is no usable image.

    Named after the book file's checksum, so importing the same bytes twice writes the same
    cover and a half-finished import leaves nothing a later one would not overwrite.
    """
    if not data or len(data) > MAX_COVER_SIZE:
        return None
    extension = image_extension(data)
    if extension is None:
        return None
    folder = covers_dir / checksum[:2]
    if folder not in _made:
        folder.mkdir(parents=True, exist_ok=True)
        _made.add(folder)
    target = folder / f"{checksum}.{extension}"
    temporary = folder / f".cover-{uuid.uuid4().hex}.part"
    try:
        with temporary.open("xb") as out:
            out.write(data)
        os.replace(temporary, target)  # atomic: a reader never sees half a cover
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target
