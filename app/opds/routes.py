"""The ``/opds`` routes: root, groups, lists, search, entries, covers and downloads."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

import asyncpg
from aiohttp import web
from pydantic import ValidationError

from shelver.app.http_auth import PRINCIPAL_KEY, require_basic
from shelver.app.opds import atom, opds2
from shelver.app.opds.covers import CoverCache, CoverError
from shelver.app.opds.feeds import (
    ACQUISITION,
    ENTRY,
    NAVIGATION,
    OPDS2,
    OPENSEARCH,
    REL_SORT_NEW,
    BookItem,
    Feed,
    Link,
    NavigationItem,
    Urls,
    book_links,
    mime_type,
)
from shelver.app.opds.files import file_response
from shelver.app.opds.freshness import ContentClock
from shelver.data import library, opds, position_sharing
from shelver.data.library_models import LibraryQuery, PageCursor
from shelver.data.opds import PAGE_SIZE, Cursor, Group

FACETS_PER_PAGE = 100
MAX_QUERY_CHARS = 500
HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


@dataclass(frozen=True)
class OpdsOptions:
    trust_proxy: bool = False
    """Build links from X-Forwarded-Proto/X-Forwarded-Host (only behind a proxy you run)."""
    cache_dir: Path | None = None
    """Where thumbnails are kept; None: a folder in the system's temporary directory."""


@dataclass
class _State:
    pool: asyncpg.Pool
    options: OpdsOptions
    clock: ContentClock
    covers: CoverCache


STATE_KEY = web.AppKey("opds_state", _State)

# What each group's lists are called, and the label of one of its values.
GROUP_TITLES = {
    Group.AUTHOR: ("Authors", "Books by {}"),
    Group.SERIES: ("Series", "Series: {}"),
    Group.GENRE: ("Genres", "Genre: {}"),
    Group.LANGUAGE: ("Languages", "Language: {}"),
    Group.FORMAT: ("Formats", "Format: {}"),
}
GROUP_PATHS = {
    Group.AUTHOR: "authors",
    Group.SERIES: "series",
    Group.GENRE: "genres",
    Group.LANGUAGE: "languages",
    Group.FORMAT: "formats",
}


# --- the request's side --------------------------------------------------------------------


def _first(value: str | None) -> str | None:
    return value.split(",")[0].strip() if value else None


def base_url(request: web.Request, trust_proxy: bool) -> str:
    """``scheme://host`` as the client reached us (through the proxy when trusted)."""
    scheme, host = request.scheme, request.host
    if trust_proxy:
        proto = _first(request.headers.get("X-Forwarded-Proto"))
        forwarded_host = _first(request.headers.get("X-Forwarded-Host"))
        if proto in ("http", "https"):
            scheme = proto
        if forwarded_host and HOST.match(forwarded_host):
            host = forwarded_host
    if not HOST.match(host or ""):
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        host = f"{sockname[0]}:{sockname[1]}" if sockname else "localhost"
    return f"{scheme}://{host}"


def wants_opds2(request: web.Request) -> bool:
    return "application/opds+json" in request.headers.get("Accept", "").lower()


def _state(request: web.Request) -> _State:
    return request.app[STATE_KEY]


def _urls(request: web.Request) -> Urls:
    return Urls(base_url(request, _state(request).options.trust_proxy))


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=message + "\n")


def _not_found(message: str = "Not found") -> web.HTTPNotFound:
    return web.HTTPNotFound(text=message + "\n")


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise _not_found() from None


def _param(request: web.Request, name: str, *, limit: int = MAX_QUERY_CHARS) -> str | None:
    value = request.query.get(name)
    if value is None:
        return None
    if len(value) > limit or "\x00" in value:
        raise _bad_request(f"the {name} parameter is too long or malformed")
    return value


# --- answering with a feed ---------------------------------------------------------------


def feed_id(*parts: str) -> str:
    """A stable URI for a feed (its group, value and page), whatever characters they hold."""
    return "urn:uuid:" + str(uuid5(NAMESPACE_URL, "shelver:opds:" + "\x1f".join(parts)))


