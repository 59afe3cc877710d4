"""`shelver import-calibre`: a real Calibre library (built with calibredb) brought over."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from shelver.data import books, library
from shelver.data.calibre.files import Placement
from shelver.data.calibre.importer import import_calibre
from shelver.data.calibre.mapping import publication_year, rating_from_calibre
from shelver.data.calibre.reader import CalibreLibraryError, read_library
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing import import_paths
from shelver.data.importing.hashing import partial_md5
from shelver.data.models import BookFields, BookStatus
from shelver.data.organize import organize_book, reject_book_files
from shelver.data.series import Series, parse_series_tag, series_of, series_tag
from shelver.data.settings import Settings
from tests.calibre_support import (
    CALIBREDB,
    SKIP_REASON,
    CalibreBusy,
    SampleLibrary,
    calibredb,
    copy_library,
    library_state,
    shared_sample_library,
)

pytestmark = pytest.mark.skipif(CALIBREDB is None, reason=SKIP_REASON)


@pytest.fixture(scope="session")
def sample_library(tmp_path_factory: pytest.TempPathFactory) -> SampleLibrary:
    """Built once per session with calibredb (slow); tests that change it take a copy."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the session's workers
    try:
        return shared_sample_library(base / "calibre-sample")
    except CalibreBusy as busy:
        pytest.skip(f"calibredb could not run: {busy}")


@pytest.fixture
def calibre_copy(sample_library: SampleLibrary, tmp_path: Path) -> SampleLibrary:
    return copy_library(sample_library, tmp_path / "Calibre Copy")


@pytest.fixture
def settings(home: Home) -> Settings:
    return Settings()


async def _run(
    database: Database,
    home: Home,
    folder: Path,
    placement: Placement = Placement.COPY,
    **kwargs: object,
):
    return await import_calibre(database, home, Settings(), folder, placement=placement, **kwargs)


def _file(folder: Path, book_path: str, suffix: str) -> Path:
    (found,) = [p for p in (folder / book_path).iterdir() if p.suffix == suffix]
    return found


async def _book_count(database: Database) -> int:
    return await database.pool.fetchval("SELECT count(*) FROM books")


# --- reading ----------------------------------------------------------------------------


def test_reader_takes_every_field_from_the_base_tables(sample_library: SampleLibrary):
    found = {b.id: b for b in read_library(sample_library.folder).books}
    ring = found[sample_library.ring]
    assert ring.authors == ["Zoë Ångström", "Bob Second", "Ça Troisième"]
    assert ring.series == "Der Ring" and ring.series_index == 2.5
    assert ring.rating == 6  # three stars, as calibre stores them
    assert {f.format for f in ring.files} == {"EPUB", "PDF"}
    assert ring.languages == ["deu", "eng"]
    assert ring.custom == {"mood": ["happy", "sad"], "shelf": "Living room"}
    assert found[sample_library.empty].files == []


def test_reading_never_writes_to_the_library(sample_library: SampleLibrary):
    before = library_state(sample_library.folder)
    read_library(sample_library.folder)
    assert library_state(sample_library.folder) == before


# --- importing --------------------------------------------------------------------------


