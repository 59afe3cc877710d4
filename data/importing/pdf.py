"""PDF metadata: the document information dictionary, then XMP, and the page count."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from shelver.data.importing.errors import Refused
from shelver.data.importing.raw import RawMetadata

# Producers write these when the author typed nothing.
_PLACEHOLDER_TITLES = ("untitled", "microsoft word - ", "document", "title")


def read_pdf(path: Path) -> RawMetadata:
    """Metadata of the PDF at ``path``; Refused when it is encrypted or unreadable."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted and not _opens_without_password(reader):
                raise Refused("password-protected (encrypted) PDF: not imported", drm=True)
            metadata = RawMetadata()
            _document_info(reader, metadata)
            _xmp(reader, metadata)
            try:
                metadata.page_count = len(reader.pages) or None
            except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
                metadata.notes.append(f"page count unknown: {exc}")
    except Refused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise Refused(f"broken PDF: {type(exc).__name__}: {exc}".splitlines()[0][:300]) from None
    except RecursionError:
        raise Refused("broken PDF: its object tree loops") from None
    return metadata


def _opens_without_password(reader: object) -> bool:
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:  # missing crypto backend or unsupported scheme: it stays locked
        return False


def _document_info(reader: object, metadata: RawMetadata) -> None:
    try:
        info = reader.metadata  # type: ignore[attr-defined]
    except Exception:
        return
    if not info:
        return
    title = _string(info.get("/Title"))
    if title and not title.strip().lower().startswith(_PLACEHOLDER_TITLES):
        metadata.titles.append(title)
    author = _string(info.get("/Author"))
    if author:
        metadata.authors.append(author)
    subject = _string(info.get("/Subject"))
    if subject:
        metadata.descriptions.append(subject)
    keywords = _string(info.get("/Keywords"))
    if keywords:
        metadata.subjects.extend(k for k in keywords.replace(";", ",").split(",") if k.strip())
    created = _string(info.get("/CreationDate"))
    if created:
        # D:YYYYMMDDHHmmSS: the year is the first four digits.
        metadata.dates.append(created.removeprefix("D:")[:4])


def _xmp(reader: object, metadata: RawMetadata) -> None:
    try:
        xmp = reader.xmp_metadata  # type: ignore[attr-defined]
    except Exception:
        return
    if xmp is None:
        return
    try:
        titles = xmp.dc_title or {}
        metadata.titles.extend(v for v in titles.values() if isinstance(v, str))
        metadata.authors.extend(v for v in xmp.dc_creator or [] if isinstance(v, str))
        metadata.publishers.extend(v for v in xmp.dc_publisher or [] if isinstance(v, str))
        metadata.languages.extend(v for v in xmp.dc_language or [] if isinstance(v, str))
        descriptions = xmp.dc_description or {}
        metadata.descriptions.extend(v for v in descriptions.values() if isinstance(v, str))
        metadata.subjects.extend(v for v in xmp.dc_subject or [] if isinstance(v, str))
        metadata.identifiers.extend(v for v in [xmp.dc_identifier] if isinstance(v, str))
        metadata.dates.extend(str(v) for v in xmp.dc_date or [])
    except Exception as exc:  # malformed XMP is common and never fatal
        metadata.notes.append(f"XMP ignored: {type(exc).__name__}")


def _string(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