def _common_links(urls: Urls, self_href: str, self_type: str) -> list[Link]:
    return [
        Link("self", self_href, self_type),
        Link("start", urls.path("/opds"), NAVIGATION, "shelver"),
        Link("search", urls.path("/opds/opensearch.xml"), OPENSEARCH, "Search"),
        Link("search", urls.path("/opds/search") + "?q={searchTerms}", ACQUISITION, "Search"),
    ]


def _not_modified(request: web.Request, etag: str, last_modified) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return etag in tags or "*" in tags
    since = request.if_modified_since
    return since is not None and last_modified <= since


def respond(request: web.Request, feed: Feed) -> web.Response:
    """The feed in the format asked for, with ETag and a Last-Modified that moves with it."""
    json_wanted = wants_opds2(request)
    digest = feed.digest()
    feed.updated = _state(request).clock.stamp(
        f"{'json' if json_wanted else 'atom'} {request.path_qs}", digest
    )
    etag = f'"{digest[:24]}{"j" if json_wanted else "a"}"'
    headers = {
        "ETag": etag,
        "Last-Modified": feed.updated.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Cache-Control": "private, no-cache",
        "Vary": "Accept, Authorization",
    }
    if _not_modified(request, etag, feed.updated):
        return web.Response(status=304, headers=headers)
    if json_wanted:
        body = opds2.feed_document(feed)
        content_type = OPDS2
    else:
        body = atom.feed_document(feed)
        content_type = ACQUISITION if feed.kind == "acquisition" else NAVIGATION
    headers["Content-Type"] = f"{content_type};charset=utf-8"
    return web.Response(body=body, headers=headers)


# --- handlers ------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def authenticated(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        await require_basic(request)
        return await handler(request)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


@authenticated
async def root(request: web.Request) -> web.Response:
    urls = _urls(request)
    feed = Feed(
        id="urn:shelver:opds:root",
        title="shelver",
        kind="navigation",
        links=_common_links(urls, urls.path("/opds"), NAVIGATION),
    )

    def item(key: str, title: str, path: str, kind: str, summary: str, rel: str = "subsection"):
        feed.navigation.append(
            NavigationItem(f"urn:shelver:opds:{key}", title, urls.path(path), kind, summary, rel)
        )

    item("new", "Recently added", "/opds/new", ACQUISITION, "The newest books first", REL_SORT_NEW)
    item("all", "All books", "/opds/books", ACQUISITION, "Every book, by title")
    item("authors", "Authors", "/opds/authors", NAVIGATION, "Books by author")
    item("series", "Series", "/opds/series", NAVIGATION, "Books by series, in order")
    item("genres", "Genres", "/opds/genres", NAVIGATION, "Books by genre")
    item("languages", "Languages", "/opds/languages", NAVIGATION, "Books by language")
    item("formats", "Formats", "/opds/formats", NAVIGATION, "Books by file format")
    item("reading", "Reading now", "/opds/reading", ACQUISITION, "Books a device is reading")
    return respond(request, feed)


def _cursor(request: web.Request, group: Group) -> Cursor | None:
    after, before = _param(request, "after", limit=2000), _param(request, "before", limit=2000)
    if after is None and before is None:
        return None
    try:
        if after is not None:
            return Cursor.decode(group, after, forward=True)
        assert before is not None
        return Cursor.decode(group, before, forward=False)
    except ValueError:
        raise _bad_request("that page link is not valid (start from the first page)") from None


async def _acquisition(
    request: web.Request, group: Group, path: str, title: str, value: str | None = None
) -> web.Response:
    state = _state(request)
    urls = _urls(request)
    cursor = _cursor(request, group)
    readers = None
    if group is Group.READING:  # the caller's own reading (see position_sharing)
        principal = request[PRINCIPAL_KEY]
        name = principal.name if principal.kind == "login" else None
        readers = await position_sharing.logins_seen_by(state.pool, name)
    page = await opds.page(state.pool, group, value, cursor, readers=readers)
    here = {"name": value} if value is not None else {}
    if cursor is None:
        self_href = urls.path(path, **here)
    else:
        direction = "after" if cursor.forward else "before"
        self_href = urls.path(path, **here, **{direction: cursor.encode()})
    feed = Feed(
        id=feed_id(group.value, value or "", cursor.encode() if cursor else ""),
        title=title,
        kind="acquisition",
        links=_common_links(urls, self_href, ACQUISITION),
    )
    feed.links.append(Link("first", urls.path(path, **here), ACQUISITION, "First page"))
    if page.previous is not None:
        href = urls.path(path, **here, before=page.previous.encode())
        feed.links.append(Link("previous", href, ACQUISITION, "Previous page"))
    if page.next is not None:
        href = urls.path(path, **here, after=page.next.encode())
        feed.links.append(Link("next", href, ACQUISITION, "Next page"))
    feed.books = [BookItem(entry, book_links(urls, entry)) for entry in page.entries]
    return respond(request, feed)