async def test_every_book_becomes_an_organized_book_with_every_field(
    database: Database, home: Home, sample_library: SampleLibrary
):
    before = library_state(sample_library.folder)
    report = await _run(database, home, sample_library.folder)
    assert report.ok, report
    assert report.count("imported") == 4
    assert library_state(sample_library.folder) == before  # calibre's folder untouched

    ids = {r.calibre_id: r.book_id for r in report.books}
    ring = await books.get(database.pool, ids[sample_library.ring])
    assert ring is not None and ring.status is BookStatus.ORGANIZED
    assert ring.title == "Über Bücher"
    assert ring.author == "Zoë Ångström & Bob Second & Ça Troisième"
    assert (ring.isbn_13, ring.isbn_10) == ("9780306406157", "0306406152")
    assert ring.publisher == "Verlag Ä" and ring.published_year == 2001
    assert ring.language == "de"
    assert ring.description == "First paragraph.\n\nSecond paragraph."
    assert ring.hardcover_edition_id == 555 and ring.hardcover_book_id is None
    assert ring.tags[:2] == ["Fantasy", "Klassiker"]
    series = [parse_series_tag(t) for t in ring.tags if parse_series_tag(t)]
    assert series[0] is not None and series[0].name == "Der Ring"
    assert series[0].index == Decimal("2.5")
    assert ring.approved_at is not None
    assert ring.cover_path and Path(ring.cover_path).read_bytes()[:3] == b"\xff\xd8\xff"
    rating = await database.pool.fetchval(
        "SELECT rating FROM book_ratings WHERE book_id = $1", ring.id
    )
    assert rating == Decimal("3.0")
    extras = {
        r["name"]: json.loads(r["value"])
        for r in await database.pool.fetch(
            "SELECT name, value::text FROM book_extra_fields WHERE book_id = $1", ring.id
        )
    }
    assert extras["#mood"] == ["happy", "sad"]
    assert extras["#shelf"] == "Living room"
    assert extras["identifier:goodreads"] == "123"
    assert extras["identifier:hardcover"] == "the-ring"  # a slug: no integer column for it
    assert extras["languages"] == ["deu", "eng"]

    files = {f.format: f for f in await books.files_of(database.pool, ring.id)}
    assert set(files) == {"epub", "pdf"}
    source = _file(sample_library.folder, "Zoe Angstrom/Uber Bucher (1)", ".epub")
    stored = Path(files["epub"].storage_path or "")
    assert stored.is_relative_to(home.library_dir)
    assert stored.read_bytes() == source.read_bytes()
    assert files["epub"].checksum == hashlib.sha256(source.read_bytes()).hexdigest()
    assert files["epub"].content_hash == partial_md5(source)  # KoSync links at once
    assert files["epub"].original_name == source.name

    tokyo = await books.get(database.pool, ids[sample_library.tokyo])
    assert tokyo is not None and tokyo.title == "東京物語" and tokyo.language == "ja"
    assert "series:Der Ring #1" in tokyo.tags

    fb2 = await books.get(database.pool, ids[sample_library.fb2])
    assert fb2 is not None and fb2.hardcover_book_id == 4242
    assert fb2.published_year is None  # calibre's "unknown" year 101
    assert fb2.isbn_13 is None
    fb2_notes = next(r.notes for r in report.books if r.calibre_id == sample_library.fb2)
    assert any("not-an-isbn" in note for note in fb2_notes)

    empty = await books.get(database.pool, ids[sample_library.empty])
    assert empty is not None and empty.status is BookStatus.ORGANIZED
    assert await books.files_of(database.pool, empty.id) == []

    kept_out = {item.what for item in report.not_kept}
    assert "custom column #derived (Derived)" in kept_out


async def test_the_calibre_date_added_is_kept(
    database: Database, home: Home, sample_library: SampleLibrary
):
    report = await _run(database, home, sample_library.folder)
    calibre = {b.id: b for b in read_library(sample_library.folder).books}
    for result in report.books:
        created = await database.pool.fetchval(
            "SELECT created_at FROM books WHERE id = $1", result.book_id
        )
        assert (
            created.isoformat()[:19] == calibre[result.calibre_id].timestamp.replace(" ", "T")[:19]
        )


async def test_library_search_finds_books_by_series_title_and_tag(
    database: Database, home: Home, sample_library: SampleLibrary
):
    await _run(database, home, sample_library.folder)
    by_series = {row.title for row in await library.search(database.pool, "Der Ring")}
    assert by_series == {"Über Bücher", "東京物語"}
    assert {r.title for r in await library.search(database.pool, "Klassiker")} == {"Über Bücher"}


async def test_a_second_run_adds_nothing(
    database: Database, home: Home, sample_library: SampleLibrary
):
    await _run(database, home, sample_library.folder)
    files_before = sorted(p for p in home.library_dir.rglob("*") if p.is_file())
    again = await _run(database, home, sample_library.folder)
    assert again.ok
    assert {r.outcome for r in again.books} == {"unchanged"}
    assert again.totals.files_added == 0
    assert await _book_count(database) == 4
    assert sorted(p for p in home.library_dir.rglob("*") if p.is_file()) == files_before


async def test_a_new_format_in_calibre_is_added_to_the_same_book(
    database: Database, home: Home, calibre_copy: SampleLibrary, tmp_path: Path
):
    first = await _run(database, home, calibre_copy.folder)
    book_id = next(r.book_id for r in first.books if r.calibre_id == calibre_copy.tokyo)
    from tests.import_support import make_pdf

    calibredb(
        calibre_copy.folder,
        "add_format",
        str(calibre_copy.tokyo),
        str(make_pdf(tmp_path / "tokyo.pdf", title="Tokyo PDF")),
    )
    second = await _run(database, home, calibre_copy.folder)
    tokyo = next(r for r in second.books if r.calibre_id == calibre_copy.tokyo)
    assert tokyo.outcome == "files_added" and tokyo.book_id == book_id
    assert {f.format for f in await books.files_of(database.pool, book_id)} == {"epub", "pdf"}
    assert await _book_count(database) == 4


