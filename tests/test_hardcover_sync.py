"""Hardcover sync against recorded-shape answers (respx): nothing here reaches the internet."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx

from shelver.data import books, fetching, hardcover_sync, kosync
from shelver.data.fetching import ProviderKeys
from shelver.data.hardcover_sync import (
    HardcoverAuthError,
    HardcoverError,
    HardcoverUnavailable,
)
from shelver.data.kosync import ProgressUpdate
from shelver.data.models import BookFields, BookStatus
from shelver.data.passwords import seal_token
from shelver.data.providers import ratelimit
from shelver.data.providers.http import parse_retry_after
from shelver.data.providers.ratelimit import RateLimiter
from shelver.data.settings import ProviderSettings, Settings
from tests.kosync_support import shelver_command, shelver_env

URL = "https://hardcover.invalid/v1/graphql"
SETTINGS = ProviderSettings(hardcover_url=URL)
TOKEN = "hc-secret-token"
OPERATION = re.compile(r"(?:query|mutation)\s+(\w+)")


class FakeHardcover:
    """Answers like Hardcover's GraphQL endpoint, recording what it was sent."""

    def __init__(self) -> None:
        self.editions_13: dict[str, dict] = {}
        self.editions_10: dict[str, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.queued: list[httpx.Response] = []
        self.next_id = 1000
        self.shelf: dict[int, dict] = {}

    def edition(self, isbn_13=None, isbn_10=None, *, id=11, book=22, pages=300):
        answer = {"id": id, "pages": pages, "book": {"id": book}}
        if isbn_13:
            self.editions_13[isbn_13] = answer
        if isbn_10:
            self.editions_10[isbn_10] = answer

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert "shelver" in request.headers["user-agent"]
        body = json.loads(request.content)
        name = OPERATION.search(body["query"])[1]
        variables = body["variables"]
        self.calls.append((name, variables))
        if self.queued:
            return self.queued.pop(0)
        if name == "EditionByIsbn13":
            found = self.editions_13.get(variables["isbn"])
            return httpx.Response(200, json={"data": {"editions": [found] if found else []}})
        if name == "EditionByIsbn10":
            found = self.editions_10.get(variables["isbn"])
            return httpx.Response(200, json={"data": {"editions": [found] if found else []}})
        if name == "EditionPages":
            every = [*self.editions_13.values(), *self.editions_10.values()]
            found = [e for e in every if e["id"] == variables["id"]]
            return httpx.Response(200, json={"data": {"editions": found[:1]}})
        if name == "ExistingUserBook":
            shelf = self.shelf.get(variables["book"])
            return httpx.Response(
                200, json={"data": {"me": [{"user_books": [shelf] if shelf else []}]}}
            )
        field = {
            "InsertUserBook": "insert_user_book",
            "UpdateUserBook": "update_user_book",
            "InsertUserBookRead": "insert_user_book_read",
            "UpdateUserBookRead": "update_user_book_read",
        }[name]
        self.next_id += 1
        identifier = variables.get("id", self.next_id)
        return httpx.Response(200, json={"data": {field: {"id": identifier, "error": None}}})


class Sleeps:
    """A stand-in for asyncio.sleep that only records the delays."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake() -> FakeHardcover:
    return FakeHardcover()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


async def run_sync(pool, fake: FakeHardcover, sleeps: Sleeps, **kwargs):
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.post(URL).mock(side_effect=fake)
        limiter = RateLimiter.per_minute(60, 10, clock=lambda: 0.0, sleep=sleeps)
        async with hardcover_sync.open_client(
            SETTINGS, TOKEN, sleep=sleeps, limiter=limiter
        ) as client:
            kwargs.setdefault("include_unread", True)
            return await hardcover_sync.sync(pool, client, **kwargs)


async def organized_book(pool, title, *, isbn_13=None, isbn_10=None, document=None):
    book = await books.insert(
        pool, BookFields(title=title, isbn_13=isbn_13, isbn_10=isbn_10), status=BookStatus.ORGANIZED
    )
    await books.add_file(
        pool,
        book.id,
        format="epub",
        original_name=f"{title}.epub",
        file_size=1,
        checksum=f"sha-{book.id}",
        content_hash=document,
    )
    return book


async def read(
    pool, document: str, percentage: float, device: str = "kpw", *, login: str | None = None
) -> None:
    body = {"document": document, "device": device, "percentage": percentage, "progress": "p"}
    update = ProgressUpdate(document, device, None, "p", percentage, 1, json.dumps(body), login)
    await kosync.write_batch(pool, [update])


async def log_row(pool, book_id):
    return await pool.fetchrow("SELECT * FROM hardcover_sync_log WHERE book_id = $1", book_id)


async def test_match_by_isbn13_then_insert_status_and_progress(database, fake, sleeps):
    pool = database.pool
    book = await organized_book(pool, "Cragside", isbn_13="9781521748831", document="a" * 32)
    await read(pool, "a" * 32, 0.5)
    fake.edition(isbn_13="9781521748831", id=11, book=22, pages=301)
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "synced" and outcome.matched_now
    assert (outcome.status_id, outcome.progress_pages) == (2, 151)
    assert fake.operations() == [
        "EditionByIsbn13",
        "ExistingUserBook",
        "InsertUserBook",
        "InsertUserBookRead",
    ]
    assert fake.calls[2][1] == {"book": 22, "status": 2, "edition": 11}
    insert_read = fake.calls[3][1]
    assert (insert_read["pages"], insert_read["edition"], insert_read["finished"]) == (
        151,
        11,
        None,
    )
    stored = await books.get(pool, book.id)
    assert (stored.hardcover_book_id, stored.hardcover_edition_id) == (22, 11)
    row = await log_row(pool, book.id)
    assert row["hardcover_user_book_id"] and row["hardcover_read_id"]
    assert (row["last_status"], row["last_progress"]) == ("2", Decimal("0.5000"))
    view = await hardcover_sync.sync_log(pool)
    assert [(line.title, line.outcome) for line in view] == [("Cragside", "synced")]


async def test_a_book_already_on_the_shelf_is_updated_not_added_twice(database, fake, sleeps):
    pool = database.pool
    book = await organized_book(pool, "Shelved", isbn_13="9781000000099", document="h" * 32)
    fake.edition(isbn_13="9781000000099", id=41, book=42, pages=100)
    fake.shelf[42] = {"id": 555, "status_id": 1, "user_book_reads": [{"id": 777}]}
    await read(pool, "h" * 32, 0.5)
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "synced"
    assert fake.operations() == [
        "EditionByIsbn13",
        "ExistingUserBook",
        "UpdateUserBook",
        "UpdateUserBookRead",
    ]
    assert fake.calls[2][1] == {"id": 555, "status": 2, "edition": 41}
    assert fake.calls[3][1]["id"] == 777 and fake.calls[3][1]["pages"] == 50
    row = await log_row(pool, book.id)
    assert (row["hardcover_user_book_id"], row["hardcover_read_id"]) == (555, 777)


async def test_by_default_only_books_with_progress_are_synced(database, fake, sleeps):
    pool = database.pool
    await organized_book(pool, "Read", isbn_13="9781000000111", document="q" * 32)
    unread = await organized_book(pool, "Unread", isbn_13="9781000000222")
    await read(pool, "q" * 32, 0.2)
    fake.edition(isbn_13="9781000000111")
    outcomes = await run_sync(pool, fake, sleeps, include_unread=False)
    assert [o.title for o in outcomes] == ["Read"]
    # named explicitly, an unread book is matched too
    outcomes = await run_sync(pool, fake, sleeps, include_unread=False, book_ids=[unread.id])
    assert [(o.title, o.outcome) for o in outcomes] == [("Unread", "not_found")]


async def test_only_the_owners_reading_goes_to_hardcover(database, fake, sleeps):
    """The Hardcover account is the library owner's (the first KoSync login): another login's
    reading of the same book, newer or not, is not theirs to send."""
    from tests.kosync_support import insert_login

    pool = database.pool
    await insert_login(pool, "owner", "key")
    await insert_login(pool, "visitor", "key")
    book = await organized_book(pool, "Owned", isbn_13="9781000000333", document="o" * 32)
    await organized_book(pool, "Visited", isbn_13="9781000000444", document="v" * 32)
    fake.edition(isbn_13="9781000000333", id=61, book=62, pages=200)
    fake.edition(isbn_13="9781000000444", id=71, book=72, pages=200)
    await read(pool, "o" * 32, 0.25, login="owner")
    await read(pool, "o" * 32, 0.90, login="visitor")
    await read(pool, "v" * 32, 0.50, login="visitor")  # a book only the visitor reads
    outcomes = await run_sync(pool, fake, sleeps, include_unread=False)
    assert [(o.title, o.outcome) for o in outcomes] == [("Owned", "synced")]
    row = await log_row(pool, book.id)
    assert row["last_progress"] == Decimal("0.2500")


async def test_isbn10_is_tried_when_isbn13_is_unknown(database, fake, sleeps):
    pool = database.pool
    await organized_book(pool, "Old", isbn_13="9780000000002", isbn_10="0000000000")
    fake.edition(isbn_10="0000000000", id=5, book=6)
    [outcome] = await run_sync(pool, fake, sleeps)
    assert fake.operations() == ["EditionByIsbn13", "EditionByIsbn10"]
    assert outcome.outcome == "matched"


async def test_books_that_cannot_be_matched_or_have_no_progress(database, fake, sleeps):
    pool = database.pool
    await organized_book(pool, "A No Isbn")
    await organized_book(pool, "B Unknown", isbn_13="9789999999991")
    await organized_book(pool, "C Unread", isbn_13="9781111111111")
    await books.insert(pool, BookFields(title="D Inbox", isbn_13="9782222222222"))
    fake.edition(isbn_13="9781111111111")
    outcomes = await run_sync(pool, fake, sleeps)
    assert [(o.title, o.outcome) for o in outcomes] == [
        ("A No Isbn", "no_isbn"),
        ("B Unknown", "not_found"),
        ("C Unread", "matched"),
    ]
    # a second run does not look the matched book up again
    fake.calls.clear()
    outcomes = await run_sync(pool, fake, sleeps)
    assert outcomes[2].outcome == "no_progress"
    assert fake.operations() == ["EditionByIsbn13"]  # only the unknown ISBN, asked again


async def test_only_changes_are_sent(database, fake, sleeps):
    pool = database.pool
    book = await organized_book(pool, "Dune", isbn_13="9780441013593", document="d" * 32)
    fake.edition(isbn_13="9780441013593", id=70, book=71, pages=600)
    await read(pool, "d" * 32, 0.25)
    await run_sync(pool, fake, sleeps)
    fake.calls.clear()

    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "unchanged" and fake.calls == []

    await read(pool, "d" * 32, 0.5)
    [outcome] = await run_sync(pool, fake, sleeps)
    assert fake.operations() == ["EditionPages", "UpdateUserBookRead"]
    assert fake.calls[1][1]["pages"] == 300 and outcome.progress_pages == 300
    fake.calls.clear()

    await read(pool, "d" * 32, 0.97, device="pb")
    [outcome] = await run_sync(pool, fake, sleeps)
    assert fake.operations() == ["UpdateUserBook", "EditionPages", "UpdateUserBookRead"]
    assert fake.calls[0][1]["status"] == 3
    assert fake.calls[2][1]["finished"] is not None
    assert (await log_row(pool, book.id))["last_status"] == "3"


async def test_paused_after_thirty_days(database, fake, sleeps):
    pool = database.pool
    await organized_book(pool, "Slow", isbn_13="9783333333333", document="s" * 32)
    fake.edition(isbn_13="9783333333333", pages=100)
    await pool.execute(
        "INSERT INTO reading_progress (document, device, progress, percentage, updated_at) "
        "VALUES ($1, 'kpw', 'p', 0.4, now() - interval '40 days')",
        "s" * 32,
    )
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.status_id == 4
    assert fake.calls[2] == ("InsertUserBook", {"book": 22, "status": 4, "edition": 11})
    # picked up again on a device: "currently reading" once more
    fake.calls.clear()
    await read(pool, "s" * 32, 0.45)
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.status_id == 2
    assert fake.operations() == ["UpdateUserBook", "EditionPages", "UpdateUserBookRead"]


async def test_progress_is_skipped_without_a_page_count(database, fake, sleeps):
    pool = database.pool
    book = await organized_book(pool, "No Pages", isbn_13="9784444444444", document="n" * 32)
    fake.edition(isbn_13="9784444444444", pages=None)
    await read(pool, "n" * 32, 0.3)
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "synced" and outcome.progress_pages is None
    assert "no page count" in outcome.detail
    assert "InsertUserBookRead" not in fake.operations()
    assert (await log_row(pool, book.id))["last_progress"] == Decimal("0.3000")


async def test_429_waits_for_retry_after(database, fake, sleeps):
    pool = database.pool
    await organized_book(pool, "Busy", isbn_13="9785555555555")
    fake.edition(isbn_13="9785555555555")
    fake.queued.append(
        httpx.Response(
            429,
            headers={"Retry-After": "7"},
            json={"error": "Too Many Requests", "message": "API rate limit exceeded"},
        )
    )
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "matched"
    assert 7.0 in sleeps.delays
    assert fake.operations() == ["EditionByIsbn13", "EditionByIsbn13"]


async def test_graphql_errors_in_a_200_fail_one_book_only(database, fake, sleeps):
    pool = database.pool
    await organized_book(pool, "A Broken", isbn_13="9786666666666")
    await organized_book(pool, "B Fine", isbn_13="9787777777777")
    fake.edition(isbn_13="9787777777777")
    fake.queued.append(
        httpx.Response(200, json={"errors": [{"message": "field 'editions' not found"}]})
    )
    outcomes = await run_sync(pool, fake, sleeps)
    assert [(o.title, o.outcome) for o in outcomes] == [
        ("A Broken", "error"),
        ("B Fine", "matched"),
    ]
    assert "field 'editions' not found" in outcomes[0].detail
    view = {line.title: (line.outcome, line.detail) for line in await hardcover_sync.sync_log(pool)}
    assert view["A Broken"][0] == "error" and "GraphQL" in view["A Broken"][1]


async def test_mutation_error_field_is_an_error(database, fake, sleeps):
    pool = database.pool
    await organized_book(pool, "Refused", isbn_13="9788888888888", document="r" * 32)
    fake.edition(isbn_13="9788888888888")
    await read(pool, "r" * 32, 0.1)
    fake.queued.extend(
        [
            httpx.Response(
                200, json={"data": {"editions": [{"id": 1, "pages": 9, "book": {"id": 2}}]}}
            ),
            httpx.Response(200, json={"data": {"me": [{"user_books": []}]}}),
            httpx.Response(200, json={"data": {"insert_user_book": {"id": None, "error": "nope"}}}),
        ]
    )
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "error" and "nope" in outcome.detail


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(401, json={"error": "invalid_token", "error_description": "bad"}),
        httpx.Response(
            200,
            json={
                "errors": [
                    {"message": "Could not verify JWT", "extensions": {"code": "invalid-jwt"}}
                ]
            },
        ),
        # A server that quotes the token back: it is still not shown.
        httpx.Response(
            200,
            json={
                "errors": [{"message": f"bad JWT: {TOKEN}", "extensions": {"code": "invalid-jwt"}}]
            },
        ),
        httpx.Response(401, json={"error": "invalid_token", "message": f"no such token {TOKEN}"}),
    ],
)
async def test_a_refused_token_stops_the_sync(database, fake, sleeps, response):
    pool = database.pool
    await organized_book(pool, "A", isbn_13="9781000000001")
    await organized_book(pool, "B", isbn_13="9781000000002")
    fake.queued.append(response)
    with pytest.raises(HardcoverAuthError) as caught:
        await run_sync(pool, fake, sleeps)
    assert TOKEN not in str(caught.value)
    assert len(fake.calls) == 1


@pytest.mark.parametrize(
    ("responses", "message"),
    [
        ([httpx.Response(500, text="oops")] * 4, "HTTP 500"),
        ([httpx.Response(200, text="<html>gateway</html>")], "not JSON"),
        ([httpx.Response(200, json=[1, 2])], "not a JSON object"),
        ([httpx.Response(200, json={"data": None})], "no data"),
        ([httpx.Response(200, json={"data": {"editions": [{"pages": 3}]}})], "missing its id"),
        ([httpx.Response(400, json={"error": "invalid_request"})], "HTTP 400"),
    ],
)
async def test_unhappy_answers_become_a_clear_status(database, fake, sleeps, responses, message):
    pool = database.pool
    await organized_book(pool, "Unlucky", isbn_13="9781000000003")
    fake.queued.extend(responses)
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "error"
    assert message in outcome.detail


async def test_timeouts_are_retried_then_reported(database, sleeps):
    pool = database.pool
    await organized_book(pool, "Slow Net", isbn_13="9781000000004")
    with respx.mock() as router:
        route = router.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
        limiter = RateLimiter.per_minute(60, 10, clock=lambda: 0.0, sleep=sleeps)
        async with hardcover_sync.open_client(SETTINGS, TOKEN, sleep=sleeps, limiter=limiter) as c:
            [outcome] = await hardcover_sync.sync(pool, c, include_unread=True)
    assert outcome.outcome == "error" and "did not answer in time" in outcome.detail
    assert route.call_count == 4


def test_recorded_hardcover_answers_parse_into_a_status(shared_dir: Path):
    """Every recorded Hardcover body yields an edition, nothing, or a HardcoverError."""
    folder = shared_dir / "api-fixtures" / "hardcover"
    for path in sorted(folder.glob("*.json")):
        response = httpx.Response(200, content=path.read_bytes())
        try:
            data = hardcover_sync.HardcoverClient._data_of(response)
            hardcover_sync._edition_of(data)
        except HardcoverError as exc:
            assert str(exc), path.name
    editions_by_pk = json.loads(
        (folder / "hcwrapper-editions-by-pk-31529525-all-columns.json").read_text()
    )
    row = editions_by_pk.get("data", editions_by_pk).get("editions_by_pk", editions_by_pk)
    assert hardcover_sync._edition_of({"editions": [row]}).pages == 288
    rate_limited = httpx.Response(
        429, content=(folder / "unattributed-error-429-rate-limit-free-tier.json").read_bytes()
    )
    with pytest.raises(HardcoverError, match="HTTP 429"):
        hardcover_sync.HardcoverClient._data_of(rate_limited)


class FakeClock:
    """A monotonic clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def assert_within_hardcover_limits(times: list[float]) -> None:
    """Never more than 60 requests in any 60 s, nor more than 10 in any 10 s."""
    times = sorted(times)
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 60) <= 60, f"over 60 a minute at {start}"
        assert sum(1 for t in times[i:] if t < start + 10) <= 10, f"over 10 in 10 s at {start}"


