"""Hardcover (GraphQL): ``search(query_type: "Book")`` by ISBN, then by title and author.

Every request passes the one rate limiter of its endpoint (60 in any minute, 10 in any 10 s by
default), shared with the reading sync (``data.hardcover_sync``). A 200
answer carrying GraphQL ``errors`` is a failure. The parser also understands the ``editions``
answers other clients record, and bare bodies without the ``data`` wrapper.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from shelver.data.models import BookFields
from shelver.data.providers import normalize, ratelimit
from shelver.data.providers.base import BookQuery, Match, dedupe, tolerant
from shelver.data.providers.graphql import GraphQLClient, graphql_error
from shelver.data.providers.http import (
    DEFAULT_POLICY,
    FailureKind,
    ProviderError,
    RetryPolicy,
    Sleep,
    decode_json,
)
from shelver.data.providers.ratelimit import RateLimiter

NAME = "hardcover"
LABEL = "Hardcover"
BURST = 10
"""Hardcover's documented burst allowance."""
CONCURRENCY = 4
"""Requests in flight at once; the limiter, not this, sets the pace."""

SEARCH_QUERY = """
query ShelverSearch($q: String!, $perPage: Int!) {
  search(query: $q, query_type: "Book", per_page: $perPage, page: 1) { results }
}
""".strip()


def shared_limiter(url: str, requests_per_minute: int) -> RateLimiter:
    """The limiter every request to the Hardcover endpoint ``url`` in this process shares
    (fetches and syncs alike): ``requests_per_minute`` in any minute, bursts of ``BURST``."""
    return ratelimit.shared_limiter(url, requests_per_minute, BURST)


def _contributors(book: dict[str, Any]) -> list[str]:
    names = []
    for contribution in normalize.as_list(book.get("contributions")):
        if not isinstance(contribution, dict):
            continue
        # Translators, illustrators... carry a role; authors carry none.
        if contribution.get("contribution") not in (None, "", "Author"):
            continue
        author = contribution.get("author") or {}
        if isinstance(author, dict) and author.get("name"):
            names.append(author["name"])
    return names


def normalize_document(doc: dict[str, Any], prefer: set[str] | None = None) -> BookFields:
    """A ``search`` hit's document as ``BookFields``."""
    isbn_13, isbn_10 = normalize.split_isbns(normalize.as_list(doc.get("isbns")), prefer)
    image = normalize.as_dict(doc.get("image"))
    # Contributions carry roles (translators...); author_names does not.
    authors = _contributors(doc) or normalize.as_list(doc.get("author_names"))
    return BookFields(
        title=normalize.text(doc.get("title")),
        author=normalize.join_authors(list(authors)),
        isbn_13=isbn_13,
        isbn_10=isbn_10,
        published_year=normalize.year(doc.get("release_year") or doc.get("release_date")),
        description=normalize.plain_text(doc.get("description")),
        cover_url=normalize.https(image.get("url")),
        page_count=normalize.positive_int(doc.get("pages")),
        genres=[g for g in (normalize.text(x) for x in normalize.as_list(doc.get("genres"))) if g],
    )


