"""Library benchmark: search latency at 100,000 books, and the virtual table under load.

    python bench/library.py [--books 100000] [--queries 200] [--database-url URL]

Without --database-url it starts an embedded cluster in a throwaway home, fills it with
generated organized books by COPY (bench/library_data.py), and prints:

* search: p50/p95/max of ``data.library.page`` for 200 queries of 1-3 words taken from the
  books' own titles and authors (the last word often cut short, as while typing), warm;
  plus the count query that sizes the list;
* table: first paint of a BookTable over the whole library, time from a keystroke in a search
  Input to the new rows painted (Pilot, typing real queries letter by letter), and the peak
  RSS of a process that scrolls a BookTable from the first book to the last.

Targets (issue 5): search p95 < 20 ms, keystroke to results < 100 ms, RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from library_data import fill  # noqa: E402

from shelver.data import library  # noqa: E402
from shelver.data.db import Database, DatabaseTarget  # noqa: E402
from shelver.data.library_models import LibraryQuery, LibraryRow  # noqa: E402
from shelver.data.library_window import LibraryWindow  # noqa: E402

TYPED_QUERIES = ("tolkien", "the hobbit", "garcia marq", "emile zola germ", "shadow of")


BROAD_QUERIES = ("t", "th", "the", "a", "b", "be", "the l", "of")


def with_typo(text: str, seed: int) -> str:
    """The query with two neighbouring letters of its longest word swapped."""
    rng = random.Random(seed)
    words = text.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    if len(word) >= 4:
        at = rng.randrange(1, len(word) - 2)
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    words[longest] = word
    return " ".join(words)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def describe(values_ms: list[float]) -> str:
    return (
        f"p50 {statistics.median(values_ms):6.1f} ms   p95 {percentile(values_ms, 0.95):6.1f} ms"
        f"   max {max(values_ms):6.1f} ms   (n={len(values_ms)})"
    )


async def prepare(database: Database, books: int) -> None:
    async with database.pool.acquire() as conn:
        have = await conn.fetchval("SELECT count(*) FROM books WHERE status = 'organized'")
        if have >= books:
            print(f"reusing {have} organized books")
            return
        if have:
            raise SystemExit(f"the database already holds {have} books; use an empty one")
        started = time.perf_counter()
        await fill(conn, books)
        print(f"filled {books} books by COPY in {time.perf_counter() - started:.1f} s")


async def sample_queries(database: Database, count: int, seed: int = 11) -> list[str]:
    """1-3 words from random books' titles and authors; the last often a typed prefix."""
    rng = random.Random(seed)
    rows = await database.pool.fetch(
        "SELECT title, author FROM books TABLESAMPLE SYSTEM (5) REPEATABLE (11) LIMIT 2000"
    )
    queries = []
    while len(queries) < count:
        row = rng.choice(rows)
        words = f"{row['title'] or ''} {row['author'] or ''}".replace(":", " ").split()
        if not words:
            continue
        start = rng.randrange(len(words))
        chosen = words[start : start + rng.randint(1, 3)]
        if rng.random() < 0.5 and len(chosen[-1]) > 3:
            chosen[-1] = chosen[-1][: rng.randint(2, len(chosen[-1]) - 1)]
        queries.append(" ".join(chosen))
    return queries


async def bench_search(database: Database, count: int) -> dict:
    queries = await sample_queries(database, count)
    pool = database.pool
    for text in queries:  # warm: caches, prepared statements, plans
        await library.page(pool, LibraryQuery(text=text), limit=100)
    timings, count_timings, sizes = [], [], []
    for text in queries:
        started = time.perf_counter()
        result = await library.page(pool, LibraryQuery(text=text), limit=100)
        timings.append((time.perf_counter() - started) * 1000)
        sizes.append(len(result.rows))
        started = time.perf_counter()
        await library.count(pool, LibraryQuery(text=text))
        count_timings.append((time.perf_counter() - started) * 1000)
    typos = [with_typo(text, seed) for seed, text in enumerate(queries[:50])]
    typo_timings, typo_found = [], 0
    for text in typos + typos:  # the first round warms
        started = time.perf_counter()
        result = await library.page(pool, LibraryQuery(text=text), limit=100)
        typo_timings.append((time.perf_counter() - started) * 1000)
        typo_found += bool(result.rows)
    typo_timings = typo_timings[len(typos) :]
    broad_timings = []
    for text in BROAD_QUERIES * 3:
        started = time.perf_counter()
        await library.page(pool, LibraryQuery(text=text), limit=100)
        broad_timings.append((time.perf_counter() - started) * 1000)
    broad_timings = broad_timings[len(BROAD_QUERIES) :]
    browse = []
    for sort in ("title", "author", "year", "language", "reading"):
        for _ in range(10):
            started = time.perf_counter()
            await library.page(pool, LibraryQuery(sort=sort), limit=100)
            browse.append((time.perf_counter() - started) * 1000)
    print(f"search page (100 rows)   {describe(timings)}")
    print(f"search count             {describe(count_timings)}")
    print(f"browse first page, 5 sorts {describe(browse)}")
    print(f"typo queries (one word changed) {describe(typo_timings)}")
    print(f"  {typo_found // 2} of {len(typos)} typo queries found something")
    print(f"broad prefixes ({', '.join(BROAD_QUERIES)}) {describe(broad_timings)}")
    print(f"  sample queries: {', '.join(repr(q) for q in queries[:8])} ...")
    print(f"  queries with no result: {sum(1 for s in sizes if s == 0)}")
    return {
        "search_p50_ms": statistics.median(timings),
        "search_p95_ms": percentile(timings, 0.95),
        "count_p95_ms": percentile(count_timings, 0.95),
        "browse_p95_ms": percentile(browse, 0.95),
    }


