"""The books, readers and provider answers of `shelver demo`'s sample library.

Public-domain classics in several languages and in all three statuses. Organized books carry
the fields a Google Books candidate filled in; review books carry what their files say, with
Google Books and Hardcover answers to compare; inbox books are as they arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shelver.data.importing.isbn import complete_isbn13, isbn13_to_10
from shelver.data.models import BookFields, BookStatus

# ISBNs -------------------------------------------------------------------------------------


# The catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """One provider's answer for a book: the candidate fields and the confidence it earned."""

    source: str  # "google_books" or "hardcover"
    fields: BookFields
    confidence: float
    remote_id: str
    subtitle: str | None = None
    published_date: str | None = None  # Google's free-form date ("2003", "2003-05-27")
    series: tuple[str, ...] = ()
    selected_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class SampleBook:
    status: BookStatus
    fields: BookFields
    """The book's current fields (for inbox and review books: what the file says)."""
    original_name: str
    arrived_days_ago: float
    format: str = "epub"
    providers: tuple[Provider, ...] = ()
    file_fields: BookFields | None = None
    """What the file itself says, when it differs from the book (organized books)."""
    duplicate_of: str | None = None
    """The title of the organized book this may duplicate."""
    hardcover_ids: tuple[int, int] | None = None
    progress: tuple[Reading, ...] = ()


@dataclass(frozen=True)
class Reading:
    """Where one device stands in a book, and how it got there."""

    device: str
    percentage: float
    hours_ago: float
    history: tuple[tuple[float, float], ...] = field(default=())
    """Earlier positions as (percentage, hours ago)."""
    paged: bool = False


DEVICES = {
    "Kobo Libra 2": "9A41C3E0B7D24F5E8C1A6B2D3E4F5061",
    "Kindle Paperwhite": "5D2E8F0A1B3C4D5E6F708192A3B4C5D6",
    "Pixel 7": "C0FFEE12345678909876543210ABCDEF",
}


def book(
    title: str | None,
    author: str | None,
    year: int | None,
    language: str | None,
    publisher: str | None = None,
    pages: int | None = None,
    genres: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    isbn: str | None = None,
    description: str | None = None,
    cover_url: str | None = None,
) -> BookFields:
    isbn_13 = complete_isbn13(isbn) if isbn else None
    return BookFields(
        title=title,
        author=author,
        isbn_13=isbn_13,
        isbn_10=isbn13_to_10(isbn_13) if isbn_13 else None,
        publisher=publisher,
        published_year=year,
        language=language,
        description=description,
        cover_url=cover_url,
        page_count=pages,
        genres=list(genres),
        tags=list(tags),
    )


def google_cover(volume_id: str) -> str:
    return (
        f"https://books.google.com/books/content?id={volume_id}"
        "&printsec=frontcover&img=1&zoom=1&source=gbs_api"
    )


def hardcover_cover(edition_id: int) -> str:
    return f"https://assets.hardcover.app/edition/{edition_id}/cover.jpg"


def organized(
    fields: BookFields,
    name: str,
    days: float,
    *,
    google_id: str,
    hardcover: tuple[int, int] | None = None,
    progress: tuple[Reading, ...] = (),
) -> SampleBook:
    """An approved book: its file said less than the book now knows (Google filled the rest)."""
    file_fields = fields.model_copy(
        update={"description": None, "page_count": None, "cover_url": None, "tags": []}
    )
    chosen = fields.model_copy(update={"cover_url": google_cover(google_id), "tags": []})
    return SampleBook(
        status=BookStatus.ORGANIZED,
        fields=fields.model_copy(update={"cover_url": google_cover(google_id)}),
        original_name=name,
        arrived_days_ago=days,
        file_fields=file_fields,
        providers=(
            Provider(
                "google_books",
                chosen,
                0.96,
                google_id,
                published_date=str(fields.published_year),
                selected_fields=("description", "page_count", "cover_url"),
            ),
        ),
        hardcover_ids=hardcover,
        progress=progress,
    )


