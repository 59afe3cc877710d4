"""KOReader reading statistics: reading the file, the import, sessions and what they add up to.

The statistics files are built in the test with KOReader's exact schema (tests/
statistics_support.py): two books over several days, one whose partial MD5 is that of a real
corpus file imported as a library book, one that matches nothing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from shelver.data import reading_insights
from shelver.data.importing.hashing import partial_md5
from shelver.data.statistics_file import NotStatistics, read_statistics
from shelver.data.statistics_ingest import import_statistics
from tests.kosync_support import shelver_command, shelver_env
from tests.statistics_support import StatBookSpec, reading_days, write_statistics
from tests.test_reading import make_book, put

START = int(datetime(2026, 3, 2, 20, 0, tzinfo=UTC).timestamp())
OTHER_MD5 = "f" * 32


def corpus_epub(shared_dir: Path) -> Path:
    return shared_dir / "corpus" / "calibre-quick-start-eng__deb-calibre.epub"


def two_books(library_md5: str) -> list[StatBookSpec]:
    """Book A: 5 evenings of 40 pages, each evening split by a 15-minute break after page 20.
    Book B (not in the library): 3 mornings of 30 pages, unbroken."""
    a_visits = []
    page = 1
    for day in range(5):
        moment = START + day * 86400
        for n in range(40):
            if n == 20:
                moment += 15 * 60  # a break: a new session
            a_visits.append((page, moment, 50))
            moment += 50
            page += 1
    b_visits = reading_days(START - 12 * 3600, 3, pages_per_day=30, seconds=60)
    return [
        StatBookSpec("Quick Start", "Kovid Goyal", library_md5, 240, a_visits),
        StatBookSpec("Unknown Book", "Someone\nSomeone Else", OTHER_MD5, 100, b_visits),
    ]


@pytest.fixture
def library_md5(shared_dir: Path) -> str:
    return partial_md5(corpus_epub(shared_dir))


@pytest.fixture
async def library_book(database, library_md5):
    return await make_book(
        database.pool, "Quick Start", content_hash=library_md5, name="quick-start.epub"
    )


async def snapshot(pool) -> dict[str, list]:
    """Everything the import may touch, for before/after comparisons."""
    return {
        table: [tuple(r) for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]
        for table in ("reading_stat_books", "reading_page_visits")
    }


def test_reading_a_file_checks_and_keeps_everything(tmp_path: Path, library_md5: str):
    path = write_statistics(tmp_path / "statistics.sqlite3", two_books(library_md5), wal=True)
    found = read_statistics(path)
    assert found.schema_version == 20221111
    assert set(found.books) == {library_md5, OTHER_MD5}
    assert len(found.visits) == 200 + 90
    assert found.books[OTHER_MD5].authors == "Someone\nSomeone Else"
    assert not list(tmp_path.glob("*-shm"))  # nothing written beside the original


async def test_import_links_books_and_counts_time(
    database, library_book, library_md5, tmp_path: Path
):
    pool = database.pool
    path = write_statistics(tmp_path / "statistics.sqlite3", two_books(library_md5))
    result = await import_statistics(pool, path, source="test")
    assert (result.outcome, result.books, result.visits_added) == ("imported", 2, 290)

    book = await reading_insights.book_reading(pool, book_id=library_book.id)
    assert book is not None and library_md5 in book.documents
    # 5 evenings, each split in two by the break: 10 sessions of 20 pages.
    assert len(book.sessions) == 10
    assert [s.pages for s in book.sessions] == [20] * 10
    assert all(s.seconds == 20 * 50 for s in book.sessions)
    assert book.seconds == sum(s.seconds for s in book.sessions) == 200 * 50
    assert book.pages_read == 200
    assert book.pages_per_hour == pytest.approx(72)
    assert book.sessions[0].start_fraction == pytest.approx(1 / 240)
    assert book.sessions[-1].end_fraction == pytest.approx(200 / 240)
    assert book.first_read == datetime.fromtimestamp(START, UTC)
    # 40 pages left at 50 s a page.
    assert book.seconds_left == pytest.approx(40 * 50, abs=1)

    unlinked = await reading_insights.book_reading(pool, document=OTHER_MD5)
    assert unlinked is not None and unlinked.book_id is None
    assert len(unlinked.sessions) == 3 and unlinked.seconds == 90 * 60
    assert unlinked.title == "Unknown Book"


async def test_importing_twice_changes_nothing_and_a_newer_file_adds_only_what_is_new(
    database, library_md5, tmp_path: Path
):
    pool = database.pool
    books = two_books(library_md5)
    path = write_statistics(tmp_path / "statistics.sqlite3", books)
    await import_statistics(pool, path, source="test")
    before = await snapshot(pool)
    again = await import_statistics(pool, path, source="test")
    assert again.outcome == "unchanged"
    forced = await import_statistics(pool, path, source="test", force=True)
    assert (forced.outcome, forced.visits_added) == ("imported", 0)
    assert await snapshot(pool) == before

    books[1].visits += reading_days(START + 5 * 86400, 1, pages_per_day=10, first_page=91)
    newer = write_statistics(tmp_path / "newer.sqlite3", books)
    added = await import_statistics(pool, newer, source="test")
    assert added.visits_added == 10
    after = await snapshot(pool)
    assert len(after["reading_page_visits"]) == len(before["reading_page_visits"]) + 10
    assert set(before["reading_page_visits"]) <= set(after["reading_page_visits"])


async def assert_totals_match_the_visits(pool) -> None:
    """Each book's running totals and quarter hours are what its visits add up to."""
    from_visits = {
        r["document"]: tuple(r)[1:]
        for r in await pool.fetch(
            "SELECT b.document, sum(v.duration)::bigint, count(*)::integer,"
            " to_timestamp(min(v.start_time)), to_timestamp(max(v.start_time + v.duration))"
            " FROM reading_page_visits v JOIN reading_stat_books b ON b.id = v.stat_book"
            " GROUP BY b.document"
        )
    }
    kept = {
        r["document"]: tuple(r)[1:]
        for r in await pool.fetch(
            "SELECT document, seconds, visits, first_read, last_read FROM reading_stat_books"
            " WHERE visits > 0"
        )
    }
    assert kept == from_visits
    per_quarter = await pool.fetch(
        "SELECT to_timestamp(start_time / 900 * 900) AS quarter, stat_book,"
        " sum(duration)::bigint AS seconds, count(*)::integer AS visits"
        " FROM reading_page_visits GROUP BY 1, 2 ORDER BY 1, 2"
    )
    quarters = await pool.fetch(
        "SELECT quarter, stat_book, seconds, visits FROM reading_stat_quarters ORDER BY 1, 2"
    )
    assert [tuple(r) for r in quarters] == [tuple(r) for r in per_quarter]


