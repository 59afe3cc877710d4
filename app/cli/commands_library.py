"""Library work from the command line: import, fetch, search, serve, credentials.

Each command's real implementation lives in its own module; until a command is built it says
so plainly and exits 2 so scripts can tell.
"""

from __future__ import annotations

import argparse

from app.cli.context import EXIT_USAGE, CliContext, CommandError


def _not_yet(feature: str):
    def handler(context: CliContext, args: argparse.Namespace) -> int:
        raise CommandError(f"'{feature}' is not available in this version yet", EXIT_USAGE)

    return handler


def register(commands: argparse._SubParsersAction) -> None:
    importer = commands.add_parser("import", help="copy (or move) files and folders into the inbox")
    importer.add_argument("paths", nargs="+", metavar="PATH")
    importer.add_argument("--move", action="store_true", help="move instead of copy")
    importer.add_argument("--json", action="store_true", help="print one JSON summary")
    importer.set_defaults(handler=_not_yet("shelver import"))

    fetch = commands.add_parser("fetch", help="fetch metadata candidates for inbox books")
    fetch.add_argument("book_ids", nargs="*", metavar="BOOK_ID")
    fetch.add_argument("--json", action="store_true")
    fetch.set_defaults(handler=_not_yet("shelver fetch"))

    search = commands.add_parser("search", help="search the library")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=_not_yet("shelver search"))

    serve = commands.add_parser("serve", help="KoSync server for KOReader; watches the inbox")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--allow-registration", action="store_true")
    serve.set_defaults(handler=_not_yet("shelver serve"))

    credentials = commands.add_parser("credentials", help="manage device logins")
    actions = credentials.add_subparsers(
        dest="credentials_command", required=True, metavar="ACTION"
    )
    add = actions.add_parser("add", help="add a login; the password is read from stdin")
    add.add_argument("service")
    add.add_argument("username")
    add.set_defaults(handler=_not_yet("shelver credentials add"))