CATALOGUE: tuple[SampleBook, ...] = (
    # Organized ---------------------------------------------------------------------------
    organized(
        book(
            "Pride and Prejudice",
            "Jane Austen",
            1813,
            "en",
            "Penguin Classics",
            480,
            ("Fiction", "Romance", "Classics"),
            ("favourite",),
            "978014143951",
            "Elizabeth Bennet and Mr Darcy misjudge each other across a season of balls, "
            "visits and proposals in Regency England.",
        ),
        "Jane Austen - Pride and Prejudice.epub",
        62,
        google_id="s1gVAAAAYAAJ",
        hardcover=(8473, 30418731),
        progress=(Reading("Kobo Libra 2", 1.0, 24 * 12, ((0.35, 24 * 30), (0.71, 24 * 20))),),
    ),
    organized(
        book(
            "Moby-Dick; or, The Whale",
            "Herman Melville",
            1851,
            "en",
            "Penguin Classics",
            720,
            ("Fiction", "Adventure", "Classics"),
            ("sea",),
            "978014243724",
            "Ishmael signs on with the Pequod, whose captain hunts the white whale that "
            "took his leg.",
        ),
        "moby-dick.epub",
        58,
        google_id="XV8XAAAAYAAJ",
        hardcover=(4112, 31025581),
        progress=(
            Reading("Kobo Libra 2", 0.42, 2, ((0.05, 24 * 9), (0.18, 24 * 6), (0.31, 24 * 2))),
            Reading("Pixel 7", 0.38, 26, ((0.30, 24 * 3),)),
        ),
    ),
    organized(
        book(
            "Frankenstein; or, The Modern Prometheus",
            "Mary Shelley",
            1818,
            "en",
            "Penguin Classics",
            288,
            ("Fiction", "Gothic", "Science Fiction"),
            ("book club",),
            "978014143947",
            "A young scientist builds a living being and flees from it, with consequences "
            "for everyone he loves.",
        ),
        "frankenstein.epub",
        55,
        google_id="2Zc3AAAAYAAJ",
    ),
    organized(
        book(
            "Don Quijote de la Mancha",
            "Miguel de Cervantes",
            1605,
            "es",
            "Real Academia Española",
            1376,
            ("Ficción", "Clásicos"),
            ("español",),
            "978842041214",
            "Un hidalgo manchego, enloquecido por los libros de caballerías, sale a "
            "recorrer los caminos con su escudero Sancho Panza.",
        ),
        "Cervantes - Don Quijote.epub",
        51,
        google_id="qJk6AQAAMAAJ",
    ),
    organized(
        book(
            "Les Misérables",
            "Victor Hugo",
            1862,
            "fr",
            "Le Livre de Poche",
            1664,
            ("Roman", "Classiques"),
            ("français",),
            "978225309681",
            "Jean Valjean, ancien forçat, cherche la rédemption tandis que l'inspecteur "
            "Javert le poursuit à travers la France du XIXe siècle.",
        ),
        "Les Misérables.epub",
        47,
        google_id="mZ0GAAAAQAAJ",
        progress=(Reading("Kindle Paperwhite", 0.23, 24 * 5, ((0.11, 24 * 15),)),),
    ),
    organized(
        book(
            "Die Verwandlung",
            "Franz Kafka",
            1915,
            "de",
            "Reclam",
            80,
            ("Erzählung", "Klassiker"),
            ("kurz",),
            "978315009900",
            "Gregor Samsa erwacht eines Morgens als Ungeziefer und seine Familie muss damit leben.",
        ),
        "kafka_die_verwandlung.epub",
        44,
        google_id="H2kNAQAAMAAJ",
        progress=(Reading("Pixel 7", 0.97, 24 * 8, ((0.5, 24 * 9),)),),
    ),
    organized(
        book(
            "Анна Каренина",
            "Лев Толстой",
            1878,
            "ru",
            "Азбука",
            864,
            ("Роман", "Классика"),
            ("русский",),
            "978538900456",
            "История замужней петербургской дамы и её любви к графу Вронскому на фоне "
            "жизни Левина в деревне.",
        ),
        "Анна Каренина.epub",
        40,
        google_id="fIJ1AAAAMAAJ",
        progress=(Reading("Kobo Libra 2", 0.12, 24 * 45, ((0.04, 24 * 50),)),),
    ),
    organized(
        book(
            "吾輩は猫である",
            "夏目漱石",
            1905,
            "ja",
            "新潮文庫",
            544,
            ("小説", "古典"),
            ("日本語",),
            "978410101001",
            "名前のない猫が、苦沙弥先生の家に集まる人々を皮肉たっぷりに観察する。",
        ),
        "吾輩は猫である.epub",
        36,
        google_id="8Q1bAAAAMAAJ",
    ),
    organized(
        book(
            "The Adventures of Sherlock Holmes",
            "Arthur Conan Doyle",
            1892,
            "en",
            "Oxford World's Classics",
            400,
            ("Mystery", "Short Stories"),
            ("detective",),
            "978019953695",
            "Twelve cases of the consulting detective of Baker Street, told by his friend "
            "Dr Watson.",
        ),
        "sherlock_holmes_adventures.epub",
        30,
        google_id="aLg3AQAAIAAJ",
        progress=(Reading("Pixel 7", 0.85, 0.3, ((0.61, 24 * 2), (0.74, 20))),),
    ),
    organized(
        book(
            "Dracula",
            "Bram Stoker",
            1897,
            "en",
            "Penguin Classics",
            488,
            ("Horror", "Gothic", "Epistolary"),
            ("october",),
            "978014143984",
            "Letters and diaries trace a Transylvanian count's arrival in England and the "
            "friends who band together against him.",
        ),
        "Bram Stoker - Dracula.epub",
        24,
        google_id="0rQNAAAAYAAJ",
        hardcover=(1512, 28311050),
        progress=(
            Reading("Kindle Paperwhite", 0.67, 3, ((0.2, 24 * 6), (0.45, 24 * 3), (0.58, 27))),
        ),
    ),
    organized(
        book(
            "Il Principe",
            "Niccolò Machiavelli",
            1532,
            "it",
            "Einaudi",
            208,
            ("Filosofia politica",),
            ("italiano",),
            "978880618106",
            "Un trattato su come si conquistano e si mantengono i principati, dedicato a "
            "Lorenzo de' Medici.",
        ),
        "il_principe.epub",
        20,
        google_id="Gn0JAQAAMAAJ",
    ),
    organized(
        book(
            "Middlemarch",
            "George Eliot",
            1871,
            "en",
            "Penguin Classics",
            880,
            ("Fiction", "Classics"),
            (),
            "978014143954",
            "Lives, marriages and ambitions in a provincial English town on the eve of reform.",
        ),
        "middlemarch.epub",
        16,
        google_id="WxQNAAAAYAAJ",
    ),
    organized(
        book(
            "The Time Machine",
            "H. G. Wells",
            1895,
            "en",
            "Penguin Classics",
            128,
            ("Science Fiction",),
            ("short",),
            "978014143997",
            "A Victorian inventor travels to the year 802,701 and finds humanity split in two.",
        ),
        "The Time Machine.epub",
        12,
        google_id="ZkIvAAAAYAAJ",
    ),
    organized(
        book(
            "Max Havelaar",
            "Multatuli",
            1860,
            "nl",
            "Van Oorschot",
            352,
            ("Roman", "Klassiekers"),
            ("nederlands",),
            "978902821220",
            "Een koloniaal ambtenaar op Java komt in verzet tegen de uitbuiting van de bevolking.",
        ),
        "Multatuli - Max Havelaar.epub",
        9,
        google_id="y5YIAQAAMAAJ",
    ),
    # Review ------------------------------------------------------------------------------
    SampleBook(
        BookStatus.REVIEW,
        book("The Count of Monte Cristo", "Dumas, Alexandre", None, "en"),
        "The Count of Monte Cristo.epub",
        6.5,
        providers=(
            Provider(
                "google_books",
                book(
                    "The Count of Monte Cristo",
                    "Alexandre Dumas",
                    2003,
                    "en",
                    "Penguin Classics",
                    1276,
                    ("Fiction", "Classics", "Historical"),
                    isbn="978014044926",
                    description="Thrown in prison for a crime he did not commit, Edmond "
                    "Dantès escapes and returns rich, patient and set on revenge.",
                    cover_url=google_cover("Fp3aAAAAMAAJ"),
                ),
                0.91,
                "Fp3aAAAAMAAJ",
                published_date="2003-05-27",
            ),
            Provider(
                "hardcover",
                book(
                    "The Count of Monte Cristo",
                    "Alexandre Dumas",
                    1844,
                    "en",
                    None,
                    1276,
                    ("Classics", "Fiction", "Adventure"),
                    isbn="978014044926",
                    description="A wronged sailor's long road from the Château d'If to vengeance.",
                    cover_url=hardcover_cover(28790571),
                ),
                0.84,
                "7213",
                series=(),
            ),
        ),
    ),
    SampleBook(
        BookStatus.REVIEW,
        book("Wuthering Heights", "Emily Bronte", 1847, "en", isbn="978014143955"),
        "wuthering_heights.epub",
        6.0,
        providers=(
            Provider(
                "google_books",
                book(
                    "Wuthering Heights",
                    "Emily Brontë",
                    2003,
                    "en",
                    "Penguin Classics",
                    416,
                    ("Fiction", "Classics", "Romance"),
                    isbn="978014143955",
                    description="<p>Catherine and <i>Heathcliff</i>: a love that ruins "
                    "two families on the Yorkshire moors.</p>",
                    cover_url=google_cover("PmYpAQAAMAAJ"),
                ),
                0.95,
                "PmYpAQAAMAAJ",
                published_date="2003-02",
            ),
            Provider(
                "hardcover",
                book(
                    "Wuthering Heights",
                    "Emily Brontë",
                    1847,
                    "en",
                    None,
                    416,
                    ("Classics", "Gothic", "Romance"),
                    isbn="978014143955",
                    cover_url=hardcover_cover(30102877),
                ),
                0.88,
                "4822",
            ),
        ),
    ),
    SampleBook(
        BookStatus.REVIEW,
        book("Siddhartha", "Hermann Hesse", None, "de", genres=("Erzählung",)),
        "Hesse - Siddhartha.epub",
        5.2,
        providers=(
            Provider(
                "google_books",
                book(
                    "Siddhartha",
                    "Hermann Hesse",
                    1974,
                    "de",
                    "Suhrkamp",
                    128,
                    ("Fiction",),
                    isbn="978351836682",
                    description="Eine indische Dichtung über die Suche nach Erleuchtung.",
                    cover_url=google_cover("kF4tAAAAYAAJ"),
                ),
                0.64,
                "kF4tAAAAYAAJ",
                subtitle="Eine indische Dichtung",
                published_date="1974",
            ),
            Provider(
                "hardcover",
                book(
                    "Siddhartha",
                    "Hermann Hesse",
                    1922,
                    "en",
                    None,
                    152,
                    ("Classics", "Philosophy", "Spirituality"),
                    isbn="978055320884",
                    cover_url=hardcover_cover(29551033),
                ),
                0.57,
                "1931",
            ),
        ),
    ),
    SampleBook(
        BookStatus.REVIEW,
        book("Madame Bovary", "Gustave Flaubert", 1857, "fr"),
        "flaubert-madame-bovary.epub",
        4.1,
        providers=(
            Provider(
                "google_books",
                book(
                    "Madame Bovary",
                    "Gustave Flaubert",
                    2001,
                    "fr",
                    "Folio",
                    512,
                    ("Fiction", "Classics"),
                    isbn="978207041311",
                    description="Emma Bovary, épouse d'un médecin de campagne, rêve "
                    "d'une autre vie.",
                    cover_url=google_cover("r2wqAAAAYAAJ"),
                ),
                0.93,
                "r2wqAAAAYAAJ",
                subtitle="Mœurs de province",
                published_date="2001-09",
            ),
        ),
    ),
    SampleBook(
        BookStatus.REVIEW,
        book("War & Peace", "Tolstoy, Leo", None, "en"),
        "War and Peace (Maude translation).epub",
        3.3,
        providers=(
            Provider(
                "google_books",
                book(
                    "War and Peace",
                    "Leo Tolstoy",
                    2010,
                    "en",
                    "Oxford University Press",
                    1392,
                    ("Fiction", "Historical"),
                    isbn="978019923276",
                    cover_url=google_cover("4BmwAAAAIAAJ"),
                ),
                0.72,
                "4BmwAAAAIAAJ",
                published_date="2010-09-09",
            ),
            Provider(
                "hardcover",
                book(
                    "War and Peace: Vol. 2",
                    "Leo Tolstoy",
                    1869,
                    "en",
                    None,
                    688,
                    ("Classics", "Historical Fiction"),
                    cover_url=hardcover_cover(1174),
                ),
                0.46,
                "9022",
                series=("War and Peace",),
            ),
        ),
    ),
    SampleBook(
        BookStatus.REVIEW,
        book("Great Expectations", "Charles Dickens", 1861, "en"),
        "great_expectations.epub",
        2.7,
        providers=(
            Provider(
                "google_books",
                book(
                    "Great Expectations (Graphic Novel)",
                    "Jen Green",
                    2011,
                    "en",
                    "Classical Comics",
                    144,
                    ("Comics & Graphic Novels",),
                    isbn="978190633276",
                    cover_url=google_cover("c3l0AQAAQBAJ"),
                ),
                0.31,
                "c3l0AQAAQBAJ",
                published_date="2011",
            ),
            Provider(
                "hardcover",
                book(
                    "Great Expectations",
                    "Charles Dickens",
                    1861,
                    "en",
                    None,
                    544,
                    ("Classics", "Fiction"),
                    isbn="978014143956",
                    description="Pip, an orphan, learns that a secret benefactor has "
                    "made him a gentleman.",
                    cover_url=hardcover_cover(27615400),
                ),
                0.89,
                "2623",
            ),
        ),
    ),
    # Inbox -------------------------------------------------------------------------------
    SampleBook(
        BookStatus.INBOX,
        book("The Picture of Dorian Gray", "Oscar Wilde", 1890, "en", genres=("Fiction",)),
        "The Picture of Dorian Gray.epub",
        0.014,
    ),
    SampleBook(
        BookStatus.INBOX,
        book("Alice's Adventures in Wonderland", "Lewis Carroll", 1865, "en"),
        "alice-in-wonderland.epub",
        0.09,
    ),
    SampleBook(
        BookStatus.INBOX,
        book("Pride and Prejudice", "Jane Austen", None, "en"),
        "pride_and_prejudice_scan.pdf",
        0.21,
        format="pdf",
        duplicate_of="Pride and Prejudice",
    ),
    SampleBook(
        BookStatus.INBOX,
        book("Vingt mille lieues sous les mers", "Jules Verne", 1870, "fr", genres=("adventure",)),
        "Verne - Vingt mille lieues sous les mers.fb2",
        1.1,
        format="fb2",
    ),
    SampleBook(BookStatus.INBOX, book("Beowulf", None, None, "en"), "beowulf.epub", 3.0),
    SampleBook(BookStatus.INBOX, book(None, None, None, None), "scan_0042.pdf", 4.2, format="pdf"),
    SampleBook(
        BookStatus.INBOX,
        book("Heart of Darkness", "Joseph Conrad", 1899, "en"),
        "Joseph Conrad - Heart of Darkness.epub",
        5.9,
    ),
)

# A position synced from a book that is not in the library (yet).
UNLINKED_DOCUMENT = "3f1c0d2b9a8e7f6051a4b3c2d1e0f9a8"
UNLINKED_READING = Reading("Kindle Paperwhite", 0.31, 30, ((0.12, 24 * 4),))
