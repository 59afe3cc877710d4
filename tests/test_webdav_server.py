"""``/dav/`` of a real ``shelver serve`` process, driven as KOReader's cloud sync drives it.

The exchange follows plugins/cloudstorage.koplugin (cloudstorage.lua ``Cloud:sync`` and
providers/webdav.lua): Basic credentials on every request, GET (404 on the first sync) then PUT
with ``If-Match`` set to the downloaded ETag, 412 when another device wrote in between, and
PROPFIND listings read with the same loose patterns KOReader uses.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import unquote

import asyncpg
import httpx
import pytest

from tests.kosync_support import (
    ServerProcess,
    add_login,
    clone_template,
    drop_database,
    start_server,
)
from tests.statistics_support import StatBookSpec, reading_days, write_statistics

LOGIN = ("reader", "correct horse")
OTHER = ("partner", "battery staple")
MD5 = "0123456789abcdef0123456789abcdef"
PROPFIND_BODY = (
    '<?xml version="1.0"?><a:propfind xmlns:a="DAV:"><a:prop><a:resourcetype/>'
    "<a:getcontentlength/><a:getlastmodified/></a:prop></a:propfind>"
)


@pytest.fixture(scope="module")
async def dav_dsn(server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    dsn = await clone_template(server_dsn)
    yield dsn
    await drop_database(server_dsn, dsn)


@pytest.fixture(scope="module")
def dav_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dav-home")


@pytest.fixture(scope="module")
def server(dav_home: Path, dav_dsn: str) -> Iterator[ServerProcess]:
    add_login(dav_home, dav_dsn, *LOGIN)
    add_login(dav_home, dav_dsn, *OTHER)
    process = start_server(dav_home, dav_dsn, "--no-watch")
    yield process
    process.stop()


@pytest.fixture
async def device(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, auth=LOGIN, timeout=30) as client:
        yield client


def koreader_listing(xml: str) -> list[dict[str, object]]:
    """KOReader's WebDavApi.listFolder, pattern for pattern (Lua patterns as regexes)."""
    items = []
    for item in re.findall(r"<[^:]*:response[^>]*>(.*?)</[^:]*:response>", xml, re.S):
        href = re.search(r"<[^:]*:href[^>]*>(.*)</[^:]*:href>", item)
        assert href is not None, item
        path = unquote(href.group(1))
        is_file = re.search(r"<[^:]*:resourcetype\s*/>", item) or re.search(
            r"<[^:]*:resourcetype>\s*</[^:]*:resourcetype>", item
        )
        if is_file:
            size = re.search(r"<[^:]*:getcontentlength[^>]*>(\d+)</[^:]*:getcontentlength>", item)
            modified = re.search(r"<[^:]*:getlastmodified[^>]*>(.*)</[^:]*:getlastmodified>", item)
            items.append(
                {
                    "name": path.rstrip("/").rsplit("/", 1)[-1],
                    "folder": False,
                    "size": int(size.group(1)) if size else None,
                    "modified": modified.group(1) if modified else None,
                }
            )
        elif re.search(r"<[^:]*:collection[^<]*/>", item):
            items.append({"name": path.rstrip("/").rsplit("/", 1)[-1], "folder": True})
    return items


def statistics_bytes(tmp_path: Path, days: int = 3) -> bytes:
    spec = StatBookSpec(
        "A Book", "An Author", MD5, 300, reading_days(1_700_000_000, days, pages_per_day=20)
    )
    return write_statistics(tmp_path / f"statistics-{days}.sqlite3", [spec]).read_bytes()


async def wait_for_import(dsn: str, count: int) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(200):
            rows = await conn.fetch("SELECT * FROM reading_stat_imports ORDER BY id")
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"expected {count} imports")


