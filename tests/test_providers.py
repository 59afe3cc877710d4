"""Google Books and Hardcover clients: recorded real answers and every unhappy path (respx)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from shelver.data.providers import google_books, hardcover, normalize
from shelver.data.providers.base import BookQuery
from shelver.data.providers.http import (
    FailureKind,
    ProviderError,
    RetryPolicy,
    make_client,
    parse_retry_after,
)
from shelver.data.providers.ratelimit import RateLimiter
from shelver.data.settings import ProviderSettings

GOOGLE = "https://books.example.test/books/v1"
HARDCOVER = "https://hardcover.example.test/v1/graphql"
SECRET_KEY = "GOOGLE-SECRET-KEY-123"
SECRET_TOKEN = "HARDCOVER-SECRET-TOKEN-456"
FAST = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)


class Sleeps(list):
    """Records the waits a provider asks for instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def volume(isbn: str = "9781521748831", title: str = "Cragside") -> dict:
    return {
        "id": f"vol-{isbn}",
        "volumeInfo": {
            "title": title,
            "subtitle": "A DCI Ryan Mystery",
            "authors": ["L. J. Ross"],
            "publishedDate": "2017-06-01",
            "description": "<p>Fiancé&#39;s <b>story</b></p><br>Next",
            "industryIdentifiers": [
                {"type": "ISBN_10", "identifier": "1521748837"},
                {"type": "ISBN_13", "identifier": isbn},
            ],
            "pageCount": 298,
            "categories": ["Fiction / Mystery & Detective / General"],
            "language": "en-GB",
            "imageLinks": {"thumbnail": "http://books.google.com/x.jpg"},
        },
    }


def hc_search(*docs: dict) -> dict:
    return {"data": {"search": {"results": {"found": len(docs), "hits": [
        {"document": d} for d in docs
    ]}}}}  # fmt: skip


HC_DOC = {
    "id": "1198266",
    "title": "Cragside",
    "author_names": ["L.J. Ross"],
    "isbns": ["1521748837", "9781521748831"],
    "pages": 0,
    "release_year": 2017,
    "genres": ["Mystery"],
    "image": {"url": "https://assets.hardcover.app/c.jpg"},
    "description": "A <i>mystery</i>.",
}


@pytest.fixture
async def client():
    async with make_client(ProviderSettings(timeout_seconds=1.0)) as shared:
        yield shared


@pytest.fixture
def google(client: httpx.AsyncClient) -> google_books.GoogleBooks:
    provider = google_books.GoogleBooks(client, GOOGLE, SECRET_KEY, policy=FAST)
    provider.sleep = Sleeps()
    return provider


@pytest.fixture
def hc(client: httpx.AsyncClient) -> hardcover.Hardcover:
    limiter = RateLimiter.per_minute(6000, 1000, safety=False)
    provider = hardcover.Hardcover(client, HARDCOVER, SECRET_TOKEN, limiter, policy=FAST)
    provider.sleep = Sleeps()
    return provider


QUERY = BookQuery(isbn="9781521748831", title="Cragside", author="L. J. Ross")


# --- recorded real answers -------------------------------------------------------------------


def _bodies(path: Path) -> list:
    body = json.loads(path.read_text(encoding="utf-8"))
    # ncreadcycle's file is an array of 20 separate answers.
    return body if isinstance(body, list) else [body]


def test_every_recorded_google_answer_parses_or_gives_a_clear_status(shared_dir: Path) -> None:
    files = sorted((shared_dir / "api-fixtures" / "google-books").glob("*.json"))
    assert files
    outcomes = {}
    for path in files:
        for body in _bodies(path):
            try:
                matches = google_books.matches_of(body)
            except ProviderError as exc:
                assert str(exc) and "\n" not in str(exc)
                outcomes[path.name] = exc.kind
                continue
            for match in matches:
                assert match.fields.model_dump()  # valid BookFields
                if match.fields.description:
                    assert "<b>" not in match.fields.description
            outcomes.setdefault(path.name, len(matches))
    assert outcomes["colophon-zero-results-unmasked.json"] == 0
    assert outcomes["colophon-zero-results-fields-mask.json"] == 0
    assert outcomes["traditio-error-429-daily-quota-anonymous.json"] is FailureKind.RATE_LIMITED
    assert outcomes["colophon-error-400-maxresults-too-high.json"] is FailureKind.REQUEST
    assert outcomes["colophon-isbn-9780000000000-unrelated.json"] == 3