async def test_totals_and_quarter_hours_follow_every_import(database, library_md5, tmp_path: Path):
    pool = database.pool
    books = two_books(library_md5)
    await import_statistics(pool, write_statistics(tmp_path / "a.sqlite3", books), source="t")
    await assert_totals_match_the_visits(pool)
    finished_before = await pool.fetchval(
        "SELECT finished_at FROM reading_stat_books WHERE document = $1", library_md5
    )
    assert finished_before is None  # page 200 of 240 so far
    # A newer file: book A read to the end (a visit in a quarter hour already counted, and
    # new ones), book B unchanged.
    books[0].visits += reading_days(START + 4 * 86400 + 2100, 2, pages_per_day=20, first_page=201)
    result = await import_statistics(
        pool, write_statistics(tmp_path / "b.sqlite3", books), source="t"
    )
    assert result.visits_added == 40
    await assert_totals_match_the_visits(pool)
    finished = await pool.fetchval(
        "SELECT finished_at FROM reading_stat_books WHERE document = $1", library_md5
    )
    # Page 228 of 240 is the first at or past 95 %: the 28th new visit.
    assert finished == datetime.fromtimestamp(START + 5 * 86400 + 2100 + 7 * 45, UTC)


async def test_one_document_under_two_book_rows_is_taken_once(
    database, library_md5, tmp_path: Path
):
    """KOReader keys its book rows by title, authors and MD5: a book renamed on the device has
    two rows with the same document, and the same visit may be under both."""
    pool = database.pool
    visits = reading_days(START, 2, pages_per_day=10)
    books = [
        StatBookSpec("Quick Start", "Kovid Goyal", library_md5, 100, visits),
        StatBookSpec(
            "Quick Start (2nd)",
            "Kovid Goyal",
            library_md5,
            100,
            [*visits[5:], (50, START + 3 * 86400, 30)],
        ),
    ]
    path = write_statistics(tmp_path / "statistics.sqlite3", books)
    result = await import_statistics(pool, path, source="test")
    assert (result.outcome, result.books, result.visits_added) == ("imported", 1, 21)
    assert await pool.fetchval("SELECT count(*) FROM reading_page_visits") == 21
    await assert_totals_match_the_visits(pool)
    forced = await import_statistics(pool, path, source="test", force=True)
    assert forced.visits_added == 0


