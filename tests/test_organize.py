"""Organize: hostile metadata stays inside the library; moves survive SIGKILL at every step."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shelver.data import books, move_journal, organize
from shelver.data.db import Database
from shelver.data.models import BookFields, BookFile
from shelver.data.organize import (
    MAX_PART_BYTES,
    WINDOWS_RESERVED,
    OrganizeError,
    check_template,
    inside,
    relative_path,
    sanitize_part,
)
from tests.lock_support import wait_until_advisory_locks_released

TEMPLATE = "{author}/{title}/{original_name}"
REPO = Path(__file__).resolve().parents[1]


def assert_safe(relative: Path, library: Path) -> None:
    assert not relative.is_absolute()
    for part in relative.parts:
        encoded = part.encode("utf-8")
        assert 0 < len(encoded) <= MAX_PART_BYTES
        assert part not in (".", "..")
        assert not part.startswith((" ", ".")) and not part.endswith((" ", "."))
        assert not any(c in part for c in '<>:"/\\|?*')
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in part)
        assert part.split(".")[0].strip().upper() not in WINDOWS_RESERVED
    assert inside(library, library / relative)


HOSTILE = [
    BookFields(title="../../etc", author="../.."),
    BookFields(title="passwd", author="/etc"),
    BookFields(title="CON", author="NUL"),
    BookFields(title="com1.txt", author="LPT9"),
    BookFields(title="é" * 150, author="ü" * 300),  # 300 and 600 bytes of UTF-8
    BookFields(title="line\nbreak\r\tand\x00nul\x7f", author="Tab\tAuthor"),
    BookFields(title='a/b\\c:d*e?f"g<h>i|j', author="AC/DC"),
    BookFields(title="...", author="   "),
    BookFields(title=" .hidden. ", author=None),
]


@pytest.mark.parametrize("fields", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_metadata_stays_inside_the_library(tmp_path: Path, fields: BookFields) -> None:
    for original in ("book.epub", "../../evil.epub", "CON.epub", "x" * 300 + ".epub", "\n.epub"):
        relative = relative_path(TEMPLATE, fields, original, "epub")
        assert_safe(relative, tmp_path / "library")
        assert len(relative.parts) == 3
        assert relative.name.endswith(".epub")


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(), author=st.text(), original=st.text(min_size=1))
def test_any_text_stays_inside_the_library(
    tmp_path: Path, title: str, author: str, original: str
) -> None:
    relative = relative_path(TEMPLATE, BookFields(title=title, author=author), original)
    assert_safe(relative, tmp_path / "library")


def test_sanitize_examples() -> None:
    assert sanitize_part("Tolkien, J.R.R.") == "Tolkien, J.R.R"
    assert sanitize_part("CON") == "_CON"
    assert sanitize_part("con.epub") == "_con.epub"
    assert sanitize_part("..") == "_"
    cut = sanitize_part("é" * 150 + ".epub")
    assert len(cut.encode()) <= MAX_PART_BYTES and cut.endswith(".epub")
    cut.encode("utf-8").decode("utf-8")  # cut on a character boundary
    assert relative_path("{title}", BookFields(title="Dune"), "dune.EPUB") == Path("Dune.EPUB")
    assert relative_path("{year}/{isbn}", BookFields(), "x.pdf") == Path(
        "Unknown Year", "no-isbn.pdf"
    )


@pytest.mark.parametrize("template", ["", "/abs/{title}", "{nope}/{title}", "{title", "{}"])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(OrganizeError):
        check_template(template)


# --- moves against a real database -----------------------------------------------------------


async def make_book_file(
    database: Database, inbox: Path, name: str = "book.epub", size: int = 3 * 1024 * 1024 + 17
) -> tuple[BookFile, bytes]:
    inbox.mkdir(parents=True, exist_ok=True)
    content = os.urandom(size)
    path = inbox / name
    path.write_bytes(content)
    book = await books.insert(database.pool, BookFields(title="Cragside", author="L. J. Ross"))
    book_file = await books.add_file(
        database.pool,
        book.id,
        format="epub",
        original_name=name,
        file_size=len(content),
        checksum=hashlib.sha256(content).hexdigest(),
        content_hash=None,
        inbox_path=str(path),
    )
    return book_file, content


async def journal_size(database: Database) -> int:
    return await database.pool.fetchval("SELECT count(*) FROM organize_moves")


@pytest.mark.parametrize("force_copy", [False, True], ids=["rename", "copy"])
async def test_move_file(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, force_copy: bool
) -> None:
    if force_copy:
        monkeypatch.setenv(move_journal.FORCE_COPY_ENV, "1")
    book_file, content = await make_book_file(database, tmp_path / "inbox")
    target = tmp_path / "library" / "L. J. Ross" / "Cragside" / "book.epub"
    placed = await organize.move_file(database.pool, book_file, target)
    assert placed == target and target.read_bytes() == content
    assert not Path(book_file.inbox_path).exists()
    (row,) = await books.files_of(database.pool, book_file.book_id)
    assert row.storage_path == str(target) and row.inbox_path is None
    assert await journal_size(database) == 0
    assert not list(target.parent.glob(".shelver-*"))


async def test_collisions_get_a_counter(database: Database, tmp_path: Path) -> None:
    first, _ = await make_book_file(database, tmp_path / "inbox1", size=10)
    second, content = await make_book_file(database, tmp_path / "inbox2", size=11)
    target = tmp_path / "library" / "book.epub"
    assert await organize.move_file(database.pool, first, target) == target
    again = await organize.move_file(database.pool, second, target)
    assert again.name == "book (2).epub" and again.read_bytes() == content


async def test_a_vanished_source_is_a_clear_error(database: Database, tmp_path: Path) -> None:
    book_file, _ = await make_book_file(database, tmp_path / "inbox", size=10)
    Path(book_file.inbox_path).unlink()
    with pytest.raises(OrganizeError, match="not found"):
        await organize.move_file(database.pool, book_file, tmp_path / "library" / "b.epub")
    assert await journal_size(database) == 0


CHILD = """
import asyncio, sys
from pathlib import Path
from uuid import UUID
from shelver.data import books, move_journal, organize
from shelver.data.db import Database, DatabaseTarget

