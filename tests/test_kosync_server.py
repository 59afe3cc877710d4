"""``shelver serve`` as a KOReader device sees it: a real server process on a free port.

The first group ports every case of koreader-sync-server's controller spec; then come the bad
inputs (each answered with the documented error, nothing stored), a replay of the requests the
KOReader kosync plugin sends, the log and the shutdown.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.kosync_support import (
    KOREADER_ACCEPT,
    ServerProcess,
    add_login,
    add_login_with_the_cli,
    clone_template,
    device_client,
    drop_database,
    insert_login,
    kosync_dsn_fixture,  # noqa: F401 - the fixture kosync_dsn
    md5_hex,
    shelver_command,
    shelver_env,
    start_server,
)

UNAUTHORIZED = {"code": 2001, "message": "Unauthorized"}


@pytest.fixture(scope="module")
def open_server(
    tmp_path_factory: pytest.TempPathFactory, kosync_dsn: str
) -> Iterator[ServerProcess]:
    """A server that lets devices register, like the reference server's default."""
    server = start_server(tmp_path_factory.mktemp("open-home"), kosync_dsn, "--allow-registration")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def closed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("closed-home")


@pytest.fixture(scope="module")
def closed_server(closed_home: Path, kosync_dsn: str) -> Iterator[ServerProcess]:
    """A server with shelver's default: registration from devices disabled."""
    server = start_server(closed_home, kosync_dsn)
    yield server
    server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with device_client(headers={"accept": KOREADER_ACCEPT}) as http:
        yield http


@pytest.fixture
async def db(kosync_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(kosync_dsn)
    yield conn
    await conn.close()


def auth(username: str, key: str) -> dict[str, str]:
    return {"x-auth-user": username, "x-auth-key": key}


async def register(client: httpx.AsyncClient, server: ServerProcess, username: str, key: str):
    return await client.post(
        f"{server.base_url}/users/create", json={"username": username, "password": key}
    )


async def authorize(client: httpx.AsyncClient, server: ServerProcess, username: str, key: str):
    return await client.get(f"{server.base_url}/users/auth", headers=auth(username, key))


async def get_progress(client, server: ServerProcess, username: str, key: str, document: str):
    return await client.get(
        f"{server.base_url}/syncs/progress/{document}", headers=auth(username, key)
    )


async def update(client, server, username, key, document, percentage, progress, device):
    return await client.put(
        f"{server.base_url}/syncs/progress",
        headers=auth(username, key),
        json={
            "document": document,
            "progress": progress,
            "percentage": percentage,
            "device": device,
        },
    )


# --- the reference server's spec (spec/controllers/1/syncs_controller_spec.lua) ------------


async def test_create_adds_new_user(client, open_server):
    response = await register(client, open_server, "new-user", "passwd123")
    assert response.status_code == 201
    assert response.json() == {"username": "new-user"}


async def test_create_refuses_duplicated_user(client, open_server):
    response = await register(client, open_server, "dup-user", "passwd123")
    assert response.status_code == 201
    assert response.json() == {"username": "dup-user"}
    response = await register(client, open_server, "dup-user", "passwd123")
    assert response.status_code == 402
    assert response.json() == {"code": 2002, "message": "Username is already registered."}


async def test_auth_with_empty_wrong_and_right_key(client, open_server):
    await register(client, open_server, "auth-user", "passwd123")
    response = await authorize(client, open_server, "auth-user", "")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    response = await authorize(client, open_server, "auth-user", "wrong_password")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    response = await authorize(client, open_server, "auth-user", "passwd123")
    assert response.status_code == 200
    assert response.json()["authorized"] == "OK"


@pytest.fixture
async def sync_user(client, open_server) -> tuple[str, str]:
    await register(client, open_server, "sync-user", "passwd123")
    return "sync-user", "passwd123"


async def test_get_needs_authorization(client, open_server, sync_user):
    user, key = sync_user
    response = await get_progress(client, open_server, user, key + "wrong_pass", "89isjkdaj9j")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_update_needs_authorization(client, open_server, sync_user, db):
    user, key = sync_user
    response = await update(
        client, open_server, user, key + "wrong_pass", "doc401put", 0.32, "56", "my kpw"
    )
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert (
        await db.fetchval(
            "SELECT count(*) FROM reading_progress_history WHERE document = 'doc401put'"
        )
        == 0
    )


async def test_update_echoes_document_and_timestamp(client, open_server, sync_user):
    user, key = sync_user
    response = await update(client, open_server, user, key, "docupdate1", 0.32, "56", "my kpw")
    assert response.status_code == 200
    body = response.json()
    assert body["document"] == "docupdate1"
    assert isinstance(body["timestamp"], int) and body["timestamp"] > 0


async def test_unknown_document_gives_empty_object(client, open_server, sync_user):
    user, key = sync_user
    await update(client, open_server, user, key, "docknown", 0.32, "56", "my kpw")
    response = await get_progress(client, open_server, user, key, "docknown_non_existent")
    assert response.status_code == 200
    assert response.json() == {}


async def test_get_document_progress(client, open_server, sync_user):
    user, key = sync_user
    await update(client, open_server, user, key, "docget1", 0.32, "56", "my kpw")
    response = await get_progress(client, open_server, user, key, "docget1")
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body.pop("timestamp"), int)
    assert body == {"document": "docget1", "percentage": 0.32, "progress": "56", "device": "my kpw"}


