"""The import pipeline against a real database: books, files, candidates, duplicates, refusals."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from shelver.data import books
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing import import_paths, pipeline, reject_inbox_book
from shelver.data.importing.hashing import digest_file
from tests import import_support as gen


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


async def test_import_stores_book_file_and_candidate(
    database: Database, home: Home, drop: Path
) -> None:
    source = gen.make_epub(drop / "My Book.epub", title="Stored", isbn="0306406152")
    calls: list[tuple[int, int, str]] = []
    report = await import_paths(database, home, [source], progress=lambda *a: calls.append(a))
    assert [i.title for i in report.imported] == ["Stored"] and report.ok
    assert calls[-1][:2] == (1, 1)
    item = report.imported[0]
    book = await books.get(database.pool, item.book_id)
    assert book is not None and book.title == "Stored" and book.isbn_13 == "9780306406157"
    assert book.cover_path and Path(book.cover_path).is_relative_to(home.covers_dir)
    [file] = await books.files_of(database.pool, item.book_id)
    digest = digest_file(source)
    assert (file.checksum, file.content_hash, file.file_size) == (
        digest.checksum,
        digest.content_hash,
        digest.size,
    )
    assert file.original_name == "My Book.epub" and file.format == "epub"
    assert Path(file.inbox_path).parent == home.inbox_dir
    assert Path(file.inbox_path).read_bytes() == source.read_bytes()
    assert source.exists()  # copied, not moved
    [candidate] = await books.candidates_of(database.pool, item.book_id)
    assert candidate.source == "file" and float(candidate.confidence) == 1.0
    assert candidate.normalized["title"] == "Stored"
    assert not list((home.inbox_dir / ".importing").iterdir())


async def test_every_format_through_the_pipeline(
    database: Database, home: Home, drop: Path
) -> None:
    gen.make_epub(drop / "a.epub", title="E")
    gen.make_pdf(drop / "b.pdf", title="P")
    gen.make_fb2(drop / "c.fb2", title="F")
    gen.make_cbz(drop / "d.cbz")
    gen.make_mobi(drop / "e.mobi", title="M")
    gen.make_mobi(drop / "f.azw3", title="K", version=8, isbn="9780306406157")
    report = await import_paths(database, home, [drop], workers=2)
    assert report.ok
    assert sorted(i.format for i in report.imported) == [
        "azw3",
        "cbz",
        "epub",
        "fb2",
        "mobi",
        "pdf",
    ]


async def test_exact_duplicates_are_skipped_also_within_a_batch(
    database: Database, home: Home, drop: Path
) -> None:
    first = gen.make_epub(drop / "one.epub", title="Twice")
    shutil.copy(first, drop / "copy of one.epub")
    report = await import_paths(database, home, [drop])
    assert len(report.imported) == 1 and len(report.skipped) == 1
    assert report.skipped[0].duplicate_of == report.imported[0].book_id
    again = await import_paths(database, home, [first])
    assert not again.imported and again.skipped[0].duplicate_of == report.imported[0].book_id
    counts = await books.count_by_status(database.pool)
    assert counts.inbox == 1
    assert len(list(home.inbox_dir.glob("*.epub"))) == 1  # no stray copies


async def test_near_duplicates_are_flagged_but_volumes_are_not(
    database: Database, home: Home, drop: Path
) -> None:
    gen.make_epub(drop / "a.epub", title="The Long Road Home", authors=("Mary Major",))
    first = await import_paths(database, home, [drop / "a.epub"])
    original = first.imported[0].book_id
    gen.make_epub(
        drop / "b.epub", title="Long Road Home, The", authors=("Major, Mary",), date="2001"
    )
    gen.make_epub(drop / "c.epub", title="Saga Vol. 2", authors=("Sam Series",))
    gen.make_epub(drop / "d.epub", title="Saga Vol. 3", authors=("Sam Series",))
    gen.make_epub(drop / "e.epub", title="Other", authors=("X",), isbn="9780306406157")
    gen.make_epub(
        drop / "f.epub", title="Different", authors=("Y",), isbn="0-306-40615-2", date="1999"
    )
    report = await import_paths(database, home, [drop / f"{n}.epub" for n in "bcdef"])
    flagged = {i.title: i.possible_duplicate_of for i in report.imported}
    assert flagged["Long Road Home, The"] == original
    assert flagged["Saga Vol. 2"] is None and flagged["Saga Vol. 3"] is None
    other = next(i.book_id for i in report.imported if i.title == "Other")
    assert flagged["Different"] == other  # same ISBN-13 within one batch
    book = await books.get(
        database.pool, next(i.book_id for i in report.imported if i.title == "Long Road Home, The")
    )
    assert book is not None and book.possible_duplicate_of == original


async def test_which_copy_is_the_duplicate_does_not_depend_on_parsing_order(
    database: Database, home: Home, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parsing pool finishes files in any order (the cause of the near-duplicates case
    above failing now and then): here the later file is made to finish first."""
    real = pipeline._examine_in

    async def earlier_files_finish_last(loop, executor, task):
        result = await real(loop, executor, task)
        if Path(task.source).name == "e.epub":
            await asyncio.sleep(0.3)
        return result

    monkeypatch.setattr(pipeline, "_examine_in", earlier_files_finish_last)
    gen.make_epub(drop / "e.epub", title="Other", authors=("X",), isbn="9780306406157")
    gen.make_epub(drop / "f.epub", title="Different", authors=("Y",), isbn="0-306-40615-2")
    shutil.copy(drop / "e.epub", drop / "g.epub")
    report = await import_paths(database, home, [drop / f"{n}.epub" for n in "efg"], workers=0)
    flagged = {i.title: i.possible_duplicate_of for i in report.imported}
    other = next(i.book_id for i in report.imported if i.title == "Other")
    assert flagged == {"Other": None, "Different": other}
    # The exact copy given last is the one skipped.
    assert [Path(i.path).name for i in report.skipped] == ["g.epub"]