async def test_the_sync_sends_sixty_in_any_minute_and_ten_in_any_ten_seconds(database, fake):
    pool = database.pool
    for n in range(75):
        await organized_book(pool, f"Book {n}", isbn_13=f"97810000{n:05d}")
    clock = FakeClock()
    # The endpoint's shared limiter, made here on a fake clock; the sync must draw from it.
    limiter = ratelimit.shared_limiter(URL, 60, 10, clock=clock, sleep=clock.sleep)
    arrivals: list[float] = []

    def arrive(request: httpx.Request) -> httpx.Response:
        arrivals.append(clock.now)
        return fake(request)

    with respx.mock(assert_all_mocked=True) as router:
        router.post(URL).mock(side_effect=arrive)
        async with hardcover_sync.open_client(SETTINGS, TOKEN) as client:
            assert client.graphql.limiter is limiter
            outcomes = await hardcover_sync.sync(pool, client, include_unread=True)
    assert [o.outcome for o in outcomes] == ["not_found"] * 75
    assert len(arrivals) == 75
    assert_within_hardcover_limits(arrivals)
    # ...and it uses the allowance: a burst of 10 at once, 60 within the first minute.
    assert arrivals[:10] == [0.0] * 10
    assert sum(1 for t in arrivals if t < 60) == 60