async def test_latest_device_wins(client, open_server, sync_user):
    user, key = sync_user
    await update(client, open_server, user, key, "doclatest", 0.32, "56", "my kpw")
    # 36 is written later, so it is the answer.
    await update(client, open_server, user, key, "doclatest", 0.22, "36", "my pb")
    response = await get_progress(client, open_server, user, key, "doclatest")
    assert response.status_code == 200
    body = response.json()
    body.pop("timestamp")
    assert body == {
        "document": "doclatest",
        "percentage": 0.22,
        "progress": "36",
        "device": "my pb",
    }
    # and back again: the first device writes once more and becomes the newest.
    await update(client, open_server, user, key, "doclatest", 0.40, "70", "my kpw")
    body = (await get_progress(client, open_server, user, key, "doclatest")).json()
    assert (body["device"], body["progress"]) == ("my kpw", "70")


# --- shelver's own rules ------------------------------------------------------------------


async def test_registration_disabled_by_default(client, closed_server, db):
    response = await register(client, closed_server, "walk-in", "passwd123")
    assert response.status_code == 402
    assert response.json()["code"] == 2005
    found = await db.fetchval("SELECT count(*) FROM service_credentials WHERE username = 'walk-in'")
    assert found == 0


@pytest.mark.parametrize(
    "body",
    [
        {"password": "k"},
        {"username": "x"},
        {"username": "", "password": "k"},
        {"username": "a:b", "password": "k"},
        {"username": " ", "password": "k"},
        {"username": "\t", "password": "k"},
        {"username": " padded", "password": "k"},
        {"username": "---", "password": "k"},
        {"username": "a\u202eb", "password": "k"},
        {"username": "a\u2028b", "password": "k"},
        {"username": 12, "password": "k"},
        {"username": "typed", "password": 12},
        ["username", "password"],
    ],
)
async def test_registration_with_invalid_fields(client, open_server, body, db):
    response = await client.post(f"{open_server.base_url}/users/create", json=body)
    assert response.status_code == 403
    assert response.json()["code"] == 2003
    assert (
        await db.fetchval("SELECT count(*) FROM service_credentials WHERE username = 'typed'") == 0
    )


async def test_registration_with_bad_json(client, open_server):
    response = await client.post(
        f"{open_server.base_url}/users/create",
        content=b'{"username": "x", "password":',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == 2003


async def test_login_made_with_the_cli(client, closed_server, closed_home, kosync_dsn):
    add_login_with_the_cli(closed_home, kosync_dsn, "reader", "correct horse")
    response = await authorize(client, closed_server, "reader", md5_hex("correct horse"))
    assert response.status_code == 200
    # the clear password is not the key: devices send its MD5
    response = await authorize(client, closed_server, "reader", "correct horse")
    assert response.status_code == 401
    stored = await asyncpg.connect(kosync_dsn)
    try:
        secret = await stored.fetchval(
            "SELECT password_hash FROM service_credentials WHERE username = 'reader'"
        )
    finally:
        await stored.close()
    assert secret.startswith("scrypt$") and md5_hex("correct horse") not in secret


def test_cli_refuses_a_second_login_with_the_same_name(closed_home, kosync_dsn):
    add_login(closed_home, kosync_dsn, "twice", "one")
    result = subprocess.run(
        shelver_command("--home", str(closed_home), "credentials", "add", "kosync", "twice"),
        input="two\n",
        capture_output=True,
        text=True,
        env=shelver_env(kosync_dsn),
        timeout=60,
    )
    assert result.returncode == 1
    assert "already exists" in result.stderr and "Traceback" not in result.stderr


def test_cli_refuses_an_empty_password(closed_home, kosync_dsn):
    result = subprocess.run(
        shelver_command("--home", str(closed_home), "credentials", "add", "kosync", "empty"),
        input="",
        capture_output=True,
        text=True,
        env=shelver_env(kosync_dsn),
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1


GOOD = {
    "document": "badinput",
    "progress": "/body/DocFragment[3]/body/p[2]/text().0",
    "percentage": 0.5,
    "device": "Kobo",
    "device_id": "ABC123",
}


def _without(key: str) -> dict:
    return {k: v for k, v in GOOD.items() if k != key}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_without("document"), 2004),
        ({**GOOD, "document": ""}, 2004),
        ({**GOOD, "document": 42}, 2004),
        ({**GOOD, "document": None}, 2004),
        ({**GOOD, "document": "a/b"}, 2004),
        ({**GOOD, "document": "a:b"}, 2004),
        ({**GOOD, "document": "x" * 500}, 2004),
        (_without("percentage"), 2003),
        ({**GOOD, "percentage": "0.5"}, 2003),
        ({**GOOD, "percentage": 1.5}, 2003),
        ({**GOOD, "percentage": -0.01}, 2003),
        ({**GOOD, "percentage": True}, 2003),
        ({**GOOD, "percentage": None}, 2003),
        ({**GOOD, "percentage": [0.5]}, 2003),
        (_without("progress"), 2003),
        ({**GOOD, "progress": ""}, 2003),
        ({**GOOD, "progress": 56}, 2003),
        ({**GOOD, "progress": {"page": 5}}, 2003),
        (_without("device"), 2003),
        ({**GOOD, "device": ""}, 2003),
        ({**GOOD, "device": 7}, 2003),
        ({**GOOD, "device": "Ko\x00bo"}, 2003),
        ({**GOOD, "device_id": 99}, 2003),
        ({**GOOD, "metadata": {"title": "nul \x00 inside"}}, 2003),
    ],
)
async def test_bad_progress_is_refused_and_not_stored(
    client, open_server, sync_user, db, body, code
):
    user, key = sync_user
    response = await client.put(
        f"{open_server.base_url}/syncs/progress", headers=auth(user, key), json=body
    )
    assert response.status_code == 403
    assert response.json()["code"] == code
    assert (
        await db.fetchval("SELECT count(*) FROM reading_progress_history WHERE device = 'Kobo'")
        == 0
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b'{"document": "badinput", ',
        b"[1, 2, 3]",
        b'"just a string"',
        b"null",
        b'{"document": "badinput", "progress": "1", "percentage": NaN, "device": "Kobo"}',
        b'{"document": "badinput", "progress": "1", "percentage": Infinity, "device": "Kobo"}',
        b'{"document": "badinput", "progress": "\\ud800", "percentage": 0.1, "device": "Kobo"}',
        b'\xff\xfe{"document": "badinput"}',
    ],
)
async def test_malformed_bodies_are_refused(client, open_server, sync_user, db, raw):
    user, key = sync_user
    response = await client.put(
        f"{open_server.base_url}/syncs/progress",
        headers={**auth(user, key), "content-type": "application/json"},
        content=raw,
    )
    assert response.status_code == 403
    assert response.json()["code"] == 2003
    assert (
        await db.fetchval("SELECT count(*) FROM reading_progress_history WHERE device = 'Kobo'")
        == 0
    )


async def test_ten_megabyte_body_is_refused(client, open_server, sync_user, db):
    user, key = sync_user
    huge = json.dumps({**GOOD, "progress": "x" * (10 * 1024 * 1024)}).encode()
    response = await client.put(
        f"{open_server.base_url}/syncs/progress",
        headers={**auth(user, key), "content-type": "application/json"},
        content=huge,
    )
    assert response.status_code == 403
    assert response.json()["code"] == 2003
    assert (
        await db.fetchval("SELECT count(*) FROM reading_progress_history WHERE device = 'Kobo'")
        == 0
    )
    # the server is still fine afterwards
    assert (await client.get(f"{open_server.base_url}/healthcheck")).json() == {"state": "OK"}


async def test_chunked_oversized_body_is_refused(client, open_server, sync_user):
    user, key = sync_user

    async def chunks():
        yield b'{"document": "badinput", "progress": "'
        for _ in range(64):
            yield b"y" * 16384
        yield b'", "percentage": 0.5, "device": "Kobo"}'

    response = await client.put(
        f"{open_server.base_url}/syncs/progress",
        headers={**auth(user, key), "content-type": "application/json"},
        content=chunks(),
    )
    assert response.status_code == 403
    assert response.json()["code"] == 2003


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-auth-user": "sync-user"},
        {"x-auth-key": "passwd123"},
        {"x-auth-user": "", "x-auth-key": "passwd123"},
        {"x-auth-user": "nobody", "x-auth-key": "passwd123"},
        {"x-auth-user": "sync:user", "x-auth-key": "passwd123"},
    ],
)
async def test_missing_or_wrong_headers_are_unauthorized(
    client, open_server, sync_user, headers, db
):
    for method, path, body in (
        ("GET", "/users/auth", None),
        ("GET", "/syncs/progress/badinput", None),
        ("PUT", "/syncs/progress", GOOD),
    ):
        response = await client.request(
            method, f"{open_server.base_url}{path}", headers=headers, json=body
        )
        assert response.status_code == 401, (method, path)
        assert response.json() == UNAUTHORIZED
    assert (
        await db.fetchval("SELECT count(*) FROM reading_progress_history WHERE device = 'Kobo'")
        == 0
    )


async def test_invalid_document_in_the_path(client, open_server, sync_user):
    user, key = sync_user
    response = await get_progress(client, open_server, user, key, "a:b")
    assert response.status_code == 403
    assert response.json()["code"] == 2004


async def test_unknown_route_and_wrong_method_answer_json(client, open_server):
    response = await client.get(f"{open_server.base_url}/nowhere")
    assert response.status_code == 404
    assert "code" in response.json()
    response = await client.delete(f"{open_server.base_url}/syncs/progress")
    assert response.status_code == 405
    assert "code" in response.json()


async def test_put_stores_current_position_history_and_raw_payload(
    client, open_server, sync_user, db
):
    user, key = sync_user
    for percentage, progress in ((0.1, "10"), (0.2, "20"), (0.3, "30")):
        response = await update(
            client, open_server, user, key, "dochistory", percentage, progress, "pb"
        )
        assert response.status_code == 200
    current = await db.fetch("SELECT * FROM reading_progress WHERE document = 'dochistory'")
    assert len(current) == 1
    assert current[0]["progress"] == "30"
    raw = current[0]["raw_payload"]
    raw = json.loads(raw) if isinstance(raw, str) else raw
    assert raw["progress"] == "30" and raw["device"] == "pb"
    history = await db.fetch(
        "SELECT progress FROM reading_progress_history WHERE document = 'dochistory' "
        "ORDER BY created_at"
    )
    assert [r["progress"] for r in history] == ["10", "20", "30"]


