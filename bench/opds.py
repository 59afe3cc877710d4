"""OPDS benchmark: feeds, search and a download from ``shelver serve`` on 100,000 books, and the
same pages from calibre-server on a 2,000-book calibredb library, side by side.

    python bench/opds.py [--books 100000] [--requests 200] [--database-url URL] [--no-calibre]

Without --database-url it starts an embedded cluster in a throwaway home and fills it with
generated organized books by COPY (bench/library_data.py), adds one real 50 MB file, an ``opds``
login, and starts ``shelver serve``. Over one keep-alive loopback connection (aiohttp, Basic
auth) it times, per request, the first byte (headers received) and the last byte of:

* the root feed ``/opds``;
* a deep acquisition page: "All books" 1,000+ pages in (rows 50,000-51,000 of the title order),
  reached by its keyset ``after=`` link, 20 different pages in turn;
* a search page: 200 queries of 1-3 words taken from the books' own titles and authors
  (the Library's search, typos included), 50 books each;

then downloads the 50 MB file five times (MB/s, best and median). With calibre installed it
builds a 2,000-book library with ``calibredb add`` (kept under the system's temporary folder for
the next run), starts ``calibre-server`` and times its root feed, a deep by-title page and a
search page the same way. Targets (issue 11): p95 < 50 ms for each page, download >= 500 MB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from kosync import free_port  # noqa: E402
from library import percentile, prepare, sample_queries  # noqa: E402

from shelver.data import books, credentials  # noqa: E402
from shelver.data.db import Database, DatabaseTarget  # noqa: E402
from shelver.data.importing.hashing import digest_file  # noqa: E402
from shelver.data.models import BookFields, BookStatus  # noqa: E402
from shelver.data.opds import Cursor  # noqa: E402

USER, PASSWORD = "bench", "bench password"
DOWNLOAD_BYTES = 50 * 1024 * 1024
CALIBRE_BOOKS = 2_000


def shelver(home: Path, dsn: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "shelver", "--home", str(home), "--database-url", dsn, *args]


async def wait_for(url: str, process: subprocess.Popen, auth=None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(auth=auth) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{process.args[0]} exited before answering")
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not answer in time")


async def timed(http: aiohttp.ClientSession, urls: list[str]) -> tuple[list[float], list[float]]:
    """Time to first byte and to last byte (ms) of each URL, one after the other."""
    first, last = [], []
    for url in urls:
        started = time.perf_counter()
        async with http.get(url) as response:
            headers_at = time.perf_counter()
            body = await response.read()
            done = time.perf_counter()
        if response.status != 200 or not body:
            raise SystemExit(f"{url}: HTTP {response.status}")
        first.append((headers_at - started) * 1000)
        last.append((done - started) * 1000)
    return first, last


def summary(values: tuple[list[float], list[float]]) -> str:
    first, last = values
    return (
        f"TTFB p50 {statistics.median(first):5.1f} p95 {percentile(first, 0.95):5.1f} ms   "
        f"TTLB p50 {statistics.median(last):5.1f} p95 {percentile(last, 0.95):5.1f} ms"
    )


async def deep_page_urls(database: Database, base: str, books: int, count: int = 20) -> list[str]:
    """Links to pages 1,000-1,020 of "All books" (halfway in for a smaller library), as a
    reader reaches them by `next`."""
    start = min(50_000, books // 2)
    urls = []
    for page in range(count):
        record = await database.pool.fetchrow(
            """SELECT shelver_sort_key(title) COLLATE "C" AS title_key, id FROM books
               WHERE status = 'organized'
               ORDER BY shelver_sort_key(title) COLLATE "C", id OFFSET $1 LIMIT 1""",
            start + 50 * page,
        )
        cursor = Cursor((record["title_key"],), record["id"])
        urls.append(f"{base}/opds/books?after={quote(cursor.encode(), safe='')}")
    return urls


async def add_big_file(database: Database, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "big.epub"
    with open(path, "wb") as handle:
        for _ in range(DOWNLOAD_BYTES // (1 << 20)):
            handle.write(os.urandom(1 << 20))
    digest = digest_file(path)
    book = await books.insert(
        database.pool,
        BookFields(title="A Very Large Book", author="Bench Mark"),
        status=BookStatus.ORGANIZED,
    )
    row = await books.add_file(
        database.pool,
        book.id,
        format="epub",
        original_name=path.name,
        file_size=digest.size,
        checksum=digest.checksum,
        content_hash=digest.content_hash,
        storage_path=str(path),
    )
    return f"/opds/file/{row.id}/big.epub"


async def download_rates(http: aiohttp.ClientSession, url: str, runs: int = 5) -> list[float]:
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        size = 0
        async with http.get(url) as response:
            async for chunk in response.content.iter_chunked(1 << 20):
                size += len(chunk)
        elapsed = time.perf_counter() - started
        if size != DOWNLOAD_BYTES:
            raise SystemExit(f"download: got {size} bytes, expected {DOWNLOAD_BYTES}")
        rates.append(size / elapsed / 1e6)
    return rates


async def bench_shelver(args: argparse.Namespace, home: Path, dsn: str) -> dict[str, tuple]:
    database = await Database.open(DatabaseTarget(dsn=dsn), max_size=4)
    async with database:
        await prepare(database, args.books)
        download_path = await add_big_file(database, home / "library")
        await credentials.add(database.pool, "opds", USER, PASSWORD, home, replace=True)
        queries = await sample_queries(database, args.requests)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        deep = await deep_page_urls(database, base, args.books)
    log = open(home / "serve.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        shelver(home, dsn, "serve", "--no-watch", "--port", str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    auth = aiohttp.BasicAuth(USER, PASSWORD)
    results: dict[str, tuple] = {}
    try:
        await wait_for(f"{base}/opds", server, auth)
        async with aiohttp.ClientSession(auth=auth) as http:
            await timed(http, [f"{base}/opds"] * 5 + deep[:5])  # warm up
            n = args.requests
            results["root"] = await timed(http, [f"{base}/opds"] * n)
            results["deep"] = await timed(http, [deep[i % len(deep)] for i in range(n)])
            search = [f"{base}/opds/search?q={quote(q)}" for q in queries]
            results["search"] = await timed(http, search)
            results["download"] = tuple(await download_rates(http, base + download_path))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    return results


# --- calibre-server ------------------------------------------------------------------------


def tiny_epub(path: Path, title: str, author: str) -> None:
    opf = (
        '<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" '
        'unique-identifier="uid" version="2.0"><metadata '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{title}</dc:title><dc:creator>{author}</dc:creator>"
        f'<dc:identifier id="uid">urn:uuid:{path.stem}</dc:identifier>'
        "<dc:language>en</dc:language></metadata><manifest>"
        '<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest>'
        '<spine><itemref idref="c"/></spine></package>'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        archive.writestr("content.opf", opf)
        archive.writestr(
            "c.xhtml",
            '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>text</p></body></html>',
        )


def calibre_library(count: int) -> Path:
    """A calibredb library of ``count`` small books (made once, then reused)."""
    library = Path(tempfile.gettempdir()) / f"shelver-bench-calibre-{count}"
    if (library / "metadata.db").exists() and (library / ".complete").exists():
        return library
    shutil.rmtree(library, ignore_errors=True)
    source = Path(tempfile.mkdtemp(prefix="shelver-bench-calibre-src-"))
    words = ("Shadow", "River", "Night", "Garden", "Winter", "Empire", "Stone", "Glass")
    for index in range(count):
        title = f"{words[index % 8]} of {words[(index // 8) % 8]} {index}"
        tiny_epub(source / f"b{index:05d}.epub", title, f"Author {index % 300}")
    started = time.perf_counter()
    subprocess.run(
        ["calibredb", "add", "--recurse", "--library-path", str(library), str(source)],
        check=True,
        capture_output=True,
    )
    print(f"calibredb add: {count} books in {time.perf_counter() - started:.0f} s")
    shutil.rmtree(source, ignore_errors=True)
    (library / ".complete").touch()
    return library


async def bench_calibre(args: argparse.Namespace) -> dict[str, tuple] | str:
    if args.no_calibre:
        return "skipped (--no-calibre)"
    if not (shutil.which("calibre-server") and shutil.which("calibredb")):
        return "skipped: calibre is not installed (apt-get install calibre)"
    library = calibre_library(CALIBRE_BOOKS)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        ["calibre-server", "--listen-on", "127.0.0.1", "--port", str(port), str(library)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, tuple] = {}
    try:
        await wait_for(f"{base}/opds", server)
        # By title ("Otitle", hex-encoded as calibre does), 1,500 books in (30 a page).
        deep = f"{base}/opds/navcatalog/4f7469746c65?offset=1500"
        words = ("shadow", "river nig", "garden", "winter of", "empire", "stone 12", "glass")
        async with aiohttp.ClientSession() as http:
            await timed(http, [f"{base}/opds", deep] * 3)
            n = args.requests
            results["root"] = await timed(http, [f"{base}/opds"] * n)
            results["deep"] = await timed(http, [deep] * n)
            search = [f"{base}/opds/search/{quote(words[i % len(words)])}" for i in range(n)]
            results["search"] = await timed(http, search)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return results


def report(shelver_results: dict[str, tuple], calibre: dict[str, tuple] | str, books: int) -> None:
    labels = {"root": "root feed", "deep": "deep page", "search": "search page"}
    print(f"\nshelver serve, {books:,} books:")
    for key, label in labels.items():
        print(f"  {label:<12} {summary(shelver_results[key])}")
    rates = shelver_results["download"]
    print(
        f"  download     50 MB: best {max(rates):,.0f} MB/s, median {statistics.median(rates):,.0f}"
        " MB/s"
    )
    if isinstance(calibre, str):
        print(f"\ncalibre-server: {calibre}")
        return
    print(f"\ncalibre-server, {CALIBRE_BOOKS:,} books (ratio: calibre p95 / shelver p95, TTLB):")
    for key, label in labels.items():
        ratio = percentile(calibre[key][1], 0.95) / percentile(shelver_results[key][1], 0.95)
        print(f"  {label:<12} {summary(calibre[key])}   {ratio:4.1f}x")


async def main_async(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="shelver-bench-opds-"))
    cluster = None
    dsn = args.database_url
    try:
        if dsn is None:
            from shelver.data.cluster import EmbeddedCluster
            from shelver.data.home import Home

            cluster = EmbeddedCluster(Home.at(home / "cluster-home"))
            cluster.ensure_running()
            dsn = cluster.dsn()
        shelver_results = await bench_shelver(args, home, dsn)
        calibre = await bench_calibre(args)
        report(shelver_results, calibre, args.books)
    finally:
        if cluster is not None:
            cluster.drop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-calibre", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
