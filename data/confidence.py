"""How well a candidate fits what the book's file says: a score in 0..1 and its strength.

The score:

* **ISBN** dominates. When both sides have an ISBN (ISBN-10s are compared as ISBN-13s):
  equal -> ``0.72 + 0.28 * m`` (an ISBN alone is strong; an ISBN whose title and author both
  disagree is not); different -> ``0.80 * m`` (another edition at best, never strong); when
  either side has none -> ``m``.
* ``m`` is a weighted mean of field similarities: title 0.45, author 0.35, year 0.08,
  language 0.06, page count 0.06. A field missing on either side counts as a neutral 0.5 with
  half its weight, so missing fields neither reward nor punish much.
* Titles and names are compared after normalising: case, accents, punctuation, leading
  articles (en, fr, de, es, it, pt, nl), subtitles (after ``:``, `` - ``, ``(``, ``, or``) and
  "Last, First" order; similarity is rapidfuzz's ratio, with the best of full and main title,
  squared for titles so that a near miss ("Philosopher's" / "Sorcerer's Stone") counts clearly
  less than the same title.

Strength: **strong** >= 0.85, **medium** >= 0.60, else **weak**. Only a strong candidate
pre-selects its fields on the Review screen.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from rapidfuzz import fuzz

from shelver.data.models import BookFields
from shelver.data.providers import normalize

STRONG = 0.85
MEDIUM = 0.60
WEIGHTS = {"title": 0.45, "author": 0.35, "year": 0.08, "language": 0.06, "pages": 0.06}
MISSING_VALUE = 0.5
MISSING_WEIGHT = 0.5
ISBN_MATCH_FLOOR = 0.72
ISBN_MISMATCH_CAP = 0.80

LEADING_ARTICLES = {
    "the", "a", "an",  # en
    "le", "la", "les", "l", "un", "une",  # fr
    "der", "die", "das", "ein", "eine",  # de
    "el", "los", "las", "una",  # es
    "il", "lo", "gli", "i", "uno",  # it
    "o", "os", "as", "um", "uma",  # pt
    "de", "het", "een",  # nl
}  # fmt: skip
SUBTITLE_BREAK = re.compile(r"\s*(?::|\s-\s|\s–\s|\s—\s|\(|\[|,\s*or\b|;\s*or\b)", re.I)
NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


class Strength(StrEnum):
    """How far a candidate can be trusted without a look."""

    STRONG = "strong"
    MEDIUM = "medium"
    WEAK = "weak"


def strength(score: float) -> Strength:
    """The strength of a confidence score."""
    if score >= STRONG:
        return Strength.STRONG
    if score >= MEDIUM:
        return Strength.MEDIUM
    return Strength.WEAK


def fold(value: str) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Apostrophes join ("l'homme" -> "l homme" keeps the article separable).
    return " ".join(NON_WORD.sub(" ", stripped).split())


def _drop_article(folded: str) -> str:
    words = folded.split(" ")
    if len(words) > 1 and words[0] in LEADING_ARTICLES:
        return " ".join(words[1:])
    return folded


def title_keys(title: str) -> tuple[str, str]:
    """(full, main) normalised forms of a title; main stops before a subtitle."""
    main = SUBTITLE_BREAK.split(title, maxsplit=1)[0]
    return _drop_article(fold(title)), _drop_article(fold(main) or fold(title))


def title_similarity(a: str, b: str) -> float:
    """0..1: full titles, or main titles when a subtitle is on one side only.

    When both sides have (different) subtitles, the main titles count only half: "Dune:
    Part One" and "Dune: Messiah" are not the same book just because both start with "Dune".
    """
    full_a, main_a = title_keys(a)
    full_b, main_b = title_keys(b)
    if not (full_a and full_b):
        return 0.0
    whole = fuzz.ratio(full_a, full_b)
    main = fuzz.ratio(main_a, main_b)
    has_sub_a, has_sub_b = main_a != full_a, main_b != full_b
    if has_sub_a and has_sub_b:
        best = max(whole, (main + whole) / 2)
    elif has_sub_a or has_sub_b:
        best = max(whole, main)
    else:
        best = whole
    return best / 100.0


def name_key(name: str) -> str:
    """A person's name folded, in "First Last" order."""
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    return fold(name)


