"""Generated library rows for benchmarks and tests: varied, realistic-looking, reproducible.

Titles, authors, languages, genres and tags are drawn from small word lists in several
languages (with accents, so folding matters), seeded so two runs produce the same books.
Rows go in with COPY, which fires the search-vector trigger like any insert.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg

FIRST_NAMES = (
    "Ursula",
    "Terry",
    "Jane",
    "Gabriel",
    "Haruki",
    "Chimamanda",
    "Fyodor",
    "Leo",
    "Isabel",
    "Jorge",
    "Margaret",
    "Octavia",
    "Ray",
    "Agatha",
    "Italo",
    "Umberto",
    "Günter",
    "Stanisław",
    "Virginia",
    "Toni",
    "Kazuo",
    "Naguib",
    "Orhan",
    "Wisława",
    "Émile",
    "José",
    "Łucja",
    "Björn",
    "Søren",
    "Zoë",
    "Amélie",
    "Ngũgĩ",
    "Elena",
    "Mikhail",
    "Yukio",
    "Clarice",
    "Roberto",
    "Olga",
    "Salman",
    "Arundhati",
    "Ken",
    "Liu",
    "Nnedi",
    "N. K.",
    "J. R. R.",
    "Ann",
    "Iain",
    "China",
    "Neil",
    "Susanna",
    "Patrick",
    "Robin",
    "Brandon",
    "Frank",
)
LAST_NAMES = (
    "Le Guin",
    "Pratchett",
    "Austen",
    "García Márquez",
    "Murakami",
    "Adichie",
    "Dostoevsky",
    "Tolstoy",
    "Allende",
    "Borges",
    "Atwood",
    "Butler",
    "Bradbury",
    "Christie",
    "Calvino",
    "Eco",
    "Grass",
    "Lem",
    "Woolf",
    "Morrison",
    "Ishiguro",
    "Mahfouz",
    "Pamuk",
    "Szymborska",
    "Zola",
    "Saramago",
    "Brontë",
    "Müller",
    "Kierkegaard",
    "Hœg",
    "Ferrante",
    "Bulgakov",
    "Mishima",
    "Lispector",
    "Bolaño",
    "Tokarczuk",
    "Rushdie",
    "Roy",
    "Tolkien",
    "Jemisin",
    "Okorafor",
    "Leckie",
    "Banks",
    "Miéville",
    "Gaiman",
    "Clarke",
    "Rothfuss",
    "Hobb",
    "Sanderson",
    "Herbert",
    "Cixin",
    "Chiang",
    "Fernández",
    "Nuñez",
    "Ødegård",
    "Çelik",
)
TITLE_WORDS = {
    "en": (
        "shadow",
        "river",
        "winter",
        "garden",
        "silence",
        "empire",
        "memory",
        "glass",
        "night",
        "stranger",
        "dragon",
        "city",
        "ocean",
        "fire",
        "house",
        "crown",
        "stars",
        "hobbit",
        "forest",
        "letters",
        "kingdom",
        "journey",
        "secret",
        "broken",
        "last",
        "hidden",
        "storm",
        "wind",
        "bones",
        "light",
        "song",
        "island",
        "machine",
        "road",
        "mirror",
    ),
    "fr": (
        "étranger",
        "mémoire",
        "nuit",
        "château",
        "rivière",
        "été",
        "hiver",
        "cœur",
        "forêt",
        "lumière",
        "amour",
        "guerre",
        "paix",
        "éducation",
        "misérables",
        "voyage",
        "île",
        "père",
        "mère",
        "reine",
        "rêve",
        "siècle",
        "vérité",
    ),
    "de": (
        "Schatten",
        "Fluss",
        "Straße",
        "Mädchen",
        "Bücher",
        "Zauberberg",
        "Nacht",
        "Wald",
        "Träume",
        "Grün",
        "König",
        "Schloß",
        "Brücke",
        "Sommer",
        "Vögel",
        "Glück",
    ),
    "es": (
        "soledad",
        "años",
        "amor",
        "cólera",
        "casa",
        "espíritus",
        "corazón",
        "niño",
        "sueño",
        "montaña",
        "cielo",
        "canción",
        "sombra",
        "viento",
        "ciudad",
        "olvido",
    ),
    "it": (
        "nome",
        "rosa",
        "città",
        "invisibili",
        "notte",
        "inverno",
        "viaggiatore",
        "pendolo",
        "amica",
        "geniale",
        "gattopardo",
        "libertà",
        "stella",
        "mare",
    ),
    "pt": ("ensaio", "cegueira", "memorial", "convento", "coração", "saudade", "noite", "mar"),
    "pl": ("Solaris", "bieguni", "księgi", "jakubowe", "podróż", "miasto", "dziennik", "ogród"),
}
TITLE_TEMPLATES = (
    "The {a} {b}",
    "{a} and {b}",
    "A {a} of {b}",
    "The {a} of the {b}",
    "{a}",
    "{a} {b}",
    "Beyond the {a}",
    "Chronicles of the {a}",
    "{a}: A Novel",
    "The Last {a}",
    "{a} in {b}",
    "{a}'s {b}",
    "Of {a} and {b}",
    "{a}, {b}",
    "Under the {a}",
    "The {a}",
    "My {a}",
    "{a} {b}: Stories",
    "Notes on {a}",
    "The Book of {a}",
    "{a} at {b}",
    "Songs of {b}",
    "{a} Without {b}",
    "After the {a}",
    "When {a} Falls",
    "{a} & {b}",
    "{a} {b} {c}",
    "Le {a} de {b}",
    "Die {a} der {b}",
    "El {a} del {b}",
    "Il {a} di {b}",
    "{a} ({b} #{n})",
)
GENRES = (
    "Fantasy",
    "Science Fiction",
    "Mystery",
    "Romance",
    "Historical Fiction",
    "Poetry",
    "Philosophy",
    "Biography",
    "History",
    "Horror",
    "Thriller",
    "Classics",
    "Essays",
    "Young Adult",
    "Graphic Novel",
    "Travel",
    "Science",
    "Cookery",
    "Économie",
    "Littérature",
)
TAGS = (
    "to-read",
    "favourite",
    "book-club",
    "signed",
    "borrowed",
    "reread",
    "gift",
    "audiobook",
    "série",
    "long",
    "short",
    "award-winner",
    "translated",
    "kindle",
    "paper",
)
LANGUAGES = ("en", "en", "en", "en", "fr", "de", "es", "it", "pt", "pl", "ja", "ru")
FORMATS = ("epub", "epub", "epub", "pdf", "mobi", "azw3", "cbz", "fb2")
DEVICES = ("Kobo Libra 2", "PocketBook Era", "Kindle Oasis")
DESCRIPTION_WORDS = (
    "a",
    "story",
    "of",
    "love",
    "loss",
    "and",
    "war",
    "in",
    "the",
    "old",
    "world",
    "new",
    "family",
    "secrets",
    "journey",
    "across",
    "sea",
    "mountains",
    "unforgettable",
    "novel",
    "voice",
    "generation",
    "brilliant",
    "dark",
    "funny",
    "tender",
    "portrait",
    "life",
)

SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ren",
    "dor",
    "vel",
    "an",
    "is",
    "tor",
    "bel",
    "mar",
    "sen",
    "ri",
    "vo",
    "ul",
    "ek",
    "nad",
    "fis",
    "gro",
    "han",
    "é",
    "ström",
    "ça",
    "ña",
    "zu",
    "pe",
    "tra",
    "quin",
)


def _pseudo_words(rng: random.Random, count: int, syllables: tuple[int, int]) -> list[str]:
    """Made-up words, so the vocabulary is as large as a real library's (not 300 words)."""
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(*syllables))))
    ordered = sorted(words)  # sets iterate in hash order: sort, then shuffle with the seed
    rng.shuffle(ordered)
    return ordered


