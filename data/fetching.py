"""Fetching metadata candidates for books, and the per-book status the user sees and retries.

Each provider works through the books on its own pool of workers, so a slow, rate-limited
provider (Hardcover) never holds up a fast one (Google Books). For each (book, provider) the
outcome is stored in ``fetch_status``: ``ok`` (N candidates), ``empty`` (no match), ``failed``
(with a readable reason, retry by fetching again) or ``skipped`` (no token). A provider's
successful answer replaces that book's previous candidates from it in one transaction; a failed
one leaves them alone. Books that end up with candidates move from ``inbox`` to ``review``.

Keys: the Google Books key (optional) comes from ``SHELVER_GOOGLE_BOOKS_KEY``, the Hardcover
token from ``SHELVER_HARDCOVER_TOKEN``; where the environment has none, from the token stored
with ``shelver credentials add hardcover|google_books NAME`` (sealed under the home's key).
Keys are never logged or put in a status.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from shelver.data import confidence
from shelver.data.authors import clean_author
from shelver.data.books import Executor
from shelver.data.clean_text import clean_document
from shelver.data.db import Database
from shelver.data.models import Book, BookFields, Candidate, Row
from shelver.data.passwords import SecretUnavailable, unseal_token
from shelver.data.providers import google_books, hardcover
from shelver.data.providers.base import BookQuery, Match, Provider
from shelver.data.providers.http import ProviderError, make_client
from shelver.data.queries import query
from shelver.data.settings import Settings

GOOGLE_KEY_ENV = "SHELVER_GOOGLE_BOOKS_KEY"
HARDCOVER_TOKEN_ENV = "SHELVER_HARDCOVER_TOKEN"
ALL_SOURCES = (google_books.NAME, hardcover.NAME)
MANUAL_PREFIX = "manual:"

ProgressCallback = Callable[[int, int], Any]
"""Called as ``progress(books_done, books_total)`` after each book (may be a coroutine)."""


class FetchStatus(Row):
    """A row of ``fetch_status``: the last fetch of one provider for one book."""

    book_id: UUID
    source: str
    state: str
    message: str = ""
    candidates: int = 0
    updated_at: datetime


@dataclass(frozen=True)
class ProviderKeys:
    """Secrets for the providers; ``repr`` never shows them."""

    google_books_key: str | None = field(default=None, repr=False)
    hardcover_token: str | None = field(default=None, repr=False)


async def resolve_keys(
    db: Executor,
    config_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[ProviderKeys, list[str]]:
    """Keys from the environment, else the sealed tokens stored for the home; and notes.

    A stored token that cannot be unsealed (key file missing) becomes a note, not an error.
    """
    environ = os.environ if environ is None else environ
    found = {
        "google_books": environ.get(GOOGLE_KEY_ENV) or None,
        "hardcover": environ.get(HARDCOVER_TOKEN_ENV) or None,
    }
    notes: list[str] = []
    for service, value in found.items():
        if value is not None or config_dir is None:
            continue
        sealed = await db.fetchval(query("fetching_sealed_token"), service)
        if not sealed:
            continue
        try:
            found[service] = unseal_token(config_dir, sealed) or None
        except SecretUnavailable as exc:
            notes.append(f"the stored {service} token cannot be used: {exc}")
    keys = ProviderKeys(google_books_key=found["google_books"], hardcover_token=found["hardcover"])
    return keys, notes


@dataclass
class SourceOutcome:
    """What one provider gave for one book."""

    source: str
    state: str
    message: str = ""
    candidates: int = 0


@dataclass
class BookOutcome:
    """What the fetch did for one book."""

    book_id: UUID
    title: str | None
    sources: list[SourceOutcome] = field(default_factory=list)
    moved_to_review: bool = False

    @property
    def failed(self) -> bool:
        return any(s.state == "failed" for s in self.sources)

    @property
    def candidates(self) -> int:
        return sum(s.candidates for s in self.sources)


@dataclass
class FetchReport:
    """The outcome of one ``fetch_candidates`` run."""

    books: list[BookOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Visible notes, e.g. a provider skipped for want of a token."""
    missing: list[UUID] = field(default_factory=list)
    """Asked-for book ids that do not exist."""
    elapsed: float = 0.0
    source_elapsed: dict[str, float] = field(default_factory=dict)
    """Seconds from the start until each provider had finished every book."""
    requests: dict[str, int] = field(default_factory=dict)
    rate_limited: dict[str, int] = field(default_factory=dict)
    """429 answers received per provider."""

    @property
    def failed(self) -> list[BookOutcome]:
        return [b for b in self.books if b.failed]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing

    def failure_summary(self, limit: int = 3) -> str:
        """The failed books by title and why, in one line: "“Dune”, “Emma”: cannot reach
        Google Books: connection refused"."""
        failed = self.failed
        if not failed:
            return ""
        titles = ", ".join(f"“{b.title or 'untitled'}”" for b in failed[:limit])
        if len(failed) > limit:
            titles += f" and {len(failed) - limit} more"
        reasons = dict.fromkeys(
            s.message or s.state for b in failed for s in b.sources if s.state == "failed"
        )
        return f"{titles}: {'; '.join(reasons)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "books": [
                {
                    "id": str(b.book_id),
                    "title": b.title,
                    "moved_to_review": b.moved_to_review,
                    "candidates": b.candidates,
                    "sources": [s.__dict__ for s in b.sources],
                }
                for b in self.books
            ],
            "missing": [str(m) for m in self.missing],
            "notes": self.notes,
            "fetched": len(self.books),
            "moved_to_review": sum(b.moved_to_review for b in self.books),
            "failed": len(self.failed),
            "elapsed_seconds": round(self.elapsed, 3),
            "requests": self.requests,
            "rate_limited": self.rate_limited,
        }


