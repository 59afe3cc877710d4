"""Downloads: the stored file, byte for byte, with the headers e-readers and caches use.

aiohttp's FileResponse does the HTTP part (sendfile, ``Content-Length``, ``ETag``,
``Last-Modified``, conditional requests, ``Range``, HEAD). Two things are changed: it never
substitutes a pre-compressed ``.gz``/``.br`` sibling (the bytes must be the stored file's, so
KOReader's partial MD5 of the download equals ``content_hash``), and it names the download
``Author - Title.ext`` in ``Content-Disposition``.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from shelver.data.organize import sanitize_filename
from shelver.data.providers.normalize import authors_of

MAX_NAME_BYTES = 180


def download_name(
    title: str | None, author: str | None, file_format: str, original_name: str
) -> str:
    """``Author - Title.ext`` (KOReader's own naming), safe as a file name on any system."""
    names = authors_of(author)
    stem = " - ".join(part for part in (names[0] if names else None, title) if part)
    if not stem:
        stem = original_name.rsplit(".", 1)[0] or "book"
    extension = file_format.lower() or original_name.rsplit(".", 1)[-1].lower()
    return sanitize_filename(f"{stem}.{extension}", max_bytes=MAX_NAME_BYTES)


def ascii_name(name: str) -> str:
    """An ASCII stand-in for ``filename=`` (accents folded, the rest dropped, quotes made safe)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    folded = "".join(c if c.isprintable() and c not in '"\\' else "_" for c in folded)
    stem, dot, extension = folded.rpartition(".")
    if not stem.strip(" _-."):
        folded = f"book{dot}{extension}" if dot else "book"
    return folded


def content_disposition(name: str) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''percent-encoded`` (RFC 6266)."""
    return f"attachment; filename=\"{ascii_name(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


class ExactFileResponse(web.FileResponse):
    """A FileResponse that always sends the file itself, never a compressed sibling."""

    def _get_file_path_stat_encoding(self, accept_encoding: str) -> Any:
        return super()._get_file_path_stat_encoding("")


def file_response(path: Path, content_type: str, download: str | None) -> web.FileResponse:
    headers = {"Content-Type": content_type, "Cache-Control": "private, max-age=0"}
    if download is not None:
        headers["Content-Disposition"] = content_disposition(download)
    return ExactFileResponse(path, headers=headers)
