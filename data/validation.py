"""Checks on hand-edited book fields: ISBN check digits, year range, ISO 639-1 language code.

Each check returns the value to store (normalised) or raises ``ValueError`` with a sentence a
person can act on; pydantic turns those into field errors. ISBN arithmetic is shared with the
importer (``data.importing.isbn``).
"""

from __future__ import annotations

from datetime import date

from shelver.data.importing.isbn import valid_isbn10, valid_isbn13
from shelver.data.importing.languages import normalize_language

# Every ISO 639-1 code (the two-letter column of ISO 639-2's registry).
_ISO_639_1_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
EARLIEST_YEAR = 0
ISBN_SEPARATORS = str.maketrans("", "", " -‐‑‒–—.")


def latest_year(today: date | None = None) -> int:
    """Next year: announced books carry it."""
    return (today or date.today()).year + 1


def check_isbn10(value: str | None) -> str | None:
    """A valid ISBN-10 without separators (``X`` upper-case), or None for an empty value."""
    code = _compact(value)
    if code is None:
        return None
    if len(code) != 10:
        raise ValueError(f"an ISBN-10 has 10 characters, not {len(code)}")
    if not valid_isbn10(code):
        raise ValueError(f"{code} is not a valid ISBN-10 (wrong check digit?)")
    return code


def check_isbn13(value: str | None) -> str | None:
    """A valid ISBN-13 (978/979 prefix) without separators, or None for an empty value."""
    code = _compact(value)
    if code is None:
        return None
    if len(code) != 13:
        raise ValueError(f"an ISBN-13 has 13 digits, not {len(code)}")
    if not valid_isbn13(code):
        raise ValueError(f"{code} is not a valid ISBN-13 (wrong check digit or prefix?)")
    return code


def check_year(value: int | None, today: date | None = None) -> int | None:
    """A publication year between 0 and next year."""
    if value is None:
        return None
    last = latest_year(today)
    if not EARLIEST_YEAR <= value <= last:
        raise ValueError(f"the year must be between {EARLIEST_YEAR} and {last}, not {value}")
    return value


def check_language(value: str | None) -> str | None:
    """An ISO 639-1 code, lower-case; a region is dropped ("pt-BR" → "pt") and common names
    or three-letter codes are understood ("English", "ger")."""
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    primary = text.replace("_", "-").split("-", 1)[0]
    if primary in ISO_639_1:
        return primary
    known = normalize_language(text)
    if known and known in ISO_639_1:
        return known
    raise ValueError(f"{value.strip()!r} is not an ISO 639-1 language code (like en, fr, de)")


def clean_terms(values: list[str] | None) -> list[str]:
    """Genres or tags as typed: trimmed, inner spaces collapsed, empty ones and repeats (in
    any case) dropped, first spelling and order kept."""
    seen: set[str] = set()
    terms: list[str] = []
    for value in values or []:
        term = " ".join(str(value).replace("\x00", "").split())
        if term and term.casefold() not in seen:
            seen.add(term.casefold())
            terms.append(term)
    return terms


def _compact(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().translate(ISBN_SEPARATORS).upper()
    if code.startswith("ISBN"):
        code = code[4:].lstrip(":")
    return code or None