def _zipf_weights(count: int) -> list[float]:
    # A few words are everywhere, most are rare: roughly how words in titles are spread.
    return [1.0 / (rank + 5) for rank in range(count)]


BOOK_COLUMNS = (
    "id",
    "status",
    "title",
    "author",
    "isbn_13",
    "publisher",
    "published_year",
    "language",
    "description",
    "page_count",
    "genres",
    "tags",
    "approved_at",
)
FILE_COLUMNS = (
    "book_id",
    "format",
    "original_name",
    "storage_path",
    "file_size",
    "checksum",
    "content_hash",
)
PROGRESS_COLUMNS = ("document", "device", "device_id", "progress", "percentage", "timestamp")


class Vocabulary:
    """Made-up surnames and title words with a long tail, beside the real-looking lists."""

    def __init__(self, rng: random.Random) -> None:
        self.surnames = [w.capitalize() for w in _pseudo_words(rng, 6_000, (2, 3))]
        self.surname_weights = _zipf_weights(len(self.surnames))
        self.words = _pseudo_words(rng, 12_000, (2, 4))
        self.word_weights = _zipf_weights(len(self.words))

    def surname(self, rng: random.Random) -> str:
        if rng.random() < 0.3:
            return rng.choice(LAST_NAMES)
        return rng.choices(self.surnames, self.surname_weights)[0]

    def word(self, rng: random.Random, language: str) -> str:
        if rng.random() < 0.5:
            words = TITLE_WORDS.get(language) or TITLE_WORDS["en"]
            if rng.random() < 0.25:  # some titles mix languages, as real libraries do
                words = TITLE_WORDS[rng.choice(tuple(TITLE_WORDS))]
            return rng.choice(words)
        return rng.choices(self.words, self.word_weights)[0]


