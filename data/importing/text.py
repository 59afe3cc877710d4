"""Making metadata text safe to store and show: control characters, HTML, length caps."""

from __future__ import annotations

import re
import unicodedata

import lxml.html
from lxml import etree

from shelver.data.authors import clean_author

TITLE_MAX = 500
AUTHOR_MAX = 500
SHORT_MAX = 200  # publisher, language, one genre
DESCRIPTION_MAX = 20_000
GENRES_MAX = 30
# Read at most this much of any raw value: a 10 MB title is trimmed before any real work.
RAW_MAX = 200_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff\ufffe]")
_SPACE = re.compile(r"\s+")
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote")


def clean_line(value: object, limit: int = TITLE_MAX) -> str | None:
    """One line of text: control characters gone, whitespace collapsed, capped; None if empty."""
    if value is None:
        return None
    text = str(value)[:RAW_MAX]
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = _SPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


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


def clean_list(values: list[object], limit: int = SHORT_MAX, count: int = GENRES_MAX) -> list[str]:
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