# ---- the table, in a child process so its RSS is its own ---------------------------------


async def table_measurements(dsn: str) -> dict:
    from textual import on, work
    from textual.app import App, ComposeResult
    from textual.widgets import Input

    from shelver.widgets.book_table import BookTable, Column, settle

    painted: dict[str, float] = {}

    class TimedTable(BookTable):
        """Notes when a loaded row of the current list is drawn."""

        def render_line(self, y):  # type: ignore[override]
            strip = super().render_line(y)
            if (
                y == 1
                and self.cursor_row is not None
                and self._generation > painted.get("after_generation", -1)
            ):
                painted.setdefault("at", time.perf_counter())
            return strip

    database = await Database.open(DatabaseTarget(dsn=dsn), apply_migrations=False, max_size=4)

    class SearchApp(App):
        def compose(self) -> ComposeResult:
            yield Input(id="search")
            yield TimedTable(
                [
                    Column("Title", lambda r: r.title or ""),
                    Column("Author", lambda r: r.author or "", width=22),
                    Column("Year", lambda r: str(r.published_year or ""), width=4),
                ]
            )

        def on_mount(self) -> None:
            self.show(LibraryQuery())

        def show(self, query: LibraryQuery) -> None:
            self.query_one(BookTable).set_source(LibraryWindow(database.pool, query))

        @on(Input.Changed, "#search")
        def search(self, event: Input.Changed) -> None:
            self.open_search(event.value)

        @work(exclusive=True, group="search")
        async def open_search(self, text: str) -> None:
            window = LibraryWindow(database.pool, LibraryQuery(text=text))
            await window.fetch(0, BookTable.BLOCK_SIZE)  # typing cancels this worker
            self.query_one(BookTable).set_source(window)

    results: dict = {}
    process = psutil.Process()
    app = SearchApp()
    started = time.perf_counter()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(BookTable)
        while "at" not in painted:
            await asyncio.sleep(0.001)
        results["first_paint_ms"] = (painted["at"] - started) * 1000
        await settle(table)

        # keystroke to new rows painted
        latencies = []
        for text in TYPED_QUERIES:
            await pilot.click("#search")
            app.query_one("#search", Input).value = ""
            await pilot.pause()
            await settle(table)
            for char in text:
                painted.clear()
                painted["after_generation"] = table._generation
                pressed = time.perf_counter()
                await pilot.press(char if char != " " else "space")
                while "at" not in painted:
                    await asyncio.sleep(0.001)
                latencies.append((painted["at"] - pressed) * 1000)
        results["keystroke_p50_ms"] = statistics.median(latencies)
        results["keystroke_p95_ms"] = percentile(latencies, 0.95)
        results["keystroke_max_ms"] = max(latencies)

        # scroll the whole library, top to bottom, a screen at a time
        app.query_one("#search", Input).value = ""
        await pilot.pause()
        await settle(table, timeout=30)
        table.focus()
        rss_before = process.memory_info().rss
        peak = rss_before
        steps = 0
        started = time.perf_counter()
        while table.cursor_index < table.total - 1:
            table.action_page_down()
            await settle(table, timeout=30)
            steps += 1
            if steps % 10 == 0:
                await pilot.pause()
                peak = max(peak, process.memory_info().rss)
        await pilot.pause()
        peak = max(peak, process.memory_info().rss)
        results["scrolled_rows"] = table.total
        results["scroll_seconds"] = time.perf_counter() - started
        results["scroll_steps"] = steps
        results["rss_before_scroll_mb"] = rss_before / 2**20
        results["rss_peak_sampled_mb"] = peak / 2**20
        assert isinstance(table.cursor_row, LibraryRow)
    await database.close()
    results["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def run_table_child(dsn: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--table-only", "--database-url", dsn],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if output.returncode != 0:
        raise SystemExit(f"table benchmark failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def print_table(results: dict) -> None:
    print(f"table first paint        {results['first_paint_ms']:6.1f} ms")
    print(
        f"keystroke to new rows    p50 {results['keystroke_p50_ms']:6.1f} ms   "
        f"p95 {results['keystroke_p95_ms']:6.1f} ms   max {results['keystroke_max_ms']:6.1f} ms"
    )
    print(
        f"scroll top to bottom     {results['scrolled_rows']} rows in "
        f"{results['scroll_steps']} pages, {results['scroll_seconds']:.1f} s; RSS "
        f"{results['rss_before_scroll_mb']:.0f} MB before, peak {results['ru_maxrss_mb']:.0f} MB"
    )


async def main_async(args: argparse.Namespace) -> None:
    home_root = None
    cluster = None
    dsn = args.database_url
    if dsn is None:
        from shelver.data.cluster import EmbeddedCluster
        from shelver.data.home import Home

        home_root = Path(tempfile.mkdtemp(prefix="shelver-bench-"))
        cluster = EmbeddedCluster(Home.at(home_root))
        cluster.ensure_running()
        dsn = cluster.dsn()
    try:
        database = await Database.open(DatabaseTarget(dsn=dsn), max_size=4)
        async with database:
            await prepare(database, args.books)
            await bench_search(database, args.queries)
        print_table(await asyncio.to_thread(run_table_child, dsn))
    finally:
        if cluster is not None:
            cluster.drop()  # stops it and deletes its data
            if home_root:
                shutil.rmtree(home_root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--table-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.table_only:
        print(json.dumps(asyncio.run(table_measurements(args.database_url))))
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
