"""Time from a device's position being committed to the Reading progress screen painting it.

A throwaway home (embedded cluster, or ``--dsn`` for an existing empty database) gets
``--positions`` current positions (a quarter of them linked to books). The real app runs under
Pilot at 80x24 on the Reading progress screen. Positions are written the way ``shelver serve``
writes them (``data.kosync.write_batch``: upsert, history, NOTIFY), and, as there, by another
process: a device's PUT never runs inside the TUI. That process notes the moment each COMMIT
returned; the clock (``time.monotonic``, one clock for every process of the machine) runs from
then to the first frame the app hands to the terminal with the row in it. Headless, Textual
skips encoding a frame for the terminal: the benchmark does it anyway, as a real terminal
would cost. Nothing waits for the app to go idle before the clock stops.

Each round writes one position and waits, without pressing a key, until its row is painted;
then the screen goes idle, as between a device's page turns. A burst of ``--burst`` writes
measures how many refreshes the coalescing makes of it and how long until the last one is on
screen. A notice carries the position, so a row already on screen changes without a database
read; ``--new-documents`` rounds measure a document not yet on screen (its book is read).

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

from textual._compositor import CompositorUpdate  # noqa: E402
from textual.app import App  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.screen import Screen  # noqa: E402
from textual.widgets import DataTable  # noqa: E402

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
CLOCK = time.monotonic
"""CLOCK_MONOTONIC: the writing process's stamps and the app's compare."""
PAINT_TIMEOUT = 30.0

Write = tuple[str, str, float]
"""(document, device, percentage)"""


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


# The writing process ------------------------------------------------------------------------


async def serve_writes(dsn: str) -> None:
    """Read lists of writes from stdin; commit each on its own, in order; answer with the
    moment before the first and the moment the last COMMIT returned."""
    database = await Database.open(DatabaseTarget(dsn=dsn), apply_migrations=False, max_size=2)
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            writes: list[Write] = json.loads(line)
            started = CLOCK()
            for document, device, percentage in writes:
                await kosync.write_batch(database.pool, [update(document, device, percentage)])
            print(json.dumps([started, CLOCK()]), flush=True)
    finally:
        await database.close()


class Writer:
    """The other process, as ``shelver serve`` is: its own interpreter and connections."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, dsn: str) -> Writer:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--write-to",
            dsn,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def write(self, writes: list[Write]) -> tuple[float, float]:
        """(before the first write, when the last one's COMMIT returned)"""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(writes).encode() + b"\n")
        await self.process.stdin.drain()
        answer = await self.process.stdout.readline()
        if not answer:
            raise RuntimeError("the writing process ended (its error is above)")
        started, committed = json.loads(answer)
        return started, committed

    async def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        await self.process.wait()


# The app's side -----------------------------------------------------------------------------


def shown(screen: ProgressScreen, document: str, percentage: float, *, in_view: bool) -> bool:
    """The position is in the list (and, ``in_view``, among the rows the table shows)."""
    index = next(
        (
            i
            for i, r in enumerate(screen.rows)
            if r.document == document and float(r.percentage) == percentage
        ),
        None,
    )
    if index is None or not in_view:
        return index is not None
    table = screen.query_one("#progress-table", DataTable)
    top = round(table.scroll_y)
    return top <= index < top + table.scrollable_content_region.height - 1  # under the header


class Paints:
    """Stamps the first frame handed to the terminal that shows an awaited position."""

    def __init__(self, app: App[object], screen: ProgressScreen) -> None:
        self._screen = screen
        self._awaited: tuple[str, float, bool, asyncio.Future[float]] | None = None
        display = app._display

        def display_and_stamp(on: Screen[object], update: object) -> None:
            display(on, update)  # type: ignore[arg-type]
            if app.is_headless and isinstance(update, CompositorUpdate):
                update.render_segments(app.console)  # what a terminal's driver does with it
            awaited = self._awaited
            if awaited is not None and not awaited[3].done():
                document, percentage, in_view, painted = awaited
                if shown(screen, document, percentage, in_view=in_view):
                    painted.set_result(CLOCK())

        app._display = display_and_stamp  # type: ignore[method-assign]

    def expect(
        self, document: str, percentage: float, *, in_view: bool = True
    ) -> asyncio.Future[float]:
        """Call before the write: the future gets the moment the row is painted (``in_view``
        False: the moment a frame is painted with the row in the list, wherever it is)."""
        future = asyncio.get_running_loop().create_future()
        self._awaited = (document, percentage, in_view, future)
        return future


def time_updates(screen: ProgressScreen) -> list[tuple[float, float, float]]:
    """Record when the screen put each batch of notices on its rows: (start, end, CPU)."""
    spans: list[tuple[float, float, float]] = []
    apply = screen._apply_notices

    async def timed(*args: object) -> None:
        started, cpu = CLOCK(), time.process_time()
        await apply(*args)
        spans.append((started, CLOCK(), time.process_time() - cpu))

    screen._apply_notices = timed  # type: ignore[method-assign]
    return spans


