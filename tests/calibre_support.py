"""Real Calibre libraries for tests and the benchmark, built with calibre's own ``calibredb``.

calibredb is slow (about half a second a call), so a library is built once and copied."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.import_support import TINY_JPEG, make_epub, make_fb2, make_pdf

CALIBREDB = shutil.which("calibredb")
SKIP_REASON = (
    "calibredb is not installed (apt-get install calibre); the Calibre import tests need a "
    "library built by calibre itself"
)
# calibredb refuses to run beside a running calibre GUI and wants a writable config folder.
_ENV = {**os.environ, "CALIBRE_CONFIG_DIRECTORY": "", "QT_QPA_PLATFORM": "offscreen"}
# calibre allows one program per user at a time (a lock file): wait for another one to finish.
BUSY = "Another calibre program"
BUSY_WAIT = 120.0  # twice this stays under the suite's 300 s test timeout


class CalibreBusy(RuntimeError):
    """Another calibre program held calibre's per-user lock for too long."""


def calibredb(library: Path, *args: str) -> str:
    """Run ``calibredb --with-library LIBRARY ARGS`` and return its output (raises on failure)."""
    assert CALIBREDB, SKIP_REASON
    env = dict(_ENV)
    env["CALIBRE_CONFIG_DIRECTORY"] = str(library.parent / ".calibre-config")
    deadline = time.monotonic() + BUSY_WAIT
    while True:
        done = subprocess.run(
            [CALIBREDB, "--with-library", str(library), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        if done.returncode == 0 or BUSY not in done.stderr:
            break
        if time.monotonic() > deadline:
            raise CalibreBusy("another calibre program kept calibre's per-user lock")
        time.sleep(0.5)
    if done.returncode != 0:
        raise RuntimeError(f"calibredb {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    return done.stdout


def added_ids(output: str) -> list[int]:
    """The book ids in calibredb add's ``Added book ids: 1, 2`` line."""
    for line in output.splitlines():
        if line.startswith("Added book ids:"):
            return [int(part) for part in line.split(":", 1)[1].split(",") if part.strip()]
    raise AssertionError(f"calibredb add said: {output!r}")


@dataclass(frozen=True)
class SampleLibrary:
    """The test library and the calibre ids of its books."""

    folder: Path
    ring: int  # "Über Bücher": three authors, epub + pdf, series #2.5, every field set
    tokyo: int  # "東京物語": Japanese, series #1, a custom column
    fb2: int  # an FB2 book with a rating and a Hardcover id
    empty: int  # a book with no file at all


def build_sample_library(folder: Path) -> SampleLibrary:
    """A small library exercising every field the import reads."""
    sources = folder.parent / "calibre-sources"
    sources.mkdir(parents=True, exist_ok=True)
    ring_epub = make_epub(sources / "ring.epub", title="Ring", authors=("X",), body="Ring body")
    ring_pdf = make_pdf(sources / "ring.pdf", title="Ring PDF", author="X")
    tokyo_epub = make_epub(sources / "tokyo.epub", title="Tokyo", body="東京")
    fb2 = make_fb2(sources / "fb2book.fb2", title="FB2 Book")
    cover = sources / "cover.jpg"
    cover.write_bytes(TINY_JPEG)
    ring, tokyo, fb2_id = added_ids(
        calibredb(folder, "add", str(ring_epub), str(tokyo_epub), str(fb2))
    )
    calibredb(folder, "add_format", str(ring), str(ring_pdf))
    (empty,) = added_ids(
        calibredb(folder, "add", "--empty", "--title", "Ein Buch ohne Datei", "--authors", "Nobody")
    )
    calibredb(folder, "add_custom_column", "mood", "Mood", "text", "--is-multiple")
    calibredb(folder, "add_custom_column", "shelf", "Shelf", "text")
    calibredb(folder, "add_custom_column", "derived", "Derived", "composite", "--display",
              '{"composite_template": "{title}"}')  # fmt: skip
    calibredb(
        folder,
        "set_metadata",
        str(ring),
        "--field", "title:Über Bücher",
        "--field", "authors:Zoë Ångström & Bob Second & Ça Troisième",
        "--field", "series:Der Ring",
        "--field", "series_index:2.5",
        "--field", "rating:3",
        "--field", "tags:Fantasy,Klassiker",
        "--field", "publisher:Verlag Ä",
        "--field", "pubdate:2001-03-04",
        "--field", "languages:deu,eng",
        "--field", "identifiers:isbn:978-0-306-40615-7,goodreads:123,"
                   "hardcover:the-ring,hardcover-edition:555",
        "--field", "comments:<p>First <b>paragraph</b>.</p><p>Second paragraph.</p>",
        "--field", "#mood:happy,sad",
        "--field", "#shelf:Living room",
        "--field", f"cover:{cover}",
    )  # fmt: skip
    calibredb(
        folder,
        "set_metadata",
        str(tokyo),
        "--field", "title:東京物語",
        "--field", "authors:小津 安二郎",
        "--field", "series:Der Ring",
        "--field", "series_index:1",
        "--field", "languages:jpn",
        "--field", "#mood:calm",
    )  # fmt: skip
    calibredb(
        folder,
        "set_metadata",
        str(fb2_id),
        "--field", "title:The FB2 Book",
        "--field", "authors:Fay Bee",
        "--field", "rating:4",
        "--field", "identifiers:hardcover-id:4242,isbn:not-an-isbn",
        "--field", "languages:fra",
    )  # fmt: skip
    return SampleLibrary(folder, ring, tokyo, fb2_id, empty)


def shared_sample_library(shared: Path) -> SampleLibrary:
    """The sample library under ``shared``, built by whichever test process comes first.

    Parallel test workers share it (a file lock orders them), so calibredb runs once a session.
    """
    shared.mkdir(parents=True, exist_ok=True)
    with (shared / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = shared / "sample.pickle"
        busy = shared / "busy"
        if built.exists():
            return pickle.loads(built.read_bytes())
        if busy.exists():  # another worker already waited in vain: do not wait again
            raise CalibreBusy(busy.read_text())
        shutil.rmtree(shared / "Calibre Library", ignore_errors=True)
        try:
            sample = build_sample_library(shared / "Calibre Library")
        except CalibreBusy as exc:
            busy.write_text(str(exc))
            raise
        built.write_bytes(pickle.dumps(sample))
        return sample


def copy_library(sample: SampleLibrary, target: Path) -> SampleLibrary:
    """A private copy a test may change."""
    shutil.copytree(sample.folder, target)
    return SampleLibrary(target, sample.ring, sample.tokyo, sample.fb2, sample.empty)


def library_state(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``folder`` with its size, mtime and bytes (to prove nothing changed)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            info = path.stat()
            key = str(path.relative_to(folder))
            state[key] = (info.st_size, info.st_mtime_ns, path.read_bytes())
    return state
