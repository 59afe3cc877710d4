"""Files as they really arrive: odd byte-string names, files still being written, files that are
not books. Nothing is lost, one bad file never fails the rest, every file is accounted for."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from shelver.data import books
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing.pipeline import import_paths
from shelver.data.models import BookStatus
from shelver.data.watcher import watch_inbox
from tests import import_support as gen
from tests.test_import_cli import shelver
from tests.test_import_watcher import wait_for

BAD_NAME = b"caf\xe9 \xff\xfe book.epub"  # Latin-1 and junk bytes: not UTF-8


def bad_path(folder: Path, raw: bytes = BAD_NAME) -> Path:
    return Path(os.fsdecode(os.path.join(os.fsencode(folder), raw)))


async def original_names(database: Database) -> list[bytes]:
    rows = await database.pool.fetch(
        "SELECT f.original_name, r.name FROM book_files f "
        "LEFT JOIN book_file_original_names r ON r.book_file_id = f.id"
    )
    return sorted(r["name"] or r["original_name"].encode() for r in rows)


async def test_a_name_that_is_not_utf8_is_imported_and_kept_exactly(
    database: Database, home: Home, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    gen.make_epub(bad_path(drop), title="Odd Name")
    gen.make_epub(drop / "fine.epub", title="Fine")
    report = await import_paths(database, home, [drop], workers=0)
    assert report.refused == [] and len(report.imported) == 2
    json.dumps(report.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    assert await original_names(database) == sorted([BAD_NAME, b"fine.epub"])
    odd = next(i for i in report.imported if i.title == "Odd Name")
    Path(odd.inbox_path).name.encode("utf-8")  # the inbox copy has a safe, valid name
    assert Path(odd.inbox_path).exists()


async def test_the_same_name_in_the_inbox_folder_neither_fails_the_batch_nor_stops(
    database: Database, home: Home
) -> None:
    gen.make_epub(bad_path(home.inbox_dir), title="Odd Name")
    gen.make_epub(home.inbox_dir / "fine.epub", title="Fine")
    report = await import_paths(database, home, [home.inbox_dir], workers=0)
    assert report.refused == [] and len(report.imported) == 2
    assert not bad_path(home.inbox_dir).exists()  # renamed to a safe name in place


async def test_the_watcher_imports_a_bad_name_and_keeps_watching(
    database: Database, home: Home
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        watch_inbox(database, home, stop_event=stop, settle=0.3, poll=0.05, force_polling=True)
    )
    try:
        gen.make_epub(bad_path(home.inbox_dir), title="Odd Name")

        async def titles(*wanted: str) -> bool:
            rows = await books.list_by_status(database.pool, BookStatus.INBOX)
            return sorted(r.title or "" for r in rows) == sorted(wanted)

        await wait_for(lambda: titles("Odd Name"))
        gen.make_epub(home.inbox_dir / "after.epub", title="After")  # still watching
        await wait_for(lambda: titles("Odd Name", "After"))
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_cli_json_with_a_bad_name(tmp_path: Path, database_dsn: str) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    gen.make_epub(bad_path(drop), title="Odd Name")
    result = shelver(tmp_path / "home", database_dsn, "import", "--json", str(drop))
    assert result.returncode == 0, result.stderr
    (item,) = json.loads(result.stdout)["imported"]
    assert item["title"] == "Odd Name" and "caf" in item["path"]


def test_skipped_files_are_listed_with_their_reason(tmp_path: Path, database_dsn: str) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    gen.make_epub(drop / ".hidden.epub", title="Hidden")
    (drop / "book.epub.reason.txt").write_text("a note of ours")
    result = shelver(tmp_path / "home", database_dsn, "import", "--json", str(drop))
    document = json.loads(result.stdout)
    reasons = {Path(i["path"]).name: i["reason"] for i in document["skipped"]}
    assert "hidden" in reasons[".hidden.epub"]
    assert "reason" in reasons["book.epub.reason.txt"]
    human = shelver(tmp_path / "home", database_dsn, "import", str(drop))
    assert ".hidden.epub" in human.stdout and "2 other file(s)" in human.stderr


def test_move_of_a_file_still_being_written_loses_nothing(tmp_path: Path, database_dsn: str):
    """A writer appends while `import --move` runs. Whatever shelver took, the writer's bytes are
    all somewhere: the source is only removed once it matches the copy."""
    drop = tmp_path / "drop"
    drop.mkdir()
    whole = gen.epub_bytes(title="Growing", body="y" * 3_000_000)
    target = drop / "growing.epub"
    started = threading.Event()
    import_done = threading.Event()

    def write_slowly() -> None:
        # A chunk every 20 ms while the import runs; the last one waits until it has ended, so
        # the import always meets a file that is still open for writing.
        with target.open("wb") as handle:
            step = len(whole) // 50 + 1
            offsets = range(0, len(whole), step)
            for offset in offsets:
                if offset == offsets[-1]:
                    import_done.wait(60)
                handle.write(whole[offset : offset + step])
                handle.flush()
                started.set()
                if not import_done.is_set():
                    time.sleep(0.02)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    started.wait(10)
    try:
        result = shelver(tmp_path / "home", database_dsn, "import", "--move", "--json", str(target))
    finally:
        import_done.set()
        writer.join()
    document = json.loads(result.stdout)
    inbox = list((tmp_path / "home" / "inbox").glob("*.epub"))
    whole_sha = hashlib.sha256(whole).hexdigest()
    if document["imported"]:
        # Taken only once complete: the inbox copy is the whole file.
        (copy,) = inbox
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == whole_sha
    else:
        assert result.returncode == 1 and "still being written" in result.stdout
        assert inbox == []
    if not target.exists():
        assert document["imported"]  # removed only after the whole file was imported
    else:
        assert target.read_bytes() == whole


def test_a_file_its_writer_holds_open_is_refused_as_still_written_and_kept(
    tmp_path: Path, database_dsn: str
) -> None:
    """A download that has paused keeps its size and time, but its writer still has it open:
    `import --move` says it is still being written (not "broken") and leaves it where it is;
    once the writer has closed it, the same command takes it."""
    drop = tmp_path / "drop"
    drop.mkdir()
    whole = gen.epub_bytes(title="Paused Download")
    target = drop / "paused.epub"
    home = tmp_path / "home"
    with target.open("wb") as handle:
        handle.write(whole[: len(whole) // 2])
        handle.flush()
        held = shelver(home, database_dsn, "import", "--move", "--json", str(target))
        handle.write(whole[len(whole) // 2 :])
    (refused,) = json.loads(held.stdout)["refused"]
    assert held.returncode == 1 and "still being written" in refused["reason"]
    assert target.read_bytes() == whole and list((home / "inbox").glob("*.epub")) == []
    taken = shelver(home, database_dsn, "import", "--move", "--json", str(target))
    assert taken.returncode == 0 and len(json.loads(taken.stdout)["imported"]) == 1
    assert not target.exists()


def test_a_file_open_for_writing_is_seen_as_busy(tmp_path: Path) -> None:
    from shelver.data.importing.completeness import open_for_writing

    path = tmp_path / "busy.epub"
    path.write_bytes(b"x")
    with path.open("ab"):
        assert open_for_writing([path]) == {path}
    with path.open("rb"):  # readers do not count
        assert open_for_writing([path]) == set()


def test_kill_9_of_an_import_leaves_no_process_and_no_copy_behind(
    tmp_path: Path, database_dsn: str
) -> None:
    import signal
    import subprocess
    import sys
    import uuid

    import psutil

    drop = tmp_path / "drop"
    drop.mkdir()
    for n in range(24):  # big enough that the pool is still copying when the kill comes
        (drop / f"big-{n:02d}.epub").write_bytes(os.urandom(12 * 1024 * 1024))
    mark = uuid.uuid4().hex
    home = tmp_path / "home"
    env = {**os.environ, "SHELVER_DATABASE_URL": database_dsn, "SHELVER_TEST_MARK": mark}
    child = subprocess.Popen(
        [sys.executable, "-m", "shelver", "--home", str(home), "import", str(drop)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    staging = home / "inbox" / ".importing"

    def marked() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get("SHELVER_TEST_MARK") == mark:
                    found.append(process)
            except (psutil.Error, OSError):
                continue
        return found

    deadline = time.monotonic() + 60
    while not list(staging.glob("*.part")) or len(marked()) < 3:
        assert child.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline, "no copy in progress to kill"
        time.sleep(0.05)
    helpers = len(marked()) - 1
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert helpers >= 2  # a worker pool (and its helpers) was running

    deadline = time.monotonic() + 15
    while (left := [p for p in marked() if p.status() != psutil.STATUS_ZOMBIE]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert left == [], [p.cmdline() for p in left]

    # Whatever the dead run left (the kill may catch a copy mid-way or fall between two) goes
    # at the next start; so does one planted for a dead run, while a live run's copy stays.
    (staging / "deadbeef0000-planted.part").write_bytes(b"half a copy")
    (staging / "deadbeef0000.lock").touch()
    # A run killed between two copies leaves its lock and no copy: that lock goes too.
    (staging / "feedface0000.lock").touch()
    import fcntl

    live_lock = staging / "0123456789ab.lock"
    with live_lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        (staging / "0123456789ab-live.part").write_bytes(b"in progress")
        gen.make_epub(tmp_path / "next.epub", title="Next")
        again = shelver(home, database_dsn, "import", str(tmp_path / "next.epub"))
        assert again.returncode == 0, again.stderr
        assert [p.name for p in staging.glob("*.part")] == ["0123456789ab-live.part"]
        assert [p.name for p in staging.glob("*.lock")] == ["0123456789ab.lock"]


@pytest.mark.parametrize("change", ["appended", "same size and time"])
async def test_move_keeps_a_source_that_changed_between_copy_and_unlink(
    database: Database, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """``--move`` copies, records, then unlinks the original only if it is still exactly what
    was copied. A change in between (a writer appending; bytes rewritten in place, keeping the
    size and the modification time) keeps the original and says why."""
    from shelver.data.importing import pipeline

    source = tmp_path / "drop" / "changing.epub"
    source.parent.mkdir()
    gen.make_epub(source, title="Changing")
    copied = source.read_bytes()
    remove_originals = pipeline._remove_originals

    def change_then_remove(run, results):  # runs after the copy is recorded
        info = source.stat()
        if change == "appended":
            with source.open("ab") as handle:
                handle.write(b"more bytes from the writer")
        else:
            data = bytearray(copied)
            data[-1] ^= 0xFF
            source.write_bytes(bytes(data))
            os.utime(source, ns=(info.st_atime_ns, info.st_mtime_ns))
        return remove_originals(run, results)

    monkeypatch.setattr(pipeline, "_remove_originals", change_then_remove)
    report = await import_paths(database, home, [source], move=True, workers=0)
    (item,) = report.imported
    assert source.exists() and source.read_bytes() != copied  # the writer's bytes are kept
    assert Path(item.inbox_path).read_bytes() == copied  # the copy is what was read
    assert item.note is not None and "changed after it was copied" in item.note
    assert "kept" in item.note
