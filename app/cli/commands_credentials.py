"""``shelver credentials add SERVICE USERNAME``."""

from __future__ import annotations

import argparse

from app.cli.placeholder import not_yet


def register(commands: argparse._SubParsersAction) -> None:
    credentials = commands.add_parser("credentials", help="manage device logins")
    actions = credentials.add_subparsers(
        dest="credentials_command", required=True, metavar="ACTION"
    )
    add = actions.add_parser("add", help="add a login; the password is read from stdin")
    add.add_argument("service")
    add.add_argument("username")
    add.set_defaults(handler=not_yet("shelver credentials add"))
