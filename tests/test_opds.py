"""The OPDS catalogue of a real ``shelver serve``, as e-readers use it.

A library of 120 real files is served by a server process; the tests crawl it from the root
like a reader (validating every Atom document against the OPDS 1.2 RELAX NG schema and every
OPDS 2 answer against its JSON Schema), download every file and check its bytes, page, search,
and try every way of failing to log in.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from lxml import etree

from shelver.data import api_keys, credentials
from shelver.data.importing.hashing import digest_stream
from tests.kosync_support import ServerProcess, clone_template, drop_database, start_server
from tests.opds_support import HOSTILE_TITLE, LibraryBook, build_library

ATOM = "{http://www.w3.org/2005/Atom}"
NS = {"a": "http://www.w3.org/2005/Atom", "dc": "http://purl.org/dc/terms/"}
LOGIN = ("reader", "correct horse battery")
PAGE = 50


@pytest.fixture(scope="module")
async def opds_dsn(server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    dsn = await clone_template(server_dsn)
    yield dsn
    await drop_database(server_dsn, dsn)


@pytest.fixture(scope="module")
def opds_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("opds-home")


@pytest.fixture(scope="module")
async def library(opds_dsn: str, opds_home: Path) -> list[LibraryBook]:
    conn = await asyncpg.connect(opds_dsn)
    try:
        made = await build_library(conn, opds_home / "library")
        await credentials.add(conn, "opds", LOGIN[0], LOGIN[1], opds_home)
        # Book 4 is being read on a device (through its file's partial MD5).
        await conn.execute(
            "INSERT INTO reading_progress (document, device, progress, percentage) "
            "VALUES ($1, 'kobo', '/body', 0.4)",
            made[4].files[0][3],
        )
    finally:
        await conn.close()
    return made


@pytest.fixture(scope="module")
def server(opds_home: Path, opds_dsn: str, library: list[LibraryBook]) -> Iterator[ServerProcess]:
    process = start_server(opds_home, opds_dsn, "--no-watch")
    yield process
    process.stop()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, auth=LOGIN, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def relaxng(shared_dir: Path) -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(shared_dir / "spec" / "opds" / "opds-1.2.rng")))


def parse(response: httpx.Response) -> etree._Element:
    assert response.status_code == 200, (response.url, response.status_code, response.text)
    return etree.fromstring(response.content)


def assert_valid(schema: etree.RelaxNG, document: etree._Element, where: str) -> None:
    """Valid OPDS 1.2. The one deliberate exception: the Atom-typed search link holds the
    template ``{searchTerms}`` (braces are not allowed in an atom URI), which readers that take
    an Atom search link need; with that link alone removed the document must be valid."""
    if schema.validate(document):
        return
    copy = etree.fromstring(etree.tostring(document))
    for link in copy.findall(f"{ATOM}link[@rel='search']"):
        if "{searchTerms}" in link.get("href", ""):
            copy.remove(link)
    assert schema.validate(copy), f"{where}: {schema.error_log}"


def links(document: etree._Element, rel: str | None = None) -> list[etree._Element]:
    found = document.findall(f"{ATOM}link")
    return [link for link in found if rel is None or link.get("rel") == rel]


def crawl(http: httpx.Client, schema: etree.RelaxNG) -> dict[str, etree._Element]:
    """Every Atom document reachable from the root, each validated."""
    seen: dict[str, etree._Element] = {}
    queue = ["/opds"]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        document = parse(http.get(url))
        assert_valid(schema, document, url)
        seen[url] = document
        followed = list(links(document))
        for entry in document.findall(f"{ATOM}entry"):
            followed.extend(links(entry))
        for link in followed:
            href, type_ = link.get("href", ""), link.get("type", "")
            if "{searchTerms}" in href or "application/atom+xml" not in type_:
                continue
            assert href.startswith(http.base_url.join("/").__str__()), href
            queue.append(str(httpx.URL(href).copy_with(scheme=None, host=None, port=None)))
    return seen


def book_ids(document: etree._Element) -> list[str]:
    return [e.findtext(f"{ATOM}id") for e in document.findall(f"{ATOM}entry")]


def test_crawl_validates_every_document_and_reaches_every_book(http, relaxng, library):
    documents = crawl(http, relaxng)
    reached = {
        entry.findtext(f"{ATOM}id")
        for document in documents.values()
        for entry in [document, *document.findall(f"{ATOM}entry")]
        if links(entry, "http://opds-spec.org/acquisition")
    }
    assert reached == {f"urn:uuid:{book.id}" for book in library}
    # Every feed has self and start links, typed; every next/previous is typed.
    for url, document in documents.items():
        if document.tag != f"{ATOM}feed":
            continue
        assert links(document, "self") and links(document, "start"), url
        for link in links(document, "next") + links(document, "previous"):
            assert link.get("type", "").startswith("application/atom+xml;profile=opds-catalog")


def test_root_offers_every_group_and_both_searches(http):
    root = parse(http.get("/opds"))
    titles = [e.findtext(f"{ATOM}title") for e in root.findall(f"{ATOM}entry")]
    assert titles == [
        "Recently added",
        "All books",
        "Authors",
        "Series",
        "Genres",
        "Languages",
        "Formats",
        "Reading now",
    ]
    search_types = {link.get("type") for link in links(root, "search")}
    assert search_types == {
        "application/opensearchdescription+xml",
        "application/atom+xml;profile=opds-catalog;kind=acquisition",
    }


def walk_documents(http: httpx.Client, url: str, rel: str = "next") -> list[etree._Element]:
    pages = []
    while url:
        document = parse(http.get(url))
        pages.append(document)
        following = links(document, rel)
        url = following[0].get("href") if following else ""
    return pages


def walk(http: httpx.Client, url: str, rel: str = "next") -> list[list[str]]:
    return [book_ids(document) for document in walk_documents(http, url, rel)]


def test_paging_reaches_every_book_once_at_50_a_page_and_back(http, library):
    pages = walk(http, "/opds/books")
    assert [len(p) for p in pages] == [50, 50, 20]
    flat = [i for p in pages for i in p]
    assert len(flat) == len(set(flat)) == len(library)
    # From the last page, `previous` leads back through the same pages.
    last = parse(http.get("/opds/books"))
    for _ in range(2):
        last = parse(http.get(links(last, "next")[0].get("href")))
    assert not links(last, "next")
    back = walk(http, links(last, "previous")[0].get("href"), rel="previous")
    assert back == pages[:2][::-1]
    first = parse(http.get(links(last, "first")[0].get("href")))
    assert book_ids(first) == pages[0] and not links(first, "previous")
    # Recently added: the same books, newest first.
    newest = [i for p in walk(http, "/opds/new") for i in p]
    assert sorted(newest) == sorted(flat)
    assert newest[0] == f"urn:uuid:{library[-1].id}"


def test_entries_carry_authors_isbn_language_files(http, library):
    entries = {}
    for document in walk_documents(http, "/opds/books"):
        entries.update({e.findtext(f"{ATOM}id"): e for e in document.findall(f"{ATOM}entry")})
    two_authors = entries[f"urn:uuid:{library[1].id}"]
    names = [a.findtext(f"{ATOM}name") for a in two_authors.findall(f"{ATOM}author")]
    assert names == ["Gabriel García Márquez", "Ünal Ëxample"]
    assert two_authors.findtext("dc:language", namespaces=NS) == "es"
    with_isbn = entries[f"urn:uuid:{library[3].id}"]
    assert with_isbn.findtext("dc:identifier", namespaces=NS) == "urn:isbn:9780000000003"
    acquisitions = links(with_isbn, "http://opds-spec.org/acquisition")
    assert [(a.get("type"), int(a.get("length"))) for a in acquisitions] == [
        ("application/epub+zip", library[3].files[0][1].stat().st_size)
    ]
    zero = entries[f"urn:uuid:{library[0].id}"]
    assert zero.findtext(f"{ATOM}title") == "Война и мир"
    assert zero.findtext(f"{ATOM}author/{ATOM}name") == "Лев Толстой"
    assert links(zero, "http://opds-spec.org/image/thumbnail")  # book 0 has a cover


def test_every_download_is_the_stored_file(http, library):
    for book in library:
        document = parse(http.get(f"/opds/book/{book.id}"))
        hrefs = [a.get("href") for a in links(document, "http://opds-spec.org/acquisition")]
        assert len(hrefs) == len(book.files)
        for href, (_, path, checksum, content_hash) in zip(hrefs, book.files, strict=True):
            response = http.get(href, headers={"Accept-Encoding": "gzip"})
            assert response.status_code == 200
            assert "Content-Encoding" not in response.headers
            assert int(response.headers["Content-Length"]) == path.stat().st_size
            assert hashlib.sha256(response.content).hexdigest() == checksum
            assert digest_stream(io.BytesIO(response.content)).content_hash == content_hash
            assert response.headers["ETag"] and response.headers["Last-Modified"]
            assert response.headers["Content-Disposition"].startswith('attachment; filename="')


def test_download_names_are_ascii_safe_with_utf8_beside(http, library):
    book = library[0]
    document = parse(http.get(f"/opds/book/{book.id}"))
    href = links(document, "http://opds-spec.org/acquisition")[0].get("href")
    disposition = http.head(href).headers["Content-Disposition"]
    plain = re.search(r'filename="([^"]*)"', disposition).group(1)
    assert plain.isascii() and plain.endswith(".epub")
    encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
    from urllib.parse import unquote

    assert unquote(encoded) == "Лев Толстой - Война и мир.epub"
    hostile = parse(http.get(f"/opds/book/{library[2].id}"))
    href = links(hostile, "http://opds-spec.org/acquisition")[0].get("href")
    disposition = http.get(href).headers["Content-Disposition"]
    name = unquote(re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1))
    assert "/" not in name and "\\" not in name and '"' not in name and name.endswith(".epub")
    assert hostile.findtext(f"{ATOM}title") == HOSTILE_TITLE


def test_range_requests_return_the_right_slice(http, library):
    book = next(b for b in library if b.files[0][1].stat().st_size > 1_000_000)
    _, path, _, _ = book.files[0]
    data = path.read_bytes()
    document = parse(http.get(f"/opds/book/{book.id}"))
    href = links(document, "http://opds-spec.org/acquisition")[0].get("href")
    for header, expected in (
        ("bytes=0-1023", data[:1024]),
        ("bytes=1000000-", data[1000000:]),
        ("bytes=-500", data[-500:]),
    ):
        response = http.get(href, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == expected
        assert response.headers["Content-Range"].endswith(f"/{len(data)}")
    assert http.get(href, headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416


def _same_headers(get: httpx.Response, head: httpx.Response) -> None:
    ignored = {"date", "server", "keep-alive", "connection"}
    assert {k: v for k, v in get.headers.items() if k not in ignored} == {
        k: v for k, v in head.headers.items() if k not in ignored
    }


def test_head_answers_like_get_everywhere(http, library):
    book = library[0]
    document = parse(http.get(f"/opds/book/{book.id}"))
    urls = ["/opds", "/opds/books", "/opds/authors", f"/opds/book/{book.id}", "/opds/search?q=war"]
    urls.append(links(document, "http://opds-spec.org/acquisition")[0].get("href"))
    urls.append(links(document, "http://opds-spec.org/image/thumbnail")[0].get("href"))
    for url in urls:
        head = http.head(url)
        get = http.get(url)
        assert head.status_code == get.status_code == 200, url
        assert head.content == b""
        _same_headers(get, head)


def test_conditional_get_and_last_modified_moves_with_content(http, opds_dsn, library):
    first = http.get("/opds/genres")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = http.get("/opds/genres", headers={"If-None-Match": etag})
    assert again.status_code == 304
    since = http.get("/opds/genres", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    time.sleep(1.1)

    async def add_genre() -> None:
        conn = await asyncpg.connect(opds_dsn)
        try:
            await conn.execute(
                "UPDATE books SET genres = genres || '{Poetry}'::text[] WHERE id = $1",
                library[7].id,
            )
        finally:
            await conn.close()

    import asyncio

    asyncio.run(add_genre())
    changed = http.get("/opds/genres", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"Poetry" in changed.content
    assert changed.headers["ETag"] != etag
    from email.utils import parsedate_to_datetime

    assert parsedate_to_datetime(changed.headers["Last-Modified"]) > parsedate_to_datetime(modified)


def test_opensearch_template_with_only_search_terms(server, http, library):
    description = httpx.get(f"{server.base_url}/opds/opensearch.xml")  # no credentials
    assert description.status_code == 200
    root = etree.fromstring(description.content)
    urls = root.findall("{http://a9.com/-/spec/opensearch/1.1/}Url")
    template = next(u.get("template") for u in urls if "application/atom+xml" in u.get("type"))
    assert "{searchTerms}" in template and template.count("{") == 1

    def search(terms: str) -> list[str]:
        return [
            e.findtext(f"{ATOM}title")
            for e in parse(http.get(template.replace("{searchTerms}", terms))).findall(
                f"{ATOM}entry"
            )
        ]

    assert search("hobbit") == ["The Hobbit"]
    assert search("Tolkein") == ["The Hobbit"]  # a typo, as the Library forgives it
    assert search("толстой") == ["Война и мир"]
    assert search("garcia marquez") == ["Cien años de soledad"]  # accents folded
    assert search("zzzzqqqq") == []
    assert search("%27%3B%20DROP%20TABLE%20books%3B--") == []
    # 100+ books match "book": the search pages at 50 with a typed next link.
    document = parse(http.get(template.replace("{searchTerms}", "book")))
    assert len(document.findall(f"{ATOM}entry")) == PAGE
    more = links(document, "next")
    assert more and "kind=acquisition" in more[0].get("type")
    second = parse(http.get(more[0].get("href")))
    assert set(book_ids(second)).isdisjoint(book_ids(document))


def test_groups_list_their_books(http, library):
    series = parse(http.get("/opds/series"))
    entry = series.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Saga of Ten"
    href = entry.find(f"{ATOM}link").get("href")
    in_order = [e.findtext(f"{ATOM}title") for e in parse(http.get(href)).findall(f"{ATOM}entry")]
    expected = [library[i].title for i in sorted(range(10, 20), key=lambda i: i % 10)]
    assert in_order == expected
    reading = parse(http.get("/opds/reading"))
    assert book_ids(reading) == [f"urn:uuid:{library[4].id}"]
    authors = parse(http.get("/opds/authors"))
    names = [e.findtext(f"{ATOM}title") for e in authors.findall(f"{ATOM}entry")]
    assert "Gabriel García Márquez" in names and "Ünal Ëxample" in names
    link = next(
        e.find(f"{ATOM}link").get("href")
        for e in authors.findall(f"{ATOM}entry")
        if e.findtext(f"{ATOM}title") == "Ünal Ëxample"
    )
    assert book_ids(parse(http.get(link))) == [f"urn:uuid:{library[1].id}"]
    pdf = parse(http.get("/opds/formats?name=pdf"))
    assert len(book_ids(pdf)) == len([b for b in library if len(b.files) == 2])


def test_bad_page_links_and_ids_are_plain_errors(http):
    assert http.get("/opds/books?after=garbage").status_code == 400
    assert http.get("/opds/search?q=x&after=%%%").status_code == 400
    assert http.get("/opds/book/not-a-uuid").status_code == 404
    assert http.get("/opds/book/00000000-0000-0000-0000-000000000000").status_code == 404
    assert http.get("/opds/file/00000000-0000-0000-0000-000000000000/x.epub").status_code == 404


# --- OPDS 2 ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def opds2_validator(shared_dir: Path):
    import jsonschema
    from referencing import Registry, Resource

    folder = shared_dir / "spec" / "opds" / "opds2"
    resources = []
    for path in folder.rglob("*.schema.json"):
        text = path.read_text(encoding="utf-8").replace("(?<", "(?P<")
        contents = json.loads(text)
        relative = path.relative_to(folder).as_posix()
        if relative.startswith("rwpm/"):
            uri = "https://readium.org/webpub-manifest/schema/" + relative[len("rwpm/") :]
        else:
            uri = "https://specs.opds.io/schema/" + relative
        resources.append((uri, Resource.from_contents(contents)))
    registry = Registry().with_resources(resources)
    schema = json.loads((folder / "feed.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, registry=registry)


def test_opds2_on_request_validates(http, opds2_validator, library):
    accept = {"Accept": "application/opds+json"}
    for url in ("/opds", "/opds/books", "/opds/authors", "/opds/search?q=hobbit"):
        response = http.get(url, headers=accept)
        assert response.headers["Content-Type"].startswith("application/opds+json")
        errors = list(opds2_validator.iter_errors(response.json()))
        assert not errors, (url, [e.message for e in errors[:3]])
    books = http.get("/opds/books", headers=accept).json()
    assert len(books["publications"]) == PAGE
    assert any(link["rel"] == "next" for link in books["links"])
    # Anything else in Accept (KOReader's, a browser's, none) gets Atom.
    for other in ("application/atom+xml", "*/*", "text/html", ""):
        response = http.get("/opds", headers={"Accept": other})
        assert response.headers["Content-Type"].startswith("application/atom+xml")


# --- authentication -------------------------------------------------------------------------


def test_every_failure_is_the_same_401(server, opds_dsn):
    import asyncio

    async def make_and_revoke() -> tuple[str, str]:
        conn = await asyncpg.connect(opds_dsn)
        try:
            revoked, row = await api_keys.create(conn, "old tablet")
            await api_keys.revoke(conn, row.key_prefix)
            live, _ = await api_keys.create(conn, "kobo")
            return revoked, live
        finally:
            await conn.close()

    revoked, live = asyncio.run(make_and_revoke())
    url = f"{server.base_url}/opds/books"
    answers = [
        httpx.get(url),
        httpx.get(url, auth=(LOGIN[0], "wrong")),
        httpx.get(url, auth=("nobody", LOGIN[1])),
        httpx.get(url, auth=("anyone", revoked)),
        httpx.get(url, headers={"Authorization": "Basic !!!"}),
        httpx.get(url, headers={"Authorization": "Digest username=x"}),
    ]
    for response in answers:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="shelver"')
        assert response.content == answers[0].content
    assert httpx.get(url, auth=("anyone", live)).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {live}"}).status_code == 200
    # The log names the key by its prefix and never holds a secret.
    log = server.log_text()
    for secret in (LOGIN[1], live, live.split("_", 2)[2], revoked):
        assert secret not in log
    assert f"key:{live.split('_')[1]}" in log


def test_unknown_user_and_wrong_password_cost_the_same(server):
    """Both run one slow hash: neither answers in a fraction of the other's time."""
    url = f"{server.base_url}/opds"

    def timed(name: str, password: str) -> float:
        started = time.perf_counter()
        assert httpx.get(url, auth=(name, password)).status_code == 401
        return time.perf_counter() - started

    # Fresh (name, password) pairs, so neither is answered from the verdict cache.
    unknown = min(timed(f"ghost{i}", f"pw{i}") for i in range(3))
    wrong = min(timed(LOGIN[0], f"wrong{i}") for i in range(3))
    assert unknown > wrong / 4 and wrong > unknown / 4