async def test_bad_files_never_stop_the_batch(database: Database, home: Home, drop: Path) -> None:
    (drop / "empty.epub").write_bytes(b"")
    (drop / "truncated.epub").write_bytes(gen.epub_bytes()[:300])
    (drop / "notes.epub").write_text("not a zip")
    gen.make_drm_epub(drop / "drm.epub")
    gen.make_zip_bomb(drop / "bomb.epub")
    gen.make_epub(drop / "good.epub", title="Survivor")
    os.symlink(drop / "good.epub", drop / "link.epub")
    before = {p.name: p.read_bytes() for p in drop.iterdir() if not p.is_symlink()}
    report = await import_paths(database, home, [drop, drop / "missing.epub"])
    assert [i.title for i in report.imported] == ["Survivor"]
    reasons = {Path(r.path).name: r for r in report.refused}
    assert set(reasons) == {
        "empty.epub",
        "truncated.epub",
        "notes.epub",
        "drm.epub",
        "bomb.epub",
        "link.epub",
        "missing.epub",
    }
    assert reasons["drm.epub"].drm and "DRM" in reasons["drm.epub"].reason
    assert "symbolic link" in reasons["link.epub"].reason
    assert not report.ok
    # Refused files are left exactly where they were.
    assert {p.name: p.read_bytes() for p in drop.iterdir() if not p.is_symlink()} == before
    assert len(list(home.inbox_dir.iterdir())) == 2  # the good copy and the staging folder


async def test_move_removes_only_imported_sources(
    database: Database, home: Home, drop: Path
) -> None:
    good = gen.make_epub(drop / "good.epub")
    bad = drop / "bad.epub"
    bad.write_bytes(b"junk")
    report = await import_paths(database, home, [good, bad], move=True)
    assert len(report.imported) == 1 and not good.exists() and bad.exists()
    assert Path(report.imported[0].inbox_path).exists()


