"""Reading progress per KoSync login, over real HTTP against a real ``shelver serve``.

Each login reads and overwrites only its own positions (the reference server keys progress by
user and document); a stranger who registers learns nothing and changes nothing; logins marked
with ``shelver credentials share`` see each other's positions; a removed login's positions go
to no one, not to whoever registers the name next.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.kosync_support import (
    KOREADER_ACCEPT,
    ServerProcess,
    add_login,
    device_client,
    kosync_dsn_fixture,  # noqa: F401 - the fixture kosync_dsn
    md5_hex,
    shelver_command,
    shelver_env,
    start_server,
)

DOCUMENT = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logins-home")


@pytest.fixture(scope="module")
def server(home: Path, kosync_dsn: str) -> Iterator[ServerProcess]:
    """Registration open, as on a LAN where a stranger could walk in."""
    for name in ("alice", "bob", "carol", "dave", "erin"):
        add_login(home, kosync_dsn, name, f"{name} password")
    running = start_server(home, kosync_dsn, "--allow-registration")
    yield running
    running.stop()


@pytest.fixture
async def db(kosync_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(kosync_dsn)
    yield conn
    await conn.close()


class Device:
    """One KOReader device logged in as ``name`` (its key is the MD5 of the password)."""

    def __init__(self, http: httpx.AsyncClient, server: ServerProcess, name: str, key: str):
        self.http, self.base, self.name = http, server.base_url, name
        self.headers = {"x-auth-user": name, "x-auth-key": key}

    async def put(self, document: str, percentage: float, progress: str, device: str):
        response = await self.http.put(
            f"{self.base}/syncs/progress",
            headers=self.headers,
            json={
                "document": document,
                "percentage": percentage,
                "progress": progress,
                "device": device,
                "device_id": f"{self.name}-{device}",
            },
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def get(self, document: str) -> dict:
        response = await self.http.get(
            f"{self.base}/syncs/progress/{document}", headers=self.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        body.pop("timestamp", None)
        return body


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with device_client(headers={"accept": KOREADER_ACCEPT}) as client:
        yield client


def login(http, server, name: str) -> Device:
    return Device(http, server, name, md5_hex(f"{name} password"))


async def register(http, server: ServerProcess, name: str, password: str) -> Device:
    """A device that registers a login of its own (registration is open) and uses it."""
    key = md5_hex(password)
    created = await http.post(
        f"{server.base_url}/users/create", json={"username": name, "password": key}
    )
    assert created.status_code == 201, created.text
    return Device(http, server, name, key)


def cli(home: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        shelver_command("--home", str(home), *args),
        capture_output=True,
        text=True,
        env=shelver_env(dsn),
        timeout=60,
    )


async def test_two_logins_on_one_document_each_read_only_their_own(http, server, db):
    alice, bob = login(http, server, "alice"), login(http, server, "bob")
    # Both call their reader "Kobo": two people, two devices, one book.
    await alice.put(DOCUMENT, 0.25, "/body/p[25]", "Kobo")
    assert await bob.get(DOCUMENT) == {}
    await bob.put(DOCUMENT, 0.75, "/body/p[75]", "Kobo")
    assert await alice.get(DOCUMENT) == {
        "document": DOCUMENT,
        "percentage": 0.25,
        "progress": "/body/p[25]",
        "device": "Kobo",
        "device_id": "alice-Kobo",
    }
    # Each device gets its own name back, even though two rows of one document share it.
    assert await bob.get(DOCUMENT) == {
        "document": DOCUMENT,
        "percentage": 0.75,
        "progress": "/body/p[75]",
        "device": "Kobo",
        "device_id": "bob-Kobo",
    }
    # alice moves on: bob's position stays where bob left it.
    await alice.put(DOCUMENT, 0.30, "/body/p[30]", "Kobo")
    assert (await bob.get(DOCUMENT))["percentage"] == 0.75
    assert (await alice.get(DOCUMENT))["percentage"] == 0.30
    rows = await db.fetch(
        "SELECT rp.device, o.login, rp.percentage::float8 AS percentage "
        "FROM reading_progress rp JOIN reading_progress_logins o ON o.progress_id = rp.id "
        "WHERE rp.document = $1 ORDER BY o.login",
        DOCUMENT,
    )
    assert [tuple(r) for r in rows] == [("Kobo", "alice", 0.30), ("Kobo (bob)", "bob", 0.75)]
    from shelver.data import reading

    for name, updates in (("alice", 2), ("bob", 1)):
        history = await reading.document_history(db, DOCUMENT, login=name)
        assert len(history) == updates, name


async def test_a_stranger_who_registers_can_neither_read_nor_overwrite(http, server, db):
    alice = login(http, server, "alice")
    document = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
    await alice.put(document, 0.42, "/body/p[42]", "Kindle")
    async with device_client(headers={"accept": KOREADER_ACCEPT}) as elsewhere:
        mallory = await register(elsewhere, server, "mallory", "mallory")
        assert await mallory.get(document) == {}
        # Same document, same device name, a position of its own choosing.
        await mallory.put(document, 0.99, "/body/p[99]", "Kindle")
        assert (await mallory.get(document))["percentage"] == 0.99
    after = await alice.get(document)
    assert (after["percentage"], after["progress"], after["device"]) == (
        0.42,
        "/body/p[42]",
        "Kindle",
    )
    owners = await db.fetch(
        "SELECT o.login, rp.device FROM reading_progress rp "
        "JOIN reading_progress_logins o ON o.progress_id = rp.id WHERE rp.document = $1 "
        "ORDER BY o.login",
        document,
    )
    assert [tuple(r) for r in owners] == [("alice", "Kindle"), ("mallory", "Kindle (mallory)")]


async def test_shared_logins_see_each_others_positions(http, server, home, kosync_dsn):
    carol, dave, erin = (login(http, server, n) for n in ("carol", "dave", "erin"))
    document = "c0ffee00c0ffee00c0ffee00c0ffee00"
    await dave.put(document, 0.10, "/body/p[10]", "phone")
    assert await carol.get(document) == {}

    shared = cli(home, kosync_dsn, "credentials", "share", "kosync", "carol", "dave", "--json")
    assert shared.returncode == 0, shared.stderr
    assert json.loads(shared.stdout)["group"] == ["carol", "dave"]
    # carol picks up where dave's phone left off, and dave sees what carol reads next.
    assert (await carol.get(document))["progress"] == "/body/p[10]"
    await carol.put(document, 0.20, "/body/p[20]", "e-reader")
    assert (await dave.get(document))["progress"] == "/body/p[20]"
    # Someone outside the pair still sees nothing.
    assert await erin.get(document) == {}

    listing = cli(home, kosync_dsn, "credentials", "list", "kosync")
    assert "carol" in listing.stdout and "shares positions with dave" in listing.stdout

    unshared = cli(home, kosync_dsn, "credentials", "unshare", "kosync", "carol")
    assert unshared.returncode == 0, unshared.stderr
    # Each keeps what it wrote itself: nothing was moved, so nothing is lost.
    assert (await carol.get(document))["progress"] == "/body/p[20]"
    assert (await dave.get(document))["progress"] == "/body/p[10]"


def test_sharing_needs_two_kosync_logins(server, home, kosync_dsn):
    unknown = cli(home, kosync_dsn, "credentials", "share", "kosync", "carol", "nobody")
    assert unknown.returncode == 1
    assert "no kosync login 'nobody'" in unknown.stderr and "Traceback" not in unknown.stderr
    itself = cli(home, kosync_dsn, "credentials", "share", "kosync", "carol", "carol")
    assert itself.returncode == 1 and "itself" in itself.stderr
    wrong_service = cli(home, kosync_dsn, "credentials", "share", "opds", "carol", "dave")
    assert wrong_service.returncode == 2 and "kosync" in wrong_service.stderr


async def test_a_removed_login_leaves_its_positions_to_no_one(http, server, home, kosync_dsn):
    add_login(home, kosync_dsn, "frank", "frank password")
    frank = login(http, server, "frank")
    document = "f4a4f4a4f4a4f4a4f4a4f4a4f4a4f4a4"
    await frank.put(document, 0.5, "/body/p[50]", "Kobo")
    removed = cli(home, kosync_dsn, "credentials", "remove", "kosync", "frank")
    assert removed.returncode == 0, removed.stderr
    async with device_client(headers={"accept": KOREADER_ACCEPT}) as elsewhere:
        impostor = await register(elsewhere, server, "frank", "not frank")
        assert await impostor.get(document) == {}


async def test_opds_reading_now_is_the_callers_own_reading(http, server, home, db, kosync_dsn):
    """An OPDS login named like a KoSync login sees that login's reading; any other OPDS login
    (or an API key) sees the library owner's (the first KoSync login, alice)."""
    from shelver.data import credentials
    from tests.test_reading import make_book

    bobs_document, alices_document = "b0b0" * 8, "a11c" * 8
    bobs_book = await make_book(db, "Bob's Book", content_hash=bobs_document, name="b.epub")
    await make_book(db, "Alice's Book", content_hash=alices_document, name="a.epub")
    for name in ("bob", "guest"):
        await credentials.add(db, "opds", name, f"{name} opds password", home)
    await login(http, server, "bob").put(bobs_document, 0.5, "/body/p[5]", "Kobo")
    await login(http, server, "alice").put(alices_document, 0.3, "/body/p[3]", "Kobo")

    def reading_now(name: str) -> list[str]:
        response = httpx.get(
            f"{server.base_url}/opds/reading", auth=(name, f"{name} opds password"), timeout=30
        )
        assert response.status_code == 200, response.text
        titles = re.findall(r"<entry>.*?<title>(.*?)</title>", response.text, re.S)
        return sorted(html.unescape(t) for t in titles)

    assert reading_now("bob") == ["Bob's Book"]
    assert reading_now("guest") == ["Alice's Book"]

    # `shelver stats BOOK --json` names whose position each one is.
    shown = cli(home, kosync_dsn, "stats", str(bobs_book.id), "--json")
    assert shown.returncode == 0, shown.stderr
    [position] = json.loads(shown.stdout)["positions"]
    assert (position["login"], position["device"], position["percent"]) == ("bob", "Kobo", 50.0)


