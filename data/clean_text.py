"""Text from outside, cleaned once at the border: the one list of characters no provider,
file, device or file name may carry, and the functions that remove them."""

from __future__ import annotations

import re
import unicodedata

TITLE_MAX = 500
# Read at most this much of any raw value: a 10 MB title is trimmed before any real work.
RAW_MAX = 200_000

_SPACE = re.compile(r"\s+")

# Characters no outside value may bring in: C0 controls but tab/newline/return (ESC among
# them), DEL, C1 controls (U+0085 among them), bidi marks, embeddings, overrides and isolates
# (U+202E can make "evil.exe.epub" read otherwise), line/paragraph separators, zero-width space,
# BOM and non-characters. The one list for providers, files, devices and file names.
UNSAFE_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e"
    "\u2066-\u2069\ufeff\ufffe\uffff]"
)


def strip_unsafe(value: str, replacement: str = " ") -> str:
    """``value`` with every :data:`UNSAFE_TEXT` character replaced (by a space by default)."""
    if value.isascii() and value.isprintable():
        return value  # the usual case, cheaply: every unsafe ASCII character is unprintable
    return UNSAFE_TEXT.sub(replacement, value)


def clean_document(value: object, depth: int = 0) -> object:
    """A JSON-like value (a provider's raw answer) with every string cleaned of unsafe
    characters, keys included, so PostgreSQL's jsonb takes it (a NUL never fails a fetch).
    Nesting beyond 32 levels is cut."""
    if isinstance(value, str):
        return strip_unsafe(value, "")
    if depth >= 32:
        return None
    if isinstance(value, dict):
        return {strip_unsafe(str(k), ""): clean_document(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_document(v, depth + 1) for v in value]
    return value


def clean_line(value: object, limit: int = TITLE_MAX) -> str | None:
    """One line of text: control characters gone, whitespace collapsed, capped; None if empty."""
    if value is None:
        return None
    text = str(value)[:RAW_MAX]
    # The usual value (a device name, most titles) has nothing to clean, collapse or
    # normalise: it skips the regular expressions and only meets the cap.
    if not (text.isascii() and text.isprintable() and "  " not in text and text == text.strip()):
        text = unicodedata.normalize("NFC", UNSAFE_TEXT.sub(" ", text))
        text = _SPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None
