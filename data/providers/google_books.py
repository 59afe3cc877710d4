"""Google Books: ``GET {base}/volumes?q=isbn:...`` then ``q=intitle:... inauthor:...``.

The API key is optional. Google sometimes answers an ISBN query with other books (a wrong check
digit, a placeholder ISBN), so when no answer carries the ISBN we asked for, a title query is
made as well and confidence sorts them out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from shelver.data.models import BookFields
from shelver.data.providers import normalize
from shelver.data.providers.base import BookQuery, Match, dedupe, tolerant
from shelver.data.providers.http import (
    DEFAULT_POLICY,
    FailureKind,
    ProviderError,
    RequestStats,
    RetryPolicy,
    Sleep,
    decode_json,
    send_with_retry,
)

NAME = "google_books"
LABEL = "Google Books"
MAX_RESULTS = 40
CONCURRENCY = 12
"""Requests in flight at once (Google publishes no per-second limit; stay polite)."""
COVER_SIZES = ("extraLarge", "large", "medium", "small", "thumbnail", "smallThumbnail")


def parse_volumes(body: Any) -> list[dict[str, Any]]:
    """The volumes of an answer: a ``volumes`` list, a single ``volume``, or none.

    Raises ``ProviderError`` for error bodies and shapes that are not Google Books answers.
    """
    if not isinstance(body, dict):
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{LABEL} sent an unexpected answer")
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        message = " ".join(str(error.get("message") or "").split())[:200]
        kind = FailureKind.RATE_LIMITED if code == 429 else FailureKind.REQUEST
        if code in (401, 403) and "quota" not in message.lower():
            kind = FailureKind.AUTH
        raise ProviderError(kind, f"{LABEL} error {code}: {message}".rstrip(": "), code)
    if "volumeInfo" in body:
        return [body]
    items = body.get("items")
    if items is None:
        if "totalItems" in body or body.get("kind") == "books#volumes":
            return []
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{LABEL} sent an unexpected answer")
    if not isinstance(items, list):
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{LABEL} sent an unexpected answer")
    return [item for item in items if isinstance(item, dict) and "volumeInfo" in item]


def normalize_volume(item: dict[str, Any], prefer: set[str] | None = None) -> BookFields:
    """A volume's ``volumeInfo`` as ``BookFields``."""
    info = normalize.as_dict(item.get("volumeInfo"))
    identifiers = [
        i.get("identifier")
        for i in normalize.as_list(info.get("industryIdentifiers"))
        if isinstance(i, dict) and i.get("type") in ("ISBN_13", "ISBN_10")
    ]
    isbn_13, isbn_10 = normalize.split_isbns(identifiers, prefer)
    title = normalize.text(info.get("title"))
    subtitle = normalize.text(info.get("subtitle"))
    if title and subtitle:
        title = f"{title}: {subtitle}"
    images = normalize.as_dict(info.get("imageLinks"))
    cover = next((images[size] for size in COVER_SIZES if images.get(size)), None)
    return BookFields(
        title=title,
        author=normalize.join_authors(normalize.as_list(info.get("authors"))),
        isbn_13=isbn_13,
        isbn_10=isbn_10,
        publisher=normalize.text(info.get("publisher")),
        published_year=normalize.year(info.get("publishedDate")),
        language=normalize.language(info.get("language")),
        description=normalize.plain_text(info.get("description")),
        cover_url=normalize.https(cover),
        page_count=normalize.positive_int(info.get("pageCount")),
        genres=normalize.genres(info.get("categories")),
    )


def matches_of(body: Any, prefer: set[str] | None = None) -> list[Match]:
    """Every readable volume of an answer as a ``Match`` (unreadable ones are left out)."""
    matches = []
    for item in parse_volumes(body):
        fields = tolerant(normalize_volume, item, prefer)
        if fields is not None:
            matches.append(Match(raw=item, fields=fields, key=str(item.get("id") or id(item))))
    return matches


def quoted(words: str) -> str:
    """A phrase for ``intitle:``/``inauthor:``; quotes inside would end it early."""
    return '"' + words.replace('"', " ").strip() + '"'


class GoogleBooks:
    """The Google Books provider on a shared client."""

    name = NAME
    label = LABEL

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str | None = None,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.policy = policy
        self.stats = RequestStats()
        self.sleep: Sleep = asyncio.sleep
        """How retries wait (tests swap it for a recorder)."""
        self._gate = asyncio.Semaphore(concurrency)

    async def _volumes(self, q: str, limit: int, prefer: set[str]) -> list[Match]:
        params = {"q": q, "maxResults": str(max(1, min(limit, MAX_RESULTS))), "printType": "books"}
        if self._api_key:
            params["key"] = self._api_key

        def build() -> httpx.Request:
            return self.client.build_request("GET", f"{self.base_url}/volumes", params=params)

        async with self._gate:
            response = await send_with_retry(
                self.client,
                build,
                service=LABEL,
                policy=self.policy,
                stats=self.stats,
                sleep=self.sleep,
            )
        return matches_of(decode_json(response, LABEL), prefer)

    async def search(self, query: BookQuery, limit: int) -> list[Match]:
        """ISBN first; a title + author query when that finds nothing carrying the ISBN."""
        found: list[Match] = []
        if query.isbn:
            found = await self._volumes(f"isbn:{query.isbn}", limit, query.isbns)
            exact = [m for m in found if {m.fields.isbn_13, m.fields.isbn_10} & query.isbns]
            if exact:
                return dedupe(exact + found, limit)
        if query.title:
            q = f"intitle:{quoted(query.title)}"
            if query.author:
                q += f" inauthor:{quoted(query.author)}"
            found += await self._volumes(q, limit, query.isbns)
        return dedupe(found, limit)

    async def search_text(self, text: str, limit: int) -> list[Match]:
        """The user's own query, as typed."""
        return dedupe(await self._volumes(text, limit, set()), limit)