async def test_odd_names(database: Database, home: Home, drop: Path) -> None:
    names = [
        "-rf.epub",
        "line\nbreak.epub",
        "Ünïcödé 書名.epub",
        "  spaced  name .epub",
        "book.pdf",
    ]
    for index, name in enumerate(names):
        gen.make_epub(drop / name, title=f"Odd {index}")
    report = await import_paths(database, home, [drop])
    assert report.ok and len(report.imported) == len(names)
    for item in report.imported:
        placed = Path(item.inbox_path)
        assert (
            placed.exists() and not placed.name.startswith(("-", ".")) and "\n" not in placed.name
        )
        assert placed.suffix == ".epub"
    originals = set()
    for item in report.imported:
        [file] = await books.files_of(database.pool, item.book_id)
        originals.add(file.original_name)
    assert originals == set(names)


async def test_inbox_folder_files_are_imported_in_place_and_rejects_moved(
    database: Database, home: Home
) -> None:
    good = gen.make_epub(home.inbox_dir / "dropped.epub", title="Dropped")
    bad = home.inbox_dir / "broken.epub"
    bad.write_bytes(b"PK\x03\x04broken")
    report = await import_paths(database, home, [good, bad])
    assert report.imported[0].inbox_path == str(good) and good.exists()
    refused = report.refused[0]
    assert refused.moved_to and not bad.exists()
    moved = Path(refused.moved_to)
    assert moved.parent == home.rejected_dir and moved.read_bytes() == b"PK\x03\x04broken"
    assert "broken ZIP" in Path(str(moved) + ".reason.txt").read_text()
    # Already registered: a second look is a no-op, not a duplicate.
    assert (await import_paths(database, home, [good])).model_dump()["skipped"] == []


async def test_reject_inbox_book_moves_the_file_and_deletes_the_row(
    database: Database, home: Home, drop: Path
) -> None:
    report = await import_paths(database, home, [gen.make_epub(drop / "x.epub", title="Gone")])
    item = report.imported[0]
    result = await reject_inbox_book(database, home, item.book_id)
    assert await books.get(database.pool, item.book_id) is None
    [moved] = result.moved
    assert moved.parent == home.rejected_dir and moved.exists()
    assert not Path(item.inbox_path).exists()
    assert "deleted from the Inbox" in Path(str(moved) + ".reason.txt").read_text()
    with pytest.raises(LookupError):
        await reject_inbox_book(database, home, item.book_id)


async def test_report_is_json_serialisable(database: Database, home: Home, drop: Path) -> None:
    import json

    (drop / "bad.epub").write_bytes(b"x")
    gen.make_epub(drop / "ok.epub")
    report = await import_paths(database, home, [drop])
    document = json.loads(json.dumps(report.model_dump(mode="json")))
    assert set(document) >= {"imported", "skipped", "refused", "timings"}
    assert document["refused"][0]["reason"]


