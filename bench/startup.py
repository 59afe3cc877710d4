"""Time from process start to the first painted frame of the Inbox, as a person sees it.

A throwaway home is filled with 10,000 inbox books; then `shelver --home HOME` is started in a
real terminal (tmux, 100x30) and the screen is polled until the newest book's title appears.
Measured twice per run: with the embedded cluster already running (warm) and stopped (cold).

    python bench/startup.py [--runs 5]

Targets (issue 2): warm under 1.0 s, cold under 2.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shelver.data.cluster import EmbeddedCluster  # noqa: E402
from shelver.data.db import Database, DatabaseTarget  # noqa: E402
from shelver.data.home import Home  # noqa: E402

BOOKS = 10_000
NEWEST_TITLE = "Zzyzx Startup Marker"

FILL = """
INSERT INTO books (status, title, author, published_year, language, created_at)
SELECT 'inbox',
       'Generated Book ' || g,
       'Author ' || (g % 997),
       1900 + (g % 120),
       (ARRAY['en', 'de', 'fr', 'es', 'it'])[1 + g % 5],
       now() - make_interval(secs => g)
FROM generate_series(1, $1 - 1) AS g
"""


async def fill(target: DatabaseTarget) -> None:
    database = await Database.open(target)
    async with database:
        await database.pool.execute(FILL, BOOKS)
        await database.pool.execute(
            "INSERT INTO books (status, title, author) VALUES ('inbox', $1, 'Bench Mark')",
            NEWEST_TITLE,
        )
        await database.pool.execute(
            "INSERT INTO book_files (book_id, format, original_name, file_size) "
            "SELECT id, 'epub', 'book-' || id || '.epub', 300000 FROM books"
        )
        await database.pool.execute("ANALYZE")


def time_to_first_inbox_paint(home: Path, timeout: float = 30.0) -> float:
    session = f"shelver-bench-{os.getpid()}"
    installed = Path(sys.executable).with_name("shelver")
    shelver = str(installed) if installed.exists() else f"{sys.executable} -m shelver"
    started = time.perf_counter()
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "100",
            "-y",
            "30",
            f"{shelver} --home {home}",
        ],
        check=True,
        cwd=REPO,
    )
    try:
        while time.perf_counter() - started < timeout:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            if NEWEST_TITLE in screen:
                return time.perf_counter() - started
            time.sleep(0.005)
        raise TimeoutError(f"the Inbox did not show {NEWEST_TITLE!r} within {timeout} s")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        time.sleep(0.3)  # let the app exit before the next run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("bench/startup.py needs tmux (apt-get install tmux)")

    root = Path(tempfile.mkdtemp(prefix="shelver-bench-startup-"))
    home = Home.at(root).ensure()
    cluster = EmbeddedCluster(home)
    try:
        asyncio.run(fill(DatabaseTarget(cluster.dsn(), cluster)))
        warm, cold = [], []
        for _ in range(args.runs):
            warm.append(time_to_first_inbox_paint(root))
        for _ in range(args.runs):
            cluster.stop()
            cold.append(time_to_first_inbox_paint(root))
        print(f"books in the database: {BOOKS:,}")
        print(
            f"warm start (cluster running): median {statistics.median(warm):.3f} s, "
            f"max {max(warm):.3f} s over {len(warm)} runs (target < 1.0 s)"
        )
        print(
            f"cold start (cluster stopped): median {statistics.median(cold):.3f} s, "
            f"max {max(cold):.3f} s over {len(cold)} runs (target < 2.5 s)"
        )
    finally:
        cluster.drop()  # stops it and deletes its data
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