async def test_a_fetch_and_a_sync_at_once_share_one_allowance(database, fake):
    pool = database.pool
    for n in range(40):
        await organized_book(pool, f"Synced {n}", isbn_13=f"97820000{n:05d}")
    for n in range(40):
        await books.insert(pool, BookFields(title=f"Fetched {n}"))
    clock = FakeClock()
    limiter = ratelimit.shared_limiter(URL, 60, 10, clock=clock, sleep=clock.sleep)
    arrivals: dict[str, list[float]] = {"fetch": [], "sync": []}
    empty_search = {"data": {"search": {"results": {"hits": []}}}}

    def arrive(request: httpx.Request) -> httpx.Response:
        if b"ShelverSearch" in request.content:
            arrivals["fetch"].append(clock.now)
            return httpx.Response(200, json=empty_search)
        arrivals["sync"].append(clock.now)
        return fake(request)

    settings = Settings(providers=SETTINGS)
    keys = ProviderKeys(hardcover_token=TOKEN)
    with respx.mock(assert_all_mocked=True) as router:
        router.post(URL).mock(side_effect=arrive)
        async with hardcover_sync.open_client(SETTINGS, TOKEN) as client:
            report, outcomes = await asyncio.gather(
                fetching.fetch_candidates(database, settings, sources=["hardcover"], keys=keys),
                hardcover_sync.sync(pool, client, include_unread=True),
            )
    assert limiter.granted == 80
    assert report.requests["hardcover"] == 40 and len(arrivals["fetch"]) == 40
    assert [o.outcome for o in outcomes] == ["not_found"] * 40 and len(arrivals["sync"]) == 40
    # Both really ran at once: their requests interleave.
    fetch, sync = arrivals["fetch"], arrivals["sync"]
    assert min(fetch) < max(sync) and min(sync) < max(fetch)
    assert_within_hardcover_limits(fetch + sync)
    assert sum(1 for t in fetch + sync if t < 60) == 60