async def test_a_crashing_reader_refuses_only_its_file(
    database: Database, home: Home, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from shelver.data.importing import pipeline

    real = pipeline.examine

    def crashing(task):  # type: ignore[no-untyped-def]
        if task.source.endswith("crash.epub"):
            raise BrokenProcessPool("worker died")
        return real(task)

    monkeypatch.setattr(pipeline, "examine", crashing)
    gen.make_epub(drop / "crash.epub", title="Crash")
    gen.make_epub(drop / "fine.epub", title="Fine")
    report = await import_paths(database, home, [drop], workers=0)
    assert [i.title for i in report.imported] == ["Fine"]
    assert "crashed" in report.refused[0].reason
    assert (drop / "crash.epub").exists()
    assert not list((home.inbox_dir / ".importing").iterdir())


async def test_big_epubs_skip_ebooklib(
    database: Database, home: Home, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shelver.data.importing import epub

    monkeypatch.setattr(epub, "EBOOKLIB_MAX_INFLATED", 100)
    gen.make_epub(drop / "big.epub", title="Big One")
    report = await import_paths(database, home, [drop / "big.epub"], workers=0)
    assert report.imported[0].title == "Big One"


async def test_stale_staging_copies_are_cleaned(database: Database, home: Home, drop: Path) -> None:
    staging = home.inbox_dir / ".importing"
    staging.mkdir()
    stale, fresh = staging / "old.part", staging / "new.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(stale, (1, 1))
    await import_paths(database, home, [gen.make_epub(drop / "a.epub")])
    assert not stale.exists() and fresh.exists()


async def test_symlink_dropped_in_the_inbox_is_rejected_as_a_link(
    database: Database, home: Home, drop: Path
) -> None:
    target = gen.make_epub(drop / "real.epub")
    link = home.inbox_dir / "link.epub"
    os.symlink(target, link)
    report = await import_paths(database, home, [link])
    assert "symbolic link" in report.refused[0].reason
    moved = Path(report.refused[0].moved_to or "")
    assert moved.is_symlink() and target.exists() and not link.exists()


async def test_concurrent_imports_of_the_same_bytes_store_one_book(
    database: Database, home: Home, drop: Path
) -> None:
    import asyncio

    source = gen.make_epub(drop / "same.epub", title="Once")
    shutil.copy(source, drop / "same again.epub")
    first, second = await asyncio.gather(
        import_paths(database, home, [source]),
        import_paths(database, home, [drop / "same again.epub"]),
    )
    assert len(first.imported) + len(second.imported) == 1
    assert len(first.skipped) + len(second.skipped) == 1
    assert (await books.count_by_status(database.pool)).inbox == 1
    assert len(list(home.inbox_dir.glob("*.epub"))) == 1


async def test_the_unique_index_is_the_last_gate(
    database: Database, home: Home, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As if another import committed the same bytes between our check and our insert."""
    from shelver.data.importing import pipeline

    source = gen.make_epub(drop / "raced.epub", title="Raced")
    first = await import_paths(database, home, [source])
    real_query = pipeline.query

    def blind(name: str) -> str:
        if name == "importing_known_checksums":
            return "SELECT NULL::text AS checksum, NULL::uuid AS book_id WHERE $1::text[] IS NULL"
        return real_query(name)

    monkeypatch.setattr(pipeline, "query", blind)
    second = await import_paths(database, home, [source])
    assert not second.imported and len(second.skipped) == 1
    assert (await books.count_by_status(database.pool)).inbox == 1
    assert [p.name for p in home.inbox_dir.glob("*.epub")] == [
        Path(first.imported[0].inbox_path).name
    ]


async def test_a_failing_database_write_refuses_the_batch_and_loses_nothing(
    database: Database, home: Home, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shelver.data.importing import pipeline

    async def broken_insert(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionResetError("connection lost")

    monkeypatch.setattr(pipeline, "_insert", broken_insert)
    source = gen.make_epub(drop / "kept.epub", title="Kept")
    report = await import_paths(database, home, [source], move=True)
    assert not report.imported and "database error" in report.refused[0].reason
    assert source.exists()  # --move never removes a file that was not stored
    assert not list(home.inbox_dir.glob("*.epub"))
    monkeypatch.undo()
    again = await import_paths(database, home, [source])
    assert [i.title for i in again.imported] == ["Kept"]


async def test_duplicate_dropped_in_the_inbox_goes_to_rejected(
    database: Database, home: Home, drop: Path
) -> None:
    source = gen.make_epub(drop / "orig.epub", title="Orig")
    first = await import_paths(database, home, [source])
    dropped = home.inbox_dir / "orig again.epub"
    shutil.copy(source, dropped)
    report = await import_paths(database, home, [dropped])
    [skipped] = report.skipped
    assert skipped.duplicate_of == first.imported[0].book_id
    assert skipped.moved_to and Path(skipped.moved_to).parent == home.rejected_dir
    assert not dropped.exists() and Path(first.imported[0].inbox_path).exists()
    assert "exact duplicate" in Path(skipped.moved_to + ".reason.txt").read_text()


async def test_a_configured_inbox_folder(database: Database, home: Home, tmp_path: Path) -> None:
    custom = tmp_path / "my inbox"
    source = gen.make_epub(tmp_path / "a.epub", title="Custom")
    report = await import_paths(database, home, [source], inbox_dir=custom)
    assert Path(report.imported[0].inbox_path).parent == custom
    dropped = gen.make_epub(custom / "dropped.epub", title="In place")
    again = await import_paths(database, home, [dropped], inbox_dir=custom)
    assert again.imported[0].inbox_path == str(dropped)