@authenticated
async def all_books(request: web.Request) -> web.Response:
    return await _acquisition(request, Group.ALL, "/opds/books", "All books")


@authenticated
async def new_books(request: web.Request) -> web.Response:
    return await _acquisition(request, Group.NEW, "/opds/new", "Recently added")


@authenticated
async def reading_now(request: web.Request) -> web.Response:
    return await _acquisition(request, Group.READING, "/opds/reading", "Reading now")


def _group_list(group: Group) -> Handler:
    """The navigation feed of a group's values (authors, series...), a keyset page each."""
    plural, one = GROUP_TITLES[group]
    path = f"/opds/{GROUP_PATHS[group]}"

    @authenticated
    async def listing(request: web.Request) -> web.Response:
        value = _param(request, "name")
        if value is not None:  # one value's books
            if not value.strip():
                raise _bad_request("the name parameter is empty")
            return await _acquisition(request, group, path, one.format(value), value)
        state = _state(request)
        urls = _urls(request)
        after = _param(request, "after") or ""
        values = await opds.facets(state.pool, group, after, limit=FACETS_PER_PAGE + 1)
        more = len(values) > FACETS_PER_PAGE
        values = values[:FACETS_PER_PAGE]
        self_href = urls.path(path, after=after or None)
        feed = Feed(
            id=feed_id(GROUP_PATHS[group], after),
            title=plural,
            kind="navigation",
            links=_common_links(urls, self_href, NAVIGATION),
        )
        feed.links.append(Link("first", urls.path(path), NAVIGATION, "First page"))
        if more:
            feed.links.append(
                Link("next", urls.path(path, after=values[-1].name), NAVIGATION, "Next page")
            )
        for facet in values:
            label = facet.name.upper() if group is Group.FORMAT else facet.name
            feed.navigation.append(
                NavigationItem(
                    id=feed_id(group.value, facet.name),
                    title=label,
                    href=urls.path(path, name=facet.name),
                    type=ACQUISITION,
                    summary=f"{facet.books} book{'s' if facet.books != 1 else ''}",
                    count=facet.books,
                )
            )
        return respond(request, feed)

    listing.__name__ = f"list_{GROUP_PATHS[group]}"
    return listing


def _search_cursor(text: str | None) -> PageCursor | None:
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
        return PageCursor.model_validate_json(raw)
    except (ValueError, ValidationError, UnicodeError):
        raise _bad_request("that page link is not valid (start from the first page)") from None


def _search_token(cursor: PageCursor) -> str:
    return base64.urlsafe_b64encode(cursor.model_dump_json().encode()).decode().rstrip("=")


@authenticated
async def search(request: web.Request) -> web.Response:
    """The Library's own search (full text, then typo-tolerant), 50 books a page."""
    state = _state(request)
    urls = _urls(request)
    terms = (_param(request, "q") or "").strip()
    after = _search_cursor(_param(request, "after", limit=2000))
    rows: list = []
    next_cursor = None
    if terms and terms != "{searchTerms}":
        found = await library.page(
            state.pool, LibraryQuery(text=terms), after=after, limit=PAGE_SIZE
        )
        rows, next_cursor = found.rows, found.next_cursor
    entries = await opds.entries(state.pool, [row.id for row in rows])
    token = _search_token(after) if after else None
    feed = Feed(
        id=feed_id("search", terms, token or ""),
        title=f"Search: {terms}" if terms else "Search",
        kind="acquisition",
        links=_common_links(urls, urls.path("/opds/search", q=terms, after=token), ACQUISITION),
    )
    feed.links.append(Link("first", urls.path("/opds/search", q=terms), ACQUISITION, "First page"))
    if next_cursor is not None:
        href = urls.path("/opds/search", q=terms, after=_search_token(next_cursor))
        feed.links.append(Link("next", href, ACQUISITION, "Next page"))
    feed.books = [BookItem(entry, book_links(urls, entry)) for entry in entries]
    return respond(request, feed)


