"""Unit and property tests of the import machinery that needs no database."""

from __future__ import annotations

import hashlib
import io
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shelver.data.importing.dates import normalize_year
from shelver.data.importing.duplicates import DuplicateKey, is_near_duplicate, title_numbers
from shelver.data.importing.errors import Refused
from shelver.data.importing.examine import Examined, ExamineTask, Unreadable, examine
from shelver.data.importing.formats import detect_format
from shelver.data.importing.hashing import digest_file, digest_stream, partial_md5
from shelver.data.importing.isbn import isbn10_to_13, isbn13_to_10, normalize_isbn, valid_isbn13
from shelver.data.importing.languages import normalize_language
from shelver.data.importing.names import safe_name
from shelver.data.importing.text import TITLE_MAX, clean_line, strip_html
from tests import import_support as gen

# --- partial MD5 -------------------------------------------------------------------------------


def reference_partial_md5(data: bytes) -> str:
    """KOReader's algorithm written out plainly: seek, read 1024, stop at the first empty read."""
    md5 = hashlib.md5()
    for i in range(-1, 11):
        offset = 0 if i == -1 else 1024 << (2 * i)
        sample = data[offset : offset + 1024]
        if not sample:
            break
        md5.update(sample)
    return md5.hexdigest()


def test_partial_md5_known_vectors() -> None:
    assert reference_partial_md5(b"") == hashlib.md5(b"").hexdigest()
    # Under 1 KiB only the first sample exists and it is the whole file.
    assert reference_partial_md5(b"abc") == hashlib.md5(b"abc").hexdigest()
    data = bytes(range(256)) * 20  # 5120 bytes: samples at 0, 1024 and 4096 (short, 1024)
    expected = hashlib.md5(data[0:1024] + data[1024:2048] + data[4096:5120]).hexdigest()
    assert reference_partial_md5(data) == expected


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=1023))
def test_partial_md5_small_files(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    digest = digest_stream(io.BytesIO(data))
    assert digest.content_hash == reference_partial_md5(data)
    assert digest.checksum == hashlib.sha256(data).hexdigest()
    assert digest.size == len(data)


@settings(max_examples=15, deadline=None)
@given(
    size=st.one_of(
        st.integers(min_value=1024, max_value=70_000),
        st.integers(min_value=(1 << 20) + 1, max_value=(5 << 20) + 3000),
        st.sampled_from([1024, 4096, 4097, 16384, 1 << 20, (1 << 20) + 1023, 4 << 20]),
    ),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_partial_md5_large_files(size: int, seed: int) -> None:
    data = random.Random(seed).randbytes(size)
    digest = digest_stream(io.BytesIO(data))
    assert digest.content_hash == reference_partial_md5(data)
    assert digest.checksum == hashlib.sha256(data).hexdigest()


def test_streaming_and_seeking_agree_on_a_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(random.Random(1).randbytes((17 << 20) + 5))  # past the 16 MiB offset
    data = path.read_bytes()
    assert digest_file(path).content_hash == partial_md5(path) == reference_partial_md5(data)


def test_copy_while_hashing(tmp_path: Path) -> None:
    data = random.Random(2).randbytes(3 << 20)
    sink = io.BytesIO()
    digest = digest_stream(io.BytesIO(data), sink)
    assert sink.getvalue() == data and digest.size == len(data)


# --- ISBN ----------------------------------------------------------------------------------------


def isbn13_check(first12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def isbn10_check(first9: str) -> str:
    total = sum(int(d) * (i + 1) for i, d in enumerate(first9))  # the other classic formula
    value = total % 11
    return "X" if value == 10 else str(value)


digits = st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1)


@given(digits)
def test_isbn10_round_trip(first9: str) -> None:
    isbn10 = first9 + isbn10_check(first9)
    isbn_10, isbn_13 = normalize_isbn(isbn10)
    assert isbn_10 == isbn10
    assert isbn_13 == "978" + first9 + isbn13_check("978" + first9)
    assert isbn13_to_10(isbn_13) == isbn10
    assert isbn10_to_13(isbn10) == isbn_13


@given(digits, st.sampled_from(["978", "979"]))
def test_isbn13_with_separators(first9: str, prefix: str) -> None:
    body = prefix + first9
    isbn13 = body + isbn13_check(body)
    dashed = f"{isbn13[:3]}-{isbn13[3]}-{isbn13[4:8]}-{isbn13[8:12]}-{isbn13[12]}"
    isbn_10, isbn_13 = normalize_isbn(f"urn:isbn:{dashed}")
    assert isbn_13 == isbn13
    assert (isbn_10 is None) == (prefix == "979")


@given(digits, st.integers(min_value=1, max_value=9))
def test_wrong_check_digit_is_dropped(first9: str, delta: int) -> None:
    body = "978" + first9
    wrong = str((int(isbn13_check(body)) + delta) % 10)
    assert normalize_isbn(body + wrong) == (None, None)


@pytest.mark.parametrize(
    "value", ["0000000000", "9780000000002", "123", "unknown", "", "978030640615X", "12345678901"]
)
def test_bogus_isbns(value: str) -> None:
    assert normalize_isbn(value)[1] is None


def test_known_isbn() -> None:
    assert normalize_isbn("0-306-40615-2") == ("0306406152", "9780306406157")
    assert valid_isbn13("978-0-306-40615-7")


# --- dates -------------------------------------------------------------------------------------


@given(st.integers(min_value=1450, max_value=2025), st.integers(1, 12), st.integers(1, 28))
def test_years_from_dates(year: int, month: int, day: int) -> None:
    assert normalize_year(f"{year:04d}-{month:02d}-{day:02d}T00:00:00+00:00") == year
    assert normalize_year(f"{year}") == year
    assert normalize_year(f"{day} March {year}") == year


@given(st.integers(min_value=0, max_value=1449))
def test_ancient_filler_years_are_dropped(year: int) -> None:
    assert normalize_year(f"{year:04d}-01-01") is None


@pytest.mark.parametrize("value", ["0101-01-01T00:00:00+00:00", "9999-12-31", "", "n/a", None])
def test_bogus_dates(value: str | None) -> None:
    assert normalize_year(value) is None


@given(st.text(max_size=60))
def test_year_never_crashes(value: str) -> None:
    year = normalize_year(value)
    assert year is None or 1450 <= year <= 3000


# --- languages, text, names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("eng", "en"),
        ("English", "en"),
        ("de-DE", "de"),
        ("ger", "de"),
        ("fre", "fr"),
        ("jp", "ja"),
        ("zh_CN", "zh"),
        ("pt-BR", "pt"),
        ("und", None),
        ("klingon", None),
        ("", None),
    ],
)
def test_languages(value: str, code: str | None) -> None:
    assert normalize_language(value) == code