async def test_a_file_that_repeats_a_visit_is_taken_with_one_of_each(
    database, library_md5, tmp_path: Path
):
    """KOReader's table keeps one row per (book, page, start); a hand-edited file may not (here
    without its unique index, and with fractional seconds that round to the same second)."""
    pool = database.pool
    path = write_statistics(tmp_path / "statistics.sqlite3", two_books(library_md5))
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP VIEW page_stat; CREATE TABLE copy AS SELECT * FROM page_stat_data;"
        "DROP TABLE page_stat_data;"
        "ALTER TABLE copy RENAME TO page_stat_data;"
    )
    conn.execute(
        "INSERT INTO page_stat_data SELECT id_book, page, start_time + 0.4, duration, total_pages"
        " FROM page_stat_data WHERE page <= 3"
    )
    conn.commit()
    conn.close()
    result = await import_statistics(pool, path, source="test")
    assert (result.outcome, result.visits_added) == ("imported", 290)
    await assert_totals_match_the_visits(pool)


@pytest.mark.parametrize("kind", ["corrupt", "foreign", "empty", "truncated", "old"])
async def test_bad_files_leave_everything_as_it_was(
    database, library_md5, tmp_path: Path, kind: str
):
    pool = database.pool
    good = write_statistics(tmp_path / "good.sqlite3", two_books(library_md5))
    await import_statistics(pool, good, source="test")
    before = await snapshot(pool)
    bad = tmp_path / "statistics.sqlite3"
    if kind == "corrupt":
        data = bytearray(good.read_bytes())
        data[100:] = b"\x00\xff" * ((len(data) - 100) // 2)
        bad.write_bytes(bytes(data))
    elif kind == "foreign":
        conn = sqlite3.connect(bad)
        conn.execute("CREATE TABLE notes (id integer, text text)")
        conn.execute("PRAGMA user_version = 20221111")
        conn.commit()
        conn.close()
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    else:
        conn = sqlite3.connect(bad)
        conn.executescript(
            "CREATE TABLE book (id integer primary key, title text, authors text, md5 text, "
            "pages integer, last_open integer);"
            "CREATE TABLE page_stat_data (id_book integer, page integer, start_time integer, "
            "duration integer, total_pages integer); PRAGMA user_version = 20200101;"
        )
        conn.close()
    content = bad.read_bytes()
    result = await import_statistics(pool, bad, source="test")
    assert result.outcome == "refused" and result.detail
    assert "\n" not in result.detail
    assert await snapshot(pool) == before
    assert bad.read_bytes() == content  # kept as it was
    # Reported once: the same file again is known as refused.
    again = await import_statistics(pool, bad, source="test")
    assert again.outcome == "refused" and again.already_reported
    if kind != "empty":
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM reading_stat_imports WHERE outcome = 'refused'"
            )
            == 1
        )


def test_read_refuses_a_file_without_the_visits_table(tmp_path: Path):
    path = tmp_path / "statistics.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE book (id integer, title text)")
    conn.close()
    with pytest.raises(NotStatistics, match="page_stat_data"):
        read_statistics(path)


