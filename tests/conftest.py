"""Test fixtures: one real PostgreSQL cluster per test session, one fresh database per test.

The cluster is shelver's own embedded cluster in a throwaway home (durability switched off for
speed). Each test's database is cloned from a migrated template, which takes milliseconds.
Set SHELVER_TEST_DATABASE_URL to run against another server instead (its role needs CREATEDB).

``server_dsn`` is the administrator's URL (fixtures create and drop databases with it); every
database a test uses belongs to, and is reached as, the role the application uses: on the
embedded cluster that is the unprivileged ``shelver_app``, exactly as in production.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import httpx._transports.default as httpx_transports
import pytest
import textual._wait as textual_wait

from shelver.data.cluster import APP_ROLE, EmbeddedCluster, stored_clusters
from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.migrations import migrate
from shelver.data.providers.ratelimit import forget_shared_limiters

# Pilot decides that the app is idle by sleeping in 20 ms steps until one passes with almost
# no CPU used (textual._wait): each key press sleeps at least two steps and each pause one.
# Our tests wait for the app's workers explicitly (``tui_support.settle``), so the idle check
# only has to see the message queues drain; 2 ms steps with the same CPU-to-wall ratio (5 %)
# see that as surely and let a typed word or a screen switch take its own time, not 20 ms a
# step (4 ms steps made the TUI tests 10 % slower; 1 ms ones were no faster). Textual is
# pinned (pyproject), so this module's names stay as they are.
textual_wait.SLEEP_GRANULARITY = 0.002
textual_wait.SLEEP_IDLE = textual_wait.SLEEP_GRANULARITY / 20

SHARED = Path(__file__).resolve().parents[2] / "shared"
TEMPLATE_DATABASE = "shelver_test_template"

FAST_UNSAFE_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def with_database(dsn: str, database: str) -> str:
    """The same server, another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def embedded_test_cluster() -> bool:
    return not os.environ.get("SHELVER_TEST_DATABASE_URL")


def app_database(server_dsn: str, database: str) -> str:
    """The URL the application would use for ``database``: as ``shelver_app`` when embedded."""
    dsn = with_database(server_dsn, database)
    if not embedded_test_cluster():
        return dsn
    parts = urlsplit(dsn)
    netloc = f"{APP_ROLE}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def owner_clause() -> str:
    """``OWNER shelver_app`` for CREATE DATABASE on the embedded cluster."""
    return f'OWNER "{APP_ROLE}"' if embedded_test_cluster() else ""


# httpx loads the whole CA bundle for every client it makes (20–40 ms of CPU), also for the
# plain http:// clients the tests make by the hundred against their local servers: all of them
# share one context made the same way (the product caches its own: providers/http.py).
_shared_tls_context = httpx.create_ssl_context()


def _create_ssl_context(verify: object = True, cert: object = None, trust_env: bool = True):
    if verify is True and cert is None and trust_env:
        return _shared_tls_context
    return httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)  # type: ignore[arg-type]


httpx_transports.create_ssl_context = _create_ssl_context


@pytest.fixture(autouse=True)
def _fresh_rate_allowance() -> Iterator[None]:
    """Each test starts with a fresh allowance for every endpoint (limiters are per process)."""
    forget_shared_limiters()
    yield
    forget_shared_limiters()


