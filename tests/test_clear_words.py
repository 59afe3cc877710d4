"""Clear words: a mistyped library_template is refused at start-up naming the bad placeholder
and the known ones; e-mail and web addresses never reach queries or folder names; a provider
that cannot be reached is named in plain words with the failed books listed; a closed pipe ends
a command quietly; books are named by title."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from shelver.app.cli import main
from shelver.data import books
from shelver.data.authors import clean_author
from shelver.data.db import Database
from shelver.data.fetching import ProviderKeys, fetch_candidates, reference_fields
from shelver.data.home import Home
from shelver.data.importing.text import join_authors
from shelver.data.models import BookFields
from shelver.data.organize import relative_path
from shelver.data.providers.http import network_words
from shelver.data.settings import ConfigError, ProviderSettings, Settings, load_settings
from tests.library_support import add_book


def test_a_mistyped_template_is_refused_at_start_up(tmp_path: Path, capsys) -> None:
    home = Home.at(tmp_path / "home").ensure()
    home.config_file.write_text('library_template = "{autor}/{title}/{original_name}"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(home.config_file)
    message = str(refused.value)
    assert "unknown placeholder {autor}" in message and "{author}" in message
    assert "{original_name}" in message and "\n" not in message
    # Any command (the TUI too) stops before it starts, with that one line and exit code 2.
    assert main(["--home", str(home.data_dir), "search", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("shelver: ") and "{autor}" in err and len(err.splitlines()) == 1
    with pytest.raises(ConfigError, match="malformed"):
        load_settings(home.config_file, {"SHELVER_LIBRARY_TEMPLATE": "{title"})


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Jane Doe <jane@example.com>", "Jane Doe"),
        ("John Smith (www.smith.example)", "John Smith"),
        ("Doe, J. - mailto: jdoe@mail.example", "Doe, J."),
        ("scanner@pirate.example", None),
        ("Smith (ed.)", "Smith (ed.)"),
        ("Ursula K. Le Guin & bob@x.example", "Ursula K. Le Guin"),
    ],
)
def test_junk_is_stripped_from_author_names(raw: str, clean: str | None) -> None:
    assert clean_author(raw) == clean


def test_addresses_reach_neither_paths_nor_queries(database: Database) -> None:
    fields = BookFields(title="Dune", author="Frank Herbert <frank@example.com>")
    assert relative_path("{author}/{title}/{original_name}", fields, "d.epub") == Path(
        "Frank Herbert", "Dune", "d.epub"
    )
    assert join_authors(["Frank Herbert <frank@example.com>", "x@y.example"]) == "Frank Herbert"


async def test_queries_carry_the_name_only(database: Database) -> None:
    book = await books.insert(database.pool, BookFields(title="Dune", author="F. H. <f@h.example>"))
    assert reference_fields(book, None).author == "F. H."


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_unreachable_provider_is_named_in_plain_words(database: Database) -> None:
    port = closed_port()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError) as refused:
            await client.get(f"http://127.0.0.1:{port}/")
    assert network_words(refused.value) == "connection refused"

    dune = await books.insert(database.pool, BookFields(title="Dune", author="Frank Herbert"))
    emma = await books.insert(database.pool, BookFields(title="Emma", author="Jane Austen"))
    settings = Settings(
        providers=ProviderSettings(
            google_books_url=f"http://127.0.0.1:{port}/books/v1", timeout_seconds=2
        )
    )
    report = await fetch_candidates(
        database, settings, [dune.id, emma.id], keys=ProviderKeys(), sources=["google_books"]
    )
    (message,) = {s.message for b in report.books for s in b.sources if s.state == "failed"}
    assert message == "cannot reach Google Books: connection refused"
    assert "ConnectError" not in message
    summary = report.failure_summary()
    assert "“Dune”" in summary and "“Emma”" in summary and "connection refused" in summary


async def test_a_closed_pipe_ends_a_command_quietly(
    database: Database, database_dsn: str, home: Home
) -> None:
    for number in range(300):
        await add_book(database.pool, f"Book number {number}", "Some Author")
    command = [sys.executable, "-m", "shelver", "--home", str(home.data_dir)]
    command += ["--database-url", database_dsn, "search", "book", "--json", "--limit", "300"]

    def run() -> tuple[int, bytes]:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.read(10)  # like `head`: read a little, then go away
        process.stdout.close()
        err = process.stderr.read()
        return process.wait(timeout=60), err

    code, err = await asyncio.to_thread(run)
    assert err == b"" and code == 0
