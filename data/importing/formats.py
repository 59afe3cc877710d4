"""Which kind of book a file is, judged by its bytes rather than its name."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path, PurePosixPath

from shelver.data.importing.errors import Refused
from shelver.data.importing.safezip import find_member, open_zip, read_member

EXTENSIONS = {
    "epub": ("epub",),
    "cbz": ("cbz",),
    "pdf": ("pdf",),
    "fb2": ("fb2",),
    "mobi": ("mobi", "prc", "azw", "pdb"),
    "azw3": ("azw3", "azw", "kf8"),
}
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
# Files comic archivers add beside the pages.
COMIC_EXTRAS = frozenset({".xml", ".txt", ".nfo", ".sfv", ".json", ".db", ".ini", ".url"})
HEAD_SIZE = 4096


def detect_format(path: Path) -> str:
    """``epub``, ``cbz``, ``pdf``, ``fb2``, ``mobi`` or ``azw3``; Refused for anything else."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_SIZE)
    if not head:
        raise Refused("empty file (0 bytes)")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_format(path)
    if head.lstrip(b"\x00\t\n\r ").startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if len(head) >= 68 and head[60:68] == b"BOOKMOBI":
        return _mobi_kind(path, head)
    if _looks_like_fb2(head):
        return "fb2"
    if head[60:68] in (b"TEXtREAd", b"PNRdPPrs"):
        raise Refused("PalmDOC/eReader file: not a supported format")
    if head.startswith(b"Rar!"):
        raise Refused("RAR archive (CBR): not supported, repack it as CBZ")
    if head.startswith((b"\x1f\x8b", b"7z\xbc\xaf", b"BZh")):
        raise Refused("compressed archive: unpack it first")
    return _unknown(head)


def _unknown(head: bytes) -> str:
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        raise Refused("HTML page, not an ebook")
    raise Refused("not a recognised ebook format (EPUB, PDF, FB2, CBZ, MOBI, AZW3)")


def _looks_like_fb2(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf\t\n\r ")
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 FB2s exist
        text = head.decode("utf-16", errors="ignore").encode()
    return text.startswith(b"<") and b"FictionBook" in text


def _zip_format(path: Path) -> str:
    archive = open_zip(path)
    with archive:
        names = archive.namelist()
        mimetype = find_member(archive, "mimetype")
        if mimetype is not None:
            value = read_member(archive, mimetype, 1024).strip()
            if value.startswith(b"application/epub+zip"):
                return "epub"
        if find_member(archive, "META-INF/container.xml") is not None:
            return "epub"
        if _is_comic(archive):
            return "cbz"
        if any(n.lower().endswith(".fb2") for n in names):
            raise Refused("zipped FB2 (.fb2.zip): unpack it first")
    raise Refused("ZIP archive that is neither an EPUB nor a comic book archive (CBZ)")


def _is_comic(archive: zipfile.ZipFile) -> bool:
    images = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        suffix = PurePosixPath(info.filename).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            images += 1
        elif suffix not in COMIC_EXTRAS:
            return False
    return images > 0


def _mobi_kind(path: Path, head: bytes) -> str:
    """``azw3`` for KF8-only books (MOBI header version 8), ``mobi`` otherwise."""
    try:
        (first_record,) = struct.unpack_from(">I", head, 78)
        if first_record + 40 <= len(head):
            record = head[first_record:]
        else:
            with path.open("rb") as handle:
                handle.seek(first_record)
                record = handle.read(64)
        if record[16:20] == b"MOBI":
            (version,) = struct.unpack_from(">I", record, 36)
            if version >= 8:
                return "azw3"
    except struct.error:
        raise Refused("truncated MOBI file (no record table)") from None
    return "mobi"


def fits_extension(fmt: str, name: str) -> bool:
    """Whether ``name`` already ends in an extension used for ``fmt``."""
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    return suffix in EXTENSIONS.get(fmt, ())