async def test_concurrent_puts_are_all_durable(open_server, sync_user, db):
    user, key = sync_user
    count = 120
    # Eight requests in flight at once from one address: under the server's caps per address
    # (32 connections; 10 logins being checked), which refuse a larger burst however fast the
    # writer is.
    client = device_client(
        headers={"accept": KOREADER_ACCEPT}, limits=httpx.Limits(max_connections=8)
    )

    async def one(i: int):
        return await update(
            client,
            open_server,
            user,
            key,
            f"docburst{i % 7}",
            (i % 100) / 100,
            str(i),
            f"dev{i % 5}",
        )

    async with client:
        responses = await asyncio.gather(*(one(i) for i in range(count)))
    assert all(r.status_code == 200 for r in responses)
    stored = await db.fetchval(
        "SELECT count(*) FROM reading_progress_history WHERE document LIKE 'docburst%'"
    )
    assert stored == count
    current = await db.fetchval(
        "SELECT count(*) FROM reading_progress WHERE document LIKE 'docburst%'"
    )
    assert current == len({(i % 7, i % 5) for i in range(count)})


# --- what KOReader's kosync plugin sends, byte for byte where it matters ------------------


async def test_koreader_plugin_replay(open_server, db):
    """Register, authorize, push, pull: the requests of plugins/kosync.koplugin (KOSyncClient)."""
    password_key = md5_hex("koreader password")  # the plugin hashes the password itself
    base = open_server.base_url
    common = {"accept": KOREADER_ACCEPT, "content-type": "application/json"}
    document = md5_hex("some book file")
    async with device_client() as http:
        response = await http.post(
            f"{base}/users/create",
            headers=common,
            content=json.dumps({"username": "kindle", "password": password_key}),
        )
        assert response.status_code == 201
        signed = {**common, "x-auth-user": "kindle", "x-auth-key": password_key}
        response = await http.get(f"{base}/users/auth", headers=signed)
        assert (response.status_code, response.json()) == (200, {"authorized": "OK"})
        # first open of the book: nothing yet, KOReader expects 200 {}
        response = await http.get(f"{base}/syncs/progress/{document}", headers=signed)
        assert (response.status_code, response.json()) == (200, {})
        payload = {
            "document": document,
            "progress": "/body/DocFragment[14]/body/div/p[12]/text().0",
            "percentage": 0.4213,
            "device": "Kindle Paperwhite",
            "device_id": "A1B2C3D4E5F60718293A4B5C6D7E8F90",
        }
        response = await http.put(
            f"{base}/syncs/progress", headers=signed, content=json.dumps(payload)
        )
        assert response.status_code == 200
        assert response.json()["document"] == document
        # newer clients add metadata and identifiers to the PUT and ?ids= to the GET
        payload_v2 = {
            **payload,
            "percentage": 0.45,
            "metadata": {"title": "Some Book", "authors": "Someone"},
            "identifiers": [{"type": "partial_md5", "value": document}],
        }
        response = await http.put(
            f"{base}/syncs/progress", headers=signed, content=json.dumps(payload_v2)
        )
        assert response.status_code == 200
        response = await http.get(
            f"{base}/syncs/progress/{document}", params={"ids": "x"}, headers=signed
        )
        body = response.json()
        assert response.status_code == 200
        assert body["percentage"] == 0.45
        assert body["progress"] == payload["progress"]
        assert body["device"] == "Kindle Paperwhite"
        assert body["device_id"] == payload["device_id"]
        assert body["document"] == document
    raw = await db.fetchval(
        "SELECT raw_payload FROM reading_progress WHERE document = $1", document
    )
    raw = json.loads(raw) if isinstance(raw, str) else raw
    assert raw["metadata"]["title"] == "Some Book"


# --- logging and shutdown -----------------------------------------------------------------