def test_recorded_google_details(shared_dir: Path) -> None:
    folder = shared_dir / "api-fixtures" / "google-books"
    (en,) = google_books.matches_of(
        _bodies(folder / "jellyfin-google-books-single-volume-en.json")[0]
    )
    assert en.fields.title == "Children of Time"
    assert "Science Fiction" in en.fields.genres and "General" not in en.fields.genres
    assert "<" not in (en.fields.description or "")
    search = google_books.matches_of(
        _bodies(folder / "jellyfin-google-books-volume-search.json")[0]
    )
    assert search[0].fields.page_count is None  # pageCount 0 means unknown
    assert search[0].fields.published_year == 2018  # from a timestamp
    unrelated = google_books.matches_of(
        _bodies(folder / "colophon-isbn-9780000000000-unrelated.json")[0]
    )
    assert {m.fields.language for m in unrelated} >= {"pt"}  # pt-BR


def test_every_recorded_hardcover_answer_parses_or_gives_a_clear_status(shared_dir: Path) -> None:
    files = sorted((shared_dir / "api-fixtures" / "hardcover").glob("*.json"))
    assert files
    outcomes = {}
    for path in files:
        try:
            matches = hardcover.matches_of(json.loads(path.read_text(encoding="utf-8")))
        except ProviderError as exc:
            assert str(exc) and "\n" not in str(exc)
            outcomes[path.name] = exc.kind
            continue
        outcomes[path.name] = len(matches)
        for match in matches:
            assert match.fields.title
    assert outcomes["colophon-editions-title-nothing-found.json"] == 0
    assert outcomes["mamaf-search-author-rowling.json"] == 0  # authors are not books
    assert outcomes["mamaf-search-book-lord-of-the-rings.json"] == 5
    assert outcomes["colophon-editions-title-the-infirmary-two-works.json"] == 4
    assert outcomes["issue-bookbridge130-error-invalid-headers.json"] is FailureKind.AUTH
    assert outcomes["unattributed-error-429-rate-limit-free-tier.json"] is FailureKind.RATE_LIMITED
    assert outcomes["colophon-error-400-no-authorization-header.json"] is FailureKind.AUTH


def test_recorded_hardcover_details(shared_dir: Path) -> None:
    folder = shared_dir / "api-fixtures" / "hardcover"
    body = json.loads(
        (folder / "unattributed-search-book-pink-slime-data-wrapper.json").read_text()
    )
    first = hardcover.matches_of(body)[0]
    assert first.fields.author == "Fernanda Trías"  # the translator is not an author
    assert first.extra["hardcover_book_id"] == 1122161
    hobbit = json.loads(
        (
            folder / "colophon-editions-isbn-9780007458424-hobbit-edition-vs-work-title.json"
        ).read_text()
    )
    (edition,) = hardcover.matches_of(hobbit)
    assert edition.fields.title == "The Hobbit"
    assert "<i>" not in (edition.fields.description or "")


# --- Google Books over HTTP ------------------------------------------------------------------


