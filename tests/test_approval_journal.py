"""Approval is one journaled transaction: SIGKILL at any step, then a restart, loses nothing.

A real process approves a book (plainly, or replacing an older duplicate, whose files go to
rejected/ in an operation of their own first) and freezes at a named step of the move journal;
the test kills it with SIGKILL and opens the database again, which runs start-up recovery. The
book must then be either in review with its file in the inbox and its old values, or organized
with its file in the library and the approved values stored; never in between.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from shelver.data import books, move_journal
from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.models import BookStatus
from shelver.data.review import DuplicateAction, ReviewError, approve
from shelver.data.settings import Settings
from tests.lock_support import wait_until_advisory_locks_released
from tests.test_review_data import make_book

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import asyncio, sys
from pathlib import Path
from uuid import UUID
from shelver.data import review
from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.settings import Settings

async def main(dsn, home, book_id, replace):
    db = await Database.open(DatabaseTarget(dsn=dsn), apply_migrations=False, max_size=2)
    await review.approve(
        db, Home.at(Path(home)), Settings(), UUID(book_id),
        {"title": "Approved Title", "author": "Approved Author", "published_year": 2001},
        {}, duplicate=review.DuplicateAction.REPLACE if replace == "1" else None)
    await db.close()

asyncio.run(main(*sys.argv[1:]))
"""

LINK_STEPS = ["intent_recorded", "placed", "committed", "source_removed", "recorded"]
COPY_STEPS = ["copying", "temp_written"]
CASES = [
    (kind, path, step)
    for kind in ("plain", "replace")
    for path, steps in (("link", LINK_STEPS), ("copy", COPY_STEPS))
    for step in steps
]


def run_until(
    step: str, dsn: str, home: Home, book_id: UUID, marker: Path, copy: bool, replace: bool
) -> None:
    """Start a real approval, wait until it reaches ``step``, then SIGKILL it."""
    env = {
        **os.environ,
        move_journal.PAUSE_AT_ENV: step,
        move_journal.PAUSE_FILE_ENV: str(marker),
    }
    if copy:
        env[move_journal.FORCE_COPY_ENV] = "1"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, dsn, str(home.data_dir), str(book_id), str(int(replace))],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"child ended before {step}: {child.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail(f"child never reached {step}")
            time.sleep(0.02)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        child.stderr.close()


async def journal_rows(db: Database) -> int:
    return await db.pool.fetchval(
        "SELECT (SELECT count(*) FROM organize_operations) + (SELECT count(*) FROM organize_moves)"
    )


@pytest.mark.parametrize(("kind", "path", "step"), CASES, ids=["-".join(c) for c in CASES])
async def test_sigkill_at_every_approval_step_then_restart(
    database: Database,
    database_dsn: str,
    home: Home,
    tmp_path: Path,
    kind: str,
    path: str,
    step: str,
) -> None:
    old_id = await make_book(database, home, "old", content=b"old bytes" * 50_000)
    book_id = await make_book(database, home, "new", content=b"new bytes" * 400_000)
    await database.pool.execute(
        "UPDATE books SET possible_duplicate_of = $2 WHERE id = $1", book_id, old_id
    )
    (old_file,) = await books.files_of(database.pool, old_id)
    (new_file,) = await books.files_of(database.pool, book_id)

    marker = tmp_path / "reached"
    run_until(step, database_dsn, home, book_id, marker, path == "copy", kind == "replace")
    await wait_until_advisory_locks_released(database_dsn)

    # The restart: opening the database runs start-up recovery.
    restarted = await Database.open(DatabaseTarget(dsn=database_dsn), max_size=2)
    try:
        assert restarted.startup_warnings == []
        assert await journal_rows(restarted) == 0
        book = await books.get(restarted.pool, book_id)
        (file,) = await books.files_of(restarted.pool, book_id)
        old = await books.get(restarted.pool, old_id)
        library_file = home.library_dir / "Approved Author" / "Approved Title" / "book.epub"
        if book.status is BookStatus.ORGANIZED:
            assert (book.title, book.author, book.published_year) == (
                "Approved Title",
                "Approved Author",
                2001,
            )
            assert file.storage_path == str(library_file) and file.inbox_path is None
            assert library_file.read_bytes() == b"new bytes" * 400_000
            assert not Path(new_file.inbox_path).exists()
            assert step in ("committed", "source_removed", "recorded")
        else:
            assert book.status is BookStatus.REVIEW and book.title == "new"
            assert book.approved_at is None
            assert file.inbox_path == new_file.inbox_path and file.storage_path is None
            assert Path(file.inbox_path).read_bytes() == b"new bytes" * 400_000
            assert not library_file.exists()
        # The replaced duplicate: set aside completely (file in rejected/ with the reason
        # beside it, row gone) or not at all.
        rejected = home.rejected_dir / "book.epub"
        if old is None:
            assert kind == "replace"
            assert rejected.read_bytes() == b"old bytes" * 50_000
            assert "replaced by “new”" in (home.rejected_dir / "book.epub.reason.txt").read_text()
            assert not Path(old_file.inbox_path).exists()
        else:
            assert old.title == "old"
            (old_row,) = await books.files_of(restarted.pool, old_id)
            assert Path(old_row.inbox_path).read_bytes() == b"old bytes" * 50_000
            assert list(home.rejected_dir.iterdir()) == []
        leftovers = [p for p in home.data_dir.rglob(".shelver-*")]
        assert leftovers == []
        # Once settled, the approval can simply be done again.
        if book.status is BookStatus.REVIEW:
            again = await approve(
                restarted, home, Settings(), book_id, {"title": "Again"}, {},
                duplicate=DuplicateAction.REPLACE,
            )  # fmt: skip
            assert again.status is BookStatus.ORGANIZED
    finally:
        await restarted.close()


@pytest.mark.parametrize("bad", ["nul\x00title", "lone \ud800 surrogate"])
async def test_text_the_database_cannot_hold_is_refused_before_anything_moves(
    database: Database, home: Home, bad: str
) -> None:
    book_id = await make_book(database, home, "kept")
    with pytest.raises(ReviewError) as caught:
        await approve(database, home, Settings(), book_id, {"title": bad}, {})
    message = str(caught.value)
    assert "title" in message and "\n" not in message and "\x00" not in message
    book = await books.get(database.pool, book_id)
    assert book.status is BookStatus.REVIEW and book.title == "kept"
    (file,) = await books.files_of(database.pool, book_id)
    assert file.storage_path is None and Path(file.inbox_path).exists()
    assert await journal_rows(database) == 0
