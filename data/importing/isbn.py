"""ISBN-10 and ISBN-13: check digits, conversion both ways, and dropping bogus values.

The one implementation of the check digits in shelver (providers, review, demo data and
validation all use it)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—.]")
_ISBN_PREFIX = re.compile(r"^(?:urn:)?isbn[:\s]*", re.IGNORECASE)
# Runs of ten or thirteen ISBN characters (with separators) inside free text.
_CANDIDATE = re.compile(r"(?<![0-9Xx])(?:97[89][\s\-]?)?[0-9][0-9\s\-]{7,15}[0-9Xx](?![0-9])")


def _check_digit_10(first_nine: str) -> str:
    total = sum((10 - index) * int(digit) for index, digit in enumerate(first_nine))
    value = (11 - total % 11) % 11
    return "X" if value == 10 else str(value)


def _check_digit_13(first_twelve: str) -> str:
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve))
    return str((10 - total % 10) % 10)


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", _ISBN_PREFIX.sub("", value.strip())).upper()


def _plausible(digits: str) -> bool:
    # Check digits alone accept 0000000000 and friends, which publishers' tools emit as filler.
    return len(set(digits[:-1])) > 1


def valid_isbn10(value: str) -> bool:
    code = _compact(value)
    return (
        len(code) == 10
        and code[:9].isdigit()
        and (code[9].isdigit() or code[9] == "X")
        and _check_digit_10(code[:9]) == code[9]
        and _plausible(code)
    )


def valid_isbn13(value: str) -> bool:
    code = _compact(value)
    return (
        len(code) == 13
        and code.isdigit()
        and code[:3] in ("978", "979")
        and _check_digit_13(code[:12]) == code[12]
        and _plausible(code[3:])
    )


def complete_isbn13(first_twelve: str) -> str:
    """The ISBN-13 that starts with these twelve digits (its check digit added)."""
    return first_twelve + _check_digit_13(first_twelve)


def isbn10_to_13(isbn10: str) -> str:
    return complete_isbn13("978" + _compact(isbn10)[:9])


def isbn13_to_10(isbn13: str) -> str | None:
    """The ISBN-10 of a 978 ISBN-13; 979 numbers have none."""
    code = _compact(isbn13)
    if not code.startswith("978"):
        return None
    body = code[3:12]
    return body + _check_digit_10(body)


def normalize_isbn(value: str | None) -> tuple[str | None, str | None]:
    """``(isbn_10, isbn_13)`` from one identifier string; ``(None, None)`` when it is no ISBN."""
    if not value:
        return None, None
    code = _compact(value)
    if valid_isbn13(code):
        return isbn13_to_10(code), code
    if valid_isbn10(code):
        return code, isbn10_to_13(code)
    return None, None


def find_isbns(values: list[str]) -> tuple[str | None, str | None]:
    """The first valid ISBN among identifier strings: exact values first, then ISBNs inside
    text that names them ("ISBN 978-..." or "urn:isbn:...")."""
    for value in values:
        found = normalize_isbn(value)
        if found[1]:
            return found
    for value in values:
        if "isbn" not in value.lower():
            continue  # digits inside UUIDs and other ids must not pass for an ISBN by chance
        for match in _CANDIDATE.finditer(value[:10_000]):
            found = normalize_isbn(match.group(0))
            if found[1]:
                return found
    return None, None
