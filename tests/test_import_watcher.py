"""The inbox-folder watcher: picks up files present at start, waits for growing files, rejects
unreadable ones with a reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shelver.data import books
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing.pipeline import ImportReport
from shelver.data.models import BookStatus
from shelver.data.watcher import watch_inbox
from tests import import_support as gen


async def wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``condition()`` holds (a generous limit, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "the watcher did not get there in time"
        await asyncio.sleep(0.05)


async def inbox_titles(database: Database) -> list[str | None]:
    rows = await books.list_by_status(database.pool, BookStatus.INBOX)
    return sorted(r.title or "" for r in rows)


async def test_watcher(database: Database, home: Home, tmp_path: Path) -> None:
    gen.make_epub(home.inbox_dir / "early.epub", title="Early")
    reports: list[ImportReport] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        watch_inbox(
            database,
            home,
            stop_event=stop,
            on_report=reports.append,
            settle=0.4,
            poll=0.05,
            force_polling=True,
        )
    )
    try:

        async def early_imported() -> bool:
            return await inbox_titles(database) == ["Early"]

        await wait_for(early_imported)

        # A file that arrives in pieces is read only once it stops growing.
        data = gen.epub_bytes(title="Grown", body="x" * 200_000)
        target = home.inbox_dir / "grown.epub"
        with target.open("wb") as handle:
            for start in range(0, len(data), len(data) // 4 + 1):
                handle.write(data[start : start + len(data) // 4 + 1])
                handle.flush()
                await asyncio.sleep(0.1)
        (home.inbox_dir / "garbage.epub").write_bytes(b"definitely not a book")

        async def settled() -> bool:
            return (
                await inbox_titles(database) == ["Early", "Grown"]
                and (home.rejected_dir / "garbage.epub.reason.txt").exists()
            )

        await wait_for(settled)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert not (home.inbox_dir / "garbage.epub").exists()
    assert (home.rejected_dir / "garbage.epub").read_bytes() == b"definitely not a book"
    assert not any(r.skipped for r in reports)  # its own files are never seen as duplicates
    refused = [item for r in reports for item in r.refused]
    assert [Path(r.path).name for r in refused] == ["garbage.epub"]


async def test_watcher_on_a_configured_inbox_folder(
    database: Database, home: Home, tmp_path: Path
) -> None:
    custom = tmp_path / "elsewhere"
    custom.mkdir()
    gen.make_epub(custom / "there.epub", title="There")
    stop = asyncio.Event()
    task = asyncio.create_task(
        watch_inbox(
            database,
            home,
            stop_event=stop,
            settle=0.2,
            poll=0.05,
            force_polling=True,
            inbox_dir=custom,
        )
    )
    try:

        async def imported() -> bool:
            return await inbox_titles(database) == ["There"]

        await wait_for(imported)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
