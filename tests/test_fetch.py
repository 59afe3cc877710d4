"""Fetching candidates into a real database: statuses, replacement, review, and the CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import respx

from shelver.app.cli import main
from shelver.data import books, fetching
from shelver.data.db import Database
from shelver.data.fetching import ProviderKeys, fetch_candidates, resolve_keys
from shelver.data.home import Home
from shelver.data.models import BookFields, BookStatus
from shelver.data.providers import hardcover
from shelver.data.settings import ProviderSettings, Settings

GOOGLE = "https://books.example.test/books/v1"
HARDCOVER = "https://hardcover.example.test/v1/graphql"
SETTINGS = Settings(
    providers=ProviderSettings(
        google_books_url=GOOGLE,
        hardcover_url=HARDCOVER,
        max_candidates_per_source=3,
        timeout_seconds=2,
        hardcover_requests_per_minute=6000,
    )
)
KEYS = ProviderKeys(google_books_key="g-key", hardcover_token="hc-token")


def volume(n: int, isbn: str = "9781521748831") -> dict:
    return {
        "id": f"v{n}",
        "volumeInfo": {
            "title": "Cragside" if n == 1 else f"Cragside volume {n}",
            "authors": ["L. J. Ross"],
            "industryIdentifiers": [{"type": "ISBN_13", "identifier": isbn}],
        },
    }


def hc_answer(*titles: str) -> dict:
    hits = [
        {"document": {"id": str(i), "title": t, "author_names": ["L.J. Ross"], "isbns": []}}
        for i, t in enumerate(titles, start=1)
    ]
    return {"data": {"search": {"results": {"hits": hits}}}}


async def add_book(database: Database, **fields: object) -> uuid.UUID:
    book = await books.insert(database.pool, BookFields(**fields))
    await books.upsert_candidate(
        database.pool, book.id, source="file", normalized=BookFields(**fields), confidence=1
    )
    return book.id


def sources_of(candidates) -> list[str]:
    return sorted(c.source for c in candidates)


@respx.mock
async def test_fetch_stores_ranked_candidates_and_moves_to_review(database: Database) -> None:
    respx.get(f"{GOOGLE}/volumes").mock(
        return_value=httpx.Response(200, json={"items": [volume(2), volume(1), volume(3)]})
    )
    respx.post(HARDCOVER).mock(return_value=httpx.Response(200, json=hc_answer("Cragside")))
    book_id = await add_book(
        database, title="Cragside", author="L. J. Ross", isbn_13="9781521748831"
    )
    seen = []
    report = await fetch_candidates(
        database, SETTINGS, progress=lambda d, t: seen.append((d, t)), keys=KEYS
    )
    assert report.ok and seen == [(1, 1)], report.books[0].sources
    assert report.books[0].moved_to_review and report.books[0].candidates == 4
    candidates = await books.candidates_of(database.pool, book_id)
    assert sources_of(candidates) == [
        "file",
        "google_books",
        "google_books#2",
        "google_books#3",
        "hardcover",
    ]
    by_source = {c.source: c for c in candidates}
    # The best-scoring answer takes the plain name.
    assert by_source["google_books"].normalized["title"] == "Cragside"
    assert by_source["google_books"].confidence >= by_source["google_books#2"].confidence
    assert by_source["google_books"].raw_response["id"] == "v1"
    assert by_source["hardcover"].normalized["hardcover_book_id"] == 1
    assert (await books.get(database.pool, book_id)).status is BookStatus.REVIEW
    statuses = {s.source: s for s in await fetching.statuses_of(database.pool, book_id)}
    assert statuses["google_books"].state == "ok" and statuses["google_books"].candidates == 3
    assert statuses["hardcover"].state == "ok"


@respx.mock
async def test_refetch_replaces_only_that_providers_candidates(database: Database) -> None:
    google = respx.get(f"{GOOGLE}/volumes")
    google.mock(return_value=httpx.Response(200, json={"items": [volume(1), volume(2)]}))
    hc = respx.post(HARDCOVER)
    hc.mock(return_value=httpx.Response(200, json=hc_answer("Cragside")))
    book_id = await add_book(database, title="Cragside", isbn_13="9781521748831")
    await fetch_candidates(database, SETTINGS, [book_id], keys=KEYS)
    google.mock(return_value=httpx.Response(200, json={"items": [volume(4)]}))
    hc.mock(return_value=httpx.Response(500))
    report = await fetch_candidates(database, SETTINGS, [book_id], keys=KEYS)
    candidates = await books.candidates_of(database.pool, book_id)
    # Google's two answers were replaced by one; Hardcover failed, so its answer stays.
    assert sources_of(candidates) == ["file", "google_books", "hardcover"]
    assert report.failed and not report.ok
    statuses = {s.source: s for s in await fetching.statuses_of(database.pool, book_id)}
    assert statuses["hardcover"].state == "failed"
    assert "server error" in statuses["hardcover"].message
    assert [f.book_id for f in await fetching.failed_fetches(database.pool)] == [book_id]


@respx.mock
async def test_failures_are_statuses_and_retry_fixes_them(database: Database) -> None:
    google = respx.get(f"{GOOGLE}/volumes")
    google.mock(return_value=httpx.Response(200, content=b'{"items": [tru'))
    hc = respx.post(HARDCOVER)
    hc.mock(return_value=httpx.Response(200, json={"errors": [{"message": "boom"}]}))
    book_id = await add_book(database, title="Cragside", author="L. J. Ross")
    report = await fetch_candidates(database, SETTINGS, keys=KEYS)
    assert [b.book_id for b in report.failed] == [book_id]
    messages = {s.source: s.message for s in report.books[0].sources}
    assert "not valid JSON" in messages["google_books"]
    assert "GraphQL error: boom" in messages["hardcover"]
    assert (await books.get(database.pool, book_id)).status is BookStatus.INBOX
    google.mock(return_value=httpx.Response(200, json={"items": [volume(1)]}))
    hc.mock(return_value=httpx.Response(200, json=hc_answer()))
    retried = await fetching.retry_failed(database, SETTINGS, keys=KEYS)
    assert retried.ok and retried.books[0].moved_to_review
    assert await fetching.failed_fetches(database.pool) == []


@respx.mock
async def test_missing_hardcover_token_skips_it_visibly(database: Database) -> None:
    respx.get(f"{GOOGLE}/volumes").mock(return_value=httpx.Response(200, json={"totalItems": 0}))
    hc = respx.post(HARDCOVER)
    book_id = await add_book(database, title="Nothing Like It")
    report = await fetch_candidates(database, SETTINGS, keys=ProviderKeys())
    assert hc.call_count == 0
    assert any("Hardcover skipped" in n for n in report.notes)
    states = {s.source: s.state for s in await fetching.statuses_of(database.pool, book_id)}
    assert states == {"google_books": "empty", "hardcover": "skipped"}
    assert report.ok  # nothing failed: no match is not a failure
    # No match still reaches a decision: the book waits in review with its file's values.
    assert report.books[0].moved_to_review
    assert (await books.get(database.pool, book_id)).status is BookStatus.REVIEW


async def test_unknown_ids_are_reported(database: Database) -> None:
    missing = uuid.uuid4()
    report = await fetch_candidates(database, SETTINGS, [missing], keys=ProviderKeys())
    assert report.missing == [missing] and not report.ok


async def test_keys_from_environment_and_sealed_store(database: Database, home: Home) -> None:
    from shelver.data.passwords import seal_token

    keys, notes = await resolve_keys(
        database.pool, home.config_dir, {"SHELVER_HARDCOVER_TOKEN": "from-env"}
    )
    assert keys.hardcover_token == "from-env" and keys.google_books_key is None
    assert "from-env" not in repr(keys)
    await database.pool.execute(
        "INSERT INTO service_credentials (service, username, password_hash) VALUES ($1, $2, $3)",
        "hardcover",
        "me",
        seal_token(home.config_dir, "from-store"),
    )
    keys, notes = await resolve_keys(database.pool, home.config_dir, {})
    assert keys.hardcover_token == "from-store" and notes == []
    keys, notes = await resolve_keys(database.pool, home.config_dir / "elsewhere", {})
    assert keys.hardcover_token is None and "cannot be used" in notes[0]


async def test_one_hardcover_limiter_per_process() -> None:
    limiter = hardcover.shared_limiter(HARDCOVER, 60)
    assert hardcover.shared_limiter(HARDCOVER, 60) is limiter
    assert hardcover.shared_limiter("HTTPS://Hardcover.Example.Test/v1/graphql/", 60) is limiter
    async with httpx.AsyncClient() as client:
        providers, _ = fetching.build_providers(client, SETTINGS, KEYS)
    [provider] = [p for p in providers if p.name == "hardcover"]
    assert provider.limiter is limiter  # type: ignore[attr-defined]


# --- the command -----------------------------------------------------------------------------


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cli-home"
    root.mkdir()
    (root / "config.toml").write_text(
        f'[providers]\ngoogle_books_url = "{GOOGLE}"\nhardcover_url = "{HARDCOVER}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SHELVER_HARDCOVER_TOKEN", "cli-token")
    monkeypatch.delenv("SHELVER_GOOGLE_BOOKS_KEY", raising=False)
    return root


@respx.mock
def test_cli_fetch_json(
    database_dsn: str, cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    async def seed() -> uuid.UUID:
        from shelver.data.db import DatabaseTarget

        db = await Database.open(DatabaseTarget(dsn=database_dsn), max_size=2)
        try:
            return await add_book(db, title="Cragside", author="L. J. Ross")
        finally:
            await db.close()

    book_id = asyncio.run(seed())
    respx.get(f"{GOOGLE}/volumes").mock(
        return_value=httpx.Response(200, json={"items": [volume(1)]})
    )
    respx.post(HARDCOVER).mock(return_value=httpx.Response(401, json={"error": "invalid_token"}))
    base = ["--home", str(cli_home), "--database-url", database_dsn, "fetch"]
    code, out, err = _run_cli([*base, "--json"], capsys)
    document = json.loads(out)
    assert code == 1  # Hardcover refused the token
    assert document["fetched"] == 1 and document["moved_to_review"] == 1
    assert document["books"][0]["id"] == str(book_id)
    assert "cli-token" not in out + err
    code, out, err = _run_cli([*base, "not-a-uuid"], capsys)
    assert code == 2 and "not a book id" in err
    code, out, err = _run_cli([*base, str(book_id)], capsys)
    assert code == 1 and "refused the credentials" in err and "fetched 1 book(s)" in out


@respx.mock
async def test_concurrent_fetches_of_one_book_do_not_collide(database: Database) -> None:
    import asyncio

    respx.get(f"{GOOGLE}/volumes").mock(
        return_value=httpx.Response(200, json={"items": [volume(1), volume(2)]})
    )
    respx.post(HARDCOVER).mock(return_value=httpx.Response(200, json=hc_answer("Cragside")))
    book_id = await add_book(database, title="Cragside", isbn_13="9781521748831")
    reports = await asyncio.gather(
        *(fetch_candidates(database, SETTINGS, [book_id], keys=KEYS) for _ in range(4))
    )
    assert all(r.ok for r in reports)
    assert sources_of(await books.candidates_of(database.pool, book_id)) == [
        "file",
        "google_books",
        "google_books#2",
        "hardcover",
    ]


@respx.mock
async def test_async_progress_callbacks_are_awaited(database: Database) -> None:
    respx.get(f"{GOOGLE}/volumes").mock(return_value=httpx.Response(200, json={"totalItems": 0}))
    await add_book(database, title="One")
    await add_book(database, title="Two")
    seen = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    await fetch_candidates(database, SETTINGS, progress=progress, keys=ProviderKeys())
    assert seen == [(1, 2), (2, 2)]


@respx.mock
async def test_manual_search_adds_and_replaces_manual_candidates(database: Database) -> None:
    google = respx.get(f"{GOOGLE}/volumes")
    google.mock(return_value=httpx.Response(200, json={"items": [volume(1)]}))
    respx.post(HARDCOVER).mock(return_value=httpx.Response(200, json=hc_answer("Cragside")))
    book_id = await add_book(database, title="Cragside", author="L. J. Ross")
    await fetch_candidates(database, SETTINGS, [book_id], keys=KEYS)
    google.mock(return_value=httpx.Response(200, json={"items": [volume(2), volume(3)]}))
    stored, notes = await fetching.manual_search(
        database, SETTINGS, book_id, "ross cragside", keys=KEYS
    )
    assert notes == [] and len(stored) == 3
    assert google.calls[-1].request.url.params["q"] == "ross cragside"
    google.mock(return_value=httpx.Response(200, json={"totalItems": 0}))
    respx.post(HARDCOVER).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "0"}, json={})
    )
    stored, notes = await fetching.manual_search(database, SETTINGS, book_id, "again", keys=KEYS)
    assert stored == [] and "rate limit" in notes[0]
    # The new (empty) Google answer replaced the old manual ones; Hardcover's failed and stayed.
    assert sources_of(await books.candidates_of(database.pool, book_id)) == [
        "file",
        "google_books",
        "hardcover",
        "manual:hardcover",
    ]
