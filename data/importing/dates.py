"""Publication years from the free-form dates that ebook files carry."""

from __future__ import annotations

import re
from datetime import date

# Printing starts in the 1450s; anything earlier in an ebook's metadata is filler such as
# calibre's 0101-01-01 "undefined" date.
EARLIEST_YEAR = 1450
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def latest_year() -> int:
    """Books announced for next year are real; anything later is not."""
    return date.today().year + 1


def normalize_year(value: str | int | None) -> int | None:
    """The year of a date like ``2001``, ``2001-05``, ``2001-05-03T00:00:00Z``, ``May 2001``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        year = value
    else:
        match = _YEAR.search(value[:200])
        if not match:
            return None
        year = int(match.group(1))
    return year if EARLIEST_YEAR <= year <= latest_year() else None
