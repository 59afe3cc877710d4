"""``shelver search``: output, JSON, limits and errors, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.library_support import add_book


def shelver(dsn: str, home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "shelver",
            "--home",
            str(home.data_dir),
            "--database-url",
            dsn,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_search_prints_matches(database, database_dsn, home):
    hobbit = await add_book(database.pool, "The Hobbit", "J. R. R. Tolkien", published_year=1937)
    await add_book(database.pool, "The Silmarillion", "J. R. R. Tolkien")
    await add_book(database.pool, "Dune", "Frank Herbert", progress={"Kobo": 0.5})

    result = shelver(database_dsn, home, "search", "tolkien hob")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{hobbit}  The Hobbit — J. R. R. Tolkien (1937) epub"]

    result = shelver(database_dsn, home, "search", "dune", "--json")
    document = json.loads(result.stdout)
    assert document["count"] == 1
    assert document["results"][0]["title"] == "Dune"
    assert document["results"][0]["reading_percentage"] == 0.5
    assert document["results"][0]["match"] == "fulltext"

    result = shelver(database_dsn, home, "search", "tolkien", "--limit", "1", "--json")
    assert [r["title"] for r in json.loads(result.stdout)["results"]] == ["The Hobbit"]

    result = shelver(database_dsn, home, "search", "tolkein", "--json")
    assert {r["match"] for r in json.loads(result.stdout)["results"]} == {"fuzzy"}

    result = shelver(database_dsn, home, "search", "nothing like this")
    assert result.returncode == 0
    assert "no books match" in result.stdout


async def test_search_usage_errors(database_dsn, home):
    for args in (
        ["search", "  "],
        ["search", "x", "--limit", "0"],
        ["search", "x", "--limit", "a"],
    ):
        result = shelver(database_dsn, home, *args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
