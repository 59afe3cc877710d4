"""Every real-world file in ../shared/corpus is imported with the title and author its
MANIFEST.md gives, or refused with a reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shelver.data import books
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.importing import import_paths

MANIFEST_AUTHOR_WIDTH = 70  # the manifest cuts long author lists at about this width


def manifest_rows(corpus: Path) -> dict[str, dict[str, str]]:
    """``{file name: {column: value}}`` from the markdown table in MANIFEST.md."""
    manifest = corpus / "MANIFEST.md"
    if not manifest.is_file():
        pytest.skip(f"{manifest} is absent: no real-world corpus to test against")
    lines = [line for line in manifest.read_text("utf-8").splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        row = dict(zip(header, cells, strict=False))
        rows[row["file"].strip("`")] = row
    return rows


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def author_matches(expected: str, actual: str | None) -> bool:
    """Every name the manifest lists is in ours (it shortens names and long lists)."""
    if not expected:
        return True
    ours = set(words(actual or ""))
    # An e-mail address is not part of a name: shelver strips it from authors on purpose.
    expected_words = words(re.sub(r"<?[\w.+-]+@[\w.-]+>?", " ", expected))
    if len(expected) >= MANIFEST_AUTHOR_WIDTH - 2:
        expected_words = expected_words[:-1]  # the last one may be cut mid-word
    return all(word in ours for word in expected_words)


async def test_corpus(shared_dir: Path, database: Database, home: Home) -> None:
    corpus = shared_dir / "corpus"
    rows = manifest_rows(corpus)
    files = [corpus / name for name in rows]
    assert all(f.exists() for f in files)
    report = await import_paths(database, home, files)
    refused = {Path(r.path).name: r.reason for r in report.refused}
    assert all(reason.strip() for reason in refused.values())
    imported = {Path(i.path).name: i for i in report.imported}
    skipped = {Path(s.path).name for s in report.skipped}
    assert set(imported) | set(refused) | skipped == set(rows)
    problems = []
    for name, item in imported.items():
        expected = rows[name]
        book = await books.get(database.pool, item.book_id)
        assert book is not None
        if (book.title or "") != expected["title"]:
            problems.append(f"{name}: title {book.title!r} != {expected['title']!r}")
        if not author_matches(expected["author"], book.author):
            problems.append(f"{name}: author {book.author!r} != {expected['author']!r}")
        language = expected["lang"].split(",")[0].split("-")[0]
        if language and book.language != {"jp": "ja"}.get(language, language):
            problems.append(f"{name}: language {book.language!r} != {language!r}")
        if "bogus dc:date" in expected["edge-case notes"] and book.published_year is not None:
            problems.append(f"{name}: bogus date kept as {book.published_year}")
    assert not problems, "\n".join(problems)
    # The corpus holds no exact copies, so nothing may be skipped as one.
    assert not skipped