@respx.mock
async def test_google_isbn_query_first(google: google_books.GoogleBooks) -> None:
    route = respx.get(f"{GOOGLE}/volumes").mock(
        return_value=httpx.Response(200, json={"kind": "books#volumes", "items": [volume()]})
    )
    matches = await google.search(QUERY, 5)
    assert route.call_count == 1
    params = route.calls[0].request.url.params
    assert params["q"] == "isbn:9781521748831" and params["key"] == SECRET_KEY
    fields = matches[0].fields
    assert fields.title == "Cragside: A DCI Ryan Mystery"
    assert fields.isbn_13 == "9781521748831" and fields.isbn_10 == "1521748837"
    assert fields.published_year == 2017 and fields.language == "en"
    assert fields.description == "Fiancé's story\n\nNext"
    assert fields.cover_url == "https://books.google.com/x.jpg"
    assert fields.genres == ["Fiction", "Mystery & Detective"]


@respx.mock
async def test_google_falls_back_to_title_and_author(google: google_books.GoogleBooks) -> None:
    route = respx.get(f"{GOOGLE}/volumes").mock(
        side_effect=[
            httpx.Response(200, json={"kind": "books#volumes", "totalItems": 0}),
            httpx.Response(200, json={"items": [volume("9781444846577")]}),
        ]
    )
    matches = await google.search(QUERY, 5)
    assert route.call_count == 2
    assert route.calls[1].request.url.params["q"] == 'intitle:"Cragside" inauthor:"L. J. Ross"'
    assert len(matches) == 1


@respx.mock
async def test_google_empty_everywhere_is_no_match(google: google_books.GoogleBooks) -> None:
    respx.get(f"{GOOGLE}/volumes").mock(return_value=httpx.Response(200, json={"totalItems": 0}))
    assert await google.search(QUERY, 5) == []


@respx.mock
async def test_google_401_fails_at_once_without_the_key(google: google_books.GoogleBooks) -> None:
    route = respx.get(f"{GOOGLE}/volumes").mock(
        return_value=httpx.Response(401, json={"error": {"code": 401, "message": "API key bad"}})
    )
    with pytest.raises(ProviderError) as caught:
        await google.search(QUERY, 5)
    assert caught.value.kind is FailureKind.AUTH
    assert route.call_count == 1
    assert SECRET_KEY not in str(caught.value)


@respx.mock
async def test_google_429_honours_retry_after(google: google_books.GoogleBooks) -> None:
    route = respx.get(f"{GOOGLE}/volumes").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"code": 429}}),
            httpx.Response(200, json={"items": [volume()]}),
        ]
    )
    matches = await google.search(QUERY, 5)
    assert len(matches) == 1 and route.call_count == 2
    assert google.sleep == [7.0]
    assert google.stats.rate_limited == 1


@respx.mock
async def test_google_500_is_retried_then_reported(google: google_books.GoogleBooks) -> None:
    route = respx.get(f"{GOOGLE}/volumes").mock(return_value=httpx.Response(500, text="oops"))
    with pytest.raises(ProviderError) as caught:
        await google.search(QUERY, 5)
    assert caught.value.kind is FailureKind.SERVER
    assert route.call_count == FAST.attempts


@respx.mock
async def test_google_time_out(google: google_books.GoogleBooks) -> None:
    respx.get(f"{GOOGLE}/volumes").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderError) as caught:
        await google.search(QUERY, 5)
    assert caught.value.kind is FailureKind.TIMEOUT


@respx.mock
async def test_google_network_error_hides_the_url(google: google_books.GoogleBooks) -> None:
    respx.get(f"{GOOGLE}/volumes").mock(
        side_effect=httpx.ConnectError(f"failed {GOOGLE}/volumes?key={SECRET_KEY}")
    )
    with pytest.raises(ProviderError) as caught:
        await google.search(QUERY, 5)
    assert caught.value.kind is FailureKind.NETWORK
    assert SECRET_KEY not in str(caught.value)


@pytest.mark.parametrize(
    "body", [b"", b'{"kind": "books#volumes", "items": [{"id": "x", "vol', b"<html>"]
)
@respx.mock
async def test_google_empty_or_truncated_body(
    google: google_books.GoogleBooks, body: bytes
) -> None:
    respx.get(f"{GOOGLE}/volumes").mock(return_value=httpx.Response(200, content=body))
    with pytest.raises(ProviderError) as caught:
        await google.search(QUERY, 5)
    assert caught.value.kind is FailureKind.BAD_RESPONSE


