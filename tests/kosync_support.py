"""Running a real ``shelver serve`` process for the KoSync tests (and the benchmark's helpers)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import clone_template, drop_database

KOREADER_ACCEPT = "application/vnd.koreader.v1+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def device_client(**options) -> httpx.AsyncClient:
    """An HTTP client on a loopback address of its own (127.x.y.z), like one more device on
    the network: the server's per-address limits see each test's client as a different one."""
    a, b, c = random.randrange(1, 255), random.randrange(0, 256), random.randrange(1, 255)
    # The transport, not the client, holds the connection limits when a transport is given.
    limits = options.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
    transport = httpx.AsyncHTTPTransport(local_address=f"127.{a}.{b}.{c}", limits=limits)
    return httpx.AsyncClient(transport=transport, timeout=options.pop("timeout", 30), **options)


async def insert_login(db, username: str, key: str) -> None:
    """A KoSync login straight into the database (for in-process servers)."""
    from shelver.data.passwords import hash_secret

    await db.execute(
        "INSERT INTO service_credentials (service, username, password_hash) "
        "VALUES ('kosync', $1, $2)",
        username,
        hash_secret(key),
    )


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module", name="kosync_dsn")
async def kosync_dsn_fixture(server_dsn: str, template_dsn: str):
    """``kosync_dsn``: one migrated database shared by a module's servers (a test module
    imports this to have it)."""
    dsn = await clone_template(server_dsn)
    yield dsn
    await drop_database(server_dsn, dsn)


def shelver_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "shelver", *args]


def shelver_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["SHELVER_DATABASE_URL"] = database_url
    env.pop("SHELVER_HOME", None)
    return env


def add_login(home: Path, database_url: str, username: str, password: str) -> None:
    """A KoSync login, stored by the data layer as ``shelver credentials add`` stores it (a
    test setting up a server needs the login, not another process start; the command itself
    is run by ``add_login_with_the_cli`` and tests/test_credentials_cli.py). Works from sync
    and async tests alike: the database work runs on a thread of its own."""
    from shelver.data import credentials
    from shelver.data.home import Home

    async def add() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await credentials.add(
                connection, "kosync", username, password, Home.at(home).config_dir
            )
        finally:
            await connection.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, add()).result()


def add_login_with_the_cli(home: Path, database_url: str, username: str, password: str) -> None:
    """``shelver credentials add kosync USERNAME`` with the password on stdin."""
    result = subprocess.run(
        shelver_command("--home", str(home), "credentials", "add", "kosync", username),
        input=password + "\n",
        capture_output=True,
        text=True,
        env=shelver_env(database_url),
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"credentials add failed: {result.stderr}")


@dataclass
class ServerProcess:
    """A running ``shelver serve``; ``stop()`` sends SIGTERM and returns the exit code."""

    process: subprocess.Popen[str]
    base_url: str
    log_path: Path
    returncode: int | None = field(default=None)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.returncode = self.process.wait()
        return self.returncode


def start_server(home: Path, database_url: str, *extra: str, timeout: float = 60) -> ServerProcess:
    """Start ``shelver serve`` on a free loopback port and wait until /healthcheck answers."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / f"serve-{port}.log"
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        shelver_command(
            "--home", str(home), "serve", "--host", "127.0.0.1", "--port", str(port), *extra
        ),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=shelver_env(database_url),
        text=True,
    )
    log_file.close()
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"shelver serve exited early:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.base_url}/healthcheck", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"shelver serve did not answer in {timeout} s:\n{server.log_text()}")
