"""OPDS 1.2: a :class:`~shelver.app.opds.feeds.Feed` written as an Atom document (lxml).

Every namespace prefix used is declared on the root element (Moon+ Reader parses strictly),
one ``author`` element per author in order, ISBNs as ``dc:identifier`` (``urn:isbn:``), genres
and tags as ``category``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lxml import etree

from shelver.app.opds.feeds import BookItem, Feed, Link, NavigationItem
from shelver.data.opds import Entry

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/terms/"
OPDS = "http://opds-spec.org/2010/catalog"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
THR = "http://purl.org/syndication/thread/1.0"
NSMAP = {None: ATOM, "dc": DC, "opds": OPDS, "opensearch": OPENSEARCH, "thr": THR}
# XML 1.0 cannot carry these characters at all; a title holding one would make the whole feed
# unreadable, so they are dropped on the way out.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str):
    element = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = _text(text)
    return element


def _link(parent: etree._Element, link: Link) -> None:
    _sub(
        parent,
        f"{{{ATOM}}}link",
        rel=link.rel,
        href=link.href,
        type=link.type,
        title=_text(link.title) if link.title else None,
        length=str(link.length) if link.length is not None else None,
    )


def _navigation_entry(parent: etree._Element, item: NavigationItem, updated: str) -> None:
    entry = _sub(parent, f"{{{ATOM}}}entry")
    _sub(entry, f"{{{ATOM}}}title", item.title)
    _sub(entry, f"{{{ATOM}}}id", item.id)
    _sub(entry, f"{{{ATOM}}}updated", updated)
    _sub(entry, f"{{{ATOM}}}content", item.summary, type="text")
    link = _sub(entry, f"{{{ATOM}}}link", rel=item.rel, href=item.href, type=item.type)
    if item.count is not None:
        link.set(f"{{{THR}}}count", str(item.count))


def _book_entry(parent: etree._Element, book: BookItem) -> etree._Element:
    entry: Entry = book.entry
    element = _sub(parent, f"{{{ATOM}}}entry")
    _sub(element, f"{{{ATOM}}}title", entry.title or "Untitled")
    _sub(element, f"{{{ATOM}}}id", f"urn:uuid:{entry.id}")
    _sub(element, f"{{{ATOM}}}updated", _when(entry.updated_at))
    for name in entry.authors or ["Unknown author"]:
        author = _sub(element, f"{{{ATOM}}}author")
        _sub(author, f"{{{ATOM}}}name", name)
    if entry.language:
        _sub(element, f"{{{DC}}}language", entry.language)
    if entry.publisher:
        _sub(element, f"{{{DC}}}publisher", entry.publisher)
    if entry.published_year:
        _sub(element, f"{{{DC}}}issued", f"{entry.published_year:04d}")
    for isbn in (entry.isbn_13, entry.isbn_10):
        if isbn:
            _sub(element, f"{{{DC}}}identifier", f"urn:isbn:{isbn}")
    for term in entry.categories:
        _sub(element, f"{{{ATOM}}}category", term=_text(term), label=_text(term))
    if entry.description:
        _sub(element, f"{{{ATOM}}}summary", entry.description, type="text")
    elif entry.series:
        _sub(element, f"{{{ATOM}}}summary", _series_line(entry), type="text")
    for link in book.links:
        _link(element, link)
    return element


def _series_line(entry: Entry) -> str:
    if entry.series_index is None:
        return f"Series: {entry.series}"
    number = f"{entry.series_index:g}"
    return f"Series: {entry.series} #{number}"


def feed_document(feed: Feed) -> bytes:
    assert feed.updated is not None
    updated = _when(feed.updated)
    root = etree.Element(f"{{{ATOM}}}feed", nsmap=NSMAP)
    _sub(root, f"{{{ATOM}}}id", feed.id)
    _sub(root, f"{{{ATOM}}}title", feed.title)
    _sub(root, f"{{{ATOM}}}updated", updated)
    author = _sub(root, f"{{{ATOM}}}author")
    _sub(author, f"{{{ATOM}}}name", "shelver")
    for link in feed.links:
        _link(root, link)
    for item in feed.navigation:
        _navigation_entry(root, item, updated)
    for book in feed.books:
        _book_entry(root, book)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def entry_document(book: BookItem) -> bytes:
    """A single book's entry document (``type=entry``)."""
    root = etree.Element(f"{{{ATOM}}}feed", nsmap=NSMAP)  # only for the namespace map
    element = _book_entry(root, book)
    standalone = etree.Element(f"{{{ATOM}}}entry", nsmap=NSMAP)
    standalone.extend(list(element))
    return etree.tostring(standalone, xml_declaration=True, encoding="UTF-8")


def opensearch_document(template: str, short_name: str = "shelver") -> bytes:
    ns = "http://a9.com/-/spec/opensearch/1.1/"
    root = etree.Element(f"{{{ns}}}OpenSearchDescription", nsmap={None: ns})
    _sub(root, f"{{{ns}}}ShortName", short_name)
    _sub(root, f"{{{ns}}}Description", "Search the shelver library")
    _sub(root, f"{{{ns}}}InputEncoding", "UTF-8")
    _sub(root, f"{{{ns}}}OutputEncoding", "UTF-8")
    from shelver.app.opds.feeds import ACQUISITION

    _sub(root, f"{{{ns}}}Url", type=ACQUISITION, template=template)
    _sub(root, f"{{{ns}}}Url", type="application/atom+xml", template=template)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