@respx.mock
async def test_google_without_key_sends_no_key(client: httpx.AsyncClient) -> None:
    route = respx.get(f"{GOOGLE}/volumes").mock(
        return_value=httpx.Response(200, json={"totalItems": 0})
    )
    provider = google_books.GoogleBooks(client, GOOGLE, None, policy=FAST)
    await provider.search(BookQuery(title="Cragside"), 5)
    assert "key" not in route.calls[0].request.url.params


# --- Hardcover over HTTP ---------------------------------------------------------------------


@respx.mock
async def test_hardcover_isbn_search(hc: hardcover.Hardcover) -> None:
    route = respx.post(HARDCOVER).mock(return_value=httpx.Response(200, json=hc_search(HC_DOC)))
    (match,) = await hc.search(QUERY, 5)
    request = route.calls[0].request
    assert request.headers["authorization"] == f"Bearer {SECRET_TOKEN}"
    assert "shelver" in request.headers["user-agent"]
    sent = json.loads(request.content)
    assert sent["variables"] == {"q": "9781521748831", "perPage": 5}
    assert 'query_type: "Book"' in sent["query"]
    assert match.fields.page_count is None  # pages 0
    assert match.fields.isbn_13 == "9781521748831"
    assert match.fields.description == "A mystery."
    assert match.extra["hardcover_book_id"] == 1198266


@respx.mock
async def test_hardcover_falls_back_to_title(hc: hardcover.Hardcover) -> None:
    route = respx.post(HARDCOVER).mock(
        side_effect=[
            httpx.Response(200, json=hc_search()),
            httpx.Response(200, json=hc_search(HC_DOC)),
        ]
    )
    assert len(await hc.search(QUERY, 5)) == 1
    assert json.loads(route.calls[1].request.content)["variables"]["q"] == "Cragside L. J. Ross"


@respx.mock
async def test_hardcover_graphql_errors_in_a_200_are_failures(hc: hardcover.Hardcover) -> None:
    respx.post(HARDCOVER).mock(
        return_value=httpx.Response(
            200,
            json={"errors": [{"message": "field 'search' not found", "extensions": {"code": "x"}}]},
        )
    )
    with pytest.raises(ProviderError) as caught:
        await hc.search(QUERY, 5)
    assert "GraphQL" in str(caught.value)


@respx.mock
async def test_hardcover_401_hides_the_token(hc: hardcover.Hardcover) -> None:
    route = respx.post(HARDCOVER).mock(
        return_value=httpx.Response(
            401, json={"error": "invalid_token", "error_description": "Unable to verify token"}
        )
    )
    with pytest.raises(ProviderError) as caught:
        await hc.search(QUERY, 5)
    assert caught.value.kind is FailureKind.AUTH and route.call_count == 1
    assert SECRET_TOKEN not in str(caught.value)


@respx.mock
async def test_hardcover_429_retry_after_then_success(hc: hardcover.Hardcover) -> None:
    respx.post(HARDCOVER).mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "1"},
                json={"error": "Too Many Requests", "message": "Try again in 1 seconds."},
            ),
            httpx.Response(200, json=hc_search(HC_DOC)),
        ]
    )
    assert len(await hc.search(QUERY, 5)) == 1
    assert hc.sleep == [1.0]
    assert hc.stats.rate_limited == 1 and hc.limiter.granted == 2


@respx.mock
async def test_hardcover_429_for_too_long_is_reported(hc: hardcover.Hardcover) -> None:
    respx.post(HARDCOVER).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "86400"}, json={})
    )
    with pytest.raises(ProviderError) as caught:
        await hc.search(QUERY, 5)
    assert caught.value.kind is FailureKind.RATE_LIMITED
    assert hc.sleep == []


