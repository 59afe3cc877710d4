"""Opening the database: migrations, crash recovery of library moves, readable failures."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import asyncpg
import pytest

from data.db import Database, DatabaseTarget, DatabaseUnavailable


async def test_opening_settles_a_move_that_a_crash_interrupted(database_dsn, tmp_path: Path):
    source = tmp_path / "inbox" / "book.epub"
    source.parent.mkdir()
    source.write_bytes(b"PK not really an epub")
    conn = await asyncpg.connect(database_dsn)
    try:
        # The journal says a move was about to start; the file is still where it was.
        await conn.execute(
            "INSERT INTO organize_moves (book_file_id, source_path, target_path, temp_path, "
            "sha256, file_size) VALUES ($1, $2, $3, $4, $5, $6)",
            uuid.uuid4(),
            str(source),
            str(tmp_path / "library" / "book.epub"),
            str(tmp_path / "library" / ".book.epub.part"),
            hashlib.sha256(source.read_bytes()).hexdigest(),
            source.stat().st_size,
        )
    finally:
        await conn.close()

    database = await Database.open(DatabaseTarget(dsn=database_dsn), max_size=2)
    async with database:
        assert await database.pool.fetchval("SELECT count(*) FROM organize_moves") == 0
        assert database.startup_warnings == []
    assert source.read_bytes() == b"PK not really an epub"


async def test_a_missing_database_is_one_readable_line(database_dsn):
    missing = database_dsn.replace("/t_", "/missing_t_", 1)
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        await Database.open(DatabaseTarget(dsn=missing))
