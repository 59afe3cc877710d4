"""Test fixtures: one real PostgreSQL cluster per test session, one fresh database per test.

The cluster is shelver's own embedded cluster in a throwaway home (durability switched off for
speed). Each test's database is cloned from a migrated template, which takes milliseconds.
Set SHELVER_TEST_DATABASE_URL to run against another server instead (its role needs CREATEDB).

``server_dsn`` is the administrator's URL (fixtures create and drop databases with it); every
database a test uses belongs to, and is reached as, the role the application uses: on the
embedded cluster that is the unprivileged ``shelver_app``, exactly as in production.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
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
# only has to see the message queues drain; 4 ms steps with the same CPU-to-wall ratio (5 %)
# see that as surely and let a typed word or a screen switch take its own time, not 20 ms a
# step. Textual is pinned (pyproject), so this module's names stay as they are.
textual_wait.SLEEP_GRANULARITY = 0.004
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


@pytest.fixture
async def database_dsn(server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """A fresh migrated database for one test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}" {owner_clause()} TEMPLATE "{TEMPLATE_DATABASE}"')
    try:
        yield app_database(server_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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
