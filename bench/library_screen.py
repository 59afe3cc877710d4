"""The real Library screen at 100,000 books: first paint, keystroke to results, scrolling RSS.

    python bench/library_screen.py [--books 100000] [--runs 3] [--database-url URL]

Without --database-url it starts an embedded cluster in a throwaway home and fills it with
generated organized books by COPY (bench/library_data.py). Then, in a fresh process per run
(so start-up costs and RSS are the app's own), the real ``ShelverApp`` runs under Pilot at
80×24 and this is timed:

* first paint: from pressing ``l`` on the Inbox (the app started, the database open) to the
  first row of the Library's table drawn (includes importing the screen, building the window,
  the first page query and the layout);
* keystroke to results: ``/`` then real queries typed letter by letter in the search box, from
  each key press to the first row of the new list drawn (every key builds a new window in the
  screen's exclusive worker; the detail pane follows the cursor as it does for a person);
* peak RSS while moving the cursor from the first book to the last a page at a time, with the
  detail pane following (last run only).

Targets (issue 5): first paint < 300 ms, keystroke < 100 ms, RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from shelver.data.db import Database, DatabaseTarget  # noqa: E402

TYPED_QUERIES = ("tolkien", "the hobbit", "garcia marq", "emile zola germ", "shadow of")
KEY_TIMEOUT = 10.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def prepare(dsn: str, books: int) -> None:
    database = await Database.open(DatabaseTarget(dsn=dsn), max_size=2)
    async with database, database.pool.acquire() as conn:
        have = await conn.fetchval("SELECT count(*) FROM books WHERE status = 'organized'")
        if have >= books:
            print(f"reusing {have} organized books")
            return
        if have:
            raise SystemExit(f"the database already holds {have} books; use an empty one")
        started = time.perf_counter()
        await fill(conn, books)
        await conn.execute("ANALYZE")
        print(f"filled {books} books by COPY in {time.perf_counter() - started:.1f} s")


async def screen_measurements(dsn: str, home_root: str, scroll: bool) -> dict:
    """One app run: first paint, keystrokes, and (when ``scroll``) the scrolling RSS."""
    from shelver.app.shelver_app import ShelverApp
    from shelver.data.home import Home
    from shelver.data.settings import Settings
    from shelver.widgets.book_table import BookTable, settle

    painted: dict[str, float] = {}
    original = BookTable.render_line

    def timed_render_line(self: BookTable, y: int):
        strip = original(self, y)
        if (
            y == 1
            and self.cursor_row is not None
            and self._generation > painted.get("after_generation", -1)
        ):
            painted.setdefault("at", time.perf_counter())
        return strip

    BookTable.render_line = timed_render_line  # type: ignore[method-assign]

    async def wait_painted() -> float:
        deadline = time.perf_counter() + KEY_TIMEOUT
        while "at" not in painted:
            if time.perf_counter() > deadline:
                raise TimeoutError("no rows painted")
            await asyncio.sleep(0.001)
        return painted["at"]

    async def quiet(pilot) -> None:
        for _ in range(3):
            await pilot.pause()
            await pilot.app.finish_work()

    home = Home.at(Path(home_root)).ensure()
    app = ShelverApp(
        home=home, settings=Settings(), target=DatabaseTarget(dsn=dsn), watch_inbox=False
    )
    results: dict = {}
    process = psutil.Process()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.wait_for_database()
        await quiet(pilot)
        painted.clear()
        pressed = time.perf_counter()
        await pilot.press("l")
        results["first_paint_ms"] = (await wait_painted() - pressed) * 1000
        await quiet(pilot)
        screen = app.screen
        table = screen.query_one(BookTable)
        results["books"] = table.total

        latencies: list[float] = []
        await pilot.press("slash")
        for text in TYPED_QUERIES:
            search = screen.query_one("#library-search")
            search.value = ""  # type: ignore[attr-defined]
            await quiet(pilot)
            await settle(table)
            for char in text:
                painted.clear()
                painted["after_generation"] = table._generation
                pressed = time.perf_counter()
                await pilot.press(char if char != " " else "space")
                latencies.append((await wait_painted() - pressed) * 1000)
        results["keystrokes"] = len(latencies)
        results["keystroke_p50_ms"] = statistics.median(latencies)
        results["keystroke_p95_ms"] = percentile(latencies, 0.95)
        results["keystroke_max_ms"] = max(latencies)

        if scroll:
            screen.query_one("#library-search").value = ""  # type: ignore[attr-defined]
            await quiet(pilot)
            await settle(table, timeout=30)
            await pilot.press("escape")
            rss_before = process.memory_info().rss
            peak = rss_before
            steps = 0
            started = time.perf_counter()
            while table.cursor_index < table.total - 1:
                table.action_page_down()
                await settle(table, timeout=30)
                steps += 1
                if steps % 20 == 0:
                    await pilot.pause()
                    peak = max(peak, process.memory_info().rss)
            await quiet(pilot)
            peak = max(peak, process.memory_info().rss)
            results["scroll_steps"] = steps
            results["scroll_seconds"] = time.perf_counter() - started
            results["rss_before_scroll_mb"] = rss_before / 2**20
            results["rss_peak_sampled_mb"] = peak / 2**20
            results["last_row_shown"] = table.cursor_row is not None
    results["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def run_child(dsn: str, home_root: str, scroll: bool) -> dict:
    command = [sys.executable, __file__, "--child", "--database-url", dsn, "--home", home_root]
    if scroll:
        command.append("--scroll")
    output = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if output.returncode != 0:
        raise SystemExit(f"screen benchmark failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def report(runs: list[dict]) -> None:
    paints = [r["first_paint_ms"] for r in runs]
    print(f"books in the library        {runs[0]['books']:,}")
    print(
        f"first paint (l → rows)      {', '.join(f'{p:.0f}' for p in paints)} ms "
        f"(median {statistics.median(paints):.0f})"
    )
    keys = [r for r in runs]
    print(
        "keystroke to results        "
        + "; ".join(
            f"p50 {r['keystroke_p50_ms']:.0f} p95 {r['keystroke_p95_ms']:.0f} "
            f"max {r['keystroke_max_ms']:.0f} ms ({r['keystrokes']} keys)"
            for r in keys
        )
    )
    last = runs[-1]
    if "scroll_steps" in last:
        print(
            f"scroll top to bottom        {last['scroll_steps']} pages in "
            f"{last['scroll_seconds']:.0f} s; RSS {last['rss_before_scroll_mb']:.0f} MB before, "
            f"peak {last['ru_maxrss_mb']:.0f} MB (sampled {last['rss_peak_sampled_mb']:.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-scroll", action="store_true")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scroll", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(screen_measurements(args.database_url, args.home, args.scroll))
        print(json.dumps(result))
        return
    work_root = Path(tempfile.mkdtemp(prefix="shelver-bench-screen-"))
    cluster = None
    dsn = args.database_url
    try:
        if dsn is None:
            from shelver.data.cluster import EmbeddedCluster
            from shelver.data.home import Home

            cluster = EmbeddedCluster(Home.at(work_root / "db"))
            cluster.ensure_running()
            dsn = cluster.dsn()
        asyncio.run(prepare(dsn, args.books))
        runs = []
        for number in range(args.runs):
            scroll = number == args.runs - 1 and not args.no_scroll
            runs.append(run_child(dsn, str(work_root / f"app-{number}"), scroll))
            print(json.dumps(runs[-1]), flush=True)
        report(runs)
    finally:
        if cluster is not None:
            cluster.drop()  # stops it and deletes its data
        shutil.rmtree(work_root, ignore_errors=True)


if __name__ == "__main__":
    main()