async def test_log_has_one_line_per_request_and_no_secrets(
    tmp_path: Path, kosync_dsn: str, client: httpx.AsyncClient
):
    add_login(tmp_path, kosync_dsn, "logger", "s3cret-password")
    key = md5_hex("s3cret-password")
    server = start_server(tmp_path, kosync_dsn)
    try:
        before = server.log_text().count("shelver.serve.access")
        assert (await authorize(client, server, "logger", key)).status_code == 200
        assert (await authorize(client, server, "logger", "bad" + key)).status_code == 401
        assert (
            await update(client, server, "logger", key, "doclog", 0.5, "5", "kpw")
        ).status_code == 200
        await asyncio.sleep(0.2)
    finally:
        assert server.stop() == 0
    text = server.log_text()
    assert text.count("shelver.serve.access") - before == 3
    assert key not in text and "s3cret-password" not in text
    assert "Traceback" not in text
    assert "stopped after" in text


async def test_sigterm_during_writes_loses_no_acknowledged_put(tmp_path: Path, kosync_dsn: str, db):
    add_login(tmp_path, kosync_dsn, "stopper", "pw")
    key = md5_hex("pw")
    server = start_server(tmp_path, kosync_dsn)
    acknowledged: list[str] = []
    async with httpx.AsyncClient(timeout=30) as http:

        async def device(n: int) -> None:
            for i in range(1000):
                try:
                    response = await update(
                        http, server, "stopper", key, "docstop", 0.5, f"{n}-{i}", f"d{n}"
                    )
                except httpx.HTTPError:
                    return
                if response.status_code != 200:
                    return
                acknowledged.append(f"{n}-{i}")

        tasks = [asyncio.create_task(device(n)) for n in range(8)]
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.stop)
        await asyncio.gather(*tasks)
    assert server.returncode == 0
    stored = {
        r["progress"]
        for r in await db.fetch(
            "SELECT progress FROM reading_progress_history WHERE document = 'docstop'"
        )
    }
    assert acknowledged and set(acknowledged) <= stored


