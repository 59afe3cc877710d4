"""Small but valid ebook files for the demo library (EPUB 3, PDF, FB2) and their digests.

The files are real so that later features (import, review, organize, KoSync) can act on them.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from shelver.data.models import BookFields

# Fixed zip timestamps keep each sample file's bytes (and so its checksum) the same every run.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)

CONTAINER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""


def _chapter_text(fields: BookFields) -> list[str]:
    title = fields.title or "this book"
    author = fields.author or "an unknown author"
    return [
        f"This is a sample edition of {title} by {author}, made by shelver's demo.",
        "It holds only a few paragraphs so that the demo library stays small.",
        "Import, review, organize and sync it like any other book.",
    ]


def epub_bytes(fields: BookFields, identifier: str) -> bytes:
    """An EPUB 3 package with Dublin Core metadata, a navigation document and one chapter."""
    e = escape
    language = fields.language or "en"
    metadata = [
        f'<dc:identifier id="book-id">{e(identifier)}</dc:identifier>',
        f"<dc:title>{e(fields.title or '')}</dc:title>" if fields.title else "<dc:title/>",
        f"<dc:language>{e(language)}</dc:language>",
        '<meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>',
    ]
    if fields.author:
        metadata.append(f"<dc:creator>{e(fields.author)}</dc:creator>")
    if fields.publisher:
        metadata.append(f"<dc:publisher>{e(fields.publisher)}</dc:publisher>")
    if fields.published_year:
        metadata.append(f"<dc:date>{fields.published_year:04d}</dc:date>")
    if fields.description:
        metadata.append(f"<dc:description>{e(fields.description)}</dc:description>")
    metadata.extend(f"<dc:subject>{e(genre)}</dc:subject>" for genre in fields.genres)
    opf = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        'unique-identifier="book-id">\n'
        '  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">\n    '
        + "\n    ".join(metadata)
        + "\n  </metadata>\n"
        "  <manifest>\n"
        '    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" '
        'properties="nav"/>\n'
        '    <item id="chapter1" href="chapter1.xhtml" media-type="application/xhtml+xml"/>\n'
        "  </manifest>\n"
        '  <spine>\n    <itemref idref="chapter1"/>\n  </spine>\n'
        "</package>\n"
    )
    title = e(fields.title or "Untitled")
    xhtml_head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" '
        f'lang="{e(language)}" xml:lang="{e(language)}">\n<head><title>{title}</title></head>\n'
    )
    nav = (
        xhtml_head + '<body><nav epub:type="toc" id="toc"><ol>'
        f'<li><a href="chapter1.xhtml">{title}</a></li></ol></nav></body>\n</html>\n'
    )
    paragraphs = "".join(f"<p>{e(p)}</p>" for p in _chapter_text(fields))
    chapter = xhtml_head + f"<body><h1>{title}</h1>{paragraphs}</body>\n</html>\n"

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # The mimetype entry comes first and uncompressed, as the EPUB container requires.
        archive.writestr(zipfile.ZipInfo("mimetype", ZIP_DATE), "application/epub+zip")
        for name, text in (
            ("META-INF/container.xml", CONTAINER_XML),
            ("OEBPS/content.opf", opf),
            ("OEBPS/nav.xhtml", nav),
            ("OEBPS/chapter1.xhtml", chapter),
        ):
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def pdf_bytes(fields: BookFields) -> bytes:
    """A one-page PDF whose document info carries the title and author (when known)."""
    import pypdf  # only the demo needs it here

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=420, height=595)
    info = {"/Producer": "shelver demo"}
    if fields.title:
        info["/Title"] = fields.title
    if fields.author:
        info["/Author"] = fields.author
    writer.add_metadata(info)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def fb2_bytes(fields: BookFields) -> bytes:
    """A FictionBook 2 document with its title-info filled in."""
    e = escape
    first, _, last = (fields.author or "").rpartition(" ")
    genres = "".join(f"<genre>{e(g)}</genre>" for g in fields.genres) or "<genre>prose</genre>"
    paragraphs = "".join(f"<p>{e(p)}</p>" for p in _chapter_text(fields))
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<FictionBook xmlns="http://www.gribuser.ru/xml/fictionbook/2.0">\n'
        f"<description><title-info>{genres}"
        f"<author><first-name>{e(first)}</first-name><last-name>{e(last)}</last-name></author>"
        f"<book-title>{e(fields.title or '')}</book-title>"
        f"<lang>{e(fields.language or 'en')}</lang>"
        f"<date>{fields.published_year or ''}</date>"
        "</title-info></description>\n"
        f"<body><title><p>{e(fields.title or '')}</p></title><section>{paragraphs}</section>"
        "</body>\n</FictionBook>\n"
    )
    return text.encode("utf-8")


def sample_file_bytes(format: str, fields: BookFields, identifier: str) -> bytes:
    if format == "epub":
        return epub_bytes(fields, identifier)
    if format == "pdf":
        return pdf_bytes(fields)
    if format == "fb2":
        return fb2_bytes(fields)
    raise ValueError(f"the demo makes no {format} files")


def koreader_partial_md5(data: bytes) -> str:
    """KOReader's document id: MD5 over 1 KiB read at 0 and at 1024 << 2i (i = 0..10)."""
    digest = hashlib.md5(usedforsecurity=False)
    for i in range(-1, 11):
        offset = 0 if i < 0 else 1024 << (2 * i)
        chunk = data[offset : offset + 1024]
        if not chunk:
            break
        digest.update(chunk)
    return digest.hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unused_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name (2)``, ``name (3)``… when that exists (never overwrite)."""
    candidate = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem} ({number}){suffix}"
        number += 1
    return candidate