async def main(dsn, file_id, target):
    db = await Database.open(DatabaseTarget(dsn=dsn), apply_migrations=False, max_size=2)
    row = await db.pool.fetchrow(
        "SELECT id, book_id, format, original_name, storage_path, inbox_path, file_size, "
        "checksum, content_hash, created_at, updated_at FROM book_files WHERE id = $1",
        UUID(file_id))
    from shelver.data.models import BookFile
    await organize.move_file(db.pool, BookFile.from_record(row), Path(target))
    await db.close()

asyncio.run(main(*sys.argv[1:]))
"""

LINK_STEPS = ["intent_recorded", "placed", "committed", "source_removed", "recorded"]
COPY_STEPS = ["intent_recorded", "copying", "temp_written", "placed", "committed"]
COPY_STEPS += ["source_removed", "recorded"]
CASES = [("rename", s) for s in LINK_STEPS] + [("copy", s) for s in COPY_STEPS]


def pause_child_at(
    step: str, dsn: str, book_file: BookFile, target: Path, marker: Path, copy: bool
) -> subprocess.Popen:
    """A real process moving ``book_file``, frozen at ``step`` (the marker file says so)."""
    env = {
        **os.environ,
        move_journal.PAUSE_AT_ENV: step,
        move_journal.PAUSE_FILE_ENV: str(marker),
        "PYTHONPATH": str(REPO),
    }
    if copy:
        env[move_journal.FORCE_COPY_ENV] = "1"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, dsn, str(book_file.id), str(target)],
        env=env,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        if child.poll() is not None:
            message = child.stderr.read().decode()
            child.stderr.close()
            pytest.fail(f"child ended before {step}: {message}")
        if time.monotonic() > deadline:
            kill(child)
            pytest.fail(f"child never reached {step}")
        time.sleep(0.02)
    return child


def kill(child: subprocess.Popen) -> None:
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    if child.stderr:
        child.stderr.close()


@pytest.mark.parametrize(("path", "step"), CASES, ids=[f"{p}-{s}" for p, s in CASES])
async def test_sigkill_at_each_step_loses_nothing(
    database: Database, database_dsn: str, tmp_path: Path, path: str, step: str
) -> None:
    book_file, content = await make_book_file(database, tmp_path / "inbox")
    target = tmp_path / "library" / "L. J. Ross" / "Cragside" / "book.epub"
    child = pause_child_at(
        step, database_dsn, book_file, target, tmp_path / "paused", path == "copy"
    )
    kill(child)
    assert child.returncode == -signal.SIGKILL
    await wait_until_advisory_locks_released(database_dsn)

    report = await organize.recover_interrupted_moves(database)
    assert report.stuck == [] and report.in_progress == 0
    assert await journal_size(database) == 0
    inbox_file = Path(book_file.inbox_path)
    copies = [p for p in (inbox_file, target) if p.exists()]
    assert len(copies) == 1, f"expected exactly one copy, found {copies}"
    assert copies[0].read_bytes() == content
    (row,) = await books.files_of(database.pool, book_file.book_id)
    if copies[0] == target:
        assert row.storage_path == str(target) and row.inbox_path is None
    else:
        assert row.inbox_path == str(inbox_file) and row.storage_path is None
    assert not list(target.parent.glob(".shelver-*")) if target.parent.exists() else True
    # Recovery is idempotent, and the move can simply be done again after an undo.
    assert (await organize.recover_interrupted_moves(database)).finished == 0
    if row.inbox_path:
        assert (await organize.move_file(database.pool, row, target)) == target


async def test_recovery_leaves_a_live_move_alone(
    database: Database, database_dsn: str, tmp_path: Path
) -> None:
    book_file, content = await make_book_file(database, tmp_path / "inbox")
    target = tmp_path / "library" / "book.epub"
    child = pause_child_at("temp_written", database_dsn, book_file, target, tmp_path / "p", True)
    try:
        report = await organize.recover_interrupted_moves(database)
        assert report.in_progress == 1 and report.undone == 0
        assert await journal_size(database) == 1
        assert list(target.parent.glob(".shelver-*"))  # its temporary file was not touched
    finally:
        kill(child)
    report = await organize.recover_interrupted_moves(database)
    assert report.undone == 1 and await journal_size(database) == 0
    assert Path(book_file.inbox_path).read_bytes() == content


def test_steps_are_documented() -> None:
    assert set(LINK_STEPS + COPY_STEPS) == set(move_journal.STEPS)


async def test_a_claimed_name_is_found_by_index(database: Database) -> None:
    """free_target asks organize_path_claimed for every name it tries; with many files filed
    that must be an index lookup on book_files.storage_path, not a scan of the table."""
    from shelver.data.queries import query

    pool = database.pool
    await pool.execute(
        """
        WITH made AS (
            INSERT INTO books (title) SELECT 'Book ' || n FROM generate_series(1, 5000) n
            RETURNING id, title)
        INSERT INTO book_files (book_id, format, original_name, file_size, checksum,
                                storage_path)
        SELECT id, 'epub', title || '.epub', 1, md5(title), '/library/' || title || '.epub'
        FROM made
        """
    )
    await pool.execute("ANALYZE book_files")
    plan = "\n".join(
        r[0] for r in await pool.fetch(f"EXPLAIN {query('organize_path_claimed')}", "/x.epub")
    )
    assert "book_files_storage_path_idx" in plan, plan
    assert "Seq Scan on book_files" not in plan, plan
    assert await pool.fetchval(query("organize_path_claimed"), "/library/Book 4999.epub")
