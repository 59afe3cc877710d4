"""Import benchmark: 1,000 generated EPUBs (~300 KB each, with covers) into a fresh home.

    /work/venv/bin/python bench/import.py [--count 1000] [--database-url URL] [--workers N]

Without --database-url an embedded cluster is created in a throwaway home (its start-up is not
timed). Prints books per second, peak RSS of this process and its worker processes (the
PostgreSQL server is not counted), and the split between hashing, parsing and database time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from html import escape
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.importing import import_paths
from shelver.data.importing.isbn import complete_isbn13

CALIBRE_BOOKS_PER_SECOND = 31  # `calibredb add` on this machine, per the issue

FIRST = [
    "Ada",
    "Ben",
    "Cleo",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tomoko",
]
LAST = [
    "Abara",
    "Berg",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
]
LANGUAGES = ["en", "en-US", "de", "fr", "es", "it", "ger", "fre", "nl", "sv", "pt-BR", "ja"]
SUBJECTS = [
    "Fiction",
    "History",
    "Science",
    "Poetry",
    "Travel",
    "Mystery",
    "Fantasy",
    "Biography",
    "Philosophy",
    "Cooking",
]


def isbn13(rng: random.Random) -> str:
    return complete_isbn13("978" + "".join(rng.choice("0123456789") for _ in range(9)))


def word_pool(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyzäöüéè"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 11))) for _ in range(4000)]


def make_book(path: Path, index: int, rng: random.Random, words: list[str], text: str) -> None:
    title = " ".join(rng.choice(words).capitalize() for _ in range(rng.randint(1, 5)))
    if index % 10 == 0:
        title += f", Vol. {index % 7 + 1}"
    authors = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(1, 3))]
    description = "<p>" + " ".join(rng.choice(words) for _ in range(80)) + "</p><p><b>More</b></p>"
    meta = [f"<dc:title>{escape(title)} {index}</dc:title>"]
    meta += [f"<dc:creator>{escape(a)}</dc:creator>" for a in authors]
    meta.append(f'<dc:identifier id="uid">urn:uuid:bench-{index}</dc:identifier>')
    if index % 5:
        meta.append(f"<dc:identifier>urn:isbn:{isbn13(rng)}</dc:identifier>")
    meta.append(f"<dc:date>{rng.choice(['0101-01-01', str(rng.randint(1900, 2024))])}</dc:date>")
    meta.append(f"<dc:language>{rng.choice(LANGUAGES)}</dc:language>")
    meta.append(f"<dc:description>{escape(description)}</dc:description>")
    meta += [f"<dc:subject>{s}</dc:subject>" for s in rng.sample(SUBJECTS, 2)]
    meta.append('<meta name="cover" content="cover"/>')
    chapters = 8
    manifest = "".join(
        f'<item id="c{n}" href="c{n}.xhtml" media-type="application/xhtml+xml"/>'
        for n in range(chapters)
    )
    opf = (
        '<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" '
        'unique-identifier="uid" version="2.0"><metadata '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        + "".join(meta)
        + "</metadata><manifest>"
        + manifest
        + '<item id="cover" href="cover.jpg" media-type="image/jpeg"/>'
        "</manifest><spine>"
        + "".join(f'<itemref idref="c{n}"/>' for n in range(chapters))
        + "</spine></package>"
    )
    cover = b"\xff\xd8\xff\xe0" + rng.randbytes(120_000) + b"\xff\xd9"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        archive.writestr("OEBPS/content.opf", opf)
        archive.writestr("OEBPS/cover.jpg", cover, zipfile.ZIP_STORED)
        for n in range(chapters):
            start = rng.randrange(0, len(text) - 60_000)
            body = text[start : start + 50_000]
            archive.writestr(
                f"OEBPS/c{n}.xhtml",
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{n}</title></head><body><p>{body}</p></body></html>",
            )


def generate(folder: Path, count: int) -> int:
    rng = random.Random(20240601)
    words = word_pool(rng)
    text = " ".join(rng.choice(words) for _ in range(200_000))
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        make_book(folder / f"book {index:04d}.epub", index, rng, words, text)
    return sum(p.stat().st_size for p in folder.iterdir())


class PeakRss:
    """Samples the RSS of this process plus its children (not the database server)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    if "postgres" not in child.name():
                        total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


async def run(arguments: argparse.Namespace, root: Path) -> None:
    source = root / "books"
    started = time.perf_counter()
    size = generate(source, arguments.count)
    print(
        f"generated {arguments.count} EPUBs, {size / arguments.count / 1024:.0f} KB average, "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    home = Home.at(root / "home").ensure()
    target = DatabaseTarget.choose(home, arguments.database_url)
    database = await Database.open(target)
    try:
        with PeakRss() as rss:
            started = time.perf_counter()
            report = await import_paths(database, home, [source], workers=arguments.workers)
            elapsed = time.perf_counter() - started
    finally:
        await database.close()
        if target.cluster is not None:
            target.cluster.drop()  # stops it and deletes its data
    timings = report.timings
    rate = len(report.imported) / elapsed
    print(
        f"imported {len(report.imported)}, skipped {len(report.skipped)}, "
        f"refused {len(report.refused)} in {elapsed:.2f} s"
    )
    print(f"books/s:       {rate:.0f}  ({rate / CALIBRE_BOOKS_PER_SECOND:.1f}x calibredb add)")
    print(f"peak RSS:      {rss.peak / 1e6:.0f} MB (this process + workers)")
    print(f"hashing:       {timings.hashing:.2f} s (summed over workers)")
    print(f"parsing:       {timings.parsing:.2f} s (summed over workers, covers included)")
    print(f"database:      {timings.database:.2f} s (wall, overlapping the workers)")
    flagged = sum(1 for i in report.imported if i.possible_duplicate_of)
    print(f"possible duplicates flagged: {flagged}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    arguments = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="shelver-bench-"))
    try:
        asyncio.run(run(arguments, root))
    finally:
        if arguments.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
