"""Fetch candidates for 300 inbox books from local fake Google Books and Hardcover servers.

The fakes are real HTTP servers on 127.0.0.1 (aiohttp, in their own thread and event loop)
that answer every request after 150 ms. The Hardcover fake enforces a rate limit like the real
service, scaled for the bench: 600 requests a minute with bursts of 10 (at most 10 in any
1-second window and 600 in any 60-second window, counting accepted requests), and answers 429
with ``Retry-After`` above it. One book in ten has an ISBN the fakes do not know, so the
title + author fallback runs too.

    python bench/fetch.py [--books 300] [--latency 0.15] [--database-url URL]

Without --database-url a throwaway embedded cluster is used. With one, a temporary database is
created on that server (the role needs CREATEDB) and dropped afterwards.

Targets (issue 4): the Google Books half done in under 10 s; zero 429s from Hardcover while
using at least 90% of its allowance.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402

from shelver.data.cluster import EmbeddedCluster  # noqa: E402
from shelver.data.db import Database, DatabaseTarget  # noqa: E402
from shelver.data.fetching import ProviderKeys, fetch_candidates  # noqa: E402
from shelver.data.home import Home  # noqa: E402
from shelver.data.importing.isbn import complete_isbn13  # noqa: E402
from shelver.data.settings import ProviderSettings, Settings  # noqa: E402

HARDCOVER_PER_MINUTE = 600
HARDCOVER_BURST = 10
BURST_WINDOW = 60.0 * HARDCOVER_BURST / HARDCOVER_PER_MINUTE


def isbn_for(n: int) -> str:
    return complete_isbn13(f"978{n:09d}")


@dataclass
class FakeStats:
    google_requests: int = 0
    hardcover_requests: int = 0
    hardcover_429: int = 0
    hardcover_first: float | None = None
    hardcover_last: float | None = None
    accepted: deque[float] = field(default_factory=deque)


class FakeProviders:
    """Both fake services, running in a background thread."""

    def __init__(self, known: dict[str, tuple[str, str]], latency: float) -> None:
        self.known = known
        self.latency = latency
        self.stats = FakeStats()
        self.loop = asyncio.new_event_loop()
        self.ports: dict[str, int] = {}
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runners: list[web.AppRunner] = []

    # --- Google Books --------------------------------------------------------------------
    async def google(self, request: web.Request) -> web.Response:
        self.stats.google_requests += 1
        await asyncio.sleep(self.latency)
        q = request.query.get("q", "")
        if q.startswith("isbn:"):
            isbn = q[len("isbn:") :]
            if isbn not in self.known:
                return web.json_response({"kind": "books#volumes", "totalItems": 0})
            title, author = self.known[isbn]
        else:
            title, author, isbn = "A Found Title", "Some Author", "9780000000002"
            for known_isbn, (known_title, known_author) in self.known.items():
                if f'"{known_title}"' in q:
                    title, author, isbn = known_title, known_author, known_isbn
                    break
        item = {
            "id": f"g-{isbn}",
            "volumeInfo": {
                "title": title,
                "authors": [author],
                "publishedDate": "2020-05",
                "language": "en",
                "pageCount": 320,
                "industryIdentifiers": [{"type": "ISBN_13", "identifier": isbn}],
                "description": "<p>A <b>fine</b> book.</p>",
            },
        }
        return web.json_response({"kind": "books#volumes", "totalItems": 1, "items": [item]})

    # --- Hardcover -----------------------------------------------------------------------
    def _over_limit(self, now: float) -> float:
        accepted = self.stats.accepted
        while accepted and accepted[0] <= now - 60.0:
            accepted.popleft()
        wait = 0.0
        if len(accepted) >= HARDCOVER_PER_MINUTE:
            wait = max(wait, accepted[-HARDCOVER_PER_MINUTE] + 60.0 - now)
        if len(accepted) >= HARDCOVER_BURST:
            wait = max(wait, accepted[-HARDCOVER_BURST] + BURST_WINDOW - now)
        return wait

    async def hardcover(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        self.stats.hardcover_requests += 1
        self.stats.hardcover_first = self.stats.hardcover_first or now
        self.stats.hardcover_last = now
        wait = self._over_limit(now)
        if wait > 0:
            self.stats.hardcover_429 += 1
            return web.json_response(
                {"error": "Too Many Requests", "message": "API rate limit exceeded"},
                status=429,
                headers={"Retry-After": str(max(1, round(wait + 0.5)))},
            )
        self.stats.accepted.append(now)
        body = await request.json()
        await asyncio.sleep(self.latency)
        q = body["variables"]["q"]
        hits = []
        if q in self.known:
            title, author = self.known[q]
            hits = [{"document": self._doc(q, title, author)}]
        elif not q.isdigit():
            for isbn, (title, author) in self.known.items():
                if q.startswith(title):
                    hits = [{"document": self._doc(isbn, title, author)}]
                    break
        return web.json_response({"data": {"search": {"results": {"hits": hits}}}})

    @staticmethod
    def _doc(isbn: str, title: str, author: str) -> dict:
        return {
            "id": isbn[-6:],
            "title": title,
            "author_names": [author],
            "isbns": [isbn],
            "pages": 320,
            "release_year": 2020,
            "genres": ["Fiction"],
        }

    # --- plumbing ------------------------------------------------------------------------
    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        for name, method, path, handler in (
            ("google", "GET", "/books/v1/volumes", self.google),
            ("hardcover", "POST", "/v1/graphql", self.hardcover),
        ):
            app = web.Application()
            app.router.add_route(method, path, handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.ports[name] = runner.addresses[0][1]
            self._runners.append(runner)

    def start(self) -> FakeProviders:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def cleanup() -> None:
            for runner in self._runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


async def seed(database: Database, count: int) -> dict[str, tuple[str, str]]:
    """``count`` inbox books with a `file` candidate; the ISBNs the fakes know."""
    known: dict[str, tuple[str, str]] = {}
    rows = []
    for n in range(count):
        isbn = isbn_for(n + 1)
        title, author = f"Bench Book Number {n + 1}", f"Author {n % 37} Writer"
        if n % 10 != 9:  # one in ten: an ISBN the providers do not know
            known[isbn] = (title, author)
        rows.append((uuid.uuid4(), title, author, isbn))
    async with database.pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO books (id, status, title, author, isbn_13) "
            "VALUES ($1, 'inbox', $2, $3, $4)",
            rows,
        )
        await conn.executemany(
            "INSERT INTO book_metadata_candidates (book_id, source, normalized, confidence) "
            "VALUES ($1, 'file', jsonb_build_object('title', $2::text, 'author', $3::text, "
            "'isbn_13', $4::text), 1)",
            rows,
        )
    return known


async def run(args: argparse.Namespace, dsn: str) -> int:
    database = await Database.open(DatabaseTarget(dsn=dsn), max_size=10)
    try:
        known = await seed(database, args.books)
        fakes = FakeProviders(known, args.latency).start()
        try:
            settings = Settings(
                providers=ProviderSettings(
                    google_books_url=f"http://127.0.0.1:{fakes.ports['google']}/books/v1",
                    hardcover_url=f"http://127.0.0.1:{fakes.ports['hardcover']}/v1/graphql",
                    hardcover_requests_per_minute=HARDCOVER_PER_MINUTE,
                )
            )
            keys = ProviderKeys(google_books_key="bench-key", hardcover_token="bench-token")
            report = await fetch_candidates(database, settings, keys=keys)
        finally:
            fakes.stop()
        stats = fakes.stats
        moved = sum(b.moved_to_review for b in report.books)
        google_half = report.source_elapsed.get("google_books", float("nan"))
        hardcover_half = report.source_elapsed.get("hardcover", float("nan"))
        span = (stats.hardcover_last or 0) - (stats.hardcover_first or 0)
        # The allowance over the span the requests took: the burst up front, then the rate.
        allowance = HARDCOVER_BURST + span * HARDCOVER_BURST / BURST_WINDOW
        usage = stats.hardcover_requests / allowance if allowance else 0.0
        print(
            f"books:                    {args.books} ({moved} moved to review, "
            f"{len(report.failed)} with failures)"
        )
        print(f"latency per answer:       {args.latency * 1000:.0f} ms")
        print(f"total time:               {report.elapsed:.2f} s")
        print(f"Google Books half:        {google_half:.2f} s  (target < 10 s)")
        print(f"Hardcover half:           {hardcover_half:.2f} s")
        print(
            f"requests, Google Books:   {stats.google_requests} "
            f"(client counted {report.requests.get('google_books')})"
        )
        print(
            f"requests, Hardcover:      {stats.hardcover_requests} "
            f"(client counted {report.requests.get('hardcover')})"
        )
        print(
            f"429s from Hardcover:      {stats.hardcover_429} "
            f"(client received {report.rate_limited.get('hardcover')}; target 0)"
        )
        print(
            f"Hardcover allowance used: {usage * 100:.1f}% "
            f"({stats.hardcover_requests} requests in {span:.2f} s at "
            f"{HARDCOVER_PER_MINUTE}/min, burst {HARDCOVER_BURST}; target >= 90%)"
        )
        ok = google_half < 10 and stats.hardcover_429 == 0 and usage >= 0.9
        print("targets met" if ok else "TARGETS MISSED")
        return 0 if ok else 1
    finally:
        await database.close()


async def with_temporary_database(args: argparse.Namespace, server_dsn: str) -> int:
    name = f"shelver_bench_fetch_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        parts = urlsplit(server_dsn)
        return await run(args, urlunsplit(parts._replace(path=f"/{name}")))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per answer")
    parser.add_argument("--database-url", help="a server to create a temporary database on")
    args = parser.parse_args()
    if args.database_url:
        return asyncio.run(with_temporary_database(args, args.database_url))
    root = Path(tempfile.mkdtemp(prefix="shelver-bench-fetch-"))
    cluster = EmbeddedCluster(
        Home.at(root), extra_settings={"fsync": "off", "synchronous_commit": "off"}
    )
    try:
        cluster.ensure_running()
        return asyncio.run(run(args, cluster.dsn()))
    finally:
        cluster.drop()  # stops it and deletes its data
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
