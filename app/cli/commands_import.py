"""``shelver import PATH... [--move] [--json]``."""

from __future__ import annotations

import argparse

from app.cli.placeholder import not_yet


def register(commands: argparse._SubParsersAction) -> None:
    importer = commands.add_parser("import", help="copy (or move) files and folders into the inbox")
    importer.add_argument("paths", nargs="+", metavar="PATH")
    importer.add_argument("--move", action="store_true", help="move instead of copy")
    importer.add_argument("--json", action="store_true", help="print one JSON summary")
    importer.set_defaults(handler=not_yet("shelver import"))
