"""`shelver demo`: a realistic sample library so every screen has something to show.

Public-domain classics in several languages, spread over the three statuses; real small files
in the home's inbox and library folders; Google Books and Hardcover candidates in the shapes
those services answer with; a possible duplicate; reading positions from several KOReader
devices with their history; and a KoSync login. Nothing happens when the database already
holds books.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from shelver.app.demo_catalogue import (
    CATALOGUE,
    DEVICES,
    UNLINKED_DOCUMENT,
    UNLINKED_READING,
    Provider,
    Reading,
    SampleBook,
)
from shelver.app.demo_files import koreader_partial_md5, sample_file_bytes, sha256, unused_path
from shelver.data import demo_seed
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.models import BookFields, BookStatus
from shelver.data.providers.google_books import normalize_volume
from shelver.data.providers.hardcover import normalize_document
from shelver.data.reading_state import finished

# Provider answers in their services' shapes -------------------------------------------


def google_volume(provider: Provider) -> dict[str, Any]:
    """One ``items[]`` entry of a Google Books volumes answer."""
    f = provider.fields
    identifiers = []
    if f.isbn_13:
        identifiers.append({"type": "ISBN_13", "identifier": f.isbn_13})
    if f.isbn_10:
        identifiers.append({"type": "ISBN_10", "identifier": f.isbn_10})
    info: dict[str, Any] = {
        "title": f.title,
        "authors": [f.author] if f.author else [],
        "publisher": f.publisher,
        "publishedDate": provider.published_date,
        "description": f.description,
        "industryIdentifiers": identifiers,
        "pageCount": f.page_count,
        "printType": "BOOK",
        "categories": [" / ".join(f.genres)] if f.genres else [],
        "language": f.language,
        "imageLinks": {
            "smallThumbnail": (f.cover_url or "").replace("zoom=1", "zoom=5"),
            "thumbnail": f.cover_url,
        },
        "canonicalVolumeLink": f"https://books.google.com/books/about/?id={provider.remote_id}",
    }
    if provider.subtitle:
        info["subtitle"] = provider.subtitle
    return {
        "kind": "books#volume",
        "id": provider.remote_id,
        "selfLink": f"https://www.googleapis.com/books/v1/volumes/{provider.remote_id}",
        "volumeInfo": {key: value for key, value in info.items() if value not in (None, [])},
    }


def hardcover_document(provider: Provider) -> dict[str, Any]:
    """One ``results.hits[].document`` of a Hardcover search answer."""
    f = provider.fields
    slug = re.sub(r"[^a-z0-9]+", "-", (f.title or "").lower()).strip("-")
    return {
        "id": provider.remote_id,
        "title": f.title,
        "author_names": [f.author] if f.author else [],
        "isbns": [isbn for isbn in (f.isbn_10, f.isbn_13) if isbn],
        "pages": f.page_count,
        "release_year": f.published_year,
        "series_names": list(provider.series),
        "genres": f.genres,
        "image": {"url": f.cover_url} if f.cover_url else {},
        "description": f.description,
        "slug": slug,
    }


def raw_response(provider: Provider) -> dict[str, Any]:
    if provider.source == "google_books":
        return google_volume(provider)
    return hardcover_document(provider)


def normalized(provider: Provider) -> BookFields:
    """The candidate exactly as the provider clients normalise a real answer."""
    raw = raw_response(provider)
    if provider.source == "google_books":
        return normalize_volume(raw)
    return normalize_document(raw)


# Seeding -------------------------------------------------------------------------------


def _safe_part(text: str | None, fallback: str) -> str:
    cleaned = re.sub(r'[/\\:*?"<>|\x00-\x1f]', "_", text or "").strip(" .") or fallback
    return cleaned[:80]


@dataclass
class _WrittenFile:
    path: Path
    size: int
    checksum: str
    content_hash: str


def _write_file(sample: SampleBook, home: Home, written: list[Path]) -> _WrittenFile:
    fields = sample.file_fields or sample.fields
    identifier = (
        f"urn:isbn:{fields.isbn_13}"
        if fields.isbn_13
        else f"urn:shelver-demo:{sample.original_name}"
    )
    data = sample_file_bytes(sample.format, fields, identifier)
    if sample.status is BookStatus.ORGANIZED:
        folder = (
            home.library_dir
            / _safe_part(sample.fields.author, "Unknown author")
            / _safe_part(sample.fields.title, "Untitled")
        )
    else:
        folder = home.inbox_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = unused_path(folder, sample.original_name)
    path.write_bytes(data)
    written.append(path)
    return _WrittenFile(path, len(data), sha256(data), koreader_partial_md5(data))


def _progress_string(reading: Reading, percentage: float) -> str:
    if reading.paged:
        return str(max(1, round(percentage * 300)))
    fragment = max(1, round(percentage * 40))
    return f"/body/DocFragment[{fragment}]/body/div/p[{fragment % 7 + 1}]/text().0"


DEMO_LOGIN = "reader"
"""The demo's KoSync login: the sample positions are its devices'."""


async def _seed_reading(
    conn: asyncpg.Connection, document: str, reading: Reading, now: datetime
) -> None:
    device_id = DEVICES[reading.device]
    earlier = sorted(reading.history, key=lambda point: -point[1])
    points = [*earlier, (reading.percentage, reading.hours_ago)]
    for percentage, hours_ago in points:
        await demo_seed.insert_progress_history(
            conn,
            document=document,
            device=reading.device,
            progress=_progress_string(reading, percentage),
            percentage=percentage,
            timestamp=int((now - timedelta(hours=hours_ago)).timestamp()),
        )
    await demo_seed.insert_progress(
        conn,
        document=document,
        device=reading.device,
        device_id=device_id,
        progress=_progress_string(reading, reading.percentage),
        percentage=reading.percentage,
        timestamp=int((now - timedelta(hours=reading.hours_ago)).timestamp()),
        login=DEMO_LOGIN,
    )


async def _fill(conn: asyncpg.Connection, home: Home, written: list[Path]) -> None:
    now = datetime.now(UTC)
    ids_by_title: dict[str, UUID] = {}
    for sample in CATALOGUE:
        arrived = now - timedelta(days=sample.arrived_days_ago)
        approved = arrived + timedelta(hours=20) if sample.status is BookStatus.ORGANIZED else None
        hardcover_book, hardcover_edition = sample.hardcover_ids or (None, None)
        book_id = await demo_seed.insert_book(
            conn,
            sample.fields,
            status=sample.status,
            created_at=arrived,
            approved_at=approved,
            hardcover_book_id=hardcover_book,
            hardcover_edition_id=hardcover_edition,
        )
        if sample.status is BookStatus.ORGANIZED and sample.fields.title:
            ids_by_title[sample.fields.title] = book_id
        if sample.duplicate_of:
            await demo_seed.mark_duplicate(conn, book_id, ids_by_title[sample.duplicate_of])

        stored = await asyncio.to_thread(_write_file, sample, home, written)
        in_library = sample.status is BookStatus.ORGANIZED
        await demo_seed.insert_file(
            conn,
            book_id,
            format=sample.format,
            original_name=sample.original_name,
            file_size=stored.size,
            checksum=stored.checksum,
            content_hash=stored.content_hash,
            created_at=arrived,
            storage_path=str(stored.path) if in_library else None,
            inbox_path=None if in_library else str(stored.path),
        )

        file_fields = sample.file_fields or sample.fields
        if file_fields.title or file_fields.author:
            await demo_seed.insert_candidate(
                conn,
                book_id,
                source="file",
                normalized=file_fields,
                confidence=1.0,
                selected_fields=["title", "author", "isbn_13", "isbn_10", "language"]
                if in_library
                else [],
            )
        for provider in sample.providers:
            await demo_seed.insert_candidate(
                conn,
                book_id,
                source=provider.source,
                normalized=normalized(provider),
                confidence=provider.confidence,
                raw_response=raw_response(provider),
                selected_fields=list(provider.selected_fields),
            )

        for reading in sample.progress:
            await _seed_reading(conn, stored.content_hash, reading, now)
        if sample.hardcover_ids and sample.progress:
            latest = max(sample.progress, key=lambda r: -r.hours_ago)
            await demo_seed.insert_sync_log(
                conn,
                book_id,
                user_book_id=hardcover_book * 7 + 1,  # type: ignore[operator]
                read_id=hardcover_book * 11 + 3,  # type: ignore[operator]
                status="3" if finished(latest.percentage) else "2",
                progress=latest.percentage,
                rating=4.5 if finished(latest.percentage) else None,
                synced_at=now - timedelta(hours=latest.hours_ago) + timedelta(minutes=5),
            )

    await _seed_reading(conn, UNLINKED_DOCUMENT, UNLINKED_READING, now)
    await demo_seed.insert_credential(
        conn,
        service="kosync",
        username=DEMO_LOGIN,
        password_hash="demo:not-a-real-hash",
        created_at=now - timedelta(days=70),
    )


async def seed_demo_library(database: Database, home: Home) -> bool:
    """Fill an empty library with the sample books; do nothing when any book exists.

    Returns True when it filled the database. Files written for a fill that then fails are
    removed again, so a failed run leaves the home as it was.
    """
    home.ensure()
    written: list[Path] = []
    try:
        return await demo_seed.seed_once(database.pool, lambda conn: _fill(conn, home, written))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