async def test_a_book_already_in_shelver_is_matched_not_duplicated(
    database: Database, home: Home, sample_library: SampleLibrary
):
    epub = _file(sample_library.folder, "Zoe Angstrom/Uber Bucher (1)", ".epub")
    imported = await import_paths(database, home, [epub], workers=0)
    (item,) = imported.imported
    report = await _run(database, home, sample_library.folder)
    ring = next(r for r in report.books if r.calibre_id == sample_library.ring)
    # The epub's bytes are already a book: that book gets the PDF, no second book appears.
    assert ring.outcome == "files_added" and ring.book_id == item.book_id
    assert await _book_count(database) == 4
    formats = {f.format for f in await books.files_of(database.pool, item.book_id)}
    assert formats == {"epub", "pdf"}


async def test_dry_run_changes_nothing(
    database: Database, home: Home, sample_library: SampleLibrary
):
    report = await _run(database, home, sample_library.folder, dry_run=True)
    assert report.count("imported") == 4 and report.totals.files_added == 4
    assert await _book_count(database) == 0
    assert not home.library_dir.exists() or not any(home.library_dir.rglob("*.*"))


async def test_link_shares_the_inode_and_in_place_uses_the_calibre_file(
    database: Database, home: Home, sample_library: SampleLibrary, database_dsn: str
):
    report = await _run(database, home, sample_library.folder, Placement.LINK)
    assert report.ok
    ring_id = next(r.book_id for r in report.books if r.calibre_id == sample_library.ring)
    epub = next(f for f in await books.files_of(database.pool, ring_id) if f.format == "epub")
    source = _file(sample_library.folder, "Zoe Angstrom/Uber Bucher (1)", ".epub")
    assert os.stat(epub.storage_path or "").st_ino == source.stat().st_ino


async def test_in_place_references_the_files_and_marks_them_never_to_move(
    database: Database, home: Home, sample_library: SampleLibrary
):
    before = library_state(sample_library.folder)
    report = await _run(database, home, sample_library.folder, Placement.IN_PLACE)
    assert report.ok
    ring_id = next(r.book_id for r in report.books if r.calibre_id == sample_library.ring)
    stored = {f.storage_path for f in await books.files_of(database.pool, ring_id)}
    assert all(Path(p or "").is_relative_to(sample_library.folder) for p in stored)
    pinned = await database.pool.fetchval("SELECT count(*) FROM book_files_in_place")
    assert pinned == 4
    assert not home.library_dir.exists() or not any(home.library_dir.rglob("*.*"))
    # Setting the book aside (a review replacing it) or filing it again moves none of them.
    assert await reject_book_files(database.pool, home, ring_id, "replaced") == []
    assert await organize_book(database.pool, home, Settings(), ring_id, BookFields()) == []
    assert library_state(sample_library.folder) == before


# --- drift and damage -------------------------------------------------------------------


async def test_missing_file_is_reported_and_a_name_differing_in_case_is_found(
    database: Database, home: Home, calibre_copy: SampleLibrary
):
    folder = calibre_copy.folder
    _file(folder, "Zoe Angstrom/Uber Bucher (1)", ".pdf").unlink()
    tokyo = _file(folder, "Xiao Jin  An Er Lang/Dong Jing Wu Yu (2)", ".epub")
    tokyo.rename(tokyo.with_name(tokyo.name.upper()))
    report = await _run(database, home, folder)
    assert not report.ok
    (missing,) = report.skipped_files
    assert missing.calibre_id == calibre_copy.ring and missing.reason == "file not found on disk"
    assert missing.path and missing.path.endswith(".pdf")
    ring = next(r for r in report.books if r.calibre_id == calibre_copy.ring)
    assert ring.outcome == "imported" and len(ring.files) == 1  # the epub still came over
    moved = next(r for r in report.books if r.calibre_id == calibre_copy.tokyo)
    assert len(moved.files) == 1 and any("differs in case" in n for n in moved.notes)


async def test_a_book_folder_renamed_in_case_is_found(
    database: Database, home: Home, calibre_copy: SampleLibrary
):
    folder = calibre_copy.folder
    (folder / "Fay Bee").rename(folder / "FAY BEE")
    report = await _run(database, home, folder)
    assert report.ok
    fb2 = next(r for r in report.books if r.calibre_id == calibre_copy.fb2)
    assert len(fb2.files) == 1 and any("book folder found as" in n for n in fb2.notes)


