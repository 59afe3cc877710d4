"""The confidence score: a table of realistic (file, candidate) pairs pins its behaviour."""

from __future__ import annotations

import pytest

from shelver.data.confidence import (
    Strength,
    author_similarity,
    score,
    strength,
    title_keys,
    title_similarity,
)
from shelver.data.models import BookFields

F = BookFields

# (what the file says, what a provider answered, expected strength, why)
PAIRS = [
    (
        F(title="Cragside", author="L. J. Ross", isbn_13="9781521748831"),
        F(title="Cragside: A DCI Ryan Mystery", author="L. J. Ross", isbn_13="9781521748831"),
        Strength.STRONG,
        "same ISBN, subtitle only on the candidate",
    ),
    (
        F(title="The Hobbit", author="Tolkien, J.R.R.", isbn_10="0007458428"),
        F(title="The Hobbit", author="J.R.R. Tolkien", isbn_13="9780007458424"),
        Strength.STRONG,
        "ISBN-10 against the same ISBN-13, Last, First",
    ),
    (
        F(title="The Hobbit", author="J. R. R. Tolkien"),
        F(title="The Hobbit, or There and Back Again", author="J.R.R. Tolkien"),
        Strength.STRONG,
        "alternative title after ', or'",
    ),
    (
        F(title="Dans la toile du temps", author="Adrian Tchaikovsky", language="fr"),
        F(title="Dans la toile du temps", author="Adrian Tchaikovsky", language="fr",
          published_year=2019, page_count=704),
        Strength.STRONG,
        "French title, same language",
    ),
    (
        F(title="Les Misérables", author="Victor Hugo"),
        F(title="Miserables", author="Hugo, Victor"),
        Strength.STRONG,
        "accents, leading French article, Last, First",
    ),
    (
        F(title="Der Process", author="Franz Kafka", language="de"),
        F(title="Process", author="Kafka, Franz", language="de"),
        Strength.STRONG,
        "German leading article",
    ),
    (
        F(title="Children of Time", author="Adrian Tchaikovsky", published_year=2015,
          page_count=600),
        F(title="Children of Time", author="Adrian Tchaikovsky", published_year=2018,
          page_count=640),
        Strength.STRONG,
        "later paperback: year off by three, pages close",
    ),
    (
        F(title="Good Omens", author="Terry Pratchett & Neil Gaiman"),
        F(title="Good Omens", author="Neil Gaiman & Terry Pratchett"),
        Strength.STRONG,
        "two authors in another order",
    ),
    (
        F(title="Pink Slime", author="Fernanda Trías"),
        F(title="Pink Slime", author="Fernanda Trías & Heather Cleary"),
        Strength.STRONG,
        "a translator on the candidate costs little",
    ),
    (
        F(title="宇宙の話をしよう", author="小野雅裕", isbn_13="9784815602666"),
        F(title="宇宙の話をしよう", author="小野雅裕", isbn_13="9784815602666", language="ja"),
        Strength.STRONG,
        "Japanese, same ISBN",
    ),
    (
        F(title="Dune"),
        F(title="Dune", author="Frank Herbert", published_year=1965),
        Strength.MEDIUM,
        "title alone cannot be strong",
    ),
    (
        F(title="Cragside", author="L. J. Ross", isbn_13="9781521748831"),
        F(title="Cragside", author="L. J. Ross", isbn_13="9781444846577"),
        Strength.MEDIUM,
        "same work, another edition's ISBN: never strong",
    ),
    (
        F(title="Harry Potter and the Philosopher's Stone", author="J.K. Rowling"),
        F(title="Harry Potter and the Sorcerer's Stone", author="J. K. Rowling"),
        Strength.MEDIUM,
        "US title of the same book",
    ),
    (
        F(title="The Lord of the Rings", author="J.R.R. Tolkien"),
        F(title="Lord of the Rings", author="Jane Chance"),
        Strength.MEDIUM,
        "a book about the book: same title, other author",
    ),
    (
        F(title="The Infirmary", author="L.J. Ross"),
        F(title="The Infirmary", author="Carly Reagon"),
        Strength.MEDIUM,
        "same title, another author's work",
    ),
    (
        F(title="Dune", author="Frank Herbert"),
        F(title="Dune Messiah", author="Frank Herbert"),
        Strength.WEAK,
        "the sequel is another book",
    ),
    (
        F(title="Cragside", author="L. J. Ross", isbn_13="9780000000000"),
        F(title="Ecos De Paris", author="Eça De Queiroz", isbn_13="9780000000002"),
        Strength.WEAK,
        "Google's unrelated answer to a placeholder ISBN",
    ),
    (
        F(title="Normal People", author="Sally Rooney"),
        F(title="Mistborn: The Final Empire", author="Brandon Sanderson"),
        Strength.WEAK,
        "nothing in common",
    ),
    (
        F(title="To Kill a Mockingbird", author="Harper Lee", language="en"),
        F(title="Harry Potter and the Classical World", author="Richard A. Spencer",
          language="en"),
        Strength.WEAK,
        "same language is not enough",
    ),
    (
        F(title="Mistborn", author="Brandon Sanderson", isbn_13="9780765311788"),
        F(title="Elantris", author="Brandon Sanderson", isbn_13="9780765350374"),
        Strength.WEAK,
        "same author, other book and ISBN",
    ),
    (
        F(isbn_13="9780571334650"),
        F(title="Normal People", author="Sally Rooney", isbn_13="9780571334650"),
        Strength.STRONG,
        "a file that only knows its ISBN: the ISBN decides",
    ),
    (
        F(),
        F(title="Normal People", author="Sally Rooney"),
        Strength.WEAK,
        "a file that knows nothing: nothing is certain",
    ),
    (
        F(title="War and Peace", author="Leo Tolstoy", isbn_13="9780099512240"),
        F(title="The Gruffalo's Child", author="Julia Donaldson", isbn_13="9780099512240"),
        Strength.MEDIUM,
        "same ISBN but nothing else agrees: the ISBN still dominates, not strong",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("reference", "candidate", "expected", "why"), PAIRS, ids=[p[3] for p in PAIRS]
)
def test_strength_of_realistic_pairs(
    reference: BookFields, candidate: BookFields, expected: Strength, why: str
) -> None:
    value = score(reference, candidate)
    assert 0.0 <= value <= 1.0
    assert strength(value) is expected, f"{why}: score {value}"


def test_there_are_at_least_twenty_pairs() -> None:
    assert len(PAIRS) >= 20


def test_isbn_equality_dominates_title_noise() -> None:
    reference = F(title="Cragside", author="L. J. Ross", isbn_13="9781521748831")
    same_isbn = F(title="Cragside (DCI Ryan Mysteries Book 6)", isbn_13="9781521748831")
    other_isbn = F(title="Cragside", author="L. J. Ross", isbn_13="9781444846577")
    assert score(reference, same_isbn) > score(reference, other_isbn)


def test_missing_fields_neither_reward_nor_punish_much() -> None:
    reference = F(title="Normal People", author="Sally Rooney", published_year=2018)
    full = F(title="Normal People", author="Sally Rooney", published_year=2018)
    no_year = F(title="Normal People", author="Sally Rooney")
    wrong_year = F(title="Normal People", author="Sally Rooney", published_year=1990)
    assert score(reference, full) >= score(reference, no_year) > score(reference, wrong_year)
    assert score(reference, full) - score(reference, no_year) < 0.05


def test_score_is_symmetric_enough_and_bounded() -> None:
    a = F(title="The Hobbit", author="J.R.R. Tolkien", published_year=1937, page_count=310)
    b = F(title="Hobbit", author="Tolkien, J. R. R.", published_year=1937, page_count=300)
    assert abs(score(a, b) - score(b, a)) < 0.05


def test_thresholds() -> None:
    assert strength(0.85) is Strength.STRONG
    assert strength(0.8499) is Strength.MEDIUM
    assert strength(0.6) is Strength.MEDIUM
    assert strength(0.5999) is Strength.WEAK


def test_title_normalisation() -> None:
    assert title_keys("The Hobbit: Or There and Back Again") == (
        "hobbit or there and back again",
        "hobbit",
    )
    assert title_keys("L'Étranger")[0] == "etranger"
    assert title_similarity("Dune: Part One", "Dune: Messiah") < 0.85
    assert author_similarity("Tolkien, J.R.R.", "J. R. R. Tolkien") == 1.0
    assert author_similarity("John Ronald Reuel Tolkien", "J.R.R. Tolkien") >= 0.9