def test_retry_after_forms():
    # The sync reads Retry-After with the one parser the providers use.
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


async def test_a_retry_after_beyond_the_cap_fails_the_book_without_waiting(database, fake, sleeps):
    pool = database.pool
    await organized_book(pool, "Capped", isbn_13="9781000000005")
    fake.queued.append(httpx.Response(429, headers={"Retry-After": "100000"}, json={}))
    [outcome] = await run_sync(pool, fake, sleeps)
    assert outcome.outcome == "error" and "try again later" in outcome.detail
    assert sleeps.delays == [] and len(fake.calls) == 1


def test_progress_pages_rounds_halves_up():
    assert hardcover_sync.progress_pages(Decimal("0.5"), 301) == 151
    assert hardcover_sync.progress_pages(Decimal("0.3333"), 300) == 100


async def test_token_from_environment_or_sealed_credential(database, tmp_path):
    pool = database.pool
    with pytest.raises(HardcoverUnavailable):
        await hardcover_sync.load_token(pool, tmp_path, environ={})
    env = {"SHELVER_HARDCOVER_TOKEN": "Bearer from-env"}
    assert await hardcover_sync.load_token(pool, tmp_path, environ=env) == "from-env"
    await kosync.save_credential(
        pool, "hardcover", "default", seal_token(tmp_path, "from-db"), replace=False
    )
    assert await hardcover_sync.load_token(pool, tmp_path, environ={}) == "from-db"
    with pytest.raises(HardcoverUnavailable):
        await hardcover_sync.load_token(pool, tmp_path / "other-home", environ={})