def test_a_put_whose_body_arrives_after_sigterm_is_answered_and_the_stop_is_prompt(
    tmp_path: Path, kosync_dsn: str
):
    """A request already started when the stop comes is finished, its body read to the end
    (aiohttp's own shutdown stops reading, so such a request hung until the 10 s shutdown
    timeout and was never answered)."""
    add_login(tmp_path, kosync_dsn, "late", "pw")
    server = start_server(tmp_path, kosync_dsn)
    body = json.dumps(
        {"document": "doclate", "progress": "p", "percentage": 0.25, "device": "kobo"}
    ).encode()
    head = (
        "PUT /syncs/progress HTTP/1.1\r\nHost: shelver\r\n"
        f"x-auth-user: late\r\nx-auth-key: {md5_hex('pw')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as device:
        device.sendall(head + body[:10])
        time.sleep(0.3)  # the handler has started and waits for the rest of the body
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while "stopping" not in server.log_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        device.sendall(body[10:])
        answer = device.recv(65536).decode()
        started = time.monotonic()
        # The SIGTERM above is the only one: a second could land after the handler is gone.
        assert server.process.wait(timeout=30) == 0
    head, _, answered = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200") and json.loads(answered)["document"] == "doclate"
    assert "connection: close" in head.lower()  # the device reconnects, to a server gone
    assert time.monotonic() - started < 5  # not the 10 s of aiohttp's shutdown timeout


def test_port_in_use_is_a_one_line_error(open_server, closed_home, kosync_dsn):
    port = open_server.base_url.rsplit(":", 1)[1]
    result = subprocess.run(
        shelver_command("--home", str(closed_home), "serve", "--port", port, "--no-watch"),
        capture_output=True,
        text=True,
        env=shelver_env(kosync_dsn),
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr


async def test_lost_database_connections_give_502_not_500_and_recover(
    tmp_path: Path, server_dsn: str, template_dsn: str
):
    dsn = await clone_template(server_dsn)
    try:
        add_login(tmp_path, dsn, "outage", "pw")
        key = md5_hex("pw")
        server = start_server(tmp_path, dsn)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                assert (
                    await update(http, server, "outage", key, "docout", 0.1, "1", "kpw")
                ).status_code == 200
                admin = await asyncpg.connect(dsn)
                try:
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                finally:
                    await admin.close()
                statuses = []
                for i in range(30):
                    response = await update(
                        http, server, "outage", key, "docout", 0.2, str(i), "kpw"
                    )
                    statuses.append(response.status_code)
                    if response.status_code != 200:
                        assert response.json()["code"] == 2000
                    response = await get_progress(http, server, "outage", key, "docout")
                    statuses.append(response.status_code)
                assert set(statuses) <= {200, 502}
                assert statuses[-4:] == [200, 200, 200, 200]
        finally:
            assert server.stop() == 0
        assert "Traceback" not in server.log_text()
    finally:
        await drop_database(server_dsn, dsn)


async def test_database_failure_is_answered_with_code_2000(database_dsn: str):
    """In-process: a pool that has been closed makes every query fail; the answer is 502/2000."""
    from aiohttp.test_utils import TestServer

    from shelver.app.server import create_app
    from shelver.data.kosync import ProgressWriter

    pool = await asyncpg.create_pool(database_dsn, min_size=1, max_size=1)
    await insert_login(pool, "u", "k")
    writer = ProgressWriter(pool)
    writer.start()
    server = TestServer(create_app(pool, writer))
    await server.start_server()
    try:
        base = str(server.make_url(""))
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(f"{base}/users/auth", headers=auth("u", "k"))).status_code == 200
            await pool.close()
            response = await http.get(f"{base}/syncs/progress/abc", headers=auth("u", "k"))
            assert (response.status_code, response.json()["code"]) == (502, 2000)
            response = await http.put(
                f"{base}/syncs/progress", headers=auth("u", "k"), json={**GOOD, "device": "x"}
            )
            assert (response.status_code, response.json()["code"]) == (502, 2000)
    finally:
        await server.close()
        await writer.close()


async def test_serve_watches_the_inbox_and_progress_links_itself(
    tmp_path: Path, server_dsn: str, template_dsn: str, shared_dir: Path
):
    """A device syncs a book shelver does not know yet; the file then lands in the inbox."""
    import shutil

    from shelver.data.importing.hashing import partial_md5

    source = shared_dir / "corpus" / "calibre-quick-start-eng__deb-calibre.epub"
    if not source.exists():
        pytest.skip("the corpus EPUB is absent")
    document = partial_md5(source)
    dsn = await clone_template(server_dsn)
    try:
        add_login(tmp_path, dsn, "watcher", "pw")
        server = start_server(tmp_path, dsn)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                response = await update(
                    http, server, "watcher", md5_hex("pw"), document, 0.3, "9", "kpw"
                )
                assert response.status_code == 200
            conn = await asyncpg.connect(dsn)
            try:
                linked = "SELECT book_id FROM reading_document_book($1)"
                assert await conn.fetchval(linked, document) is None
                shutil.copy(source, tmp_path / "inbox" / source.name)
                for _ in range(600):
                    if await conn.fetchval(linked, document) is not None:
                        break
                    await asyncio.sleep(0.1)
                assert await conn.fetchval(linked, document) is not None
            finally:
                await conn.close()
        finally:
            assert server.stop() == 0
        assert "watching the inbox" in server.log_text()
    finally:
        await drop_database(server_dsn, dsn)


async def test_a_newline_in_the_path_cannot_forge_a_log_line(tmp_path: Path, kosync_dsn: str):
    server = start_server(tmp_path, kosync_dsn)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            url = f"{server.base_url}/syncs/progress/abc%0A2026-01-01%20forged%20line"
            response = await http.get(url, headers=auth("nobody", "x"))
            assert response.status_code == 401
    finally:
        assert server.stop() == 0
    lines = server.log_text().splitlines()
    assert not any(line.startswith("2026-01-01 forged") for line in lines)
    assert any("abc%0A2026-01-01%20forged%20line" in line for line in lines)
