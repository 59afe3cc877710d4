"""Generators of small book files of every supported format (and broken ones) for import tests
and the import benchmark. Everything is built from scratch here; nothing is downloaded."""

from __future__ import annotations

import io
import struct
import zipfile
from html import escape
from pathlib import Path

# A 1x1 JPEG and PNG: enough for magic-byte checks and cover saving.
TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c"
    "1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc000"
    "0b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400"
    "b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c1"
    "1552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63"
    "6465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6"
    "b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008"
    "010100003f00fbd3ffd9"
)
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360"
    "000002000100e221bc330000000049454e44ae426082"
)

CONTAINER_XML = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>"""


def opf_document(
    *,
    title: str | None = "A Generated Book",
    authors: tuple[str, ...] = ("Ada Author",),
    isbn: str | None = None,
    date: str | None = "2011-05-03",
    language: str | None = "en",
    description: str | None = None,
    subjects: tuple[str, ...] = (),
    publisher: str | None = None,
    cover: bool = True,
    extra_manifest: str = "",
) -> str:
    meta = []
    if title is not None:
        meta.append(f"<dc:title>{escape(title)}</dc:title>")
    meta += [f'<dc:creator opf:role="aut">{escape(a)}</dc:creator>' for a in authors]
    meta.append(
        '<dc:identifier id="uid">urn:uuid:12345678-1234-1234-1234-123456789abc</dc:identifier>'
    )
    if isbn:
        meta.append(f'<dc:identifier opf:scheme="ISBN">{escape(isbn)}</dc:identifier>')
    if date:
        meta.append(f"<dc:date>{escape(date)}</dc:date>")
    if language:
        meta.append(f"<dc:language>{escape(language)}</dc:language>")
    if description:
        meta.append(f"<dc:description>{escape(description)}</dc:description>")
    if publisher:
        meta.append(f"<dc:publisher>{escape(publisher)}</dc:publisher>")
    meta += [f"<dc:subject>{escape(s)}</dc:subject>" for s in subjects]
    if cover:
        meta.append('<meta name="cover" content="cover-img"/>')
    manifest = [
        '<item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>',
        '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>',
    ]
    if cover:
        manifest.append('<item id="cover-img" href="cover.jpg" media-type="image/jpeg"/>')
    return f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" unique-identifier="uid" version="2.0">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
    {"".join(meta)}
  </metadata>
  <manifest>{"".join(manifest)}{extra_manifest}</manifest>
  <spine toc="ncx"><itemref idref="ch1"/></spine>
</package>"""


NCX = """<?xml version="1.0" encoding="utf-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
<head><meta name="dtb:uid" content="x"/></head><docTitle><text>t</text></docTitle>
<navMap><navPoint id="p1" playOrder="1"><navLabel><text>One</text></navLabel>
<content src="ch1.xhtml"/></navPoint></navMap></ncx>"""


def chapter(text: str = "Hello.") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
        f"<head><title>c</title></head><body><p>{escape(text)}</p></body></html>"
    )


def make_epub(
    path: Path,
    *,
    opf: str | None = None,
    cover_bytes: bytes = TINY_JPEG,
    body: str = "Hello.",
    extra: dict[str, bytes] | None = None,
    mimetype: bool = True,
    **metadata: object,
) -> Path:
    """A small valid EPUB 2 (or one made broken through ``opf``/``extra``)."""
    document = opf if opf is not None else opf_document(**metadata)  # type: ignore[arg-type]
    with zipfile.ZipFile(path, "w") as archive:
        if mimetype:
            archive.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", CONTAINER_XML)
        archive.writestr("OEBPS/content.opf", document)
        archive.writestr("OEBPS/toc.ncx", NCX)
        archive.writestr("OEBPS/ch1.xhtml", chapter(body), zipfile.ZIP_DEFLATED)
        archive.writestr("OEBPS/cover.jpg", cover_bytes, zipfile.ZIP_STORED)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def epub_bytes(**kwargs: object) -> bytes:
    buffer = io.BytesIO()
    make_epub(buffer, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


ENCRYPTION_XML = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
            xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData>
    <enc:EncryptionMethod Algorithm="{algorithm}"/>
    <enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData>
  </enc:EncryptedData>
</encryption>"""


def make_drm_epub(path: Path) -> Path:
    xml = ENCRYPTION_XML.format(
        algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc", uri="OEBPS/ch1.xhtml"
    )
    return make_epub(path, extra={"META-INF/encryption.xml": xml.encode()})


def make_font_obfuscated_epub(path: Path) -> Path:
    xml = ENCRYPTION_XML.format(
        algorithm="http://www.idpf.org/2008/embedding", uri="OEBPS/fonts/a.otf"
    )
    return make_epub(
        path,
        extra={"META-INF/encryption.xml": xml.encode(), "OEBPS/fonts/a.otf": b"\0" * 64},
        title="Fonts Only",
    )


def make_pdf(path: Path, *, title: str = "A PDF Book", author: str = "Pat Pdf") -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": title, "/Author": author, "/CreationDate": "D:20190101000000"})
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def make_encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def make_fb2(
    path: Path,
    *,
    title: str = "An FB2 Book",
    first: str = "Fyodor",
    last: str = "Writer",
    lang: str = "ru",
    broken: bool = False,
) -> Path:
    import base64

    cover = base64.b64encode(TINY_PNG).decode()
    entity = "&undefinedEntity;" if broken else ""
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<FictionBook xmlns="http://www.gribuser.ru/xml/fictionbook/2.0"
             xmlns:l="http://www.w3.org/1999/xlink">
<description><title-info>
<genre>sf</genre>
<author><first-name>{escape(first)}</first-name><last-name>{escape(last)}</last-name></author>
<book-title>{escape(title)}</book-title>
<annotation><p>Short <emphasis>annotation</emphasis>.</p></annotation>
<date>2003</date><lang>{lang}</lang>
<coverpage><image l:href="#cover.png"/></coverpage>
</title-info>
<publish-info><publisher>Pub House</publisher><isbn>978-0-306-40615-7</isbn></publish-info>
</description>
<body><section><p>Text {entity}</p></section></body>
<binary id="cover.png" content-type="image/png">{cover}</binary>
</FictionBook>""",
        encoding="utf-8",
    )
    return path


