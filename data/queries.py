"""Named SQL queries from ``sql/queries/*.sql``, loaded once.

Each statement is preceded by ``-- name: some_name``; everything up to the next name line is
the statement. Parameters are asyncpg's native ``$1``, ``$2``; nothing is ever built from user
text. A statement may hold ``/*marker*/`` places that :func:`composed` fills with other named
queries (fragments), so a shared piece of SQL is written once.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class UnknownQuery(KeyError):
    """A query name that no file in ``sql/queries`` defines."""


def parse_queries(text: str, origin: str = "<string>") -> dict[str, str]:
    """Split one file's text into ``{name: statement}``."""
    queries: dict[str, str] = {}
    parts = NAME_LINE.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        statement = body.strip().rstrip(";").strip()
        if name in queries:
            raise ValueError(f"{origin}: query {name!r} is defined twice")
        if not statement:
            raise ValueError(f"{origin}: query {name!r} is empty")
        queries[name] = statement
    return queries


@cache
def all_queries() -> dict[str, str]:
    """Every named query of every file, read once per process."""
    combined: dict[str, str] = {}
    folder = resources.files("shelver.sql").joinpath("queries")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        for name, statement in parse_queries(entry.read_text("utf-8"), entry.name).items():
            if name in combined:
                raise ValueError(f"{entry.name}: query {name!r} is also defined elsewhere")
            combined[name] = statement
    return combined


def query(name: str) -> str:
    """The statement called ``name``."""
    try:
        return all_queries()[name]
    except KeyError:
        raise UnknownQuery(name) from None


@cache
def composed(name: str, **parts: str | None) -> str:
    """The statement ``name`` with every ``/*marker*/`` replaced by the named query
    ``parts[marker]`` (None: by nothing). Only fixed query names go in, never user text; name
    a marker in a comment only where a one-line fragment fills it."""
    statement = query(name)
    for marker, fragment in parts.items():
        place = f"/*{marker}*/"
        if place not in statement:
            raise ValueError(f"query {name!r} has no {place} to fill")
        statement = statement.replace(place, query(fragment) if fragment else "")
    return statement
