"""The suite's own database recycling (conftest `_empty_for_reuse`): a reused database must be
exactly as empty as a fresh clone, and one whose schema a test changed must never be reused."""

from __future__ import annotations

import asyncpg

from tests.conftest import SCHEMA_FINGERPRINT, _empty_for_reuse, database_name, with_database


async def test_a_used_database_comes_back_empty_with_fresh_sequences(
    server_dsn: str, database_dsn: str, template_fingerprint: str
) -> None:
    name = database_name(database_dsn)
    conn = await asyncpg.connect(database_dsn)
    try:
        await conn.execute(
            "INSERT INTO reading_stat_books (document, title) VALUES ('abc', 'A'), ('def', 'B')"
        )
        first_ids = [r["id"] for r in await conn.fetch("SELECT id FROM reading_stat_books")]
        migrations = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        admin = await asyncpg.connect(server_dsn)
        try:
            # The test's own session is still open: the reset ends it.
            assert await _empty_for_reuse(admin, server_dsn, name, template_fingerprint)
        finally:
            await admin.close()
        assert conn.is_closed() or not await _alive(conn)
    finally:
        await conn.close()
    conn = await asyncpg.connect(database_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM reading_stat_books") == 0
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == migrations
        await conn.execute("INSERT INTO reading_stat_books (document, title) VALUES ('x', 'X')")
        assert await conn.fetchval("SELECT id FROM reading_stat_books") == min(first_ids)
    finally:
        await conn.close()


async def test_a_database_whose_schema_changed_is_not_reused(
    server_dsn: str, database_dsn: str, template_fingerprint: str
) -> None:
    name = database_name(database_dsn)
    conn = await asyncpg.connect(database_dsn)
    try:
        await conn.execute("ALTER TABLE books ADD COLUMN left_behind int")
    finally:
        await conn.close()
    admin = await asyncpg.connect(server_dsn)
    try:
        assert not await _empty_for_reuse(admin, server_dsn, name, template_fingerprint)
        check = await asyncpg.connect(with_database(server_dsn, name))
        try:
            assert await check.fetchval(SCHEMA_FINGERPRINT) != template_fingerprint
        finally:
            await check.close()
    finally:
        await admin.close()


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    return True