def test_proxy_headers_only_with_trust_proxy(server, opds_home, opds_dsn, library):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "books.example.org"}
    plain = httpx.get(f"{server.base_url}/opds", auth=LOGIN, headers=forwarded)
    self_href = links(parse(plain), "self")[0].get("href")
    assert self_href.startswith(server.base_url)
    trusting = start_server(opds_home / "proxy", opds_dsn, "--no-watch", "--trust-proxy")
    try:
        behind = httpx.get(f"{trusting.base_url}/opds", auth=LOGIN, headers=forwarded)
        document = parse(behind)
        assert links(document, "self")[0].get("href") == "https://books.example.org/opds"
        hostile = dict(forwarded, **{"X-Forwarded-Host": 'evil"><x'})
        document = parse(httpx.get(f"{trusting.base_url}/opds", auth=LOGIN, headers=hostile))
        assert links(document, "self")[0].get("href").startswith("https://127.0.0.1:")
    finally:
        trusting.stop()


def test_query_parameters_round_trip_non_ascii(http):
    authors = parse(http.get("/opds/authors"))
    href = next(
        e.find(f"{ATOM}link").get("href")
        for e in authors.findall(f"{ATOM}entry")
        if e.findtext(f"{ATOM}title") == "Лев Толстой"
    )
    assert parse_qs(urlsplit(href).query)["name"] == ["Лев Толстой"]
    assert [e.findtext(f"{ATOM}title") for e in parse(http.get(href)).findall(f"{ATOM}entry")] == [
        "Война и мир"
    ]
