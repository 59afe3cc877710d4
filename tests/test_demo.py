"""`shelver demo`'s sample library: what it writes, and that it writes it only once."""

from __future__ import annotations

import zipfile
from pathlib import Path

from shelver.app.demo import seed_demo_library
from shelver.app.demo_catalogue import CATALOGUE
from shelver.app.demo_files import koreader_partial_md5, sha256
from shelver.data import books, credentials, overview, reading
from shelver.data import library as library_view
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing.hashing import partial_md5
from shelver.data.importing.isbn import complete_isbn13 as isbn13
from shelver.data.importing.isbn import isbn13_to_10 as isbn10_of
from shelver.data.library_models import LibraryQuery
from shelver.data.models import BookFields, BookStatus


def isbn13_valid(isbn: str) -> bool:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(isbn))
    return len(isbn) == 13 and total % 10 == 0


def isbn10_valid(isbn: str) -> bool:
    values = [10 if c == "X" else int(c) for c in isbn]
    return len(isbn) == 10 and sum(v * (10 - i) for i, v in enumerate(values)) % 11 == 0


def test_isbn_helpers_make_valid_numbers() -> None:
    assert isbn13("978014143951") == "9780141439518"  # Penguin's Pride and Prejudice
    assert isbn10_of("9780141439518") == "0141439513"
    for sample in CATALOGUE:
        if sample.fields.isbn_13:
            assert isbn13_valid(sample.fields.isbn_13)
            assert isbn10_valid(sample.fields.isbn_10 or "")


def test_partial_md5_reads_koreaders_offsets() -> None:
    # Bytes that differ at every 1 KiB block: the digest must cover exactly the blocks at
    # 0, 1024, 4096, 16384 and 65536 of a 70,000-byte file (the next offset is past the end).
    import hashlib

    data = bytes((i * 7 + i // 1024) % 256 for i in range(70_000))
    expected = hashlib.md5(
        b"".join(data[o : o + 1024] for o in (0, 1024, 4096, 16384, 65536))
    ).hexdigest()
    assert koreader_partial_md5(data) == expected
    assert koreader_partial_md5(b"tiny") == hashlib.md5(b"tiny").hexdigest()


async def test_demo_fills_every_screen(database: Database, home: Home) -> None:
    assert await seed_demo_library(database, home) is True
    pool = database.pool

    counts = await books.count_by_status(pool)
    assert counts.total == len(CATALOGUE) >= 25
    assert min(counts.inbox, counts.review, counts.organized) >= 5

    inbox = await books.list_by_status(pool, BookStatus.INBOX)
    assert any(row.possible_duplicate_of for row in inbox)
    queue = await overview.review_queue(pool)
    assert all(row.candidate_count >= 1 for row in queue)
    sources = {c.source for row in queue for c in await books.candidates_of(pool, row.id)}
    assert {"file", "google_books", "hardcover"} <= sources

    library = (await library_view.page(pool, LibraryQuery(), limit=200)).rows
    languages = {row.language for row in library}
    assert {"en", "fr", "de", "ru", "ja"} <= languages
    assert any(row.reading_percentage is not None for row in library)

    positions = await reading.current_positions(pool)
    assert len({p.device for p in positions}) >= 3
    assert any(p.book_id is None for p in positions)  # an unlinked document
    assert sum(1 for p in positions if p.book_id is not None) >= 5
    counts_all = await overview.database_counts(pool)
    assert counts_all.history_entries > len(positions)

    logins = await credentials.list_all(pool)
    assert [(c.service, c.username) for c in logins] == [("kosync", "reader")]


async def test_demo_files_are_real_and_match_their_rows(database: Database, home: Home) -> None:
    await seed_demo_library(database, home)
    inbox = await books.list_by_status(database.pool, BookStatus.INBOX)
    organized = (await library_view.page(database.pool, LibraryQuery(), limit=200)).rows
    for row_id in [r.id for r in inbox] + [r.id for r in organized]:
        (file,) = await books.files_of(database.pool, row_id)
        path = Path(file.inbox_path or file.storage_path or "")
        assert path.is_file(), path
        data = path.read_bytes()
        assert file.file_size == len(data)
        assert file.checksum == sha256(data)
        assert file.content_hash == koreader_partial_md5(data) == partial_md5(path)
        if file.format == "epub":
            with zipfile.ZipFile(path) as archive:
                assert archive.namelist()[0] == "mimetype"
                assert archive.read("mimetype") == b"application/epub+zip"
                assert archive.testzip() is None
        if file.inbox_path:
            assert path.parent == home.inbox_dir
        else:
            assert home.library_dir in path.parents


async def test_candidates_have_the_providers_shapes(database: Database, home: Home) -> None:
    await seed_demo_library(database, home)
    for row in await overview.review_queue(database.pool):
        for candidate in await books.candidates_of(database.pool, row.id):
            raw = candidate.raw_response
            if candidate.source == "google_books":
                assert raw["kind"] == "books#volume"
                info = raw["volumeInfo"]
                assert info["title"] and isinstance(info["authors"], list)
                kinds = {i["type"] for i in info.get("industryIdentifiers", [])}
                assert kinds <= {"ISBN_10", "ISBN_13"}
            elif candidate.source == "hardcover":
                assert {"id", "title", "author_names", "isbns", "release_year"} <= raw.keys()
            else:
                assert candidate.source == "file"
                assert candidate.confidence == 1
            assert set(candidate.normalized) >= {"title", "author", "genres", "tags"}


async def test_demo_is_idempotent(database: Database, home: Home) -> None:
    assert await seed_demo_library(database, home) is True
    files_before = sorted(p for p in home.data_dir.rglob("*") if p.is_file())
    counts_before = await overview.database_counts(database.pool)
    assert await seed_demo_library(database, home) is False
    assert await overview.database_counts(database.pool) == counts_before
    assert sorted(p for p in home.data_dir.rglob("*") if p.is_file()) == files_before


async def test_demo_leaves_a_library_with_books_alone(database: Database, home: Home) -> None:
    await books.insert(database.pool, BookFields(title="Mine"))
    assert await seed_demo_library(database, home) is False
    assert (await books.count_by_status(database.pool)).total == 1
    assert not any(home.inbox_dir.iterdir())


async def test_demo_never_overwrites_a_file_already_in_the_inbox(
    database: Database, home: Home
) -> None:
    mine = home.inbox_dir / "beowulf.epub"
    mine.write_bytes(b"my own copy")
    await seed_demo_library(database, home)
    assert mine.read_bytes() == b"my own copy"
    assert (home.inbox_dir / "beowulf (2).epub").is_file()


async def test_demo_keeps_positions_a_device_already_reported(
    database: Database, home: Home, tmp_path: Path
) -> None:
    """A device that synced before the demo was filled keeps its own position."""
    assert await seed_demo_library(database, home) is True
    document, device = await database.pool.fetchrow(
        "SELECT document, device FROM reading_progress ORDER BY document, device LIMIT 1"
    )
    await database.pool.execute("DELETE FROM books")  # progress rows stay: they have no FK
    await database.pool.execute(
        "UPDATE reading_progress SET percentage = 0.1234 WHERE document = $1 AND device = $2",
        document,
        device,
    )
    other_home = Home.at(tmp_path / "second").ensure()
    assert await seed_demo_library(database, other_home) is True
    kept = await database.pool.fetchval(
        "SELECT percentage FROM reading_progress WHERE document = $1 AND device = $2",
        document,
        device,
    )
    assert str(kept) == "0.1234"