async def test_kosync_only_sessions_start_at_the_previous_position(database, library_book):
    from shelver.data import reading

    pool = database.pool
    document = await pool.fetchval(
        "SELECT content_hash FROM book_files WHERE book_id = $1", library_book.id
    )
    await put(pool, document, "kpw", 0.31)
    await pool.execute("UPDATE reading_progress_history SET created_at = now() - interval '1 day'")
    await put(pool, document, "kpw", 0.48)
    sessions = reading.sessions_from_history(await reading.book_history(pool, library_book.id))
    assert [(float(s.start_percentage), float(s.end_percentage)) for s in sessions] == [
        (0.31, 0.31),
        (0.31, 0.48),
    ]


def test_streak_counts_back_from_today_or_yesterday():
    today = date(2026, 3, 10)
    days = {today - timedelta(days=n) for n in (1, 2, 3, 5)}
    assert reading_insights.current_streak(days, today) == 3
    assert reading_insights.current_streak(days | {today}, today) == 4
    assert reading_insights.current_streak({today - timedelta(days=2)}, today) == 0


async def test_library_reading_per_day_and_finished_per_month(
    database, library_md5, tmp_path: Path
):
    pool = database.pool
    books = two_books(library_md5)
    # Book B read to its end on its last morning.
    books[1].visits += [(96 + n, START + 3 * 86400 + n * 60, 60) for n in range(5)]
    await import_statistics(pool, write_statistics(tmp_path / "s.sqlite3", books), source="t")
    today = (datetime.fromtimestamp(START, UTC) + timedelta(days=4)).astimezone().date()
    library = await reading_insights.library_reading(pool, days=14, today=today)
    assert len(library.days) == 14 and library.days[-1].day == today
    assert sum(d.seconds for d in library.days) == 200 * 50 + 90 * 60 + 5 * 60
    assert library.streak >= 5
    assert sum(m.books for m in library.finished_by_month) == 1
    assert len(library.finished_by_month) == 12


async def test_cli_import_and_show(database_dsn, library_md5, tmp_path: Path):
    path = write_statistics(tmp_path / "statistics.sqlite3", two_books(library_md5))
    env = shelver_env(database_dsn)
    home = str(tmp_path / "home")

    def shelver(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            shelver_command("--home", home, *args),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    imported = shelver("stats", "import", str(path), "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["visits_added"] == 290
    listing = json.loads(shelver("stats", "--json").stdout)
    assert {b["document"] for b in listing["books"]} == {library_md5, OTHER_MD5}
    assert all(isinstance(b["seconds"], int) for b in listing["books"])

    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    refused = shelver("stats", "import", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "bad.sqlite3" in refused.stderr
    missing = shelver("stats", "import", str(tmp_path / "nope.sqlite3"))
    assert missing.returncode == 2
    unknown = shelver("stats", "00000000-0000-0000-0000-000000000000")
    assert unknown.returncode == 1 and "no reading statistics" in unknown.stderr


async def test_hardcover_gets_started_and_finished_dates_from_the_statistics(
    database, tmp_path: Path
):
    from tests.test_hardcover_sync import FakeHardcover, Sleeps, organized_book, read, run_sync

    pool = database.pool
    fake, sleeps = FakeHardcover(), Sleeps()
    document = "9" * 32
    await organized_book(pool, "Finished Book", isbn_13="9781521748831", document=document)
    # Read over three days in March, the last pages (past 95 %) on the third.
    visits = reading_days(START, 3, pages_per_day=34, seconds=60)
    spec = StatBookSpec("Finished Book", "A", document, 100, visits)
    await import_statistics(pool, write_statistics(tmp_path / "s.sqlite3", [spec]), source="t")
    await read(pool, document, 1.0)
    fake.edition(isbn_13="9781521748831", id=11, book=22, pages=100)
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "synced"
    insert_read = next(v for op, v in fake.calls if op == "InsertUserBookRead")
    first = datetime.fromtimestamp(START, UTC).astimezone().date()
    finished = datetime.fromtimestamp(START + 2 * 86400, UTC).astimezone().date()
    assert insert_read["started"] == first.isoformat()
    assert insert_read["finished"] == finished.isoformat()
