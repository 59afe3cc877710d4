"""``shelver search QUERY [--limit N] [--json]``: the Library's search, from the shell.

It runs the same data-layer query as the Library screen (``data.library.search``): every word
must match, the last as a prefix, accents and case ignored, best first, with typo-tolerant
matches when full text finds little.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from shelver.app.cli.context import EXIT_OK, EXIT_USAGE, CliContext, CommandError, print_json

if TYPE_CHECKING:
    from shelver.data.library_models import LibraryRow

MAX_LIMIT = 1000


def register(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="search the library")
    search.add_argument("query", metavar="QUERY")
    search.add_argument(
        "--limit", type=int, default=20, help=f"at most N results (1-{MAX_LIMIT}, default 20)"
    )
    search.add_argument("--json", action="store_true", help="print one JSON document")
    search.set_defaults(handler=run_search)


def run_search(context: CliContext, args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise CommandError(f"--limit must be between 1 and {MAX_LIMIT}", EXIT_USAGE)
    if not args.query.strip():
        raise CommandError("give some words to search for", EXIT_USAGE)

    from shelver.data import library

    async def run() -> list[LibraryRow]:
        database = await context.open_database(max_size=1)
        async with database:
            return await library.search(database.pool, args.query, limit=args.limit)

    rows = asyncio.run(run())
    if args.json:
        print_json(
            {
                "query": args.query,
                "count": len(rows),
                "results": [row.model_dump(mode="json") for row in rows],
            }
        )
        return EXIT_OK
    if not rows:
        print(f"no books match {args.query!r}")
        return EXIT_OK
    for row in rows:
        print(format_row(row))
    return EXIT_OK


def format_row(row: LibraryRow) -> str:
    """One result as a line: title, author, year, language, formats, reading, typo marker."""
    parts = [row.title or "(untitled)", "—", row.author or "(unknown author)"]
    if row.published_year is not None:
        parts.append(f"({row.published_year})")
    if row.language:
        parts.append(f"[{row.language}]")
    if row.formats:
        parts.append(",".join(row.formats))
    if row.reading_percentage is not None:
        parts.append(f"{float(row.reading_percentage) * 100:.0f}% read")
    if row.match == "fuzzy":
        parts.append("~")
    return f"{row.id}  " + " ".join(parts)