@respx.mock
async def test_hardcover_500_time_out_and_truncated(hc: hardcover.Hardcover) -> None:
    respx.post(HARDCOVER).mock(return_value=httpx.Response(503))
    with pytest.raises(ProviderError) as caught:
        await hc.search(QUERY, 5)
    assert caught.value.kind is FailureKind.SERVER
    respx.post(HARDCOVER).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(ProviderError) as caught:
        await hc.search(QUERY, 5)
    assert caught.value.kind is FailureKind.TIMEOUT
    respx.post(HARDCOVER).mock(return_value=httpx.Response(200, content=b'{"data": {"sea'))
    with pytest.raises(ProviderError) as caught:
        await hc.search(QUERY, 5)
    assert caught.value.kind is FailureKind.BAD_RESPONSE
    respx.post(HARDCOVER).mock(return_value=httpx.Response(200, content=b""))
    with pytest.raises(ProviderError) as caught:
        await hc.search(QUERY, 5)
    assert caught.value.kind is FailureKind.BAD_RESPONSE


# --- pieces ----------------------------------------------------------------------------------


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 25 Nov 2026 00:00:10 GMT", now=1795564800.0) == 10.0


async def test_rate_limiter_never_exceeds_any_window() -> None:
    clock = [0.0]

    async def fake_sleep(seconds: float) -> None:
        clock[0] += seconds

    limiter = RateLimiter.per_minute(60, 10, clock=lambda: clock[0], sleep=fake_sleep)
    times = []
    for _ in range(130):
        await limiter.acquire()
        times.append(clock[0])
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 60) <= 60
        assert sum(1 for t in times[i:] if t < start + 10) <= 10
    # ...and it uses the allowance: 130 grants in a little over two minutes.
    assert times[-1] < 2 * 60 * 1.1


def test_normalize_helpers() -> None:
    assert normalize.year("2019-10-03T00:00:00+02:00") == 2019
    assert normalize.year("c. 1850") is None
    assert normalize.language("pt-BR") == "pt" and normalize.language("eng") == "en"
    assert normalize.isbn_digits("978-1-5217-4883-1") == "9781521748831"
    assert normalize.isbn10_to_13("0007458428") == "9780007458424"
    assert normalize.first_author("Tolkien, J.R.R. & C. Tolkien") == "J.R.R. Tolkien"
    assert normalize.authors_of("A B, C D, E F") == ["A B", "C D", "E F"]
    assert normalize.plain_text("") is None
    assert normalize.genres(["Fiction / General", "Fiction"]) == ["Fiction"]


@respx.mock
async def test_google_key_never_reaches_the_logs(
    google: google_books.GoogleBooks, caplog: pytest.LogCaptureFixture
) -> None:
    respx.get(f"{GOOGLE}/volumes").mock(return_value=httpx.Response(200, json={"totalItems": 0}))
    with caplog.at_level(logging.DEBUG):
        await google.search(QUERY, 5)
    assert "HTTP Request" in caplog.text  # httpx did log the request...
    assert SECRET_KEY not in caplog.text  # ...without the key


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["items", "volumeInfo", "title", "authors", "industryIdentifiers", "imageLinks",
             "data", "search", "results", "hits", "document", "editions", "book", "errors",
             "error", "totalItems", "pageCount", "publishedDate", "isbns", "image", "id",
             "contributions", "author", "categories", "language", "description", "pages",
             "extensions", "code", "message", "editions_by_pk", "kind"]
        ),
        inner,
        max_size=5,
    ),
    max_leaves=25,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(body=JSON)
def test_any_json_gives_matches_or_a_provider_error(body: object) -> None:
    for parse in (google_books.matches_of, hardcover.matches_of):
        try:
            matches = parse(body)
        except ProviderError as exc:
            assert str(exc)
        else:
            assert isinstance(matches, list)