async def test_koreader_sync_rounds_and_a_concurrent_device(
    device: httpx.AsyncClient, dav_dsn: str, tmp_path: Path, dav_home: Path
) -> None:
    # The module's tests share one server and database, in whatever order xdist runs them.
    earlier_imports = len(await wait_for_import(dav_dsn, 0))
    url = "/dav/koreader/statistics.sqlite3"
    assert (await device.request("MKCOL", "/dav/koreader")).status_code == 201
    # First sync: nothing there yet, so KOReader uploads without If-Match.
    first = await device.get(url)
    assert first.status_code == 404
    assert "etag" not in first.headers
    body = statistics_bytes(tmp_path, days=3)
    created = await device.put(url, content=body)
    assert created.status_code == 201
    etag = created.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")

    # Second sync: download with its ETag, upload the merge with If-Match.
    again = await device.get(url)
    assert again.status_code == 200
    assert again.content == body
    assert again.headers["etag"] == etag
    assert again.headers["last-modified"].endswith("GMT")
    merged = statistics_bytes(tmp_path, days=5)
    replaced = await device.put(url, content=merged, headers={"If-Match": etag})
    assert 200 <= replaced.status_code < 300
    new_etag = replaced.headers["etag"]
    assert new_etag != etag

    # A second device still holding the first ETag is told to download and merge again.
    stale = await device.put(url, content=body, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert (await device.get(url)).content == merged
    # The replaced version is kept as a backup, outside what the login can see.
    backups = dav_home / "dav" / "previous" / LOGIN[0]
    assert (backups / "koreader" / "statistics.sqlite3").read_bytes() == body

    rows = (await wait_for_import(dav_dsn, earlier_imports + 2))[earlier_imports:]
    assert [r["outcome"] for r in rows] == ["imported", "imported"]
    assert rows[0]["login"] == LOGIN[0] and rows[0]["source"] == "webdav"
    assert rows[0]["visits_added"] == 60 and rows[1]["visits_added"] == 40
    conn = await asyncpg.connect(dav_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM reading_page_visits") == 100
    finally:
        await conn.close()


async def test_propfind_listing_reads_with_koreaders_patterns(
    device: httpx.AsyncClient,
) -> None:
    await device.request("MKCOL", "/dav/shelf")
    await device.request("MKCOL", "/dav/shelf/Vieux papiers")
    await device.put("/dav/shelf/été & co.txt", content=b"hello")
    answer = await device.request(
        "PROPFIND", "/dav/shelf/", content=PROPFIND_BODY, headers={"Depth": "1"}
    )
    assert answer.status_code == 207
    assert answer.headers["content-type"].startswith("application/xml")
    listing = koreader_listing(answer.text)
    assert {"name": "Vieux papiers", "folder": True} in listing
    files = [item for item in listing if not item["folder"]]
    assert [(f["name"], f["size"]) for f in files] == [("été & co.txt", 5)]
    assert str(files[0]["modified"]).endswith("GMT")
    # Depth 0: the folder itself only.
    own = await device.request("PROPFIND", "/dav/shelf/", headers={"Depth": "0"})
    assert own.status_code == 207
    assert own.text.count("<d:response>") == 1
    assert (
        await device.request("PROPFIND", "/dav/", headers={"Depth": "infinity"})
    ).status_code == 403
    bad = await device.request("PROPFIND", "/dav/", content=b"<a:propfind", headers={"Depth": "1"})
    assert bad.status_code == 400


async def test_each_login_sees_only_its_own_folder(
    device: httpx.AsyncClient, server: ServerProcess
) -> None:
    await device.put("/dav/private.txt", content=b"mine")
    async with httpx.AsyncClient(base_url=server.base_url, auth=OTHER) as other:
        assert (await other.get("/dav/private.txt")).status_code == 404
        listing = await other.request("PROPFIND", "/dav/", headers={"Depth": "1"})
        assert "private.txt" not in listing.text


async def test_authentication_failures(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        missing = await anonymous.get("/dav/")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Basic")
        wrong = await anonymous.get("/dav/", auth=(LOGIN[0], "wrong"))
        assert wrong.status_code == 401
        nobody = await anonymous.get("/dav/", auth=("nobody", LOGIN[1]))
        assert nobody.status_code == 401
        garbage = await anonymous.get("/dav/", headers={"Authorization": "Basic %%%"})
        assert garbage.status_code == 401
        options = await anonymous.options("/dav/")
        assert options.status_code == 200 and options.headers["dav"] == "1"
        assert "PROPFIND" in options.headers["allow"]
    assert "correct horse" not in server.log_text()


def basic(login: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(login).encode()).decode()


def raw_request(base_url: str, request: bytes) -> bytes:
    """Send bytes as they are (httpx would normalise the path); the answer's head and body.

    Reading stops at the end of the answer: a server may keep the socket open a while to
    drain a body it refused."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if _ and length and len(body) >= int(length.group(1)):
                break
    return answer


@pytest.mark.parametrize(
    "path",
    [
        "/dav/../../etc/passwd",
        "/dav/%2e%2e/%2e%2e/etc/passwd",
        "/dav/a%2f..%2f..%2fsecret",
        "/dav/..%5c..%5csecret",
        "/dav/x%00y",
    ],
)
async def test_path_escapes_are_refused(server: ServerProcess, path: str, dav_home: Path) -> None:
    answer = raw_request(
        server.base_url,
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {basic(LOGIN)}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 403, 404), answer[:200]
    assert b"root:" not in answer


async def test_symbolic_links_are_not_followed(
    device: httpx.AsyncClient, dav_home: Path, tmp_path: Path
) -> None:
    await device.put("/dav/anchor.txt", content=b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    root = dav_home / "dav" / "users" / LOGIN[0]
    (root / "link.txt").symlink_to(secret)
    (root / "linked-folder").symlink_to(tmp_path, target_is_directory=True)
    assert (await device.get("/dav/link.txt")).status_code == 403
    assert (await device.get("/dav/linked-folder/secret.txt")).status_code == 403
    assert (await device.put("/dav/linked-folder/new.txt", content=b"x")).status_code == 403
    listing = await device.request("PROPFIND", "/dav/", headers={"Depth": "1"})
    assert "link.txt" not in listing.text and "linked-folder" not in listing.text
    assert secret.read_text() == "do not serve"


async def test_oversize_put_is_refused_before_reading(
    server: ServerProcess, device: httpx.AsyncClient
) -> None:
    answer = raw_request(
        server.base_url,
        f"PUT /dav/huge.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {basic(LOGIN)}\r\n"
        f"Content-Length: {600 * 1024 * 1024}\r\nConnection: close\r\n\r\n".encode()
        + b"x" * 1000,
    )
    assert int(answer.split(b" ", 2)[1]) == 413
    assert (await device.get("/dav/huge.bin")).status_code == 404


async def test_mkcol_delete_and_conflicts(device: httpx.AsyncClient) -> None:
    assert (await device.request("MKCOL", "/dav/a")).status_code == 201
    assert (await device.request("MKCOL", "/dav/a")).status_code == 405
    assert (await device.request("MKCOL", "/dav/missing/child")).status_code == 409
    assert (await device.put("/dav/missing/file.txt", content=b"x")).status_code == 409
    created = await device.put("/dav/a/f.txt", content=b"x", headers={"If-None-Match": "*"})
    assert created.status_code == 201
    again = await device.put("/dav/a/f.txt", content=b"y", headers={"If-None-Match": "*"})
    assert again.status_code == 412
    assert (
        await device.put("/dav/a/f.txt", content=b"y", headers={"If-Match": "*"})
    ).status_code == 204
    assert (
        await device.put("/dav/new.txt", content=b"y", headers={"If-Match": "*"})
    ).status_code == 412
    assert (await device.delete("/dav/a/f.txt")).status_code == 204
    assert (await device.get("/dav/a/f.txt")).status_code == 404
    assert (await device.delete("/dav/a")).status_code == 204
    assert (await device.delete("/dav/")).status_code == 403
    assert (await device.request("LOCK", "/dav/x")).status_code == 405


async def test_a_refused_statistics_file_is_kept_and_reported_once(
    device: httpx.AsyncClient, dav_dsn: str, server: ServerProcess
) -> None:
    conn = await asyncpg.connect(dav_dsn)
    try:
        before = await conn.fetchval("SELECT count(*) FROM reading_stat_imports")
    finally:
        await conn.close()
    garbage = b"SQLite format 3\x00" + b"\xff" * 5000
    first = await device.put("/dav/garbage/statistics.sqlite3", content=garbage)
    if first.status_code == 409:
        await device.request("MKCOL", "/dav/garbage")
        first = await device.put("/dav/garbage/statistics.sqlite3", content=garbage)
    assert first.status_code == 201
    etag = first.headers["etag"]
    second = await device.put(
        "/dav/garbage/statistics.sqlite3", content=garbage, headers={"If-Match": etag}
    )
    assert second.status_code == 204
    rows = await wait_for_import(dav_dsn, before + 1)
    await asyncio.sleep(0.5)  # the second import runs after the first
    conn = await asyncpg.connect(dav_dsn)
    try:
        refused = await conn.fetch(
            "SELECT detail FROM reading_stat_imports WHERE outcome = 'refused'"
        )
    finally:
        await conn.close()
    assert len(refused) == 1, rows
    assert (await device.get("/dav/garbage/statistics.sqlite3")).content == garbage
    assert server.log_text().count("refused") == 1
