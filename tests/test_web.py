"""``shelver web``: the TUI in a browser, with the login rule for non-loopback addresses."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from shelver.data import credentials
from tests.kosync_support import free_port, shelver_command, shelver_env


class WebProcess:
    def __init__(self, home: Path, dsn: str, *args: str) -> None:
        self.port = free_port()
        self.log = home / f"web-{self.port}.log"
        home.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                shelver_command("--home", str(home), "web", "--port", str(self.port), *args),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=shelver_env(dsn),
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"shelver web did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def web_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def started() -> Iterator[list[WebProcess]]:
    processes: list[WebProcess] = []
    yield processes
    for process in processes:
        process.stop()


def test_refuses_a_public_address_without_a_login(web_home, database_dsn):
    result = subprocess.run(
        shelver_command("--home", str(web_home), "web", "--host", "0.0.0.0", "--port", "1"),
        capture_output=True,
        text=True,
        env=shelver_env(database_dsn),
        timeout=120,
    )
    assert result.returncode == 2
    assert "refusing" in result.stderr and "credentials add web" in result.stderr
    assert result.stderr.count("\n") == 1


async def test_loopback_serves_the_tui_to_a_browser(web_home, database_dsn, started):
    web = WebProcess(web_home, database_dsn)
    started.append(web)
    await asyncio.to_thread(web.wait_ready)
    async with aiohttp.ClientSession() as session:
        async with session.get(web.url) as page:
            assert page.status == 200
            html = await page.text()
        assert "ws://127.0.0.1" in html
        # The page's websocket starts a real shelver TUI, whose screen arrives as output.
        async with session.ws_connect(f"ws://127.0.0.1:{web.port}/ws?width=80&height=24") as ws:
            await ws.send_str(json.dumps(["resize", {"width": 80, "height": 24}]))
            received = ""
            deadline = time.monotonic() + 90
            while "Inbox" not in received and time.monotonic() < deadline:
                message = await ws.receive(timeout=90)
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    data = message.data
                    received += data if isinstance(data, str) else data.decode("utf-8", "replace")
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    break
            assert "Inbox" in received


async def test_a_web_login_guards_every_request(web_home, database_dsn, database, started):
    await credentials.add(database.pool, "web", "me", "s3cret", web_home)
    web = WebProcess(web_home, database_dsn, "--host", "0.0.0.0")
    started.append(web)
    await asyncio.to_thread(web.wait_ready)
    async with httpx.AsyncClient(timeout=30) as client:
        refused = await client.get(web.url)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith('Basic realm="shelver"')
        assert (await client.get(web.url, auth=("me", "wrong"))).status_code == 401
        assert (await client.get(f"{web.url}/static/js/textual.js")).status_code == 401
        page = await client.get(web.url, auth=("me", "s3cret"))
        assert page.status_code == 200
    assert "s3cret" not in web.log.read_text()


async def test_failed_web_logins_follow_the_server_settings(
    web_home, database_dsn, database, started
):
    web_home.mkdir(parents=True, exist_ok=True)
    (web_home / "config.toml").write_text("[server]\nfailed_logins_per_address = 2\n")
    await credentials.add(database.pool, "web", "me", "s3cret", web_home)
    web = WebProcess(web_home, database_dsn, "--host", "0.0.0.0")
    started.append(web)
    await asyncio.to_thread(web.wait_ready)
    async with httpx.AsyncClient(timeout=30) as client:
        statuses = [(await client.get(web.url, auth=("me", "wrong"))).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]  # the default would allow ten
