"""Turning the providers' loose values into clean ``BookFields`` values.

Real answers hold HTML descriptions, dates as ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or full
timestamps, ``pt-BR`` language tags, ``"A / B / C"`` category paths, page counts of 0 and
ISBNs with dashes. Everything here is forgiving: a value that cannot be understood becomes None.
"""

from __future__ import annotations

import html
import re
from typing import Any

import lxml.html
from lxml import etree

from shelver.data.authors import clean_author
from shelver.data.clean_text import clean_line, strip_unsafe
from shelver.data.importing import isbn
from shelver.data.importing.isbn import isbn13_to_10

PROVIDER_TEXT_MAX = 2_000
"""Cap of one provider value (a title, a link, a genre); descriptions go through plain_text."""

YEAR = re.compile(r"^\s*(\d{4})")
NON_ISBN = re.compile(r"[^0-9Xx]")
LANGUAGE_ALIASES = {
    "eng": "en",
    "fre": "fr",
    "fra": "fr",
    "ger": "de",
    "deu": "de",
    "spa": "es",
    "ita": "it",
    "jpn": "ja",
    "por": "pt",
    "dut": "nl",
    "nld": "nl",
    "rus": "ru",
    "chi": "zh",
    "zho": "zh",
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "japanese": "ja",
}
# Several authors in one string: "A & B", "A; B", "A and B". A single comma is "Last, First".
AUTHOR_SEPARATORS = re.compile(r"\s*(?:;|&|\band\b|\n)\s*", re.IGNORECASE)
BLOCK_TAGS = ("br", "p", "div", "li")


def text(value: Any) -> str | None:
    """A trimmed string cleaned of unsafe characters (escape codes, bidi overrides...), or
    None for anything empty or not a string."""
    if not isinstance(value, str):
        return None
    return clean_line(value, PROVIDER_TEXT_MAX)


def year(value: Any) -> int | None:
    """The year of a free-form date (``2021``, ``2021-03``, ``2019-10-03T00:00:00+02:00``)."""
    if isinstance(value, int) and 0 < value < 10000:
        return value
    if isinstance(value, str) and (match := YEAR.match(value)):
        found = int(match[1])
        return found if found > 0 else None
    return None


def positive_int(value: Any) -> int | None:
    """Page counts: 0, negatives and junk mean "unknown"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return positive_int(int(value.strip()))
    return None


def language(value: Any) -> str | None:
    """An ISO 639-1 code where one can be told: ``pt-BR`` -> ``pt``, ``eng`` -> ``en``."""
    raw = text(value)
    if raw is None:
        return None
    primary = re.split(r"[-_]", raw.lower(), maxsplit=1)[0]
    primary = LANGUAGE_ALIASES.get(primary, primary)
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def isbn_digits(value: Any) -> str | None:
    """Digits (and a final X) of an ISBN-10 or ISBN-13, or None if it is neither length."""
    if not isinstance(value, str | int):
        return None
    digits = NON_ISBN.sub("", str(value)).upper()
    if len(digits) == 13 and digits.isdigit():
        return digits
    if len(digits) == 10 and digits[:9].isdigit():
        return digits
    return None


def isbn10_to_13(isbn10: str) -> str | None:
    """The ISBN-13 of an ISBN-10 (978 prefix, new check digit); None for another length."""
    return isbn.isbn10_to_13(isbn10) if len(isbn10) == 10 else None


def split_isbns(values: list[Any], prefer: set[str] | None = None) -> tuple[str | None, str | None]:
    """(isbn_13, isbn_10) of **one edition** from a list, preferring one in ``prefer`` (the ISBN
    we asked for). A work's answer lists the ISBNs of all its editions: the ISBN-10 is the one
    that belongs to the chosen ISBN-13 (a 978 number determines it), never another edition's."""
    cleaned = [d for d in (isbn_digits(v) for v in values) if d]
    prefer = prefer or set()
    thirteens = [d for d in cleaned if len(d) == 13]
    tens = [d for d in cleaned if len(d) == 10]
    preferred = [d for d in cleaned if d in prefer]
    ranked = preferred or thirteens or tens
    if not ranked:
        return None, None
    first = ranked[0]
    if len(first) == 10:
        return isbn10_to_13(first), first
    return first, isbn13_to_10(first)


def plain_text(value: Any) -> str | None:
    """A description without HTML: tags dropped, entities decoded, line breaks kept."""
    raw = value if isinstance(value, str) else None
    if raw is None or not raw.strip():
        return None
    if "<" not in raw:
        result = html.unescape(raw)
    else:
        try:
            root = lxml.html.fragment_fromstring(raw, create_parent="div")
        except (etree.ParserError, ValueError):
            return text(html.unescape(raw))
        for element in root.iter(*BLOCK_TAGS):
            element.tail = "\n" + (element.tail or "")
        result = root.text_content()
    lines = [" ".join(strip_unsafe(line).split()) for line in result.splitlines()]
    joined = "\n".join(lines)
    joined = re.sub(r"\n{3,}", "\n\n", joined).strip()
    return joined or None


def genres(categories: Any) -> list[str]:
    """Distinct genre names from ``["Fiction / Science Fiction / General", ...]``."""
    if not isinstance(categories, list):
        return []
    seen: dict[str, None] = {}
    for category in categories:
        if not isinstance(category, str):
            continue
        for part in category.split("/"):
            name = text(part)
            if name and name.lower() != "general":
                seen.setdefault(name, None)
    return list(seen)


def authors_of(value: str | None) -> list[str]:
    """The names in an author string; "Last, First" stays one name."""
    if not value:
        return []
    parts = [p.strip() for p in AUTHOR_SEPARATORS.split(value) if p and p.strip()]
    names: list[str] = []
    for part in parts:
        pieces = [p.strip() for p in part.split(",") if p.strip()]
        # "Tolkien, J.R.R." is one person; "A B, C D, E F" is three.
        if len(pieces) == 2 and " " not in pieces[0]:
            names.append(part)
        else:
            names.extend(pieces)
    return names


def first_author(value: str | None) -> str | None:
    """The first author's name in a natural order ("Last, First" turned around)."""
    names = authors_of(value)
    if not names:
        return None
    name = names[0]
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first.strip()} {last.strip()}".strip()
    return name or None


def join_authors(names: list[Any]) -> str | None:
    """Authors as one string, the way shelver stores several: ``A & B``."""
    cleaned = [t for t in (clean_author(text(n)) for n in names) if t]
    return " & ".join(dict.fromkeys(cleaned)) or None


def https(url: Any) -> str | None:
    """Cover links over https (Google hands out http ones)."""
    link = text(url)
    if link is None:
        return None
    return "https://" + link[len("http://") :] if link.startswith("http://") else link


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (answers are not always well formed)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []
