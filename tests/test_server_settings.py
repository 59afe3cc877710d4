"""``[server]`` in config.toml sets the limits of a real ``shelver serve``, and WebDAV uploads
have a time limit of their own: a large file paced over a link takes what it needs, far past
the small-body limit, while a drip-feed is cut off and leaves nothing behind."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shelver.data.settings import ConfigError, ServerLimits, load_settings
from tests.kosync_support import (
    ServerProcess,
    add_login,
    device_client,
    kosync_dsn_fixture,  # noqa: F401 - the fixture kosync_dsn
    md5_hex,
    start_server,
)

LOGIN, PASSWORD = "reader", "correct horse"
CONFIG = """
[server]
failed_logins_per_address = 2
refused_login_delay_seconds = 0.25
connections_per_address = 3
request_body_seconds = 0.5
upload_stall_seconds = 1.0
upload_min_bytes_per_second = 1048576
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("limits-home")
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    return home


@pytest.fixture(scope="module")
def server(home: Path, kosync_dsn: str) -> Iterator[ServerProcess]:
    add_login(home, kosync_dsn, LOGIN, PASSWORD)
    running = start_server(home, kosync_dsn, "--no-watch")
    yield running
    running.stop()


def test_the_defaults_are_todays_limits_and_bad_values_are_named(tmp_path: Path):
    limits = load_settings(tmp_path / "absent.toml").server
    assert limits == ServerLimits()
    assert (limits.failed_logins_per_address, limits.connections_per_address) == (10, 32)
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nconnections_per_address = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server\.connections_per_address"):
        load_settings(bad)


async def test_failed_logins_follow_the_configured_limit(server: ServerProcess):
    async with device_client() as http:
        url = f"{server.base_url}/users/auth"
        statuses = [
            (await http.get(url, headers={"x-auth-user": LOGIN, "x-auth-key": "wrong"})).status_code
            for _ in range(3)
        ]
    assert statuses == [401, 401, 429]  # the default would allow ten


async def test_refusals_wait_the_configured_delay(server: ServerProcess):
    """A refused login is answered after `refused_login_delay_seconds` (a lower bound on the
    time taken, which a busy machine cannot break); a wrong key that is checked is not."""
    async with device_client() as http:
        url = f"{server.base_url}/users/auth"
        taken = []
        for _ in range(3):
            started = time.monotonic()
            response = await http.get(url, headers={"x-auth-user": LOGIN, "x-auth-key": "wrong"})
            taken.append((response.status_code, time.monotonic() - started))
    assert [status for status, _ in taken] == [401, 401, 429]
    assert taken[2][1] >= 0.25


async def test_connections_per_address_follow_the_configured_limit(server: ServerProcess):
    port = int(server.base_url.rsplit(":", 1)[1])
    source = "127.0.9.9"
    opened = [
        await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)) for _ in range(4)
    ]
    try:
        reader, _ = opened[3]
        answer = await asyncio.wait_for(reader.read(200), 5)
        assert answer.startswith(b"HTTP/1.1 503")
    finally:
        for _, writer in opened:
            writer.close()


def _put_head(path: str, length: int) -> bytes:
    token = base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
    return (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
        f"Content-Length: {length}\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()


async def _answer(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(30):
        return await reader.readuntil(b"\r\n\r\n")


async def test_a_large_upload_paced_over_seconds_is_stored(server: ServerProcess, home: Path):
    """24 MB sent in 24 pieces a tenth of a second apart: over two seconds, four times the
    small-body limit, yet well above the minimum rate."""
    port = int(server.base_url.rsplit(":", 1)[1])
    piece = bytes(range(256)) * 4096  # 1 MB
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(_put_head("/dav/big.bin", 24 * len(piece)))
    for _ in range(24):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.1)
    head = await _answer(reader)
    writer.close()
    assert time.monotonic() - started > 2.0
    assert head.startswith(b"HTTP/1.1 201"), head
    async with httpx.AsyncClient(auth=(LOGIN, PASSWORD), timeout=30) as http:
        stored = await http.get(f"{server.base_url}/dav/big.bin")
    assert stored.status_code == 200 and stored.content == piece * 24


async def test_a_drip_fed_upload_is_cut_off_and_leaves_nothing(server: ServerProcess, home: Path):
    port = int(server.base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_put_head("/dav/drip.bin", 1_000_000))
    started = time.monotonic()
    answer = b""
    for _ in range(100):  # 30 s of one byte at a time if nobody stopped it
        try:
            writer.write(b"x")
            await writer.drain()
        except ConnectionError:
            break
        try:
            answer = await asyncio.wait_for(reader.read(200), 0.3)
        except TimeoutError:
            continue
        break
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 10
    async with httpx.AsyncClient(auth=(LOGIN, PASSWORD), timeout=30) as http:
        assert (await http.get(f"{server.base_url}/dav/drip.bin")).status_code == 404
    leftovers = [p for p in (home / "dav").rglob("*") if p.is_file() and "drip" in p.name]
    assert leftovers == []


async def test_a_kosync_body_is_held_to_the_small_body_limit(server: ServerProcess):
    port = int(server.base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "PUT /syncs/progress HTTP/1.1\r\nHost: x\r\n"
            f"x-auth-user: {LOGIN}\r\nx-auth-key: {md5_hex(PASSWORD)}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        ).encode()
    )
    await writer.drain()
    started = time.monotonic()
    head = await _answer(reader)
    writer.close()
    assert b" 403 " in head.split(b"\r\n")[0]  # "Request body too slow", KoSync's 2003
    assert time.monotonic() - started < 5