def _title(rng: random.Random, language: str, vocabulary: Vocabulary) -> str:
    a, b, c = (vocabulary.word(rng, language) for _ in range(3))
    title = rng.choice(TITLE_TEMPLATES).format(
        a=a.capitalize(), b=b.capitalize(), c=c.capitalize(), n=rng.randint(1, 12)
    )
    if rng.random() < 0.1:
        title += f" {rng.randint(2, 9)}"
    return title


def generate_books(count: int, seed: int = 7) -> Iterator[tuple[tuple, list[tuple], list[tuple]]]:
    """``count`` organized books: (book row, file rows, progress rows), in COPY column order."""
    rng = random.Random(seed)
    vocabulary = Vocabulary(rng)
    now = datetime.now(UTC)
    for index in range(count):
        book_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        language = rng.choice(LANGUAGES)
        author = f"{rng.choice(FIRST_NAMES)} {vocabulary.surname(rng)}"
        description = " ".join(rng.choice(DESCRIPTION_WORDS) for _ in range(rng.randint(8, 40)))
        book = (
            book_id,
            "organized",
            _title(rng, language, vocabulary),
            author if rng.random() > 0.01 else None,
            f"978{rng.randrange(10**9, 10**10)}",
            rng.choice(("Penguin", "Gallimard", "Suhrkamp", "Anagrama", "Einaudi", "Tor")),
            rng.randint(1800, 2025) if rng.random() > 0.05 else None,
            language,
            description,
            rng.randint(80, 1200),
            rng.sample(GENRES, rng.randint(0, 3)),
            rng.sample(TAGS, rng.randint(0, 2)),
            now,
        )
        files = []
        progress = []
        for number in range(1 if rng.random() < 0.9 else 2):
            fmt = rng.choice(FORMATS)
            digest = hashlib.md5(f"{seed}-{index}-{number}".encode()).hexdigest()
            files.append(
                (
                    book_id,
                    fmt,
                    f"book-{index}-{number}.{fmt}",
                    f"library/{index % 1000}/book-{index}-{number}.{fmt}",
                    rng.randint(100_000, 30_000_000),
                    hashlib.sha256(digest.encode()).hexdigest(),
                    digest,
                )
            )
            if number == 0 and rng.random() < 0.03:
                progress.append(
                    (
                        digest,
                        rng.choice(DEVICES),
                        "dev-1",
                        f"/body/DocFragment[{rng.randint(1, 40)}]",
                        round(rng.random(), 4),
                        int(now.timestamp()) - rng.randint(0, 10**7),
                    )
                )
        yield book, files, progress


async def fill(conn: asyncpg.Connection, count: int, seed: int = 7, batch: int = 20_000) -> None:
    """Insert ``count`` generated organized books (with files and some progress) via COPY."""
    generator = generate_books(count, seed)
    remaining = count
    while remaining > 0:
        books, files, progress = [], [], []
        for _ in range(min(batch, remaining)):
            book, book_files, book_progress = next(generator)
            books.append(book)
            files.extend(book_files)
            progress.extend(book_progress)
        remaining -= len(books)
        await conn.copy_records_to_table("books", records=books, columns=BOOK_COLUMNS)
        await conn.copy_records_to_table("book_files", records=files, columns=FILE_COLUMNS)
        if progress:
            await conn.copy_records_to_table(
                "reading_progress", records=progress, columns=PROGRESS_COLUMNS
            )
    await conn.execute("ANALYZE books; ANALYZE book_files; ANALYZE reading_progress")