def test_huge_title_with_control_characters_is_capped() -> None:
    title = clean_line("A\x00B\x07C\n\tD" + "x" * (10 << 20))
    assert title is not None and len(title) <= TITLE_MAX
    assert title.startswith("A B C D") and "\x00" not in title


def test_html_is_stripped() -> None:
    text = strip_html("<p>One <b>bold</b> &amp; two.</p><script>x()</script><p>Second</p>")
    assert text == "One bold & two.\n\nSecond"


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("my book.epub", "epub", "my book.epub"),
        ("-rf.epub", "epub", "rf.epub"),
        ("line\nbreak.pdf", "pdf", "line_break.pdf"),
        ("book.pdf", "epub", "book.epub"),
        ("noext", "fb2", "noext.fb2"),
        ("...hidden.epub", "epub", "hidden.epub"),
        ("Über Bücher.epub", "epub", "Über Bücher.epub"),
    ],
)
def test_safe_names(name: str, fmt: str, expected: str) -> None:
    assert safe_name(name, fmt) == expected


def test_safe_name_is_bounded() -> None:
    assert len(safe_name("é" * 500 + ".epub", "epub").encode()) <= 200


# --- duplicates --------------------------------------------------------------------------------


def key(title: str, author: str | None = "Jane Doe", isbn: str | None = None) -> DuplicateKey:
    import uuid

    return DuplicateKey.of(uuid.uuid4(), title, author, isbn)


def test_near_duplicates() -> None:
    assert is_near_duplicate(key("The Hobbit"), key("Hobbit, The", "jane doe"))
    assert is_near_duplicate(key("Dune: a novel"), key("Dune - A Novel"))
    assert is_near_duplicate(key("X", isbn="9780306406157"), key("Y", "Z", "9780306406157"))
    assert not is_near_duplicate(key("Saga Vol. 2"), key("Saga Vol. 3"))
    assert not is_near_duplicate(key("Saga Volume II"), key("Saga Volume III"))
    assert not is_near_duplicate(key("The Hobbit"), key("The Hobbit", "Someone Else"))
    assert not is_near_duplicate(key("Emma"), key("Dune"))


def test_title_numbers() -> None:
    assert title_numbers("Book IV of 7") == (4, 7)


# --- formats and readers -----------------------------------------------------------------------


def examined(path: Path, covers: Path) -> Examined:
    result = examine(ExamineTask(str(path), None, str(covers)))
    assert isinstance(result, Examined), getattr(result, "reason", result)
    return result


def refused(path: Path, covers: Path) -> Unreadable:
    result = examine(ExamineTask(str(path), None, str(covers)))
    assert isinstance(result, Unreadable), result
    return result


