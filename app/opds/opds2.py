"""OPDS 2.0: the same :class:`~shelver.app.opds.feeds.Feed` as JSON (``application/opds+json``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shelver.app.opds.feeds import (
    OPDS2,
    REL_ACQUISITION,
    REL_IMAGE,
    REL_THUMBNAIL,
    BookItem,
    Feed,
    Link,
)

_ATOM_PREFIX = "application/atom+xml"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _link_type(type_: str) -> str:
    # Links to other feeds point at the same URLs; asked with this Accept, they answer JSON.
    return OPDS2 if type_.startswith(_ATOM_PREFIX) and "type=entry" not in type_ else type_


def _link(link: Link) -> dict[str, Any]:
    document: dict[str, Any] = {"rel": link.rel, "href": link.href, "type": _link_type(link.type)}
    if "type=entry" in link.type:
        document["type"] = "application/opds-publication+json"
    if link.title:
        document["title"] = link.title
    return document


def publication(book: BookItem) -> dict[str, Any]:
    entry = book.entry
    metadata: dict[str, Any] = {
        "@type": "http://schema.org/Book",
        "identifier": f"urn:uuid:{entry.id}",
        "title": entry.title or "Untitled",
        "modified": _when(entry.updated_at),
    }
    if entry.authors:
        metadata["author"] = [{"name": name} for name in entry.authors]
    if entry.language:
        metadata["language"] = entry.language
    if entry.publisher:
        metadata["publisher"] = entry.publisher
    if entry.published_year:
        metadata["published"] = f"{entry.published_year:04d}"
    if entry.description:
        metadata["description"] = entry.description
    subjects = entry.categories
    if subjects:
        metadata["subject"] = subjects
    if entry.series:
        series: dict[str, Any] = {"name": entry.series}
        if entry.series_index is not None:
            series["position"] = entry.series_index
        metadata["belongsTo"] = {"series": [series]}
    links: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for link in book.links:
        if link.rel in (REL_IMAGE, REL_THUMBNAIL):
            images.append({"href": link.href, "type": link.type})
        elif link.rel == REL_ACQUISITION:
            links.append({"rel": link.rel, "href": link.href, "type": link.type})
        else:
            links.append({"rel": "self", "href": link.href, "type": _link_type(link.type)})
            links[-1]["type"] = "application/opds-publication+json"
    document: dict[str, Any] = {"metadata": metadata, "links": links}
    if images:
        document["images"] = images
    return document


def feed_document(feed: Feed) -> bytes:
    assert feed.updated is not None
    document: dict[str, Any] = {
        "metadata": {"title": feed.title, "modified": _when(feed.updated)},
        "links": [_link(link) for link in feed.links],
    }
    if feed.kind == "navigation":
        document["navigation"] = [
            {"href": item.href, "title": item.title, "type": _link_type(item.type)}
            for item in feed.navigation
        ]
    else:
        document["publications"] = [publication(book) for book in feed.books]
        if feed.navigation:
            document["navigation"] = [
                {"href": item.href, "title": item.title, "type": _link_type(item.type)}
                for item in feed.navigation
            ]
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def publication_document(book: BookItem) -> bytes:
    return json.dumps(publication(book), ensure_ascii=False, separators=(",", ":")).encode()
