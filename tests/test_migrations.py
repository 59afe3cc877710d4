"""The migration runner: order, idempotence, checksums, and eight processes at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import asyncpg
import pytest

from shelver.data.migrations import Migration, MigrationError, bundled_migrations, migrate, status


def shelver_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "shelver", *args]


def test_bundled_migrations_are_numbered_and_ordered():
    migrations = bundled_migrations()
    assert migrations, "no migration files were found in the sql package"
    versions = [m.version for m in migrations]
    assert versions == sorted(versions)
    assert migrations[0].filename.startswith("0001_")


async def test_migrate_applies_once_and_then_does_nothing(empty_database_dsn):
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        first = await migrate(conn)
        assert [m.version for m in first] == [m.version for m in bundled_migrations()]
        assert await migrate(conn) == []
        states = await status(conn)
        assert all(s.applied_at is not None and s.checksum_matches for s in states)
    finally:
        await conn.close()


async def test_a_changed_applied_migration_is_refused(empty_database_dsn):
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        original = [Migration(1, "things", "CREATE TABLE things (id int)")]
        await migrate(conn, original)
        edited = [Migration(1, "things", "CREATE TABLE things (id bigint)")]
        with pytest.raises(MigrationError, match=r"0001_things\.sql was changed"):
            await migrate(conn, edited)
        states = await status(conn, edited)
        assert states[0].checksum_matches is False
    finally:
        await conn.close()


async def test_a_failing_migration_rolls_back_everything(empty_database_dsn):
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        broken = [
            Migration(1, "good", "CREATE TABLE good (id int)"),
            Migration(2, "bad", "CREATE TABLE bad (id no_such_type)"),
        ]
        with pytest.raises(MigrationError, match=r"0002_bad\.sql failed"):
            await migrate(conn, broken)
        assert await conn.fetchval("SELECT to_regclass('good')") is None
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


async def test_eight_processes_starting_at_once_apply_each_migration_once(
    empty_database_dsn, tmp_path
):
    env = {**os.environ, "SHELVER_DATABASE_URL": empty_database_dsn}
    processes = [
        subprocess.Popen(
            shelver_command("--home", str(tmp_path / f"h{i}"), "db", "migrate", "--json"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in processes]
    for code, _out, err in results:
        assert code == 0, err
    applied_lists = [json.loads(out)["applied"] for _code, out, _err in results]
    expected = [m.filename for m in bundled_migrations()]
    # Exactly one process applied everything; the others found nothing to do.
    assert sorted(applied_lists, key=len) == [[]] * 7 + [expected]
    conn = await asyncpg.connect(empty_database_dsn)
    try:
        rows = await conn.fetch("SELECT version, count(*) AS n FROM schema_migrations GROUP BY 1")
        assert {r["version"]: r["n"] for r in rows} == {m.version: 1 for m in bundled_migrations()}
    finally:
        await conn.close()
