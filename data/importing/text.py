"""Making metadata text safe to store and show: control characters, HTML, length caps."""

from __future__ import annotations

import re
from collections.abc import Sequence

import lxml.html
from lxml import etree

from shelver.data.authors import clean_author
from shelver.data.clean_text import (  # noqa: F401 - re-exported for the importer's modules
    RAW_MAX,
    TITLE_MAX,
    UNSAFE_TEXT,
    clean_document,
    clean_line,
    strip_unsafe,
)

AUTHOR_MAX = 500
SHORT_MAX = 200  # publisher, language, one genre
DESCRIPTION_MAX = 20_000
GENRES_MAX = 30
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote")


def strip_html(value: object, limit: int = DESCRIPTION_MAX) -> str | None:
    """Plain text of an HTML fragment (paragraphs kept as blank lines), cleaned and capped."""
    if value is None:
        return None
    raw = str(value)[:RAW_MAX]
    if "<" in raw or "&" in raw:
        try:
            root = lxml.html.fragment_fromstring(raw, create_parent="div")
            for element in root.iter(*_BLOCK_TAGS):
                element.tail = "\n\n" + (element.tail or "")
            etree.strip_elements(root, "script", "style", with_tail=False)
            raw = root.text_content()
        except (etree.ParserError, ValueError):
            raw = re.sub(r"<[^>]*>", " ", raw)
    paragraphs = [clean_line(part, limit) for part in re.split(r"\n\s*\n", raw)]
    text = "\n\n".join(part for part in paragraphs if part)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def clean_list(
    values: Sequence[object], limit: int = SHORT_MAX, count: int = GENRES_MAX
) -> list[str]:
    """Distinct cleaned values in their first order, at most ``count`` of them."""
    seen: dict[str, str] = {}
    for value in values:
        text = clean_line(value, limit)
        if text and text.casefold() not in seen:
            seen[text.casefold()] = text
        if len(seen) >= count:
            break
    return list(seen.values())


def join_authors(names: list[object]) -> str | None:
    """All authors as one field, in file order, joined the way the schema's author column is."""
    cleaned = [a for a in (clean_author(n) for n in clean_list(names, AUTHOR_MAX, 50)) if a]
    return clean_line(" & ".join(cleaned), AUTHOR_MAX) if cleaned else None