async def test_a_locked_database_is_one_clear_error_and_nothing_is_written(
    database: Database, home: Home, calibre_copy: SampleLibrary
):
    holder = sqlite3.connect(calibre_copy.folder / "metadata.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CalibreLibraryError, match="locked") as caught:
            await _run(database, home, calibre_copy.folder, lock_timeout=0.3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "\n" not in str(caught.value)
    assert await _book_count(database) == 0
    # Once calibre lets go, the same import works.
    assert (await _run(database, home, calibre_copy.folder)).ok


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda db: db.write_bytes(b"this is not sqlite at all" * 100), "not a readable"),
        (lambda db: db.write_bytes(db.read_bytes()[:3000]), "damaged|malformed|cannot read"),
        (lambda db: db.unlink(), "no metadata.db"),
    ],
    ids=["garbage", "truncated", "absent"],
)
async def test_a_damaged_database_is_one_clear_error(
    database: Database, home: Home, calibre_copy: SampleLibrary, damage, message
):
    damage(calibre_copy.folder / "metadata.db")
    with pytest.raises(CalibreLibraryError, match=message) as caught:
        await _run(database, home, calibre_copy.folder)
    assert "\n" not in str(caught.value)
    assert await _book_count(database) == 0


async def test_a_missing_folder_is_one_clear_error(database: Database, home: Home, tmp_path):
    with pytest.raises(CalibreLibraryError, match="no such folder"):
        await _run(database, home, tmp_path / "nowhere")


async def test_a_failed_book_rolls_back_and_a_rerun_completes(
    database: Database, home: Home, sample_library: SampleLibrary
):
    # A real failure inside the transaction: the database refuses the FB2's file row.
    await database.pool.execute(
        """
        CREATE FUNCTION refuse_fb2() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.format = 'fb2' THEN RAISE EXCEPTION 'refused for the test'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_fb2 BEFORE INSERT ON book_files
            FOR EACH ROW EXECUTE FUNCTION refuse_fb2();
        """
    )
    report = await _run(database, home, sample_library.folder)
    (failed,) = report.failed_books
    assert failed.calibre_id == sample_library.fb2 and "refused for the test" in failed.reason
    assert await _book_count(database) == 3  # the other books came over
    assert not list(home.library_dir.rglob("*.fb2"))  # its placed copy was taken back
    assert (
        not any((home.library_dir / ".calibre-import").glob("*"))
        if (home.library_dir / ".calibre-import").exists()
        else True
    )
    await database.pool.execute("DROP TRIGGER refuse_fb2 ON book_files")
    again = await _run(database, home, sample_library.folder)
    assert again.ok and again.count("imported") == 1 and again.count("unchanged") == 3


async def test_a_copy_left_by_a_killed_run_is_adopted_not_doubled(
    database: Database, home: Home, sample_library: SampleLibrary
):
    source = _file(sample_library.folder, "Fay Bee/The FB2 Book (3)", ".fb2")
    # A killed run had placed the file but never recorded it.
    orphan = home.library_dir / "Fay Bee" / "The FB2 Book" / source.name
    orphan.parent.mkdir(parents=True)
    shutil.copyfile(source, orphan)
    report = await _run(database, home, sample_library.folder)
    fb2 = next(r for r in report.books if r.calibre_id == sample_library.fb2)
    assert fb2.files == [str(orphan)]
    assert sorted(p.name for p in orphan.parent.iterdir()) == [source.name]


# --- the command ------------------------------------------------------------------------


def _cli(home: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shelver", "--home", str(home), "--database-url", dsn, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_cli_imports_reports_and_is_idempotent(
    database_dsn: str, tmp_path: Path, sample_library: SampleLibrary
):
    home = tmp_path / "home"
    first = await asyncio.to_thread(
        _cli, home, database_dsn, "import-calibre", str(sample_library.folder), "--json"
    )
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    assert [b["outcome"] for b in document["books"]] == ["imported"] * 4
    assert document["totals"]["files_added"] == 4
    second = await asyncio.to_thread(
        _cli, home, database_dsn, "import-calibre", str(sample_library.folder)
    )
    assert second.returncode == 0, second.stderr
    assert "imported 0 book(s)" in second.stderr and "4 unchanged" in second.stderr


async def test_cli_errors_are_one_line(database_dsn: str, tmp_path: Path):
    not_calibre = tmp_path / "plain"
    not_calibre.mkdir()
    done = await asyncio.to_thread(
        _cli, tmp_path / "home", database_dsn, "import-calibre", str(not_calibre)
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "no metadata.db here" in done.stderr


# --- the Inbox's import dialog ----------------------------------------------------------


async def test_the_inbox_import_dialog_offers_a_calibre_library(
    database: Database, database_dsn: str, home: Home, sample_library: SampleLibrary
):
    from textual.widgets import OptionList

    from shelver.screens.dialogs.inbox_import import ImportDialog
    from shelver.widgets.path_input import PathInput
    from tests.tui_support import SIZE, make_app, screen_text, settle

    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ImportDialog)
        dialog.query_one(PathInput).value = str(sample_library.folder)
        await pilot.press("enter")
        await settle(pilot)
        assert "This folder is a Calibre library" in screen_text(app)
        choice = dialog.query_one("#import-calibre-choice", OptionList)
        assert choice.has_focus and choice.option_count == 4
        await pilot.press("down", "up", "enter")  # the first choice: copy the files
        for _ in range(300):
            if dialog.report is not None:
                break
            await pilot.pause(0.1)
        await settle(pilot)
        assert "Imported 4 book(s)" in screen_text(app)
        assert "custom column #derived" in screen_text(app) or dialog.report.not_kept
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ImportDialog)
    organized = await database.pool.fetchval(
        "SELECT count(*) FROM books WHERE status = 'organized'"
    )
    assert organized == 4


async def test_series_tags_read_the_same_in_python_and_in_the_opds_sql(
    database: Database, home: Home, sample_library: SampleLibrary
):
    await _run(database, home, sample_library.folder)
    rows = await database.pool.fetch(
        "SELECT title, tags, shelver_series_name(tags) AS name, "
        "shelver_series_index(tags) AS number FROM books "
        "WHERE shelver_series_name(tags) IS NOT NULL ORDER BY number"
    )
    assert [(r["title"], r["name"], r["number"]) for r in rows] == [
        ("東京物語", "Der Ring", 1.0),
        ("Über Bücher", "Der Ring", 2.5),
    ]
    for row in rows:
        parsed = series_of(row["tags"])
        assert parsed is not None and parsed.name == row["name"]
        assert float(parsed.index or 0) == row["number"]


def test_series_tag_round_trip():
    assert series_tag("The Expanse", 2.0) == "series:The Expanse #2"
    assert series_tag("The Expanse", 2.5) == "series:The Expanse #2.5"
    assert series_tag("The Expanse", None) == "series:The Expanse"
    assert parse_series_tag("Series:Dune # 3") == Series("Dune", Decimal("3"))
    assert parse_series_tag("series:Dune") == Series("Dune", None)
    assert parse_series_tag("fantasy") is None and parse_series_tag("series:") is None


def test_calibre_values_on_shelver_scales():
    assert publication_year("0101-01-01 00:00:00+00:00") is None
    assert publication_year("1999-12-31 23:00:00+00:00") == 1999
    assert rating_from_calibre(6) == Decimal("3") and rating_from_calibre(9) == Decimal("4.5")
    assert rating_from_calibre(0) is None and rating_from_calibre(11) is None


async def test_two_imports_of_one_library_do_not_run_at_once(
    database: Database, home: Home, sample_library: SampleLibrary
):
    library_id = read_library(sample_library.folder).library_id
    async with database.pool.acquire() as other:  # another shelver process importing it
        await other.fetchval(
            "SELECT pg_advisory_lock(hashtextextended('shelver-calibre/' || $1::text, 0))",
            library_id,
        )
        with pytest.raises(CalibreLibraryError, match="another import"):
            await _run(database, home, sample_library.folder)
        await other.execute("SELECT pg_advisory_unlock_all()")
    assert await _book_count(database) == 0
    assert (await _run(database, home, sample_library.folder)).ok


async def test_the_library_detail_shows_the_rating_and_the_kept_calibre_fields(
    database: Database, home: Home, sample_library: SampleLibrary
):
    from shelver.widgets.library_detail import describe_book

    report = await _run(database, home, sample_library.folder)
    ring_id = next(r.book_id for r in report.books if r.calibre_id == sample_library.ring)
    assert ring_id is not None
    detail = await library.detail(database.pool, ring_id)
    assert detail.rating == Decimal("3.0")
    assert {e.name: e.value for e in detail.extras}["#mood"] == ["happy", "sad"]
    shown = describe_book(detail).plain
    assert "★★★ 3" in shown
    assert "happy, sad" in shown and "Living room" in shown and "goodreads" in shown
