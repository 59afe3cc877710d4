"""``shelver credentials add SERVICE USERNAME [--replace]``.

The secret is read from stdin (one line; the trailing newline is dropped), or asked for twice
without echo when stdin is a terminal. Device logins (``kosync``, ``opds``) are stored as slow
salted hashes; for KoSync the hash is of the MD5 key that KOReader sends, so the password
itself is never stored. API tokens (``hardcover``, ``google_books``) must be sent again, so they
are sealed with the home's private key instead (see ``data.passwords``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from shelver.app.cli.context import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, CliContext, CommandError
from shelver.app.cli.context import print_json as _print_json

LOGIN_SERVICES = ("kosync", "opds")
TOKEN_SERVICES = ("hardcover", "google_books")
MAX_SECRET_CHARS = 4096


def register(commands: argparse._SubParsersAction) -> None:
    credentials = commands.add_parser("credentials", help="manage device logins and API tokens")
    actions = credentials.add_subparsers(
        dest="credentials_command", required=True, metavar="ACTION"
    )
    add = actions.add_parser(
        "add", help="add a login or token; the secret is read from stdin (or asked for)"
    )
    add.add_argument("service", help=f"one of: {', '.join(LOGIN_SERVICES + TOKEN_SERVICES)}")
    add.add_argument("username", help="the login name (for a token: any label, e.g. 'default')")
    add.add_argument("--replace", action="store_true", help="change the secret of an existing one")
    add.add_argument("--json", action="store_true", help="print one JSON document")
    add.set_defaults(handler=run_add)


def _read_secret(what: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"{what}: ")
        if getpass.getpass(f"{what} again: ") != first:
            raise CommandError("the two entries differ; nothing was stored", EXIT_USAGE)
        secret = first
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise CommandError(f"no {what.lower()} given on stdin; nothing was stored", EXIT_USAGE)
    if len(secret) > MAX_SECRET_CHARS:
        raise CommandError(f"the {what.lower()} is too long; nothing was stored", EXIT_USAGE)
    return secret


def run_add(context: CliContext, args: argparse.Namespace) -> int:
    # Imported here so that other commands (and the TUI) start without them.
    from shelver.data import kosync
    from shelver.data.passwords import hash_secret, md5_key, seal_token

    service = args.service.lower()
    if service not in LOGIN_SERVICES + TOKEN_SERVICES:
        raise CommandError(
            f"unknown service {args.service!r} "
            f"(choose one of {', '.join(LOGIN_SERVICES + TOKEN_SERVICES)})",
            EXIT_USAGE,
        )
    if not kosync.valid_new_username(args.username):
        raise CommandError(
            "the name must be 1-128 printable characters without ':' or surrounding spaces, "
            "with at least one letter or digit",
            EXIT_USAGE,
        )
    if service in LOGIN_SERVICES:
        password = _read_secret("Password")
        # KOReader sends md5(password); the server compares hashes of that key.
        stored = hash_secret(md5_key(password) if service == "kosync" else password)
    else:
        stored = seal_token(context.home.config_dir, _read_secret("Token"))

    async def save() -> bool:
        database = await context.open_database(max_size=1)
        async with database:
            return await kosync.save_credential(
                database.pool, service, args.username, stored, replace=args.replace
            )

    created = asyncio.run(save())
    if not created and not args.replace:
        raise CommandError(
            f"{service} login {args.username!r} already exists (use --replace to change it)",
            EXIT_SOME_FAILED,
        )
    outcome = "created" if created else "replaced"
    if args.json:
        _print_json({"service": service, "username": args.username, "outcome": outcome})
    else:
        print(f"{service} login {args.username!r} {outcome}")
    return EXIT_OK