def candidate_source(provider: str, rank: int, *, manual: bool = False) -> str:
    """``provider`` for the best answer, ``provider#2``... for the next ones."""
    stem = f"{MANUAL_PREFIX}{provider}" if manual else provider
    return stem if rank == 1 else f"{stem}#{rank}"


def reference_fields(book: Book, file_fields: dict[str, Any] | None) -> BookFields:
    """What the file says, with the book's own values filling the gaps."""
    current = book.model_dump(include=set(BookFields.model_fields))
    from_file = BookFields.model_validate(file_fields or {}).model_dump(exclude_defaults=True)
    reference = BookFields.model_validate({**current, **from_file})
    # Queries go out with the author's name only (no e-mail or web address a file carried).
    return reference.model_copy(update={"author": clean_author(reference.author)})


def build_providers(
    client: httpx.AsyncClient, settings: Settings, keys: ProviderKeys
) -> tuple[list[Provider], list[str]]:
    """The providers that can run, and a note for each one that cannot."""
    config = settings.providers
    providers: list[Provider] = [
        google_books.GoogleBooks(client, config.google_books_url, keys.google_books_key)
    ]
    notes: list[str] = []
    if keys.hardcover_token:
        limiter = hardcover.shared_limiter(
            config.hardcover_url, config.hardcover_requests_per_minute
        )
        providers.append(
            hardcover.Hardcover(client, config.hardcover_url, keys.hardcover_token, limiter)
        )
    else:
        notes.append(
            f"Hardcover skipped: no token (set {HARDCOVER_TOKEN_ENV} or store a hardcover "
            "credential)"
        )
    return providers, notes


async def _store_matches(
    db: Any,
    book_id: UUID,
    provider: str,
    scored: list[tuple[Match, float]],
    *,
    manual: bool = False,
) -> list[Candidate]:
    """Replace this provider's candidates of the book by ``scored`` (one transaction)."""
    stem = f"{MANUAL_PREFIX}{provider}" if manual else provider
    stored: list[Candidate] = []
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(query("fetching_lock_book_source"), book_id, stem)
        await conn.execute(query("fetching_delete_provider_candidates"), book_id, stem)
        for rank, (match, score) in enumerate(scored, start=1):
            normalized = match.fields.model_dump(mode="json")
            normalized.update({k: v for k, v in match.extra.items() if v is not None})
            record = await conn.fetchrow(
                query("fetching_insert_candidate"),
                book_id,
                candidate_source(provider, rank, manual=manual),
                clean_document(match.raw),
                normalized,
                Decimal(str(score)),
            )
            stored.append(Candidate.from_record(record))
        if not manual:
            state = "ok" if scored else "empty"
            message = "" if scored else "no match found"
            await conn.execute(
                query("fetching_upsert_status"), book_id, provider, state, message, len(scored)
            )
    return stored


