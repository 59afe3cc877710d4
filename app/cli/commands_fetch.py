"""``shelver fetch [BOOK_ID...] [--json]``."""

from __future__ import annotations

import argparse

from app.cli.placeholder import not_yet


def register(commands: argparse._SubParsersAction) -> None:
    fetch = commands.add_parser("fetch", help="fetch metadata candidates for inbox books")
    fetch.add_argument("book_ids", nargs="*", metavar="BOOK_ID")
    fetch.add_argument("--json", action="store_true", help="print one JSON summary")
    fetch.set_defaults(handler=not_yet("shelver fetch"))