def test_cli_without_a_token_is_a_one_line_usage_error(tmp_path: Path, database_dsn: str):
    env = shelver_env(database_dsn)
    env.pop("SHELVER_HARDCOVER_TOKEN", None)
    result = subprocess.run(
        shelver_command("--home", str(tmp_path), "sync", "hardcover"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no Hardcover token" in result.stderr and result.stderr.count("\n") == 1


async def test_cli_end_to_end_against_a_local_fake(tmp_path: Path, database, database_dsn: str):
    """``shelver sync hardcover --json`` with the endpoint pointed at an in-process fake."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    fake = FakeHardcover()
    fake.edition(isbn_13="9780000000011", id=31, book=32, pages=200)

    async def graphql(request: web.Request) -> web.Response:
        answer = fake(
            httpx.Request("POST", URL, headers=dict(request.headers), content=await request.read())
        )
        return web.Response(status=answer.status_code, body=answer.content)

    app = web.Application()
    app.router.add_post("/v1/graphql", graphql)
    server = TestServer(app)
    await server.start_server()
    try:
        book = await organized_book(
            database.pool, "Local", isbn_13="9780000000011", document="e" * 32
        )
        await read(database.pool, "e" * 32, 0.5)
        (tmp_path / "config.toml").write_text(
            f'[providers]\nhardcover_url = "{server.make_url("/v1/graphql")}"\n'
        )
        env = {**shelver_env(database_dsn), "SHELVER_HARDCOVER_TOKEN": TOKEN}
        process = await asyncio.create_subprocess_exec(
            *shelver_command("--home", str(tmp_path), "sync", "hardcover", "--json"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        await server.close()
    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout)
    assert report["errors"] == 0
    [entry] = report["books"]
    assert (entry["book_id"], entry["outcome"], entry["progress_pages"]) == (
        str(book.id),
        "synced",
        100,
    )
    assert TOKEN.encode() not in stdout + stderr
    assert fake.operations() == [
        "EditionByIsbn13",
        "ExistingUserBook",
        "InsertUserBook",
        "InsertUserBookRead",
    ]