def _name_similarity(a: str, b: str) -> float:
    key_a, key_b = name_key(a), name_key(b)
    if not (key_a and key_b):
        return 0.0
    score = fuzz.token_sort_ratio(key_a, key_b) / 100.0
    words_a, words_b = key_a.split(), key_b.split()
    # Same surname and compatible initials ("J R R Tolkien" vs "John Ronald Reuel Tolkien").
    if words_a[-1] == words_b[-1] and len(words_a) > 1 and len(words_b) > 1:
        initials_a = [w[0] for w in words_a[:-1]]
        initials_b = [w[0] for w in words_b[:-1]]
        if initials_a[0] == initials_b[0]:
            score = max(score, 0.9)
    return score


def author_similarity(a: str, b: str) -> float:
    """0..1: each of ``a``'s authors against its best match in ``b``, mostly one way.

    Extra names on the candidate side (translators, co-authors) cost little.
    """
    names_a, names_b = normalize.authors_of(a), normalize.authors_of(b)
    if not (names_a and names_b):
        return 0.0

    def covered(xs: list[str], ys: list[str]) -> float:
        return sum(max(_name_similarity(x, y) for y in ys) for x in xs) / len(xs)

    return 0.8 * covered(names_a, names_b) + 0.2 * covered(names_b, names_a)


def year_similarity(a: int, b: int) -> float:
    """Editions move years around: close years still count."""
    gap = abs(a - b)
    if gap == 0:
        return 1.0
    if gap == 1:
        return 0.8
    if gap <= 5:
        return 0.4
    return 0.0


def pages_similarity(a: int, b: int) -> float:
    """Page counts of ebooks are rough: within 10% is a match, half or less is none."""
    ratio = min(a, b) / max(a, b)
    if ratio >= 0.9:
        return 1.0
    return max(0.0, (ratio - 0.5) / 0.4)


def isbn13s(fields: BookFields) -> set[str]:
    """The ISBNs of a record, all as ISBN-13."""
    found: set[str] = set()
    if thirteen := normalize.isbn_digits(fields.isbn_13):
        found.add(thirteen)
    if (ten := normalize.isbn_digits(fields.isbn_10)) and len(ten) == 10:
        converted = normalize.isbn10_to_13(ten)
        if converted:
            found.add(converted)
    return found


def metadata_score(reference: BookFields, candidate: BookFields) -> float:
    """The weighted field similarity ``m`` (see the module docstring)."""
    parts: dict[str, float | None] = {
        "title": title_similarity(reference.title, candidate.title) ** 2
        if reference.title and candidate.title
        else None,
        "author": author_similarity(reference.author, candidate.author)
        if reference.author and candidate.author
        else None,
        "year": year_similarity(reference.published_year, candidate.published_year)
        if reference.published_year and candidate.published_year
        else None,
        "language": float(
            normalize.language(reference.language) == normalize.language(candidate.language)
        )
        if normalize.language(reference.language) and normalize.language(candidate.language)
        else None,
        "pages": pages_similarity(reference.page_count, candidate.page_count)
        if reference.page_count and candidate.page_count
        else None,
    }
    total = weight_sum = 0.0
    for name, value in parts.items():
        weight = WEIGHTS[name]
        if value is None:
            value, weight = MISSING_VALUE, weight * MISSING_WEIGHT
        total += weight * value
        weight_sum += weight
    return total / weight_sum


def score(reference: BookFields, candidate: BookFields) -> float:
    """Confidence in 0..1 that ``candidate`` describes the book ``reference`` describes."""
    meta = metadata_score(reference, candidate)
    ours, theirs = isbn13s(reference), isbn13s(candidate)
    if ours and theirs:
        if ours & theirs:
            result = ISBN_MATCH_FLOOR + (1 - ISBN_MATCH_FLOOR) * meta
        else:
            result = ISBN_MISMATCH_CAP * meta
    else:
        result = meta
    return round(min(1.0, max(0.0, result)), 4)
