"""EPUB 2 and 3 metadata: ebooklib first, a direct zip + OPF reader when ebooklib gives up.

Many real EPUBs make ebooklib raise (fragment hrefs in the manifest, missing members, malformed
OPF); the fallback reads only container.xml, the OPF and the cover, tolerating broken XML.
"""

from __future__ import annotations

import posixpath
import re
import warnings
import zipfile
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

from shelver.data.importing.errors import Refused
from shelver.data.importing.raw import RawMetadata
from shelver.data.importing.safezip import find_member, open_zip, read_member
from shelver.data.importing.xml import local, parse_bytes, text_of

# Font obfuscation (IDPF and Adobe) also uses encryption.xml; it protects fonts, not the book.
FONT_OBFUSCATION = frozenset(
    {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
)
FONT_SUFFIXES = (".ttf", ".otf", ".woff", ".woff2", ".fnt")
EBOOKLIB_MAX_INFLATED = 64 << 20
OPF_CAP = 32 << 20  # a package document beyond this is not metadata any more
DC_FIELDS = (
    "title",
    "creator",
    "identifier",
    "publisher",
    "date",
    "language",
    "description",
    "subject",
)


def read_epub(path: Path) -> RawMetadata:
    """Metadata and cover of the EPUB at ``path``; Refused when it is DRM-protected or broken."""
    archive = open_zip(path)
    with archive:
        check_drm(archive)
        if sum(info.file_size for info in archive.infolist()) > EBOOKLIB_MAX_INFLATED:
            # ebooklib holds every member in memory; big books go straight to the OPF reader.
            return _read_direct(archive)
        try:
            return _read_with_ebooklib(path, archive)
        except Refused:
            raise
        except Exception as exc:  # ebooklib raises anything from KeyError to lxml errors
            metadata = _read_direct(archive)
            metadata.notes.append(f"ebooklib failed ({type(exc).__name__}); read the OPF directly")
            return metadata


def check_drm(archive: zipfile.ZipFile) -> None:
    """Refuse books whose encryption.xml encrypts content (not just obfuscated fonts)."""
    if find_member(archive, "META-INF/sinf.xml"):
        raise Refused("DRM-protected EPUB (Apple FairPlay): not imported", drm=True)
    if find_member(archive, "META-INF/license.lcpl"):
        raise Refused("DRM-protected EPUB (Readium LCP): not imported", drm=True)
    name = find_member(archive, "META-INF/encryption.xml")
    if name is None:
        return
    root = parse_bytes(read_member(archive, name, 4 << 20))
    if root is None:
        raise Refused("DRM-protected EPUB (unreadable encryption.xml): not imported", drm=True)
    for data in root.iter():
        if local(data.tag) != "EncryptedData":
            continue
        algorithm = next(
            (e.get("Algorithm", "") for e in data.iter() if local(e.tag) == "EncryptionMethod"),
            "",
        )
        target = next(
            (e.get("URI", "") for e in data.iter() if local(e.tag) == "CipherReference"), ""
        )
        if algorithm in FONT_OBFUSCATION and target.lower().endswith(FONT_SUFFIXES):
            continue
        raise Refused(
            f"DRM-protected EPUB ({posixpath.basename(target) or 'content'} is encrypted): "
            "not imported",
            drm=True,
        )


# Members ebooklib must really read: the package document, the NCX, container/encryption XML.
# Everything else (chapters, images, fonts) it only needs to know exists.
_METADATA_SUFFIXES = (".opf", ".ncx", ".xml")
_NAV_ITEM = re.compile(r"<(?:\w+:)?item\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"""\bhref\s*=\s*["']([^"']*)["']""")
_PROPERTIES = re.compile(r"""\bproperties\s*=\s*["']([^"']*)["']""")


def _metadata_reader_class() -> type:
    from ebooklib import epub

    class MetadataReader(epub.EpubReader):
        """ebooklib's reader without inflating every chapter, image and font.

        ebooklib reads the content of every manifest item while loading; metadata needs only
        the OPF, the table of contents and the cover. Members that are not needed come back
        empty (a missing member still raises KeyError as in ebooklib), which makes a 300 KB
        book several times cheaper to read. The cover is read separately, with a size cap.
        """

        keep: frozenset[str] = frozenset()

        def read_file(self, name: str) -> bytes:
            normal = posixpath.normpath(name)
            if normal.lower().endswith(_METADATA_SUFFIXES) or normal in self.keep:
                data = super().read_file(name)
                if normal == posixpath.normpath(getattr(self, "opf_file", "") or ""):
                    self.keep = _nav_documents(data, posixpath.dirname(normal))
                return data
            self.zf.getinfo(normal)
            return b""

    return MetadataReader


def _nav_documents(opf: bytes, base: str) -> frozenset[str]:
    """The EPUB 3 navigation documents an OPF declares (ebooklib parses their content)."""
    found = set()
    for tag in _NAV_ITEM.findall(opf.decode("utf-8", errors="replace")):
        properties = _PROPERTIES.search(tag)
        href = _HREF.search(tag)
        if properties and href and "nav" in properties.group(1).split():
            found.add(posixpath.normpath(posixpath.join(base, unquote(href.group(1)))))
    return frozenset(found)


def _read_with_ebooklib(path: Path, archive: zipfile.ZipFile) -> RawMetadata:
    from ebooklib import ITEM_COVER, ITEM_IMAGE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _metadata_reader_class()(str(path), options={"ignore_ncx": True})
        book = reader.load()
    metadata = RawMetadata()
    dc = book.metadata.get("http://purl.org/dc/elements/1.1/", {})
    fields = {name: [value for value, _ in dc.get(name, []) if value] for name in DC_FIELDS}
    _fill(metadata, fields)
    cover_id = None
    for _, attributes in book.get_metadata("OPF", "cover"):
        cover_id = attributes.get("content") or cover_id
    cover = None
    for item in book.get_items():
        if item.get_type() == ITEM_COVER:
            cover = item
            break
    if cover is None and cover_id:
        candidate = book.get_item_with_id(cover_id)
        if candidate is not None and candidate.get_type() in (ITEM_IMAGE, ITEM_COVER):
            cover = candidate
    if cover is None:
        cover = _guess_cover(
            [(i.get_id() or "", i.get_name(), i) for i in book.get_items_of_type(ITEM_IMAGE)]
        )
    if cover is not None:
        name = posixpath.normpath(posixpath.join(reader.opf_dir, cover.get_name()))
        member = find_member(archive, name)
        if member is not None:
            try:
                metadata.cover = read_member(archive, member)
            except Refused as exc:
                metadata.notes.append(f"cover not read: {exc.reason}")
    return metadata


_Item = TypeVar("_Item")


def _guess_cover(images: list[tuple[str, str, _Item]]) -> _Item | None:
    """An image whose id or name says "cover", for books that never declare one."""
    for item_id, name, item in images:
        if "cover" in item_id.lower() or "cover" in posixpath.basename(name).lower():
            return item
    return None


def _fill(metadata: RawMetadata, fields: dict[str, list[str]]) -> None:
    metadata.titles = fields["title"]
    metadata.authors = fields["creator"]
    metadata.identifiers = fields["identifier"]
    metadata.publishers = fields["publisher"]
    metadata.dates = fields["date"]
    metadata.languages = fields["language"]
    metadata.descriptions = fields["description"]
    metadata.subjects = fields["subject"]


def _read_direct(archive: zipfile.ZipFile) -> RawMetadata:
    """The OPF read straight from the zip, broken XML recovered as far as lxml can."""
    opf_path = _opf_path(archive)
    root = parse_bytes(read_member(archive, opf_path, OPF_CAP), huge=True)
    if root is None:
        raise Refused("broken EPUB: its package document (OPF) is not readable XML")
    fields: dict[str, list[str]] = {name: [] for name in DC_FIELDS}
    meta_cover = None
    manifest: list[tuple[str, str, str, str]] = []  # id, href, media type, properties
    for element in root.iter():
        name = local(element.tag)
        if name in fields and element.getparent() is not None:
            value = text_of(element).strip()
            if value:
                fields[name].append(value)
        elif name == "meta" and (element.get("name") or "").lower() == "cover":
            meta_cover = element.get("content")
        elif name == "item" and element.get("href"):
            href = unquote(element.get("href", "").split("#", 1)[0])
            manifest.append(
                (
                    element.get("id", ""),
                    href,
                    element.get("media-type", ""),
                    element.get("properties", ""),
                )
            )
    metadata = RawMetadata()
    _fill(metadata, fields)
    base = posixpath.dirname(opf_path)
    images = [m for m in manifest if m[2].startswith("image/")]
    chosen = next((m for m in images if "cover-image" in m[3].split()), None)
    if chosen is None and meta_cover:
        chosen = next((m for m in images if m[0] == meta_cover), None)
    if chosen is None:
        chosen = _guess_cover([(m[0], m[1], m) for m in images])
    if chosen is not None:
        member = find_member(archive, posixpath.normpath(posixpath.join(base, chosen[1])))
        if member is not None:
            try:
                metadata.cover = read_member(archive, member)
            except Refused as exc:
                metadata.notes.append(f"cover not read: {exc.reason}")
    return metadata


def _opf_path(archive: zipfile.ZipFile) -> str:
    container = find_member(archive, "META-INF/container.xml")
    if container is not None:
        root = parse_bytes(read_member(archive, container, 1 << 20))
        if root is not None:
            for element in root.iter():
                if local(element.tag) == "rootfile" and element.get("full-path"):
                    path = find_member(archive, element.get("full-path", ""))
                    if path is not None:
                        return path
    # No usable container: take the only OPF in the archive, if there is exactly one.
    opfs = [n for n in archive.namelist() if n.lower().endswith(".opf")]
    if len(opfs) == 1:
        return opfs[0]
    raise Refused("broken EPUB: no package document (OPF) found")
