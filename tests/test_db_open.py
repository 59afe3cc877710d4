"""Opening the database: migrations, crash recovery of library moves, readable failures."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from shelver.data.db import Database, DatabaseTarget, DatabaseUnavailable
from tests.tui_support import SIZE, make_app, settle


async def test_opening_settles_a_move_that_a_crash_interrupted(database_dsn, tmp_path: Path):
    source = tmp_path / "inbox" / "book.epub"
    source.parent.mkdir()
    source.write_bytes(b"PK not really an epub")
    conn = await asyncpg.connect(database_dsn)
    try:
        # The journal says a move was about to start; the file is still where it was.
        operation = uuid.uuid4()
        await conn.execute("INSERT INTO organize_operations (id) VALUES ($1)", operation)
        await conn.execute(
            "INSERT INTO organize_moves (book_file_id, source_path, target_path, temp_path, "
            "sha256, file_size, operation_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            uuid.uuid4(),
            str(source),
            str(tmp_path / "library" / "book.epub"),
            str(tmp_path / "library" / ".book.epub.part"),
            hashlib.sha256(source.read_bytes()).hexdigest(),
            source.stat().st_size,
            operation,
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


async def journal_a_move_whose_file_is_gone(dsn: str, folder: Path) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        operation = uuid.uuid4()
        await conn.execute("INSERT INTO organize_operations (id) VALUES ($1)", operation)
        await conn.execute(
            "INSERT INTO organize_moves (book_file_id, source_path, target_path, temp_path, "
            "sha256, file_size, operation_id) VALUES ($1, $2, $3, $4, $5, 3, $6)",
            uuid.uuid4(),
            str(folder / "inbox" / "vanished.epub"),
            str(folder / "library" / "vanished.epub"),
            str(folder / "library" / ".vanished.epub.part"),
            "0" * 64,
            operation,
        )
    finally:
        await conn.close()


async def test_a_stuck_move_is_told_to_the_person_and_kept(database_dsn, tmp_path: Path, home):
    await journal_a_move_whose_file_is_gone(database_dsn, tmp_path)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = [n.message for n in app._notifications]
        assert any("vanished.epub" in message for message in shown), shown
    conn = await asyncpg.connect(database_dsn)
    try:  # nothing is forgotten: the journal keeps it for a person to look at
        assert await conn.fetchval("SELECT count(*) FROM organize_moves") == 1
    finally:
        await conn.close()


def test_the_command_line_prints_start_up_warnings(database_dsn, tmp_path: Path):
    asyncio.run(journal_a_move_whose_file_is_gone(database_dsn, tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "shelver", "--home", str(tmp_path / "h"), "search", "anything"],
        env={**os.environ, "SHELVER_DATABASE_URL": database_dsn},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "warning: an interrupted library move needs attention" in result.stderr