async def _migrated_with_old_positions(dsn: str, logins: list[str]) -> asyncpg.Connection:
    """A database migrated up to just before 0025, holding positions of the old kind (shared
    by every login), then migrated to the end."""
    from shelver.data.migrations import bundled_migrations, migrate

    migrations = bundled_migrations()
    before = [m for m in migrations if m.version < 25]
    conn = await asyncpg.connect(dsn)
    await migrate(conn, before)
    for offset, name in enumerate(logins):
        await conn.execute(
            "INSERT INTO service_credentials (service, username, password_hash, created_at) "
            "VALUES ('kosync', $1, 'scrypt$x', now() - make_interval(days => $2))",
            name,
            10 - offset,
        )
    await conn.execute(
        "INSERT INTO service_credentials (service, username, password_hash) "
        "VALUES ('opds', 'aaa-first-alphabetically', 'scrypt$x')"
    )
    await conn.execute(
        "INSERT INTO reading_progress (document, device, progress, percentage) "
        "VALUES ('doc1', 'Kobo', '1', 0.1), ('doc1', 'phone', '2', 0.2), ('doc2', 'Kobo', '3', 0.3)"
    )
    await conn.execute(
        "INSERT INTO reading_progress_history (document, device, progress, percentage) "
        "SELECT document, device, progress, percentage FROM reading_progress"
    )
    await migrate(conn, migrations)
    return conn


