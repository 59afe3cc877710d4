"""KOReader reading statistics: import speed, and how fast the book view and the calendar paint.

A throwaway home (embedded cluster, or ``--dsn`` for an existing empty database) and a
``statistics.sqlite3`` in KOReader's schema with ``--books`` books and ``--visits`` page visits
spread over years (a heavy reader). Half of the books are in the library. Measured:

* the import (read the file, COPY into staging, one INSERT ... ON CONFLICT), then the same file
  again (forced: every visit already stored) and a newer file with 1 % more visits;
* the book view: the Library detail pane of the most-read book, from the cursor resting on it
  to the pane painted (statistics query included), under Pilot at 80x24;
* the 90-day reading calendar: from the key press to the screen painted. The first opening of
  a session is what a person meets (they open it once or twice): it is timed in ``--first``
  fresh processes (bench/calendar_first_opening.py: a new app, Library, Reading progress, c);
  the later openings (the screen is kept) in this process.

    python bench/stats.py [--books 200] [--visits 500000] [--rounds 10] [--first 5] [--dsn DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shelver.app.shelver_app import ShelverApp  # noqa: E402
from shelver.data import books, reading_insights  # noqa: E402
from shelver.data.db import Database, DatabaseTarget  # noqa: E402
from shelver.data.home import Home  # noqa: E402
from shelver.data.models import BookFields, BookStatus  # noqa: E402
from shelver.data.settings import Settings  # noqa: E402
from shelver.data.statistics_file import read_statistics  # noqa: E402
from shelver.data.statistics_ingest import import_statistics  # noqa: E402
from shelver.screens.library import LibraryScreen  # noqa: E402
from shelver.screens.progress import ProgressScreen  # noqa: E402
from shelver.screens.reading_calendar import ReadingCalendarScreen  # noqa: E402
from shelver.widgets.library_detail import LibraryDetail  # noqa: E402
from tests.statistics_support import SCHEMA  # noqa: E402

NOW = int(time.time())


def make_statistics(path: Path, book_count: int, visits: int, *, seed: int = 7) -> list[str]:
    """A statistics file: each book read in sittings of 20-60 pages, one sitting a day or so,
    ending today; returns the books' document ids."""
    rng = random.Random(seed)
    documents = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(book_count)]
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    per_book = visits // book_count
    # Books are read one after another, the newest ending now.
    moment = NOW - (visits // 40) * 86400 // 1
    rows = []
    for index, document in enumerate(documents):
        pages = max(per_book + rng.randint(0, 50), 300)
        conn.execute(
            "INSERT INTO book VALUES (?, ?, ?, 0, ?, 0, ?, NULL, 'en', ?, 0, 0)",
            (index + 1, f"Book {index}", f"Author {index % 37}", moment, pages, document),
        )
        page = 1
        for _ in range(per_book if index < book_count - 1 else visits - per_book * index):
            rows.append((index + 1, page, moment, rng.randint(10, 120), pages))
            moment += rows[-1][3] + rng.randint(1, 5)
            page = page + 1 if page < pages else 1
            if page % 40 == 0:
                moment += 86400 - 40 * 70  # the next sitting, a day later
    conn.executemany("INSERT OR IGNORE INTO page_stat_data VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return documents


def append_visits(path: Path, count: int) -> None:
    """Another sync's worth of reading: ``count`` newer visits of the last book."""
    conn = sqlite3.connect(path)
    book, start, pages = conn.execute(
        "SELECT id_book, max(start_time), total_pages FROM page_stat_data "
        "GROUP BY id_book ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    conn.executemany(
        "INSERT INTO page_stat_data VALUES (?, ?, ?, 30, ?)",
        [(book, n % pages + 1, start + 60 + n * 31, pages) for n in range(count)],
    )
    conn.commit()
    conn.close()


async def link_half(database: Database, documents: list[str]) -> None:
    for index, document in enumerate(documents[::2]):
        book = await books.insert(
            database.pool, BookFields(title=f"Book {index * 2}"), status=BookStatus.ORGANIZED
        )
        await books.add_file(
            database.pool,
            book.id,
            format="epub",
            original_name=f"b{index}.epub",
            file_size=1,
            checksum=uuid.uuid4().hex,
            content_hash=document,
        )


async def timed_import(database: Database, path: Path, *, force: bool = False):
    started = time.perf_counter()
    result = await import_statistics(database.pool, path, source="bench", force=force)
    return time.perf_counter() - started, result


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms (max {max(values) * 1000:.0f} ms)"


def first_openings(home: Home, dsn: str, runs: int) -> list[dict[str, float]]:
    """The calendar's first opening in ``runs`` fresh processes, one after another."""
    script = Path(__file__).with_name("calendar_first_opening.py")
    command = [sys.executable, str(script), "--home", str(home.data_dir), "--dsn", dsn]
    results = []
    for _ in range(runs):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise SystemExit(f"calendar_first_opening.py failed:\n{done.stderr[-2000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def describe_first_openings(results: list[dict[str, float]]) -> str:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in results)

    drawn = sorted(r["drawn_ms"] for r in results)
    collections = sum(r["full_collections"] for r in results)
    return (
        f"90-day reading calendar, FIRST opening of a session (key -> drawn, {len(results)} "
        f"fresh app runs): median {median('drawn_ms'):.0f} ms (runs: "
        f"{', '.join(f'{d:.0f}' for d in drawn)}); CPU median {median('cpu_ms'):.0f} ms; "
        f"-> app idle again {median('idle_ms'):.0f} ms; full garbage collections in it: "
        f"{collections} ({sum(r['full_collection_ms'] for r in results):.0f} ms in all)"
    )


async def next_frame(screen) -> None:
    """Until the screen has been drawn again (with what was just put on it)."""
    drawn = asyncio.Event()
    screen.call_after_refresh(drawn.set)
    await drawn.wait()


async def paint_times(target: DatabaseTarget, home: Home, database: Database, rounds: int):
    """Library detail pane of the most-read linked book, and the calendar, under Pilot."""
    most_read = await database.pool.fetchval(
        "SELECT bf.book_id FROM reading_stat_books s JOIN book_files bf "
        "ON bf.content_hash = s.document ORDER BY s.seconds DESC LIMIT 1"
    )
    started = time.perf_counter()
    view = await reading_insights.book_reading(database.pool, book_id=most_read)
    query_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await reading_insights.library_reading(database.pool, days=90)
    print(f"90-day calendar queries: {(time.perf_counter() - started) * 1000:.0f} ms")
    app = ShelverApp(home=home, settings=Settings(), target=target, watch_inbox=False)
    detail_times: list[float] = []
    calendar_times: list[float] = []
    detail_frames: list[float] = []
    calendar_frames: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        while not isinstance(app.screen, LibraryScreen):
            await pilot.pause(0.01)
        screen = app.screen
        await app.workers.wait_for_complete()
        pane = screen.query_one(LibraryDetail)
        for _ in range(rounds):
            screen.detail = None
            started = time.perf_counter()
            worker = screen.load_detail(most_read, delay=0)
            while screen.detail is None or screen.detail.book.id != most_read:
                if worker.is_finished:  # replaced by the cursor's own load: ask again
                    worker = screen.load_detail(most_read, delay=0)
                await asyncio.sleep(0.001)
            await next_frame(screen)
            detail_frames.append(time.perf_counter() - started)
            await pilot.pause()  # and everything else the app had to do meanwhile
            detail_times.append(time.perf_counter() - started)
        assert "Time read" in pane.plain
        await pilot.press("p")
        while not isinstance(app.screen, ProgressScreen):
            await pilot.pause(0.01)
        calendar: ReadingCalendarScreen | None = None
        for _ in range(rounds):
            # (The screen is kept between showings: wait for this showing's numbers.)
            presented = calendar.presented if calendar is not None else 0
            started = time.perf_counter()
            # The key as a terminal sends it (Pilot.press would also wait for the app to go
            # idle, which is measured separately below).
            app.simulate_key("c")
            while not isinstance(app.screen, ReadingCalendarScreen):
                await asyncio.sleep(0.001)
            calendar = app.screen
            while calendar.presented <= presented:
                await asyncio.sleep(0.001)
            await next_frame(calendar)
            calendar_frames.append(time.perf_counter() - started)
            await pilot.pause()
            calendar_times.append(time.perf_counter() - started)
            await pilot.press("escape")
            await pilot.pause()
    return view, query_seconds, (detail_frames, detail_times), (calendar_frames, calendar_times)


async def run(target: DatabaseTarget, home: Home, args: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="shelver-bench-stats-file-"))
    try:
        path = scratch / "statistics.sqlite3"
        started = time.perf_counter()
        documents = make_statistics(path, args.books, args.visits)
        made = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        print(
            f"statistics.sqlite3: {args.books} books, {args.visits:,} page visits, "
            f"{size_mb:.0f} MB (built in {made:.1f} s, not measured)"
        )
        started = time.perf_counter()
        read_statistics(path)
        reading = time.perf_counter() - started
        database = await Database.open(target)
        try:
            await link_half(database, documents)
            first, result = await timed_import(database, path)
            print(
                f"import: {first:.2f} s ({result.visits_added:,} visits added, "
                f"{result.visits_added / first:,.0f} visits/s; reading the file alone "
                f"{reading:.2f} s)"
            )
            again, result = await timed_import(database, path, force=True)
            print(f"same file again (forced): {again:.2f} s, {result.visits_added} added")
            skipped, result = await timed_import(database, path)
            print(f"same file again (unchanged, by SHA-256): {skipped * 1000:.0f} ms")
            extra = args.visits // 100
            append_visits(path, extra)
            newer, result = await timed_import(database, path)
            print(f"newer file: {newer:.2f} s, {result.visits_added:,} visits added")
            view, query_seconds, details, calendars = await paint_times(
                target, home, database, args.rounds
            )
            firsts = first_openings(home, target.dsn, args.first)
        finally:
            await database.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert view is not None
    print(
        f"book statistics query (most-read book, {view.visits:,} visits, "
        f"{len(view.sessions)} sessions): {query_seconds * 1000:.0f} ms"
    )
    print(
        f"book view (Library detail pane, cursor at rest -> drawn): {median_ms(details[0])}; "
        f"-> app idle again: {median_ms(details[1])}"
    )
    print(describe_first_openings(firsts))
    # This process's first showing is left out: its heap and imports are the benchmark's.
    print(
        f"90-day reading calendar, later openings (the screen kept; key -> drawn): "
        f"{median_ms(calendars[0][1:])}; -> app idle again: {median_ms(calendars[1][1:])}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=200)
    parser.add_argument("--visits", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--first", type=int, default=5, help="fresh app runs timing the calendar's first opening"
    )
    parser.add_argument("--dsn", help="an empty, writable database (default: embedded cluster)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="shelver-bench-stats-"))
    home = Home.at(root).ensure()
    target = DatabaseTarget.choose(home, args.dsn)
    try:
        asyncio.run(run(target, home, args))
    finally:
        if target.cluster is not None:
            target.cluster.drop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