async def round_trip(
    pilot: Pilot[object], writer: Writer, paints: Paints, write: Write
) -> tuple[float, float, float]:
    """One write: (COMMIT returned, row painted, this process's CPU time meanwhile)."""
    # The list is sorted by last update: the row arrives on top. The cursor follows the row it
    # is on, and the table scrolls to keep it in view: start each round with it on top, as for
    # someone watching the newest positions come in.
    screen = pilot.app.screen
    screen.query_one("#progress-table", DataTable).move_cursor(row=0)
    # A device syncs every page turn, seconds apart: let the screen go idle (the history of
    # the row the cursor moved to loaded, the feed's pause after its last batch over).
    await asyncio.sleep(COALESCE_SECONDS + 0.05)
    while any(w.group == "detail" and not w.is_finished for w in pilot.app.workers):
        await asyncio.sleep(0.01)
    await pilot.pause()
    document, _device, percentage = write
    painted = paints.expect(document, percentage)
    cpu = time.process_time()
    _started, committed = await writer.write([write])
    at = await asyncio.wait_for(painted, PAINT_TIMEOUT)
    return committed, at, time.process_time() - cpu


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def run(target: DatabaseTarget, home: Home, args: argparse.Namespace) -> None:
    database = await Database.open(target)
    writer: Writer | None = None
    try:
        documents = await fill(database, args.positions)
        writer = await Writer.start(target.dsn)
        app = ShelverApp(home=home, settings=Settings(), target=target, watch_inbox=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("p")
            screen = app.screen
            assert isinstance(screen, ProgressScreen)
            while not (screen.listening and screen.rows):
                await pilot.pause(0.01)
            paints = Paints(app, screen)
            updates = time_updates(screen)
            latencies: list[float] = []
            frames: list[float] = []
            cpu_times: list[float] = []
            """This process's CPU time per round (the update and the frame): what a busy
            machine does not inflate the way it inflates the wall-clock figures."""
            for round_ in range(args.rounds):
                index = (round_ * 37) % len(documents)
                percentage = round(0.2 + round_ / 1000, 3)
                write = (documents[index], DEVICES[index % len(DEVICES)], percentage)
                committed, painted, cpu = await round_trip(pilot, writer, paints, write)
                latencies.append(painted - committed)
                frames.append(painted - updates[-1][1])
                cpu_times.append(cpu)
            single_updates = updates[: args.rounds]
            # A document the screen has not shown yet: its book is read, nothing else.
            fresh: list[float] = []
            for _ in range(args.new_documents):
                committed, painted, _cpu = await round_trip(
                    pilot, writer, paints, (uuid.uuid4().hex, "kobo", 0.01)
                )
                fresh.append(painted - committed)
            before = screen.live_refreshes
            burst = [
                (documents[index % len(documents)], DEVICES[index % len(DEVICES)], 0.9)
                for index in range(args.burst)
            ]
            await asyncio.sleep(COALESCE_SECONDS + 0.05)
            # The cursor's row moves down 200 places and the table follows it: the newest rows
            # are above the view, so this waits for the frame with the last write in the list.
            last_painted = paints.expect(*burst[-1][::2], in_view=False)
            burst_started, last_committed = await writer.write(burst)
            burst_painted = await asyncio.wait_for(last_painted, PAINT_TIMEOUT)
            refreshes = screen.live_refreshes - before
    finally:
        if writer is not None:
            await writer.close()
        await database.close()
    print(f"{args.positions} positions on screen, {args.rounds} single writes by another process")
    print(
        f"COMMIT returned -> row painted: p50 {ms(statistics.median(latencies))}, "
        f"p95 {ms(p95(latencies))}, max {ms(max(latencies))}"
    )
    durations = [end - start for start, end, _cpu in single_updates]
    print(
        f"  the screen's update from a notice: p50 {statistics.median(durations) * 1000:.1f} ms "
        f"(CPU {statistics.median(cpu for *_, cpu in single_updates) * 1000:.1f} ms); "
        f"then the frame: p50 {statistics.median(frames) * 1000:.1f} ms"
    )
    print(f"CPU time of the app's process per round: p50 {ms(statistics.median(cpu_times))}")
    print(f"load average: {' '.join(f'{load:.1f}' for load in os.getloadavg())}")
    if fresh:
        print(
            f"a document not yet on screen ({len(fresh)} rounds): "
            f"p50 {ms(statistics.median(fresh))}, max {ms(max(fresh))}"
        )
    print(
        f"burst of {args.burst} writes: {refreshes} refreshes (at most one per "
        f"{COALESCE_SECONDS * 1000:.0f} ms), the last write painted "
        f"{ms(burst_painted - burst_started)} after the first began "
        f"({ms(burst_painted - last_committed)} after its own COMMIT; a frame with it in the list)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--new-documents", type=int, default=10)
    parser.add_argument("--dsn", help="an empty, writable database (default: embedded cluster)")
    parser.add_argument("--write-to", help=argparse.SUPPRESS)  # the writing process
    args = parser.parse_args()
    if args.write_to:
        asyncio.run(serve_writes(args.write_to))
        return 0
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
