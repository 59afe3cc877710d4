"""``shelver search QUERY [--limit N] [--json]``."""

from __future__ import annotations

import argparse

from app.cli.placeholder import not_yet


def register(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="search the library")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true", help="print one JSON document")
    search.set_defaults(handler=not_yet("shelver search"))
