"""Applies ``sql/migrations/NNNN_name.sql`` files in order, once each, under an advisory lock."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import asyncpg

from shelver.data.pg import Connection

# An arbitrary constant shared by every shelver process: the advisory lock that serialises
# migrations ("shelver" in ASCII, as a 64-bit number).
MIGRATION_LOCK_KEY = 0x7368656C766572
MIGRATION_NAME = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """A migration file is malformed, changed after it was applied, or failed to apply."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


@dataclass(frozen=True)
class MigrationState:
    """One migration as the database sees it."""

    version: int
    name: str
    applied_at: datetime | None
    checksum_matches: bool


def bundled_migrations() -> list[Migration]:
    """The migration files shipped in the ``sql`` package, in version order."""
    found = []
    for entry in resources.files("shelver.sql").joinpath("migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if not match:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def _applied(conn: Connection) -> dict[int, asyncpg.Record]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, name, checksum, applied_at FROM schema_migrations")
    return {row["version"]: row for row in rows}


def _check_unchanged(migrations: list[Migration], applied: dict[int, asyncpg.Record]) -> None:
    for migration in migrations:
        row = applied.get(migration.version)
        if row is not None and row["checksum"] != migration.checksum:
            raise MigrationError(
                f"migration {migration.filename} was changed after it was applied "
                f"(checksum {row['checksum'][:12]}… in the database, {migration.checksum[:12]}… "
                "on disk); restore the file and add a new migration instead"
            )


async def migrate(conn: Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration in one transaction; return the ones applied.

    The common case (nothing pending) costs one query and takes no lock.
    """
    migrations = bundled_migrations() if migrations is None else migrations
    applied = await _applied(conn)
    _check_unchanged(migrations, applied)
    if all(m.version in applied for m in migrations):
        return []
    newly_applied = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(CREATE_LEDGER)
        # Re-read under the lock: another process may have migrated while we waited.
        applied = await _applied(conn)
        _check_unchanged(migrations, applied)
        for migration in migrations:
            if migration.version in applied:
                continue
            try:
                await conn.execute(migration.sql)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {migration.filename} failed: {exc}") from exc
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            newly_applied.append(migration)
    return newly_applied


async def status(
    conn: Connection, migrations: list[Migration] | None = None
) -> list[MigrationState]:
    """Every bundled migration with when it was applied (None: pending)."""
    migrations = bundled_migrations() if migrations is None else migrations
    applied = await _applied(conn)
    return [
        MigrationState(
            version=m.version,
            name=m.name,
            applied_at=applied[m.version]["applied_at"] if m.version in applied else None,
            checksum_matches=(
                m.version not in applied or applied[m.version]["checksum"] == m.checksum
            ),
        )
        for m in migrations
    ]