def make_cbz(path: Path, *, comic_info: bool = True, pages: int = 3) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for page in range(pages, 0, -1):  # written out of order on purpose
            archive.writestr(f"page{page}.jpg", TINY_JPEG)
        if comic_info:
            archive.writestr(
                "ComicInfo.xml",
                """<?xml version="1.0"?>
<ComicInfo><Title>The Heist</Title><Series>Capers</Series><Number>2</Number>
<Writer>Cara Comic, Dan Drawer</Writer><Publisher>Panel Press</Publisher><Year>2020</Year>
<LanguageISO>en</LanguageISO><Summary>&lt;b&gt;Bold&lt;/b&gt; plans.</Summary>
<Genre>Crime, Comedy</Genre></ComicInfo>""",
            )
    return path


def make_mobi(
    path: Path,
    *,
    title: str = "A Kindle Book",
    author: str = "Kim Kindle",
    isbn: str = "0306406152",
    language: str = "en-GB",
    version: int = 6,
    encryption: int = 0,
) -> Path:
    """A minimal MOBI: PalmDB header, record 0 with a MOBI header and EXTH, a cover record."""
    records_exth = [
        (100, author.encode()),
        (101, b"Kindle Press"),
        (104, isbn.encode()),
        (503, title.encode()),
        (524, language.encode()),
        (201, struct.pack(">I", 0)),
    ]
    exth_body = b"".join(struct.pack(">II", k, len(v) + 8) + v for k, v in records_exth)
    exth = b"EXTH" + struct.pack(">II", 12 + len(exth_body), len(records_exth)) + exth_body
    header_length = 232
    full_name = b"Palm Title"
    mobi = bytearray(header_length)
    mobi[0:4] = b"MOBI"
    struct.pack_into(">III", mobi, 4, header_length, 2, 65001)
    struct.pack_into(">I", mobi, 20, version)
    record0 = bytearray(16) + mobi
    struct.pack_into(">H", record0, 0, 1)  # no compression
    struct.pack_into(">H", record0, 12, encryption)
    name_offset = len(record0) + len(exth)
    struct.pack_into(">II", record0, 0x54, name_offset, len(full_name))
    struct.pack_into(">I", record0, 0x6C, 1)  # first image record
    struct.pack_into(">I", record0, 0x80, 0x40)  # has EXTH
    record0 += exth + full_name + b"\0\0"
    records = [bytes(record0), TINY_JPEG]
    count = len(records)
    start = 78 + 8 * count + 2
    header = bytearray(78)
    header[0:32] = b"Palm_Title".ljust(32, b"\0")
    header[60:68] = b"BOOKMOBI"
    struct.pack_into(">H", header, 76, count)
    table = b""
    offset = start
    for index, record in enumerate(records):
        table += struct.pack(">II", offset, index)
        offset += len(record)
    path.write_bytes(bytes(header) + table + b"\0\0" + b"".join(records))
    return path


def make_zip_bomb(path: Path) -> Path:
    """An EPUB-looking zip whose one member claims to inflate ~64 MB from ~64 KB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", CONTAINER_XML)
        archive.writestr("OEBPS/content.opf", opf_document(cover=False))
        archive.writestr("OEBPS/ch1.xhtml", b"\0" * (64 << 20))
    return path


def make_many_entries_zip(path: Path, count: int = 25_000) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("mimetype", "application/epub+zip")
        for index in range(count):
            archive.writestr(f"e/{index}", b"")
    return path