async def opensearch(request: web.Request) -> web.Response:
    """The OpenSearch description: public, as Moon+ Reader fetches it without credentials."""
    template = _urls(request).path("/opds/search") + "?q={searchTerms}"
    return web.Response(
        body=atom.opensearch_document(template),
        content_type="application/opensearchdescription+xml",
        charset="utf-8",
    )


@authenticated
async def book_entry(request: web.Request) -> web.Response:
    state = _state(request)
    found = await opds.entries(state.pool, [_uuid(request.match_info["book_id"])])
    if not found:
        raise _not_found("No such book in the library")
    book = BookItem(found[0], book_links(_urls(request), found[0]))
    etag = f'"{found[0].updated_at.timestamp():.6f}{"j" if wants_opds2(request) else "a"}"'
    headers = {
        "ETag": etag,
        "Last-Modified": found[0].updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Vary": "Accept, Authorization",
    }
    if wants_opds2(request):
        body = opds2.publication_document(book)
        headers["Content-Type"] = "application/opds-publication+json;charset=utf-8"
    else:
        body = atom.entry_document(book)
        headers["Content-Type"] = f"{ENTRY};charset=utf-8"
    return web.Response(body=body, headers=headers)


async def _cover(request: web.Request, kind: str) -> web.StreamResponse:
    """A book's cover or thumbnail: public (Thorium sends no credentials for images; the ids
    are random UUIDs that only a signed-in feed reveals)."""
    state = _state(request)
    found = await opds.cover(state.pool, _uuid(request.match_info["book_id"]))
    if found is None or not found[0]:
        raise _not_found("This book has no cover")
    source = Path(found[0])
    if not source.is_file():
        raise _not_found("The cover file is missing")
    try:
        image = await state.covers.image(source, kind)
    except CoverError:
        raise _not_found("The cover cannot be read") from None
    content_type = "image/jpeg"
    response = file_response(image, content_type, None)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


async def cover(request: web.Request) -> web.StreamResponse:
    return await _cover(request, "cover")


async def thumbnail(request: web.Request) -> web.StreamResponse:
    return await _cover(request, "thumbnail")


@authenticated
async def download(request: web.Request) -> web.StreamResponse:
    from shelver.app.opds.files import download_name

    state = _state(request)
    stored = await opds.stored_file(state.pool, _uuid(request.match_info["file_id"]))
    if stored is None:
        raise _not_found("No such file in the library")
    path = Path(stored.storage_path)
    if not path.is_file():
        raise _not_found("The book's file is missing from the library folder")
    name = download_name(stored.title, stored.author, stored.format, stored.original_name)
    return file_response(path, mime_type(stored.format), name)


def setup(app: web.Application, pool: asyncpg.Pool, options: OpdsOptions | None = None) -> None:
    """Register the catalogue's routes on ``app`` (GET, with HEAD answered by each)."""
    import tempfile

    options = options or OpdsOptions()
    cache = options.cache_dir or Path(tempfile.gettempdir()) / "shelver-covers"
    app[STATE_KEY] = _State(pool, options, ContentClock(), CoverCache(cache))
    add = app.router.add_get
    add("/opds", root)
    add("/opds/", root)
    add("/opds/books", all_books)
    add("/opds/new", new_books)
    add("/opds/reading", reading_now)
    for group, path in GROUP_PATHS.items():
        add(f"/opds/{path}", _group_list(group))
    add("/opds/search", search)
    add("/opds/opensearch.xml", opensearch)
    add("/opds/book/{book_id}", book_entry)
    add("/opds/book/{book_id}/cover", cover)
    add("/opds/book/{book_id}/thumbnail", thumbnail)
    add("/opds/file/{file_id}/{name}", download)