def score_matches(reference: BookFields, matches: list[Match]) -> list[tuple[Match, float]]:
    """Each match with its confidence, best first."""
    scored = [(m, confidence.score(reference, m.fields)) for m in matches]
    scored.sort(key=lambda pair: pair[1], reverse=True)
    return scored


async def _fetch_one(
    pool: Any, provider: Provider, book: Book, reference: BookFields, limit: int
) -> SourceOutcome:
    """One provider for one book; every failure ends as a stored status, never an exception."""
    search = BookQuery.from_fields(reference)
    if not search.searchable:
        outcome = SourceOutcome(provider.name, "empty", "nothing to search with (no ISBN or title)")
    else:
        try:
            matches = await provider.search(search, limit)
        except ProviderError as exc:
            outcome = SourceOutcome(provider.name, "failed", str(exc))
        except Exception as exc:  # an answer we could not digest must not stop the others
            outcome = SourceOutcome(
                provider.name,
                "failed",
                f"{provider.label}: unreadable answer ({type(exc).__name__})",
            )
        else:
            scored = score_matches(reference, matches)
            try:
                await _store_matches(pool, book.id, provider.name, scored)
            except asyncpg.PostgresError as exc:
                return SourceOutcome(provider.name, "failed", f"could not store the answers: {exc}")
            return SourceOutcome(
                provider.name,
                "ok" if scored else "empty",
                "" if scored else "no match found",
                len(scored),
            )
    await pool.execute(
        query("fetching_upsert_status"),
        book.id,
        provider.name,
        outcome.state,
        outcome.message,
        0,
    )
    return outcome


async def fetch_candidates(
    database: Database,
    settings: Settings,
    book_ids: Sequence[UUID] | None = None,
    progress: ProgressCallback | None = None,
    *,
    sources: Sequence[str] | None = None,
    keys: ProviderKeys | None = None,
    config_dir: Path | None = None,
    client: httpx.AsyncClient | None = None,
) -> FetchReport:
    """Fetch candidates for ``book_ids`` (default: every inbox book) from every provider.

    ``sources`` limits the providers (e.g. retrying only the failed one). ``progress`` is called
    after each book. ``config_dir`` (the home's) lets stored tokens be unsealed; ``keys``
    overrides all key lookup. Never raises for provider trouble: see each book's outcome.
    """
    started = time.monotonic()
    pool = database.pool
    report = FetchReport()
    if book_ids is None:
        ids = [r["id"] for r in await pool.fetch(query("fetching_inbox_book_ids"))]
    else:
        ids = list(dict.fromkeys(book_ids))
    records = await pool.fetch(query("fetching_books"), ids)
    found = {r["id"] for r in records}
    report.missing = [i for i in ids if i not in found]
    key_notes: list[str] = []
    if keys is None:
        keys, key_notes = await resolve_keys(pool, config_dir)
    own_client = client is None
    client = client or make_client(settings.providers)
    try:
        providers, notes = build_providers(client, settings, keys)
        notes = key_notes + notes
        wanted = set(sources) if sources else set(ALL_SOURCES)
        providers = [p for p in providers if p.name in wanted]
        report.notes = [n for n in notes if any(s in n.lower() for s in wanted)]
        skipped = [s for s in ALL_SOURCES if s in wanted and s not in {p.name for p in providers}]
        await _run(pool, settings, records, providers, skipped, report, progress, started)
        for provider in providers:
            stats = provider.stats
            report.requests[provider.name] = stats.requests
            report.rate_limited[provider.name] = stats.rate_limited
    finally:
        if own_client:
            await client.aclose()
    report.elapsed = time.monotonic() - started
    return report