def test_epub(tmp_path: Path) -> None:
    path = gen.make_epub(
        tmp_path / "b.epub",
        title="Generated",
        authors=("Ann One", "Bob Two"),
        isbn="0-306-40615-2",
        date="0101-01-01T00:00:00+00:00",
        language="ger",
        description="<p>Some <i>HTML</i></p>",
        subjects=("Fiction", "fiction", "History"),
        publisher="Pubco",
    )
    result = examined(path, tmp_path / "covers")
    fields = result.fields
    assert (fields.title, fields.author) == ("Generated", "Ann One & Bob Two")
    assert (fields.isbn_10, fields.isbn_13) == ("0306406152", "9780306406157")
    assert fields.published_year is None  # the bogus 0101 date is dropped
    assert fields.language == "de" and fields.description == "Some HTML"
    assert fields.genres == ["Fiction", "History"] and fields.publisher == "Pubco"
    assert result.cover_path and Path(result.cover_path).read_bytes() == gen.TINY_JPEG
    assert result.format == "epub"
    assert result.raw["notes"] == []  # read by ebooklib, no fallback needed


def test_epub_that_ebooklib_rejects_uses_the_fallback(tmp_path: Path) -> None:
    # A manifest entry whose member is missing makes ebooklib raise KeyError.
    opf = gen.opf_document(
        title="Fallback Title",
        extra_manifest=(
            '<item id="gone" href="missing.xhtml#frag" media-type="application/xhtml+xml"/>'
        ),
    )
    result = examined(gen.make_epub(tmp_path / "b.epub", opf=opf), tmp_path / "c")
    assert result.fields.title == "Fallback Title"
    assert result.cover_path is not None
    assert any("ebooklib failed" in note for note in result.raw["notes"])


def test_epub_with_malformed_opf_is_recovered(tmp_path: Path) -> None:
    opf = gen.opf_document(title="Broken & Recovered").replace("</metadata>", "<oops></metadata>")
    opf = opf.replace("Broken &amp; Recovered", "Broken & Recovered")
    result = examined(gen.make_epub(tmp_path / "b.epub", opf=opf), tmp_path / "c")
    assert result.fields.title and result.fields.title.startswith("Broken")


def test_epub_without_mimetype_is_still_an_epub(tmp_path: Path) -> None:
    path = gen.make_epub(tmp_path / "b.bin", mimetype=False)
    assert detect_format(path) == "epub"


def test_pdf(tmp_path: Path) -> None:
    result = examined(gen.make_pdf(tmp_path / "p.pdf"), tmp_path / "c")
    assert (result.fields.title, result.fields.author) == ("A PDF Book", "Pat Pdf")
    assert result.fields.page_count == 2 and result.fields.published_year == 2019


def test_fb2_broken_xml_is_recovered(tmp_path: Path) -> None:
    result = examined(gen.make_fb2(tmp_path / "f.fb2", broken=True), tmp_path / "c")
    fields = result.fields
    assert (fields.title, fields.author, fields.language) == ("An FB2 Book", "Fyodor Writer", "ru")
    assert fields.isbn_13 == "9780306406157" and fields.publisher == "Pub House"
    assert fields.description == "Short annotation."
    assert result.cover_path and result.cover_path.endswith(".png")


def test_cbz(tmp_path: Path) -> None:
    result = examined(gen.make_cbz(tmp_path / "c.cbz"), tmp_path / "c")
    fields = result.fields
    assert fields.title == "Capers #2: The Heist"
    assert fields.author == "Cara Comic & Dan Drawer"
    assert fields.page_count == 3 and fields.genres == ["Crime", "Comedy"]
    assert fields.description == "Bold plans."
    assert result.format == "cbz" and result.cover_path


def test_cbz_without_comic_info(tmp_path: Path) -> None:
    result = examined(gen.make_cbz(tmp_path / "c.cbz", comic_info=False), tmp_path / "c")
    assert result.fields.title is None and result.fields.page_count == 3


def test_mobi(tmp_path: Path) -> None:
    result = examined(gen.make_mobi(tmp_path / "k.mobi"), tmp_path / "c")
    fields = result.fields
    assert (fields.title, fields.author, fields.language) == ("A Kindle Book", "Kim Kindle", "en")
    assert fields.isbn_13 == "9780306406157" and fields.publisher == "Kindle Press"
    assert result.format == "mobi" and result.cover_path


def test_azw3_is_told_apart(tmp_path: Path) -> None:
    result = examined(gen.make_mobi(tmp_path / "k.azw3", version=8), tmp_path / "c")
    assert result.format == "azw3"