async def test_migration_gives_old_positions_to_the_first_kosync_login(empty_database_dsn):
    conn = await _migrated_with_old_positions(empty_database_dsn, ["owner", "partner"])
    try:
        owners = await conn.fetch(
            "SELECT o.login, o.document, o.device FROM reading_progress_logins o "
            "ORDER BY o.document, o.device"
        )
        assert [tuple(r) for r in owners] == [
            ("owner", "doc1", "Kobo"),
            ("owner", "doc1", "phone"),
            ("owner", "doc2", "Kobo"),
        ]
        from shelver.data import reading

        assert len(await reading.document_history(conn, "doc1", login="owner")) == 2
        assert await reading.document_history(conn, "doc1", login="partner") == []
        # The owner's devices find their positions; the partner's, none of them.
        from shelver.data import kosync

        assert (await kosync.latest_progress(conn, "doc2", "owner"))["progress"] == "3"
        assert await kosync.latest_progress(conn, "doc2", "partner") == {}
    finally:
        await conn.close()


async def test_migration_without_a_kosync_login_leaves_positions_unowned(empty_database_dsn):
    conn = await _migrated_with_old_positions(empty_database_dsn, [])
    try:
        assert await conn.fetchval("SELECT count(*) FROM reading_progress") == 3
        assert await conn.fetchval("SELECT count(*) FROM reading_progress_logins") == 0
    finally:
        await conn.close()
