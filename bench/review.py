"""Time from pressing approve (or reject) on the Review screen to the next book painted.

A throwaway home (embedded cluster, or ``--dsn`` for an existing empty database) gets a review
queue of generated books, each with a real small file in the inbox and ten sources: the file's
own candidate and nine Google Books / Hardcover answers (one strong). The real app runs under
Pilot at 80x24; each round picks a field, presses ``a`` (or ``x``) and waits until the next book
is on screen and the frame has been processed. Also reported: how long until that decision was
done (values written, file moved into the library or rejected/), which happens in a worker
after the paint.

    python bench/review.py [--approvals 30] [--rejections 10] [--dsn DSN]

Target (issues 4 and 10): approve / reject to next book painted under 100 ms (median).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shelver.app.shelver_app import ShelverApp  # noqa: E402
from shelver.data import books  # noqa: E402
from shelver.data.db import Database, DatabaseTarget  # noqa: E402
from shelver.data.home import Home  # noqa: E402
from shelver.data.models import BookFields, BookStatus  # noqa: E402
from shelver.data.settings import Settings  # noqa: E402
from shelver.screens.review import ReviewScreen  # noqa: E402


async def fill(database: Database, home: Home, count: int) -> None:
    """``count`` review books with a file in the inbox and three candidates each."""
    pool = database.pool
    for n in range(count):
        title, author = f"Bench Book {n:03d}", f"Author {n % 17}"
        content = f"bench review file {n}\n".encode() * 40
        digest = hashlib.sha256(content).hexdigest()
        folder = home.inbox_dir / digest[:8]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bench-{n:03d}.epub"
        path.write_bytes(content)
        fields = BookFields(title=title.lower(), author=author, language="en")
        book = await books.insert(pool, fields, status=BookStatus.REVIEW)
        await books.add_file(
            pool,
            book.id,
            format="epub",
            original_name=path.name,
            file_size=len(content),
            checksum=digest,
            content_hash=None,
            inbox_path=str(path),
        )
        await books.upsert_candidate(pool, book.id, source="file", normalized=fields, confidence=1)
        rich = BookFields(
            title=title,
            author=author,
            isbn_13="9780141439556",
            publisher="Bench House",
            published_year=1900 + n,
            language="en",
            description="A long description. " * 30,
            page_count=200 + n,
            genres=["Fiction", "Classics"],
        )
        await books.upsert_candidate(
            pool, book.id, source="google_books", normalized=rich, confidence=0.93
        )
        # Eight more answers: ten sources in all, more than fit at 80 columns.
        for rank in range(2, 6):
            await books.upsert_candidate(
                pool,
                book.id,
                source=f"google_books#{rank}",
                normalized=rich.model_copy(update={"title": f"{title} ({rank})"}),
                confidence=0.6 - rank / 100,
            )
        for rank in range(1, 5):
            await books.upsert_candidate(
                pool,
                book.id,
                source="hardcover" if rank == 1 else f"hardcover#{rank}",
                normalized=BookFields(title=f"{title}: a novel", author=author, page_count=300),
                confidence=0.7 - rank / 100,
            )


async def run(
    target: DatabaseTarget, home: Home, approvals: int, rejections: int
) -> dict[str, list[float]]:
    database = await Database.open(target)
    async with database:
        await fill(database, home, approvals + rejections + 3)
    app = ShelverApp(home=home, settings=Settings(), target=target)
    times: dict[str, list[float]] = {"a": [], "x": [], "a done": [], "x done": []}
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(5):
            await pilot.pause()
            await app.finish_work()
        await pilot.press("r")
        screen: ReviewScreen | None = None
        while screen is None or screen.state is None:
            await pilot.pause(0.01)
            base = app.screen_stack[0]
            screen = base if isinstance(base, ReviewScreen) else None
        await app.finish_work()
        await pilot.pause()
        # When a book is first shown, note the moment the frame showing it has been painted
        # (Textual runs call_after_refresh callbacks once the screen has refreshed).
        shown_at: dict[object, float] = {}
        show_item = screen.show_item

        def timed_show_item(item: object) -> None:
            show_item(item)  # type: ignore[arg-type]
            book_id = item.book.id  # type: ignore[attr-defined]
            if book_id not in shown_at:
                screen.call_after_refresh(lambda: shown_at.setdefault(book_id, time.perf_counter()))

        screen.show_item = timed_show_item  # type: ignore[method-assign]
        keys = ["a"] * approvals + ["x"] * rejections
        keys = keys[::2] + keys[1::2] if rejections else keys  # mixed, not all at the end
        for key in keys:
            assert screen.state is not None
            before = screen.state.item.book.id
            await pilot.press("down", "right", "right", "right", "space")  # a Hardcover value
            await app.finish_work()  # the previous prefetch is done (a person
            # looks at a book for far longer than it takes)
            started = time.perf_counter()
            await pilot.press(key)
            while screen.state is None or screen.state.item.book.id == before:
                await pilot.pause(0)
            current = screen.state.item.book.id
            while current not in shown_at:
                await pilot.pause(0)
            times[key].append(shown_at[current] - started)
            await app.finish_work()
            times[f"{key} done"].append(time.perf_counter() - started)
    database = await Database.open(target)
    async with database:
        organized = await database.pool.fetchval(
            "SELECT count(*) FROM books WHERE status = 'organized'"
        )
        rejected = await database.pool.fetchval("SELECT count(*) FROM rejected_books")
    if (organized, rejected) != (approvals, rejections):
        raise SystemExit(
            f"expected {approvals} organized and {rejections} rejected books, "
            f"found {organized} and {rejected}"
        )
    return times


def report(name: str, values: list[float]) -> None:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[int(len(ms) * 0.9) - 1] if len(ms) >= 10 else ms[-1]
    print(
        f"{name:<34} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   "
        f"max {ms[-1]:7.1f} ms   (n={len(ms)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvals", type=int, default=30)
    parser.add_argument("--rejections", type=int, default=10)
    parser.add_argument("--dsn", help="an empty, writable database (default: embedded cluster)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="shelver-bench-review-"))
    home = Home.at(root).ensure()
    target = DatabaseTarget.choose(home, args.dsn)
    try:
        results = asyncio.run(run(target, home, args.approvals, args.rejections))
    finally:
        if target.cluster is not None:
            target.cluster.drop()  # stops it and deletes its data
        shutil.rmtree(root, ignore_errors=True)
    report("approve -> next book painted", results["a"])
    report("approve -> book filed (worker)", results["a done"])
    met = statistics.median(results["a"]) * 1000 < 100
    if results["x"]:
        report("reject -> next book painted", results["x"])
        report("reject -> file in rejected/ (worker)", results["x done"])
        met = met and statistics.median(results["x"]) * 1000 < 100
    print(f"target < 100 ms (median, 80x24, ten sources a book): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
