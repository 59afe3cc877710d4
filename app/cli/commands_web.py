"""``shelver web [--host 127.0.0.1] [--port 8766]``: the TUI in a browser (textual-serve)."""

from __future__ import annotations

import argparse
import asyncio
import os

from shelver.app.cli.context import EXIT_OK, EXIT_USAGE, CliContext, CommandError


def register(commands: argparse._SubParsersAction) -> None:
    web = commands.add_parser("web", help="the TUI in a browser")
    web.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (other than loopback only with a `web` login)",
    )
    web.add_argument("--port", type=int, default=8766, help="TCP port")
    web.set_defaults(handler=run_web)


def run_web(context: CliContext, args: argparse.Namespace) -> int:
    from shelver.app.web import WEB_SERVICE, is_loopback, make_server
    from shelver.data import credentials
    from shelver.data.db import Database

    if not 1 <= args.port <= 65535:
        raise CommandError(f"--port must be between 1 and 65535, not {args.port}", EXIT_USAGE)

    async def web_logins() -> int:
        database = await context.open_database(max_size=1)
        async with database:
            logins = await credentials.list_all(database.pool)
        return sum(1 for login in logins if login.service == WEB_SERVICE)

    logins = asyncio.run(web_logins())
    if logins == 0 and not is_loopback(args.host):
        raise CommandError(
            f"refusing to serve the TUI on {args.host} without a login: add one with "
            "`shelver credentials add web NAME` (or listen on 127.0.0.1)",
            EXIT_USAGE,
        )
    # Every browser tab starts `shelver` itself: it finds this home and database through the
    # environment (never on its command line, where `ps` would show a DSN's password).
    if context.home.config_dir == context.home.data_dir:  # an explicit --home
        os.environ["SHELVER_HOME"] = str(context.home.config_dir)
    if context.target.dsn and context.target.cluster is None:
        os.environ["SHELVER_DATABASE_URL"] = context.target.dsn

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    database = loop.run_until_complete(Database.open(context.target, max_size=2))
    try:
        server = make_server(
            args.host,
            args.port,
            database.pool,
            login_required=logins > 0,
            limits=context.settings.server,
        )
        server.serve()
    finally:
        loop.run_until_complete(database.close())
    return EXIT_OK