def test_wrong_extension_is_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "actually-an-epub.pdf"
    gen.make_epub(path, title="Misnamed")
    result = examined(path, tmp_path / "c")
    assert result.format == "epub" and result.fields.title == "Misnamed"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(gen.epub_bytes()[:500]), "broken ZIP"),
        (lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "broken ZIP"),
        (lambda p: p.write_text("just some text, not a book\n"), "not a recognised"),
        (lambda p: p.write_bytes(b"%PDF-1.4\n%garbage only"), "broken PDF"),
        (gen.make_drm_epub, "DRM"),
        (lambda p: gen.make_epub(p, extra={"META-INF/license.lcpl": b"{}"}), "DRM"),
        (gen.make_encrypted_pdf, "encrypted"),
        (lambda p: gen.make_mobi(p, encryption=2), "DRM"),
        (lambda p: p.write_bytes(b"\0" * 60 + b"BOOKMOBI" + b"\0"), "truncated MOBI"),
        (gen.make_zip_bomb, "zip bomb"),
        (gen.make_many_entries_zip, "entries"),
    ],
    ids=[
        "zero-byte",
        "truncated",
        "not-a-zip",
        "text",
        "bad-pdf",
        "drm-epub",
        "lcp-epub",
        "pdf-password",
        "drm-mobi",
        "short-mobi",
        "zip-bomb",
        "many-entries",
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "bad.epub"
    make(path)
    result = refused(path, tmp_path / "c")
    assert reason.lower() in result.reason.lower()
    assert "\n" not in result.reason
    if reason == "DRM":
        assert result.drm


def test_font_obfuscation_is_not_drm(tmp_path: Path) -> None:
    result = examined(gen.make_font_obfuscated_epub(tmp_path / "f.epub"), tmp_path / "c")
    assert result.fields.title == "Fonts Only"


def test_symlinks_are_refused(tmp_path: Path) -> None:
    target = gen.make_epub(tmp_path / "real.epub")
    link = tmp_path / "link.epub"
    os.symlink(target, link)
    assert "symbolic link" in refused(link, tmp_path / "c").reason


def test_absurd_metadata_is_cleaned(tmp_path: Path) -> None:
    path = gen.make_epub(tmp_path / "a.epub", title="T\x01i\x1ftle " + "W" * (10 << 20))
    fields = examined(path, tmp_path / "c").fields
    # XML cannot carry most control characters; lxml's recovery drops them, we cap the length.
    assert fields.title and len(fields.title) <= TITLE_MAX
    assert fields.title.replace(" ", "").startswith("TitleWWW") and "\x01" not in fields.title


def test_refused_copy_is_removed(tmp_path: Path) -> None:
    source = tmp_path / "bad.epub"
    source.write_bytes(b"junk")
    staging = tmp_path / "copy.part"
    result = examine(ExamineTask(str(source), str(staging), str(tmp_path / "c")))
    assert isinstance(result, Unreadable) and not staging.exists() and source.exists()


def test_detect_format_rejects_html(tmp_path: Path) -> None:
    path = tmp_path / "page.epub"
    path.write_text("<!DOCTYPE html><html></html>")
    with pytest.raises(Refused, match="HTML"):
        detect_format(path)


class _Zeros(io.RawIOBase):
    """A large stream that costs no memory itself."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_hashing_memory_is_flat() -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        digest_stream(_Zeros(64 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # a few chunk buffers, not the 64 MiB


def test_importing_never_loads_the_ui() -> None:
    import subprocess
    import sys

    ui = ("textual", "shelver.app", "shelver.screens", "shelver.widgets")
    code = (
        "import sys, shelver.data.importing.pipeline, shelver.data.watcher,"
        " shelver.data.importing.examine;"
        f"sys.exit(any(m == u or m.startswith(u + '.') for m in sys.modules for u in {ui!r}))"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_mobi_without_exth_falls_back_to_its_names(tmp_path: Path) -> None:
    path = gen.make_mobi(tmp_path / "k.mobi")
    data = bytearray(path.read_bytes())
    record0 = int.from_bytes(data[78:82], "big")
    data[record0 + 0x80 : record0 + 0x84] = bytes(4)  # clear the "has EXTH" flag
    path.write_bytes(bytes(data))
    result = examined(path, tmp_path / "c")
    assert result.fields.title == "Palm Title" and result.fields.author is None


def test_the_settle_window_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from shelver.data.importing.completeness import SETTLE_VARIABLE, _settle_seconds

    monkeypatch.setenv(SETTLE_VARIABLE, "3.5")
    assert _settle_seconds() == 3.5
    for unusable in ("soon", "-1", "3600", "nan"):
        monkeypatch.setenv(SETTLE_VARIABLE, unusable)
        assert _settle_seconds() == 1.0, unusable
    monkeypatch.delenv(SETTLE_VARIABLE)
    assert _settle_seconds() == 1.0
