"""A small real library for the OPDS tests: files on disk, rows as an approval leaves them."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg

from shelver.data import books
from shelver.data.importing.hashing import digest_file
from shelver.data.models import BookFields, BookStatus

HOSTILE_TITLE = '../../etc/passwd "quoted" <b>&amp;</b> \\ back'


@dataclass
class LibraryBook:
    id: UUID
    title: str
    author: str | None
    files: list[tuple[UUID, Path, str, str]]
    """(file id, path, checksum, content_hash)"""


def _cover(path: Path, seed: int) -> Path:
    from PIL import Image

    image = Image.new("RGB", (600, 900), ((seed * 37) % 256, (seed * 91) % 256, 120))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def build_library(
    db: asyncpg.Connection | asyncpg.Pool, folder: Path, count: int = 120
) -> list[LibraryBook]:
    """``count`` organized books (a few with two files, some with covers, some non-ASCII, a
    series, one hostile title) whose files exist under ``folder``."""
    rng = random.Random(11)
    folder.mkdir(parents=True, exist_ok=True)
    made: list[LibraryBook] = []
    for index in range(count):
        if index == 0:
            title, author = "Война и мир", "Лев Толстой"
        elif index == 1:
            title, author = "Cien años de soledad", "Gabriel García Márquez & Ünal Ëxample"
        elif index == 2:
            title, author = HOSTILE_TITLE, "Mallory O'Hostile"
        elif index == 3:
            title, author = "The Hobbit", "J. R. R. Tolkien"
        else:
            title, author = f"Book number {index:03d}", f"Author {index % 17}"
        tags = [f"series:Saga of Ten #{index % 10 + 1}"] if 10 <= index < 20 else []
        fields = BookFields(
            title=title,
            author=author if index != 5 else None,
            language=("ru" if index == 0 else "es" if index == 1 else "en"),
            publisher="Tor" if index % 2 else None,
            isbn_13=f"978000000{index:04d}" if index % 3 == 0 else None,
            published_year=1900 + index,
            description=f"Description of book {index}. Ünïcödé ✓" if index % 4 else None,
            genres=["Fantasy"] if index % 5 == 0 else ["Science Fiction", "Drama"],
            tags=tags,
        )
        cover = _cover(folder / f"cover-{index}.png", index) if index % 7 == 0 else None
        book = await books.insert(
            db, fields, status=BookStatus.ORGANIZED, cover_path=str(cover) if cover else None
        )
        stored = []
        formats = ["epub"] if index % 9 else ["epub", "pdf"]
        for fmt in formats:
            path = folder / f"{index:03d}-{rng.randrange(10**6)}.{fmt}"
            # Some files pass the partial MD5's 1 MiB and 4 MiB sample points.
            size = rng.choice((3_000, 70_000, 1_200_000)) if index % 30 else 4_500_000
            path.write_bytes(rng.randbytes(size))
            digest = digest_file(path)
            row = await books.add_file(
                db,
                book.id,
                format=fmt,
                original_name=path.name,
                file_size=digest.size,
                checksum=digest.checksum,
                content_hash=digest.content_hash,
                storage_path=str(path),
            )
            stored.append((row.id, path, digest.checksum, digest.content_hash))
        made.append(LibraryBook(book.id, title, fields.author, stored))
    return made
