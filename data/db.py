"""Connecting to PostgreSQL: the embedded cluster or ``--database-url``, a pool, migrations."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import asyncpg

from shelver.data.cluster import ClusterError, EmbeddedCluster
from shelver.data.home import Home
from shelver.data.migrations import MigrationError, migrate


class DatabaseUnavailable(Exception):
    """The database could not be reached or prepared; the message is one readable line."""


@dataclass(frozen=True)
class DatabaseTarget:
    """Where to connect: a DSN, and the embedded cluster behind it when there is one."""

    dsn: str
    cluster: EmbeddedCluster | None = None

    @classmethod
    def choose(cls, home: Home, database_url: str | None) -> DatabaseTarget:
        if database_url:
            return cls(dsn=database_url)
        cluster = EmbeddedCluster(home)
        return cls(dsn=cluster.dsn(), cluster=cluster)

    @property
    def description(self) -> str:
        return "the embedded cluster" if self.cluster else "the configured database"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(
            json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


def describe_connection_error(exc: BaseException) -> str:
    """One line that tells a person what went wrong, without a traceback."""
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return "the database refused the password (check --database-url)"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"the database does not exist: {exc}"
    if isinstance(exc, asyncpg.PostgresError):
        return f"database error: {exc}"
    if isinstance(exc, (OSError, asyncio.TimeoutError)):
        return f"cannot reach the database server: {exc or type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"


class Database:
    """An open, migrated database with a connection pool."""

    def __init__(self, pool: asyncpg.Pool, target: DatabaseTarget) -> None:
        self.pool = pool
        self.target = target
        self.startup_warnings: list[str] = []
        """Problems found while opening that did not stop it (shown by the UI, logged by CLI)."""

    @classmethod
    async def open(
        cls,
        target: DatabaseTarget,
        *,
        apply_migrations: bool = True,
        min_size: int = 1,
        max_size: int = 10,
    ) -> Database:
        """Start the embedded cluster if needed, connect, and apply pending migrations."""
        if target.cluster is not None:
            try:
                await asyncio.to_thread(target.cluster.ensure_running)
            except ClusterError as exc:
                raise DatabaseUnavailable(str(exc)) from None
        try:
            pool = await asyncpg.create_pool(
                target.dsn,
                min_size=min_size,
                max_size=max_size,
                init=_init_connection,
                timeout=15,
                command_timeout=120,
            )
        except Exception as exc:  # asyncpg raises many kinds; all mean "cannot connect"
            raise DatabaseUnavailable(describe_connection_error(exc)) from None
        database = cls(pool, target)
        if apply_migrations:
            try:
                async with pool.acquire() as conn:
                    await migrate(conn)
            except MigrationError as exc:
                await pool.close()
                raise DatabaseUnavailable(str(exc)) from None
            except Exception as exc:
                await pool.close()
                raise DatabaseUnavailable(describe_connection_error(exc)) from None
            await database._recover_interrupted_moves()
        if target.cluster is not None and target.cluster.running_as_root:
            database._note_abandoned_clusters()
        return database

    def _note_abandoned_clusters(self) -> None:
        from shelver.data.cluster import abandoned_clusters  # only needed at start-up

        orphans = abandoned_clusters()
        if orphans:
            self.startup_warnings.append(
                f"{len(orphans)} database cluster(s) in /var/lib/shelver belong to homes that "
                "are gone or use another cluster; `shelver db status` lists them, "
                "`shelver db prune` removes them"
            )

    async def _recover_interrupted_moves(self) -> None:
        """Finish or undo library moves that a crash interrupted (see data.organize)."""
        from shelver.data.organize import recover_interrupted_moves  # only needed at start-up

        try:
            report = await recover_interrupted_moves(self)
        except Exception as exc:  # never block start-up; tell the person instead
            self.startup_warnings.append(f"could not check interrupted library moves: {exc}")
            return
        for stuck in report.stuck or []:
            self.startup_warnings.append(f"an interrupted library move needs attention: {stuck}")

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
