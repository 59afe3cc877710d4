"""A feed as both formats need it: links, navigation entries and book entries, with the URLs
already made absolute. ``atom`` and ``opds2`` only write it out."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlencode

from shelver.data.opds import Entry

NAVIGATION = "application/atom+xml;profile=opds-catalog;kind=navigation"
ACQUISITION = "application/atom+xml;profile=opds-catalog;kind=acquisition"
ENTRY = "application/atom+xml;type=entry;profile=opds-catalog"
OPENSEARCH = "application/opensearchdescription+xml"
OPDS2 = "application/opds+json"
REL_ACQUISITION = "http://opds-spec.org/acquisition"
REL_IMAGE = "http://opds-spec.org/image"
REL_THUMBNAIL = "http://opds-spec.org/image/thumbnail"
REL_SORT_NEW = "http://opds-spec.org/sort/new"

# The exact MIME type of each format shelver stores (../shared/docs/opds.md).
MIME_TYPES = {
    "epub": "application/epub+zip",
    "kepub": "application/kepub+zip",
    "pdf": "application/pdf",
    "fb2": "application/x-fictionbook+xml",
    "cbz": "application/vnd.comicbook+zip",
    "cbr": "application/vnd.comicbook-rar",
    "mobi": "application/x-mobipocket-ebook",
    "azw3": "application/vnd.amazon.ebook",
    "azw": "application/vnd.amazon.ebook",
    "djvu": "image/vnd.djvu",
    "txt": "text/plain",
    "rtf": "application/rtf",
}


def mime_type(file_format: str) -> str:
    known = MIME_TYPES.get(file_format.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(f"x.{file_format}")
    return guessed or "application/octet-stream"


@dataclass(frozen=True)
class Link:
    rel: str
    href: str
    type: str
    title: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class NavigationItem:
    """An entry of a navigation feed: a link to another feed."""

    id: str
    title: str
    href: str
    type: str
    summary: str
    rel: str = "subsection"
    count: int | None = None


@dataclass(frozen=True)
class BookItem:
    """A book with its links (acquisitions, covers, its own entry document)."""

    entry: Entry
    links: tuple[Link, ...]


@dataclass
class Feed:
    id: str
    title: str
    kind: str
    """"navigation" or "acquisition"."""
    links: list[Link] = field(default_factory=list)
    navigation: list[NavigationItem] = field(default_factory=list)
    books: list[BookItem] = field(default_factory=list)
    updated: datetime | None = None
    """Set from the content clock once the content's digest is known."""

    def digest(self) -> str:
        """A fingerprint of everything the feed says except its own ``updated``."""
        parts = [self.id, self.title, self.kind, repr(self.links), repr(self.navigation)]
        for book in self.books:
            parts.append(book.entry.model_dump_json())
            parts.append(repr(book.links))
        return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


class Urls:
    """Absolute URLs of the catalogue, from the base the client used (``scheme://host``)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def path(self, path: str, **params: str | None) -> str:
        query = {k: v for k, v in params.items() if v is not None}
        return f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")

    def book(self, book_id: object) -> str:
        return f"{self.base}/opds/book/{book_id}"

    def cover(self, book_id: object, stamp: str) -> str:
        return f"{self.base}/opds/book/{book_id}/cover?v={stamp}"

    def thumbnail(self, book_id: object, stamp: str) -> str:
        return f"{self.base}/opds/book/{book_id}/thumbnail?v={stamp}"

    def download(self, file_id: object, filename: str) -> str:
        return f"{self.base}/opds/file/{file_id}/{quote(filename, safe='')}"


def book_links(urls: Urls, entry: Entry) -> tuple[Link, ...]:
    from shelver.app.opds.files import download_name

    links = [Link("alternate", urls.book(entry.id), ENTRY, "Full entry")]
    if entry.cover_path:
        stamp = hashlib.blake2b(
            f"{entry.cover_path}{entry.updated_at.isoformat()}".encode(), digest_size=6
        ).hexdigest()
        links.append(Link(REL_IMAGE, urls.cover(entry.id, stamp), "image/jpeg"))
        links.append(Link(REL_THUMBNAIL, urls.thumbnail(entry.id, stamp), "image/jpeg"))
    for stored in entry.files:
        name = download_name(entry.title, entry.author, stored.format, stored.name)
        links.append(
            Link(
                REL_ACQUISITION,
                urls.download(stored.id, name),
                mime_type(stored.format),
                stored.format.upper(),
                stored.size,
            )
        )
    return tuple(links)
