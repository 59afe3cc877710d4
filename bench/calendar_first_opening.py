"""One session's first opening of the reading calendar, in a fresh interpreter and a fresh app:
start at 80x24, open the Library (``l``) and then Reading progress (``p``), each time letting its
rows paint and a person read them for a moment, then press ``c`` and time it until the calendar
is drawn with its numbers. Prints one JSON line. ``bench/stats.py`` runs this several times
against the database it has just filled: a new process each time, because a first opening pays
for what no earlier one in the process has done yet (imports, caches, garbage collections).

    python bench/calendar_first_opening.py --home HOME --dsn DSN

Only what the app itself imports is imported before it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shelver.app.shelver_app import ShelverApp  # noqa: E402
from shelver.data.db import DatabaseTarget  # noqa: E402
from shelver.data.home import Home  # noqa: E402
from shelver.data.settings import Settings  # noqa: E402

READING_PAUSE_SECONDS = 0.5
"""How long the person looks at a screen's rows before the next key (a quick reader)."""
CALENDAR = "ReadingCalendarScreen"  # by name: importing it here would do the app's work for it


class FullCollections:
    """Time spent in full (generation 2) garbage collections while it is on."""

    def __init__(self) -> None:
        self.on = False
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if not self.on or info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started


async def next_frame(screen) -> None:
    drawn = asyncio.Event()
    screen.call_after_refresh(drawn.set)
    await drawn.wait()


async def first_opening(home: Home, dsn: str) -> dict[str, float]:
    collections = FullCollections()
    gc.callbacks.append(collections)
    target = DatabaseTarget(dsn=dsn)
    app = ShelverApp(home=home, settings=Settings(), target=target, watch_inbox=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.wait_for_database()
        for key, screen in (("l", "LibraryScreen"), ("p", "ProgressScreen")):
            await pilot.press(key)
            while type(app.screen).__name__ != screen:
                await pilot.pause(0.01)
            await app.finish_work()  # its rows read and put on screen
            await pilot.pause()
            await asyncio.sleep(READING_PAUSE_SECONDS)
        collections.on = True
        started, cpu = time.perf_counter(), time.process_time()
        app.simulate_key("c")  # as a terminal sends it
        while type(app.screen).__name__ != CALENDAR or app.screen.presented < 1:
            await asyncio.sleep(0.001)
        await next_frame(app.screen)
        drawn, drawn_cpu = time.perf_counter() - started, time.process_time() - cpu
        await pilot.pause()
        idle = time.perf_counter() - started
        collections.on = False
        assert "Streak" in app.screen.plain
    return {
        "drawn_ms": drawn * 1000,
        "cpu_ms": drawn_cpu * 1000,
        "idle_ms": idle * 1000,
        "full_collections": collections.count,
        "full_collection_ms": collections.seconds * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(first_opening(Home.at(args.home), args.dsn))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