def normalize_edition(edition: dict[str, Any], prefer: set[str] | None = None) -> BookFields:
    """An ``editions`` row (with its ``book``) as ``BookFields``."""
    book = normalize.as_dict(edition.get("book"))
    isbn_13, isbn_10 = normalize.split_isbns(
        [edition.get("isbn_13"), edition.get("isbn_10")], prefer
    )
    image = edition.get("image") or book.get("image") or {}
    publisher = normalize.as_dict(edition.get("publisher"))
    lang = normalize.as_dict(edition.get("language"))
    tags = normalize.as_dict(book.get("cached_tags"))
    genre_names = [
        t.get("tag") for t in tags.get("Genre") or [] if isinstance(t, dict) and t.get("tag")
    ]
    return BookFields(
        title=normalize.text(edition.get("title")) or normalize.text(book.get("title")),
        author=normalize.join_authors(_contributors(book)),
        isbn_13=isbn_13,
        isbn_10=isbn_10,
        publisher=normalize.text(publisher.get("name")),
        published_year=normalize.year(edition.get("release_date"))
        or normalize.year(edition.get("release_year"))
        or normalize.year(book.get("release_date")),
        language=normalize.language(lang.get("code2") or lang.get("language")),
        description=normalize.plain_text(book.get("description")),
        cover_url=normalize.https(image.get("url") if isinstance(image, dict) else None),
        page_count=normalize.positive_int(edition.get("pages")),
        genres=[g for g in (normalize.text(x) for x in genre_names) if g],
    )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def matches_of(body: Any, prefer: set[str] | None = None) -> list[Match]:
    """Book matches of an answer (``search`` hits or ``editions`` rows); raise on failures."""
    if not isinstance(body, dict):
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{LABEL} sent an unexpected answer")
    if (error := graphql_error(body, LABEL)) is not None:
        raise error
    data = body.get("data", body)
    if not isinstance(data, dict):
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{LABEL} sent an answer without data")
    matches: list[Match] = []
    if "search" in data:
        results = normalize.as_dict(data.get("search")).get("results")
        if isinstance(results, str):  # some gateways hand jsonb scalars over as text
            try:
                results = json.loads(results)
            except ValueError:
                results = None
        hits = results.get("hits") if isinstance(results, dict) else None
        if not isinstance(hits, list) and results is not None:
            raise ProviderError(FailureKind.BAD_RESPONSE, f"{LABEL} sent unreadable results")
        for hit in normalize.as_list(hits):
            doc = normalize.as_dict(normalize.as_dict(hit).get("document"))
            # Author and Series searches return documents without a title: not books.
            if not doc.get("title"):
                continue
            fields = tolerant(normalize_document, doc, prefer)
            if fields is not None:
                matches.append(
                    Match(
                        raw=doc,
                        fields=fields,
                        key=f"book:{doc.get('id')}",
                        extra={"hardcover_book_id": _as_int(doc.get("id"))},
                    )
                )
        return matches
    if "editions" in data:
        editions = normalize.as_list(data.get("editions"))
    elif "editions_by_pk" in data:
        editions = [data["editions_by_pk"]] if data.get("editions_by_pk") else []
    else:
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{LABEL} sent an unexpected answer")
    for edition in editions:
        if not isinstance(edition, dict):
            continue
        book = normalize.as_dict(edition.get("book"))
        fields = tolerant(normalize_edition, edition, prefer)
        if fields is None:
            continue
        edition_id = _as_int(edition.get("id"))
        matches.append(
            Match(
                raw=edition,
                fields=fields,
                key=f"edition:{edition_id if edition_id is not None else id(edition)}",
                extra={
                    "hardcover_book_id": _as_int(book.get("id") or edition.get("book_id")),
                    "hardcover_edition_id": edition_id,
                },
            )
        )
    return matches


class Hardcover:
    """The Hardcover provider on a shared client and a shared limiter."""

    name = NAME
    label = LABEL

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        token: str,
        limiter: RateLimiter,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.graphql = GraphQLClient(
            client, url, token, service=LABEL, limiter=limiter, policy=policy
        )
        self.limiter = limiter
        self.stats = self.graphql.stats
        self._gate = asyncio.Semaphore(concurrency)

    @property
    def sleep(self) -> Sleep:
        """How retries wait (tests swap it for a recorder)."""
        return self.graphql.sleep

    @sleep.setter
    def sleep(self, sleep: Sleep) -> None:
        self.graphql.sleep = sleep

    async def _search(self, q: str, limit: int, prefer: set[str]) -> list[Match]:
        async with self._gate:
            response = await self.graphql.post(SEARCH_QUERY, {"q": q, "perPage": max(1, limit)})
        # Not GraphQLClient.execute: recorded answers without the ``data`` wrapper parse too.
        return matches_of(decode_json(response, LABEL), prefer)

    async def search(self, query: BookQuery, limit: int) -> list[Match]:
        """ISBN first; title and author only when the ISBN finds nothing."""
        if query.isbn:
            found = await self._search(query.isbn, limit, query.isbns)
            if found:
                return dedupe(found, limit)
        if not query.title:
            return []
        q = f"{query.title} {query.author}" if query.author else query.title
        return dedupe(await self._search(q, limit, query.isbns), limit)

    async def search_text(self, text: str, limit: int) -> list[Match]:
        """The user's own query, as typed."""
        return dedupe(await self._search(text, limit, set()), limit)
