"""Bringing a Calibre library over: reading metadata.db, mapping its fields, placing files."""

from shelver.data.calibre.files import Placement
from shelver.data.calibre.importer import import_calibre
from shelver.data.calibre.reader import CalibreLibraryError, find_metadata_db, read_library
from shelver.data.calibre.report import CalibreImportReport

__all__ = [
    "CalibreImportReport",
    "CalibreLibraryError",
    "Placement",
    "find_metadata_db",
    "import_calibre",
    "read_library",
]
