"""Bringing a Calibre library over: reading metadata.db, mapping its fields, placing files."""
