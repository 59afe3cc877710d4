"""FictionBook 2 metadata, recovering from the broken XML real FB2 files contain."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from lxml import etree

from shelver.data.importing.errors import Refused
from shelver.data.importing.raw import RawMetadata
from shelver.data.importing.xml import local, parser, text_of

MAX_FB2_SIZE = 256 << 20  # parsed in memory; real FB2s with images stay far below this


def read_fb2(path: Path) -> RawMetadata:
    """Metadata and cover of the FB2 at ``path``."""
    if path.stat().st_size > MAX_FB2_SIZE:
        raise Refused(f"FB2 larger than {MAX_FB2_SIZE >> 20} MiB: not parsed")
    try:
        root = etree.parse(str(path), parser(recover=True)).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise Refused(f"broken FB2: {exc}".splitlines()[0][:300]) from None
    if root is None or local(root.tag) != "FictionBook":
        raise Refused("broken FB2: no FictionBook root element")
    metadata = RawMetadata()
    description = _child(root, "description")
    title_info = _child(description, "title-info")
    publish_info = _child(description, "publish-info")
    cover_id = None
    for element in title_info if title_info is not None else []:
        name = local(element.tag)
        if name == "book-title":
            metadata.titles.append(text_of(element))
        elif name == "author":
            metadata.authors.append(_person(element))
        elif name == "genre":
            genre = text_of(element).strip()
            if genre.lower() not in ("unrecognised", "unknown", "other"):
                metadata.subjects.append(genre)
        elif name == "keywords":
            metadata.subjects.extend(k for k in text_of(element).split(",") if k.strip())
        elif name == "lang":
            metadata.languages.append(text_of(element))
        elif name == "annotation":
            metadata.descriptions.append(etree.tostring(element, encoding="unicode"))
        elif name == "date":
            metadata.dates.append(element.get("value") or text_of(element))
        elif name == "coverpage":
            for image in element.iter():
                if local(image.tag) == "image":
                    href = next((v for k, v in image.attrib.items() if local(k) == "href"), "")
                    cover_id = href.lstrip("#") or None
                    break
    for element in publish_info if publish_info is not None else []:
        name = local(element.tag)
        if name == "publisher":
            metadata.publishers.append(text_of(element))
        elif name == "year":
            metadata.dates.append(text_of(element))
        elif name == "isbn":
            metadata.identifiers.append(text_of(element))
    if cover_id:
        metadata.cover = _binary(root, cover_id)
    return metadata


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    if element is None:
        return None
    return next((c for c in element if local(c.tag) == name), None)


def _person(element: etree._Element) -> str:
    parts = {local(c.tag): text_of(c).strip() for c in element}
    name = " ".join(
        p for p in (parts.get("first-name"), parts.get("middle-name"), parts.get("last-name")) if p
    )
    return name or parts.get("nickname", "")


def _binary(root: etree._Element, wanted: str) -> bytes | None:
    for element in root:
        if local(element.tag) == "binary" and element.get("id") == wanted:
            try:
                return base64.b64decode("".join((element.text or "").split()), validate=False)
            except (binascii.Error, ValueError):
                return None
    return None
