"""Time from a device's position being committed to the Reading progress screen showing it.

A throwaway home (embedded cluster, or ``--dsn`` for an existing empty database) gets
``--positions`` current positions (a quarter of them linked to books). The real app runs under
Pilot at 80x24 on the Reading progress screen. Each round writes one position the way
``shelver serve`` does (``data.kosync.write_batch``: upsert, history, NOTIFY) and waits, without
pressing a key, until the row on screen shows it. Then a burst of ``--burst`` writes measures how
many refreshes the coalescing makes of it and how long until the last one is on screen. A
notice carries the position, so a row already on screen changes without a database read;
``--new-documents`` rounds measure a document not yet on screen (its book is read).

    python bench/progress_live.py [--positions 1000] [--rounds 30] [--burst 200]
                                  [--new-documents 10] [--dsn DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shelver.app.shelver_app import ShelverApp  # noqa: E402
from shelver.data import books, kosync  # noqa: E402
from shelver.data.db import Database, DatabaseTarget  # noqa: E402
from shelver.data.home import Home  # noqa: E402
from shelver.data.kosync import ProgressUpdate  # noqa: E402
from shelver.data.models import BookFields, BookStatus  # noqa: E402
from shelver.data.progress_feed import COALESCE_SECONDS  # noqa: E402
from shelver.data.settings import Settings  # noqa: E402
from shelver.screens.progress import ProgressScreen  # noqa: E402

DEVICES = ("kobo", "kindle", "phone", "boox")


def update(document: str, device: str, percentage: float) -> ProgressUpdate:
    body = {"document": document, "device": device, "percentage": percentage, "progress": "p"}
    return ProgressUpdate(document, device, None, "p", percentage, 1, json.dumps(body))


async def fill(database: Database, positions: int) -> list[str]:
    documents = [uuid.uuid4().hex for _ in range(positions)]
    for index, document in enumerate(documents[: positions // 4]):
        book = await books.insert(
            database.pool, BookFields(title=f"Book {index:05d}"), status=BookStatus.ORGANIZED
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
    batch = [update(d, DEVICES[i % len(DEVICES)], 0.1) for i, d in enumerate(documents)]
    for start in range(0, len(batch), 500):
        await kosync.write_batch(database.pool, batch[start : start + 500])
    return documents


def time_updates(screen: ProgressScreen) -> list[float]:
    """Record how long the screen takes to put each batch of notices on its rows."""
    durations: list[float] = []
    apply = screen._apply_notices

    async def timed(*args: object) -> None:
        started = time.perf_counter()
        await apply(*args)
        durations.append(time.perf_counter() - started)

    screen._apply_notices = timed  # type: ignore[method-assign]
    return durations


def shown(screen: ProgressScreen, document: str, percentage: float) -> bool:
    return any(r.document == document and float(r.percentage) == percentage for r in screen.rows)


async def run(target: DatabaseTarget, home: Home, args: argparse.Namespace) -> None:
    database = await Database.open(target)
    try:
        documents = await fill(database, args.positions)
        app = ShelverApp(home=home, settings=Settings(), target=target, watch_inbox=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("p")
            screen = app.screen
            assert isinstance(screen, ProgressScreen)
            while not (screen.listening and screen.rows):
                await pilot.pause(0.01)
            updates = time_updates(screen)
            latencies: list[float] = []
            cpu_times: list[float] = []
            """This process's CPU time per round (the app, and writing the position): what a
            busy machine does not inflate the way it inflates the wall-clock figures."""
            for round_ in range(args.rounds):
                document = documents[(round_ * 37) % len(documents)]
                device = DEVICES[((round_ * 37) % len(documents)) % len(DEVICES)]
                percentage = round(0.2 + round_ / 1000, 3)
                started = time.perf_counter()
                cpu = time.process_time()
                await kosync.write_batch(database.pool, [update(document, device, percentage)])
                while not shown(screen, document, percentage):
                    await asyncio.sleep(0.001)
                await pilot.pause()  # the frame with the new row
                latencies.append(time.perf_counter() - started)
                cpu_times.append(time.process_time() - cpu)
                # A device syncs every page turn, seconds apart: let the screen go idle.
                await asyncio.sleep(COALESCE_SECONDS + 0.05)
            # A document the screen has not shown yet: its book is read, nothing else.
            fresh: list[float] = []
            for _ in range(args.new_documents):
                document = uuid.uuid4().hex
                started = time.perf_counter()
                await kosync.write_batch(database.pool, [update(document, "kobo", 0.01)])
                while not shown(screen, document, 0.01):
                    await asyncio.sleep(0.001)
                await pilot.pause()
                fresh.append(time.perf_counter() - started)
                await asyncio.sleep(COALESCE_SECONDS + 0.05)
            single_updates = sorted(updates[: args.rounds])
            before = screen.live_refreshes
            started = time.perf_counter()
            last = None
            for index in range(args.burst):
                document = documents[index % len(documents)]
                device = DEVICES[index % len(documents) % len(DEVICES)]
                last = (document, 0.9)
                await kosync.write_batch(database.pool, [update(document, device, 0.9)])
            while not shown(screen, *last):
                await asyncio.sleep(0.001)
            burst = time.perf_counter() - started
            refreshes = screen.live_refreshes - before
    finally:
        await database.close()
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
    print(f"{args.positions} positions on screen, {args.rounds} single writes")
    worst = ordered[-1] * 1000
    print(f"commit -> row on screen: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {worst:.0f} ms")
    print(f"CPU time of this process per round: p50 {statistics.median(cpu_times) * 1000:.0f} ms")
    print(
        "the screen's update from a notice: "
        f"p50 {statistics.median(single_updates) * 1000:.1f} ms, "
        f"max {single_updates[-1] * 1000:.1f} ms (then one frame is drawn)"
    )
    print(f"load average: {' '.join(f'{load:.1f}' for load in os.getloadavg())}")
    if fresh:
        print(
            f"a document not yet on screen ({len(fresh)} rounds): "
            f"p50 {statistics.median(fresh) * 1000:.0f} ms, max {max(fresh) * 1000:.0f} ms"
        )
    print(
        f"burst of {args.burst} writes: {refreshes} refreshes (at most one per "
        f"{COALESCE_SECONDS * 1000:.0f} ms), last write on screen after {burst * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--new-documents", type=int, default=10)
    parser.add_argument("--dsn", help="an empty, writable database (default: embedded cluster)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="shelver-bench-progress-"))
    home = Home.at(root).ensure()
    target = DatabaseTarget.choose(home, args.dsn)
    try:
        asyncio.run(run(target, home, args))
    finally:
        if target.cluster is not None:
            target.cluster.drop()  # stops it and deletes its data
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
