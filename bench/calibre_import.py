"""Calibre import benchmark: a 1,000-book Calibre library brought over with --copy and --link.

    /work/venv/bin/python bench/calibre_import.py [--count 1000] [--modes copy,link]

The library is built once with ``calibredb add`` (in bulk, from the same generated EPUBs as
bench/import.py: ~354 KB each, with covers) and cached in ~/.cache/shelver-bench (building
1,000 books takes a few minutes). Each mode then runs into a fresh home with its own embedded
cluster (start-up not timed). Prints books per second and the peak RSS of this process (the
PostgreSQL server is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shelver.data.calibre.files import Placement
from shelver.data.calibre.importer import import_calibre
from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.settings import Settings

CACHE = Path.home() / ".cache" / "shelver-bench"


def _import_bench():  # type: ignore[no-untyped-def]
    """bench/import.py (its name is a keyword, so it is loaded by path) for its generator."""
    spec = importlib.util.spec_from_file_location(
        "bench_import", Path(__file__).with_name("import.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def calibre_library(count: int) -> Path:
    """The cached library of ``count`` books, built with calibredb the first time."""
    folder = CACHE / f"calibre-{count}" / "Calibre Library"
    done = folder.parent / "complete"
    if done.exists():
        return folder
    calibredb = shutil.which("calibredb")
    if calibredb is None:
        sys.exit("calibredb is not installed (apt-get install calibre)")
    shutil.rmtree(folder.parent, ignore_errors=True)
    sources = folder.parent / "sources"
    started = time.perf_counter()
    _import_bench().generate(sources, count)
    print(f"generated {count} EPUBs in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    env = {
        "CALIBRE_CONFIG_DIRECTORY": str(folder.parent / ".calibre-config"),
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(
        [calibredb, "--with-library", str(folder), "add", "--recurse", str(sources)],
        check=True,
        capture_output=True,
        env=env,
    )
    elapsed = time.perf_counter() - started
    print(f"calibredb add: {count} books in {elapsed:.1f} s ({count / elapsed:.0f} books/s)")
    shutil.rmtree(sources)
    done.write_text("built\n")
    return folder


async def run_mode(folder: Path, placement: Placement, root: Path) -> None:
    peak_rss = _import_bench().PeakRss
    home = Home.at(root / placement.value).ensure()
    target = DatabaseTarget.choose(home, None)
    database = await Database.open(target)
    try:
        with peak_rss() as rss:
            started = time.perf_counter()
            report = await import_calibre(database, home, Settings(), folder, placement=placement)
            elapsed = time.perf_counter() - started
    finally:
        await database.close()
        if target.cluster is not None:
            target.cluster.stop()
            if target.cluster.running_as_root:
                shutil.rmtree(target.cluster.root, ignore_errors=True)
    books = report.count("imported")
    print(
        f"--{placement.value:5} {books} books, {report.totals.files_added} files "
        f"({report.totals.bytes_added / 1e6:.0f} MB) in {elapsed:.2f} s: "
        f"{books / elapsed:.0f} books/s, peak RSS {rss.peak / 1e6:.0f} MB; "
        f"{len(report.skipped_files)} skipped, {len(report.failed_books)} failed",
        flush=True,
    )


async def main_async(arguments: argparse.Namespace) -> None:
    folder = calibre_library(arguments.count)
    root = Path(tempfile.mkdtemp(prefix="shelver-bench-calibre-", dir=arguments.tmp))
    try:
        for mode in arguments.modes.split(","):
            await run_mode(folder, Placement(mode), root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--modes", default="copy,link")
    # --link needs one file system: by default the homes live beside the cached library.
    parser.add_argument("--tmp", default=str(CACHE))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
