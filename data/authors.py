"""Author names as people write them, without what files and answers smuggle in beside them.

Real files put e-mail addresses, web addresses and contact notes in the author field
("Jane Doe <jane@example.com>", "John Smith (www.smith.example)"). Such junk must never reach a
provider query or a folder name. ``clean_author`` keeps the name and drops the rest.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]{}]+", re.IGNORECASE)
# Brackets left empty (or holding only punctuation) once the junk inside them is gone.
EMPTY_BRACKETS = re.compile(r"[<(\[{]\s*[\W_]*\s*[>)\]}]")
EDGES = " ,;:/|-–—·•"


def clean_author(name: str | None) -> str | None:
    """``name`` without e-mail or web addresses (and the brackets that held them); None when
    nothing of a name is left."""
    if not name:
        return None
    cleaned = URL.sub(" ", EMAIL.sub(" ", name))
    cleaned = re.sub(r"\b(?:mailto|e-?mail|contact)\s*:?", " ", cleaned, flags=re.IGNORECASE)
    previous = None
    while previous != cleaned:
        previous = cleaned
        cleaned = EMPTY_BRACKETS.sub(" ", cleaned)
    parts = [" ".join(part.split()).strip(EDGES) for part in re.split(r"\s*&\s*", cleaned)]
    joined = " & ".join(part for part in parts if part)
    return joined if any(c.isalpha() for c in joined) else None
