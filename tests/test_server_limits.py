"""Limits of ``shelver serve`` over real sockets: slow and idle clients, connections per address,
bodies nested too deep, malformed requests, and what the log says about them."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiohttp import web

from shelver.app.http_limits import LimitedSite
from shelver.app.server import create_app
from shelver.data.kosync import ProgressWriter
from tests.kosync_support import (
    add_login,
    clone_template,
    device_client,
    drop_database,
    insert_login,
    md5_hex,
    start_server,
)


@dataclass
class Limited:
    port: int
    site: LimitedSite


@pytest.fixture
async def limited(database_dsn: str) -> AsyncIterator[Limited]:
    """The real app behind a LimitedSite with short limits, on a free loopback port."""
    pool = await asyncpg.create_pool(database_dsn, min_size=1, max_size=4)
    await insert_login(pool, "reader", "good-key")
    writer = ProgressWriter(pool)
    writer.start()
    runner = web.AppRunner(create_app(pool, writer), access_log=None, handle_signals=False)
    await runner.setup()
    site = LimitedSite(runner, "127.0.0.1", 0, head_seconds=0.5, max_per_address=4)
    await site.start()
    try:
        yield Limited(site._server.sockets[0].getsockname()[1], site)
    finally:
        await runner.cleanup()
        await writer.close()
        await pool.close()


async def _open(port: int, source: str = "127.0.0.1"):
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the server ends the connection within ``seconds`` (reading whatever it sends)."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def test_a_client_dripping_its_headers_is_closed(limited: Limited):
    reader, writer = await _open(limited.port)
    writer.write(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n")
    closed = False
    for n in range(40):  # 8 s of drip-feeding if nobody stops it
        try:
            writer.write(f"X-Drip-{n}: a\r\n".encode())
            await writer.drain()
        except ConnectionError:
            closed = True
            break
        if await _closed_within(reader, 0.2):
            closed = True
            break
    writer.close()
    assert closed
    assert limited.site.connections.timed_out == 1


async def test_idle_connections_are_closed_before_and_after_a_request(limited: Limited):
    reader, writer = await _open(limited.port)
    assert await _closed_within(reader, 5)
    writer.close()
    reader, writer = await _open(limited.port)
    writer.write(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n")
    status = await reader.readline()
    assert status.startswith(b"HTTP/1.1 200")
    assert await _closed_within(reader, 5)  # kept alive, then idle: closed
    writer.close()
    assert limited.site.connections.timed_out == 2


async def test_connections_per_address_are_capped_and_others_still_served(limited: Limited):
    idle = [await _open(limited.port) for _ in range(4)]
    extra_reader, extra_writer = await _open(limited.port)
    answer = await asyncio.wait_for(extra_reader.read(200), 5)
    assert answer.startswith(b"HTTP/1.1 503")
    extra_writer.close()
    async with httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"), timeout=10
    ) as http:
        response = await http.get(f"http://127.0.0.1:{limited.port}/healthcheck")
        assert response.status_code == 200
    for _, writer in idle:
        writer.close()
    assert limited.site.connections.refused == 1


@pytest.mark.parametrize("depth", [20, 400, 5000, 60000])
async def test_deeply_nested_json_is_a_clean_403(limited: Limited, depth: int):
    body = '{"document": "doc", "percentage": 0.1, "progress": "1", "device": "d", "x": '
    body += "[" * depth + "]" * depth + "}"
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.put(
            f"http://127.0.0.1:{limited.port}/syncs/progress",
            headers={"x-auth-user": "reader", "x-auth-key": "good-key"},
            content=body.encode(),
        )
    assert response.status_code in (403, 413), response.text
    if response.status_code == 403:
        assert response.json()["code"] == 2003


# --- the log of a real `shelver serve` -----------------------------------------------------


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionError):
            pass
    return b"".join(chunks)


async def test_bad_requests_get_one_escaped_log_line_and_no_traceback(
    tmp_path: Path, server_dsn: str, template_dsn: str
):
    dsn = await clone_template(server_dsn)
    try:
        add_login(tmp_path, dsn, "logged", "secret-pw")
        server = start_server(tmp_path, dsn)
        try:
            port = int(server.base_url.rsplit(":", 1)[1])
            before = server.log_text()
            big_header = b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000
            answers = [
                _raw(port, big_header + b"\r\nConnection: close\r\n\r\n"),
                _raw(
                    port, b"GET /users/\x1b[2Jauth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                ),
                _raw(port, b'GET /a"b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
                _raw(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"),
            ]
            for answer in answers:
                assert not answer.startswith((b"HTTP/1.1 5", b"HTTP/1.0 5")), answer[:80]
            async with device_client() as http:
                response = await http.get(
                    f"{server.base_url}/users/auth",
                    headers={"x-auth-user": "logged", "x-auth-key": md5_hex("secret-pw")},
                )
                assert response.status_code == 200
            time.sleep(0.3)
        finally:
            assert server.stop() == 0
        text = server.log_text()[len(before) :]
        assert "Traceback" not in text
        assert "\x1b" not in text
        assert 'GET /a\\"b' in text
        assert md5_hex("secret-pw") not in text and "secret-pw" not in text
        # one line per request: three bad ones and the good one (a TLS hello on the plain port
        # is noise aiohttp keeps at debug level)
        access = [line for line in text.splitlines() if "shelver.serve.access" in line]
        assert len(access) == 4, text
    finally:
        await drop_database(server_dsn, dsn)
