"""One safe way to parse the XML found inside books: no network, no entity expansion bombs."""

from __future__ import annotations

from lxml import etree


def parser(*, recover: bool = True, huge: bool = False) -> etree.XMLParser:
    """``huge`` lifts libxml2's 10 MB text-node limit, for documents whose size we capped."""
    return etree.XMLParser(
        recover=recover,
        resolve_entities=False,
        no_network=True,
        huge_tree=huge,
        remove_comments=True,
        remove_pis=True,
    )


def parse_bytes(data: bytes, *, recover: bool = True, huge: bool = False) -> etree._Element | None:
    """The root element, or None when nothing could be recovered."""
    try:
        return etree.fromstring(data, parser(recover=recover, huge=huge))
    except etree.XMLSyntaxError:
        return None


def local(tag: object) -> str:
    """An element's tag without its namespace ('' for comments and the like)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def text_of(element: etree._Element) -> str:
    """All text inside ``element``."""
    return "".join(element.itertext())