async def _run(
    pool: Any,
    settings: Settings,
    records: list[Any],
    providers: list[Provider],
    skipped: list[str],
    report: FetchReport,
    progress: ProgressCallback | None,
    started: float,
) -> None:
    """Each provider on its own workers; a book is finished when every provider is."""
    limit = settings.providers.max_candidates_per_source
    books = [Book.from_record(r) for r in records]
    references = {
        b.id: reference_fields(b, r["file_fields"]) for b, r in zip(books, records, strict=True)
    }
    outcomes = {b.id: BookOutcome(b.id, b.title) for b in books}
    remaining = {b.id: len(providers) for b in books}
    done = 0

    for book in books:
        for source in skipped:
            outcome = SourceOutcome(source, "skipped", "no token configured")
            outcomes[book.id].sources.append(outcome)
            await pool.execute(
                query("fetching_upsert_status"), book.id, source, "skipped", outcome.message, 0
            )

    async def finish(book: Book) -> None:
        nonlocal done
        moved = await pool.fetchval(query("fetching_move_to_review"), book.id)
        outcomes[book.id].moved_to_review = moved is not None
        done += 1
        if progress is not None:
            result = progress(done, len(books))
            if inspect.isawaitable(result):
                await result

    async def worker(provider: Provider, queue: asyncio.Queue[Book]) -> None:
        while True:
            try:
                book = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            outcome = await _fetch_one(pool, provider, book, references[book.id], limit)
            outcomes[book.id].sources.append(outcome)
            remaining[book.id] -= 1
            if remaining[book.id] == 0:
                await finish(book)

    async def run_provider(provider: Provider) -> None:
        queue: asyncio.Queue[Book] = asyncio.Queue()
        for book in books:
            queue.put_nowait(book)
        workers = getattr(provider, "workers", None) or _workers_for(provider)
        await asyncio.gather(*(worker(provider, queue) for _ in range(workers)))
        report.source_elapsed[provider.name] = time.monotonic() - started

    if providers:
        await asyncio.gather(*(run_provider(p) for p in providers))
    else:
        for book in books:
            await finish(book)
    order = {name: i for i, name in enumerate(ALL_SOURCES)}
    for book_outcome in outcomes.values():
        book_outcome.sources.sort(key=lambda s: order.get(s.source, len(order)))
    report.books = [outcomes[b.id] for b in books]


def _workers_for(provider: Provider) -> int:
    return google_books.CONCURRENCY if provider.name == google_books.NAME else hardcover.CONCURRENCY


async def statuses_of(db: Executor, book_id: UUID) -> list[FetchStatus]:
    """The last fetch outcome of each provider for a book (for the Inbox and Review screens)."""
    return [
        FetchStatus.from_record(r)
        for r in await db.fetch(query("fetching_statuses_of_book"), book_id)
    ]


async def failed_fetches(db: Executor) -> list[FetchStatus]:
    """Every (book, provider) whose last fetch failed."""
    return [FetchStatus.from_record(r) for r in await db.fetch(query("fetching_failed_statuses"))]


async def retry_failed(
    database: Database, settings: Settings, progress: ProgressCallback | None = None, **kwargs: Any
) -> FetchReport:
    """Fetch again every book whose last fetch failed, from the providers that failed."""
    failed = await failed_fetches(database.pool)
    if not failed:
        return FetchReport()
    book_ids = list(dict.fromkeys(f.book_id for f in failed))
    sources = sorted({f.source for f in failed})
    return await fetch_candidates(database, settings, book_ids, progress, sources=sources, **kwargs)


async def manual_search(
    database: Database,
    settings: Settings,
    book_id: UUID,
    text: str,
    *,
    keys: ProviderKeys | None = None,
    config_dir: Path | None = None,
    client: httpx.AsyncClient | None = None,
) -> tuple[list[Candidate], list[str]]:
    """Search every provider with the user's own words; store the answers as candidates.

    They are named ``manual:google_books``, ``manual:google_books#2``... and replace the previous
    manual search of that provider. Returns the new candidates and a readable note per provider
    that failed or was skipped.
    """
    pool = database.pool
    records = await pool.fetch(query("fetching_books"), [book_id])
    if not records:
        raise LookupError(f"no book {book_id}")
    book = Book.from_record(records[0])
    reference = reference_fields(book, records[0]["file_fields"])
    key_notes: list[str] = []
    if keys is None:
        keys, key_notes = await resolve_keys(pool, config_dir)
    own_client = client is None
    client = client or make_client(settings.providers)
    stored: list[Candidate] = []
    try:
        providers, notes = build_providers(client, settings, keys)
        notes = key_notes + notes
        limit = settings.providers.max_candidates_per_source
        for provider in providers:
            try:
                matches = await provider.search_text(text, limit)
            except ProviderError as exc:
                notes.append(str(exc))
                continue
            except Exception as exc:
                notes.append(f"{provider.label}: unreadable answer ({type(exc).__name__})")
                continue
            scored = score_matches(reference, matches)
            stored += await _store_matches(pool, book.id, provider.name, scored, manual=True)
    finally:
        if own_client:
            await client.aclose()
    return stored, notes
