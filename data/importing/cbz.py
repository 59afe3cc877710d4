"""Comic book archives: ComicInfo.xml for metadata, the first page as cover."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from shelver.data.importing.errors import Refused
from shelver.data.importing.formats import IMAGE_SUFFIXES
from shelver.data.importing.raw import RawMetadata
from shelver.data.importing.safezip import find_member, open_zip, read_member
from shelver.data.importing.xml import local, parse_bytes, text_of

_DIGITS = re.compile(r"(\d+)")


def _natural_key(name: str) -> list[object]:
    """page2 before page10."""
    return [int(part) if part.isdigit() else part.casefold() for part in _DIGITS.split(name)]


def read_cbz(path: Path) -> RawMetadata:
    archive = open_zip(path)
    with archive:
        pages = sorted(
            (
                info.filename
                for info in archive.infolist()
                if not info.is_dir()
                and PurePosixPath(info.filename).suffix.lower() in IMAGE_SUFFIXES
                and not PurePosixPath(info.filename).name.startswith(".")
            ),
            key=_natural_key,
        )
        metadata = RawMetadata(page_count=len(pages) or None)
        info_name = find_member(archive, "ComicInfo.xml")
        if info_name is not None:
            _comic_info(read_member(archive, info_name, 4 << 20), metadata)
        if pages:
            try:
                metadata.cover = read_member(archive, pages[0])
            except Refused as exc:
                metadata.notes.append(f"cover not read: {exc.reason}")
    return metadata


def _comic_info(data: bytes, metadata: RawMetadata) -> None:
    root = parse_bytes(data)
    if root is None:
        metadata.notes.append("ComicInfo.xml unreadable")
        return
    values = {local(e.tag): text_of(e).strip() for e in root if local(e.tag)}
    title = values.get("Title")
    series = values.get("Series")
    number = values.get("Number") or values.get("Volume")
    if series and number:
        # "Series #3: Title" keeps issues of one series apart (duplicates compare numbers).
        metadata.titles.append(f"{series} #{number}" + (f": {title}" if title else ""))
    elif title or series:
        metadata.titles.append(title or series or "")
    for role in ("Writer", "Penciller", "Artist"):
        if values.get(role):
            metadata.authors.extend(a for a in values[role].split(",") if a.strip())
            break
    if values.get("Publisher"):
        metadata.publishers.append(values["Publisher"])
    if values.get("Year"):
        metadata.dates.append(values["Year"])
    if values.get("LanguageISO"):
        metadata.languages.append(values["LanguageISO"])
    if values.get("Summary"):
        metadata.descriptions.append(values["Summary"])
    if values.get("Genre"):
        metadata.subjects.extend(g for g in values["Genre"].split(",") if g.strip())
    if values.get("GTIN"):
        metadata.identifiers.append(values["GTIN"])
    if values.get("PageCount", "").isdigit():
        metadata.page_count = int(values["PageCount"]) or metadata.page_count
