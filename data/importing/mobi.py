"""MOBI and AZW3 metadata from the PalmDB header, the MOBI header and its EXTH records."""

from __future__ import annotations

import struct
from pathlib import Path

from shelver.data.importing.errors import Refused
from shelver.data.importing.raw import RawMetadata

# EXTH record types (MobileRead wiki, "MOBI" page).
EXTH_AUTHOR = 100
EXTH_PUBLISHER = 101
EXTH_DESCRIPTION = 103
EXTH_ISBN = 104
EXTH_SUBJECT = 105
EXTH_DATE = 106
EXTH_COVER_OFFSET = 201
EXTH_TITLE = 503
EXTH_LANGUAGE = 524
NO_IMAGE = 0xFFFFFFFF
MAX_RECORD = 16 << 20


def read_mobi(path: Path) -> RawMetadata:
    with path.open("rb") as handle:
        header = handle.read(78)
        if len(header) < 78:
            raise Refused("truncated MOBI file (PalmDB header cut short)")
        (count,) = struct.unpack_from(">H", header, 76)
        table = handle.read(8 * count)
        if count == 0 or len(table) < 8 * count:
            raise Refused("truncated MOBI file (record table cut short)")
        offsets = [struct.unpack_from(">I", table, 8 * i)[0] for i in range(count)]
        size = path.stat().st_size
        ends = [*offsets[1:], size]
        record0 = _record(handle, offsets[0], ends[0], size)
        metadata, cover_index = _parse_record0(record0, header[:32])
        if cover_index is not None and cover_index < count:
            try:
                image = _record(handle, offsets[cover_index], ends[cover_index], size)
                metadata.cover = image or None
            except Refused as exc:
                metadata.notes.append(f"cover not read: {exc.reason}")
    return metadata


def _record(handle, start: int, end: int, size: int) -> bytes:  # type: ignore[no-untyped-def]
    if not 0 <= start < end <= size or end - start > MAX_RECORD:
        raise Refused("broken MOBI file (record outside the file)")
    handle.seek(start)
    data = handle.read(end - start)
    if len(data) < end - start:
        raise Refused("truncated MOBI file")
    return data


def _parse_record0(record: bytes, palm_name: bytes) -> tuple[RawMetadata, int | None]:
    """Metadata from record 0, and the record number of the cover image if there is one."""
    if len(record) < 16 + 24 or record[16:20] != b"MOBI":
        raise Refused("broken MOBI file (no MOBI header)")
    (encryption,) = struct.unpack_from(">H", record, 12)
    if encryption != 0:
        raise Refused("DRM-protected MOBI/AZW file: not imported", drm=True)
    header_length, _, encoding = struct.unpack_from(">III", record, 20)
    codec = "utf-8" if encoding == 65001 else "cp1252"
    metadata = RawMetadata()
    exth: dict[int, list[bytes]] = {}
    if len(record) >= 0x84 and struct.unpack_from(">I", record, 0x80)[0] & 0x40:
        exth = _exth(record, 16 + header_length)
    for kind, target in (
        (EXTH_TITLE, metadata.titles),
        (EXTH_AUTHOR, metadata.authors),
        (EXTH_PUBLISHER, metadata.publishers),
        (EXTH_DESCRIPTION, metadata.descriptions),
        (EXTH_ISBN, metadata.identifiers),
        (EXTH_SUBJECT, metadata.subjects),
        (EXTH_DATE, metadata.dates),
        (EXTH_LANGUAGE, metadata.languages),
    ):
        target.extend(v.decode(codec, errors="replace") for v in exth.get(kind, []))
    if len(record) >= 0x5C:
        name_offset, name_length = struct.unpack_from(">II", record, 0x54)
        if name_length and name_offset + name_length <= len(record):
            metadata.titles.append(
                record[name_offset : name_offset + name_length].decode(codec, errors="replace")
            )
    palm = palm_name.split(b"\x00", 1)[0].decode("latin-1").replace("_", " ").strip()
    if palm:
        metadata.titles.append(palm)
    cover_index = None
    if EXTH_COVER_OFFSET in exth and len(record) >= 0x70:
        (first_image,) = struct.unpack_from(">I", record, 0x6C)
        (cover_offset,) = struct.unpack(">I", exth[EXTH_COVER_OFFSET][0][:4].rjust(4, b"\x00"))
        if first_image != NO_IMAGE and cover_offset != NO_IMAGE:
            cover_index = first_image + cover_offset
    return metadata, cover_index


def _exth(record: bytes, start: int) -> dict[int, list[bytes]]:
    found: dict[int, list[bytes]] = {}
    if record[start : start + 4] != b"EXTH" or start + 12 > len(record):
        return found
    (count,) = struct.unpack_from(">I", record, start + 8)
    position = start + 12
    for _ in range(min(count, 10_000)):
        if position + 8 > len(record):
            break
        kind, length = struct.unpack_from(">II", record, position)
        if length < 8 or position + length > len(record):
            break
        found.setdefault(kind, []).append(record[position + 8 : position + length])
        position += length
    return found