@pytest.fixture(scope="session", autouse=True)
def _remove_abandoned_root_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """As root, clusters live in /var/lib/shelver: drop the ones this session's homes left.

    Only clusters of homes under this session's temporary folder are touched, and never one
    that another process holds: other sessions (and xdist workers) run at the same time.
    """
    base = tmp_path_factory.getbasetemp().resolve()
    yield
    for found in stored_clusters():
        if found.home_pg is not None and found.home_pg.is_relative_to(base):
            found.drop()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder beside the repository (skips the test where it is absent)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the real-world corpus and fixtures are not here")
    return SHARED


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """A DSN of a PostgreSQL server the tests may create databases on."""
    external = os.environ.get("SHELVER_TEST_DATABASE_URL")
    if external:
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="shelver-test-"))
    cluster = EmbeddedCluster(Home.at(root), extra_settings=FAST_UNSAFE_SETTINGS)
    cluster.ensure_running()
    try:
        yield cluster.admin_dsn()
    finally:
        cluster.drop()  # stops it and deletes its data
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_dsn(server_dsn: str) -> str:
    """A migrated database that each test's database is cloned from."""
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}" {owner_clause()}')
    finally:
        await admin.close()
    dsn = app_database(server_dsn, TEMPLATE_DATABASE)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def empty_database_dsn(server_dsn: str) -> AsyncIterator[str]:
    """A brand-new, unmigrated database (for migration tests)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}" {owner_clause()}')
    try:
        yield app_database(server_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# Databases a test has finished with, emptied back to the template's state, for the next test
# of this worker (cloning the template costs 150–250 ms; emptying a used one a few ms).
_recycled: list[str] = []

# What a test could change in a database besides its rows: relations, columns, functions,
# triggers, constraints, per-database settings, applied migrations. A database whose
# fingerprint differs from the template's is dropped, never reused.
SCHEMA_FINGERPRINT = """
SELECT md5(concat_ws('|',
    (SELECT string_agg(format('%s.%s.%s', c.relname, c.relkind, a.attname || ':' ||
                              a.atttypid::regtype::text), ',' ORDER BY c.relname, a.attnum)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
        AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'),
    (SELECT string_agg(p.proname || md5(p.prosrc), ',' ORDER BY p.oid::regprocedure::text)
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public'),
    (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal),
    (SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint),
    (SELECT string_agg(array_to_string(setconfig, ','), ';') FROM pg_db_role_setting
      WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())),
    (SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations)
))
"""


@pytest.fixture(scope="session")
async def template_fingerprint(server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """The template's schema fingerprint; at the end, drops this worker's recycled databases."""
    conn = await asyncpg.connect(with_database(server_dsn, TEMPLATE_DATABASE))
    try:
        fingerprint = await conn.fetchval(SCHEMA_FINGERPRINT)
    finally:
        await conn.close()
    yield fingerprint
    admin = await asyncpg.connect(server_dsn)
    try:
        while _recycled:
            await admin.execute(f'DROP DATABASE IF EXISTS "{_recycled.pop()}" WITH (FORCE)')
    finally:
        await admin.close()


async def public_tables(db: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    """The names of the application's tables."""
    rows = await db.fetch(
        "SELECT c.oid::regclass::text AS name FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1"
    )
    return [row["name"] for row in rows]


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


async def _empty_for_reuse(
    admin: asyncpg.Connection, server_dsn: str, name: str, fingerprint: str
) -> bool:
    """Bring a used test database back to the template's state: end every session still in
    it, check its schema is the template's, empty the tables that hold rows and restart every
    sequence. False (and nothing promised) when it cannot be reused."""
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        name,
    )
    conn = await asyncpg.connect(with_database(server_dsn, name))
    try:
        await conn.execute("SET lock_timeout = '5s'")
        if await conn.fetchval(SCHEMA_FINGERPRINT) != fingerprint:
            return False
        tables = [t for t in await public_tables(conn) if t != "schema_migrations"]
        probe = " UNION ALL ".join(
            f"SELECT {i} FROM (SELECT 1 FROM {table} LIMIT 1) AS s{i}"
            for i, table in enumerate(tables)
        )
        used = [tables[r[0]] for r in await conn.fetch(probe)] if probe else []
        if used:
            await conn.execute(f"TRUNCATE {', '.join(used)} RESTART IDENTITY CASCADE")
        for sequence in await conn.fetch(
            "SELECT c.oid::regclass::text AS name FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'S'"
        ):
            await conn.execute(f"ALTER SEQUENCE {sequence['name']} RESTART")
        return True
    finally:
        await conn.close()


@pytest.fixture
async def database_dsn(
    server_dsn: str, template_dsn: str, template_fingerprint: str
) -> AsyncIterator[str]:
    """A migrated database for this test alone, as the template left it (a recycled one when
    this worker has one, else a fresh clone)."""
    dsn = (
        app_database(server_dsn, _recycled.pop()) if _recycled else await clone_template(server_dsn)
    )
    yield dsn
    admin = await asyncpg.connect(server_dsn)
    try:
        reusable = await _empty_for_reuse(
            admin, server_dsn, database_name(dsn), template_fingerprint
        )
    except (asyncpg.PostgresError, OSError):
        reusable = False
    finally:
        await admin.close()
    if reusable:
        _recycled.append(database_name(dsn))
    else:
        await drop_database(server_dsn, dsn)


async def clone_template(server_dsn: str, template: str = TEMPLATE_DATABASE) -> str:
    """A fresh database cloned from the migrated template (a test's own, or a module's shared
    server's or data's); ``drop_database`` removes it."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" {owner_clause()} TEMPLATE "{template}"')
    finally:
        await admin.close()
    return app_database(server_dsn, name)


async def drop_database(server_dsn: str, dsn: str) -> None:
    name = database_name(dsn)
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def contents_fingerprint(pool: asyncpg.Pool) -> str:
    """Every row of every table, as one digest."""
    digests = [
        await pool.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t"
        )
        for table in await public_tables(pool)
    ]
    return "".join(digests)


@contextlib.asynccontextmanager
async def read_only_database(
    server_dsn: str, seed: Callable[[asyncpg.Pool], Awaitable[object]]
) -> AsyncIterator[asyncpg.Pool]:
    """A database of its own, seeded once, for a module's tests that only read (a
    module-scoped fixture: seeding it for each of dozens of cases cost 60–100 ms a case).
    Whatever a test wrote shows at the end, as this module's failure."""
    dsn = await clone_template(server_dsn)
    database = await Database.open(DatabaseTarget(dsn=dsn), max_size=4)
    try:
        await seed(database.pool)
        seeded = await contents_fingerprint(database.pool)
        yield database.pool
        assert await contents_fingerprint(database.pool) == seeded, "a reading test wrote"
    finally:
        await database.close()
        await drop_database(server_dsn, dsn)


@pytest.fixture
async def database(database_dsn: str) -> AsyncIterator[Database]:
    """An open `Database` (pool) on a fresh migrated database."""
    db = await Database.open(DatabaseTarget(dsn=database_dsn), max_size=4)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A throwaway shelver home with its folders created."""
    return Home.at(tmp_path / "home").ensure()


DATABASE_FIXTURES = {"server_dsn", "template_dsn", "database_dsn", "database", "empty_database_dsn"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the suite's PostgreSQL cluster ``database``, so the quick
    ones can run apart: ``pytest -m "not database"`` starts no cluster."""
    for item in items:
        if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)
